package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/mfa"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// mfaUser is a signed-up user with TOTP enrolled and confirmed.
type mfaUser struct {
	id, name, pw, access, secret string
	recovery                     []string
}

// code is the user's TOTP code of the step steps away from the current one.
func (e *env) code(t testing.TB, secret string, steps int64) string {
	t.Helper()
	c, err := mfa.Code(secret, mfa.Step(e.clock.Now())+steps)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol signs name up and enrols and confirms TOTP, checking the enrolment's answers.
func (e *env) enrol(t testing.TB, name string) mfaUser {
	t.Helper()
	su := e.signup(name, name+"@example.com", "password1")
	u := mfaUser{id: userIDOf(su), name: name, pw: "password1", access: su.str("access_token")}
	r := e.do("POST", "/mfa/totp", nil, bearer(u.access)...)
	if r.Status != http.StatusCreated || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrol: %d %s", r.Status, r.Raw)
	}
	u.secret = r.str("secret")
	uri := r.str("otpauth_uri")
	if got := decodeQRDataURI(t, r.str("qr_png")); got != uri {
		t.Fatalf("qr_png decodes to %q, want otpauth_uri %q", got, uri)
	}
	if q, _ := url.Parse(uri); q == nil || q.Query().Get("secret") != u.secret || !strings.Contains(q.Path, name) {
		t.Fatalf("otpauth_uri %q", uri)
	}
	if st := e.do("GET", "/mfa/totp", nil, bearer(u.access)...); st.Body["pending"] != true || st.Body["enabled"] != false {
		t.Fatalf("status while pending: %s", st.Raw)
	}
	// Until confirmed, the password alone still logs in.
	if lr := e.login(name, u.pw); lr.Status != http.StatusOK {
		t.Fatalf("login while pending: %d %s", lr.Status, lr.Raw)
	}
	if bad := e.do("POST", "/mfa/totp/confirm", map[string]string{"code": e.code(t, u.secret, 3)}, bearer(u.access)...); bad.Status != 403 || bad.str("error") != "invalid_code" {
		t.Fatalf("confirm with a wrong code: %d %s", bad.Status, bad.Raw)
	}
	c := e.do("POST", "/mfa/totp/confirm", map[string]string{"code": e.code(t, u.secret, 0)}, bearer(u.access)...)
	if c.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", c.Status, c.Raw)
	}
	for _, rc := range c.Body["recovery_codes"].([]any) {
		u.recovery = append(u.recovery, rc.(string))
	}
	if len(u.recovery) != 10 {
		t.Fatalf("recovery codes: %v", u.recovery)
	}
	if !e.hasAudit(u.id, store.AuditMFAEnabled, "") {
		t.Error("no mfa.enabled audit event")
	}
	return u
}

// decodeQRDataURI decodes a data:image/png;base64 QR code to its text with gozxing.
func decodeQRDataURI(t testing.TB, d string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(d, "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(d, "data:image/png;base64,") {
		t.Fatalf("qr_png %.40q: %v", d, err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// The image is a generated one, module-aligned: read it as such (gozxing's detector,
	// meant for photos, misses about 1 % of clean codes that other decoders read).
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatal(err)
	}
	return res.GetText()
}

// mfaToken logs in with the password and returns the mfa_token of the 403 mfa_required.
func (e *env) mfaToken(t testing.TB, u mfaUser) string {
	t.Helper()
	r := e.login(u.name, u.pw)
	if r.Status != http.StatusForbidden || r.str("error") != "mfa_required" || r.str("mfa_token") == "" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("password step: %d %s", r.Status, r.Raw)
	}
	return r.str("mfa_token")
}

func (e *env) loginMFA(tok, code string, header ...string) resp {
	return e.do("POST", "/login/mfa", map[string]string{"mfa_token": tok, "code": code}, header...)
}

func TestMFALoginStepWindowAndReplay(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.enrol(t, "mallory")
		// The password grant of /token asks for the second step too.
		tr := e.do("POST", "/token", url.Values{"grant_type": {"password"}, "username": {u.name}, "password": {u.pw}})
		if tr.Status != 403 || tr.str("error") != "mfa_required" || tr.str("mfa_token") == "" {
			t.Fatalf("/token password grant: %d %s", tr.Status, tr.Raw)
		}
		// A wrong password still gets the usual 401, with no hint of the second factor.
		if r := e.login(u.name, "wrong-password"); r.Status != 401 || r.str("mfa_token") != "" {
			t.Fatalf("wrong password: %d %s", r.Status, r.Raw)
		}
		tok := e.mfaToken(t, u)
		// The code that confirmed the enrolment was accepted once: replay refused.
		if r := e.loginMFA(tok, e.code(t, u.secret, 0)); r.Status != 403 || r.str("error") != "invalid_code" {
			t.Fatalf("replayed confirmation code: %d %s", r.Status, r.Raw)
		}
		for _, steps := range []int64{-2, 2} { // outside the one step of skew
			if r := e.loginMFA(tok, e.code(t, u.secret, steps)); r.Status != 403 {
				t.Fatalf("code %d steps away: %d %s", steps, r.Status, r.Raw)
			}
		}
		e.clock.Advance(mfa.Period)
		// The previous step's code is within the skew but was accepted already; the next
		// step's is accepted.
		if r := e.loginMFA(tok, e.code(t, u.secret, -1)); r.Status != 403 {
			t.Fatalf("previous step (already used): %d %s", r.Status, r.Raw)
		}
		ok := e.loginMFA(tok, e.code(t, u.secret, 1))
		if ok.Status != http.StatusOK || ok.str("refresh_token") == "" {
			t.Fatalf("second step: %d %s", ok.Status, ok.Raw)
		}
		if amr := claims(t, ok.str("access_token"))["amr"]; !slices.Equal(toStrings(amr), []string{"pwd", "otp"}) {
			t.Errorf("amr = %v", amr)
		}
		// The mfa_token was single-use; the accepted step (and the current one, earlier) is spent.
		if r := e.loginMFA(tok, e.code(t, u.secret, 0)); r.Status != 400 || r.str("error") != "invalid_mfa_token" {
			t.Fatalf("mfa_token reused: %d %s", r.Status, r.Raw)
		}
		if r := e.loginMFA(e.mfaToken(t, u), e.code(t, u.secret, 1)); r.Status != 403 {
			t.Fatalf("same step twice: %d %s", r.Status, r.Raw)
		}
		// Refreshes keep the session's amr.
		rr := e.mustRefresh(ok.str("refresh_token"))
		if amr := claims(t, rr.str("access_token"))["amr"]; !slices.Equal(toStrings(amr), []string{"pwd", "otp"}) {
			t.Errorf("amr after refresh = %v", amr)
		}
		// A password session says pwd, before and after a refresh.
		plain := e.signup("plain", "plain@example.com", "password1")
		if amr := claims(t, e.mustRefresh(plain.str("refresh_token")).str("access_token"))["amr"]; !slices.Equal(toStrings(amr), []string{"pwd"}) {
			t.Errorf("password session amr = %v", amr)
		}
		// An mfa_token expires after five minutes.
		late := e.mfaToken(t, u)
		e.clock.Advance(account.MFATokenTTL + time.Second)
		if r := e.loginMFA(late, e.code(t, u.secret, 0)); r.Status != 400 || r.str("error") != "invalid_mfa_token" {
			t.Fatalf("expired mfa_token: %d %s", r.Status, r.Raw)
		}
		if !e.hasAudit(u.id, store.AuditMFAFailure, "") {
			t.Error("no mfa.failure audit event")
		}
	})
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, x := range l {
		out[i], _ = x.(string)
	}
	return out
}

func TestMFARecoveryCodes(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.enrol(t, "rhea")
		// Neither the secret nor a recovery code is in the database in the clear.
		var rows []string
		for _, q := range []string{`SELECT secret_sealed FROM mfa_totp`, `SELECT code_hash FROM mfa_recovery_codes`} {
			var vals []string
			if err := d.Select(&vals, q); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, vals...)
		}
		if len(rows) != 11 {
			t.Fatalf("%d mfa rows, want 1 secret and 10 codes", len(rows))
		}
		dump := strings.Join(rows, "\n")
		for _, secret := range append([]string{u.secret, strings.ToLower(u.secret)}, u.recovery...) {
			if strings.Contains(dump, secret) || strings.Contains(dump, mfa.NormalizeRecovery(secret)) {
				t.Errorf("%q is stored in the clear", secret)
			}
		}
		rc := strings.ToUpper(u.recovery[3]) // letter case does not matter
		r := e.loginMFA(e.mfaToken(t, u), rc)
		if r.Status != http.StatusOK {
			t.Fatalf("recovery code: %d %s", r.Status, r.Raw)
		}
		if !e.hasAudit(u.id, store.AuditMFARecoveryUsed, "") {
			t.Error("no mfa.recovery_used audit event")
		}
		if again := e.loginMFA(e.mfaToken(t, u), u.recovery[3]); again.Status != 403 || again.str("error") != "invalid_code" {
			t.Fatalf("recovery code twice: %d %s", again.Status, again.Raw)
		}
		if bogus := e.loginMFA(e.mfaToken(t, u), "aaaa-bbbb-cccc-dddd"); bogus.Status != 403 {
			t.Fatalf("unknown recovery code: %d %s", bogus.Status, bogus.Raw)
		}
		st := e.do("GET", "/mfa/totp", nil, bearer(r.str("access_token"))...)
		if st.Body["enabled"] != true || st.Body["recovery_codes_left"] != float64(9) {
			t.Errorf("status: %s", st.Raw)
		}
	})
}

func TestMFAThrottle(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.enrol(t, "tess")
		tok := e.mfaToken(t, u)
		for i := range 5 {
			if r := e.loginMFA(tok, e.code(t, u.secret, 5)); r.Status != 403 {
				t.Fatalf("wrong code %d: %d %s", i+1, r.Status, r.Raw)
			}
		}
		// Blocked now: the right code too gets 429 with Retry-After.
		r := e.loginMFA(tok, e.code(t, u.secret, 1))
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("sixth attempt: %d %s (Retry-After %q)", r.Status, r.Raw, r.Header.Get("Retry-After"))
		}
		e.clock.Advance(2 * time.Second) // past the first block
		if r := e.loginMFA(tok, e.code(t, u.secret, 1)); r.Status != http.StatusOK {
			t.Fatalf("after the block: %d %s", r.Status, r.Raw)
		}
	})
}

func TestMFABoundToClient(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.enrol(t, "cleo")
		other, _ := e.addClient(clients.Client{Name: "other-app", Grants: []string{"password", "refresh_token"}, Scopes: []string{"openid"}})
		r := e.do("POST", "/token", url.Values{"grant_type": {"password"}, "username": {u.name}, "password": {u.pw}, "client_id": {other}})
		tok := r.str("mfa_token")
		if r.Status != 403 || tok == "" {
			t.Fatalf("password step of %s: %d %s", other, r.Status, r.Raw)
		}
		if r := e.loginMFA(tok, e.code(t, u.secret, 1)); r.Status != 400 || r.str("error") != "invalid_mfa_token" {
			t.Fatalf("another client finishing it: %d %s", r.Status, r.Raw)
		}
		ok := e.do("POST", "/login/mfa", url.Values{"mfa_token": {tok}, "code": {e.code(t, u.secret, 1)}, "client_id": {other}})
		if ok.Status != http.StatusOK || claims(t, ok.str("access_token"))["client_id"] != other || ok.str("scope") != "openid" {
			t.Fatalf("the same client: %d %s", ok.Status, ok.Raw)
		}
	})
}

func TestMFARemoveAndReset(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.enrol(t, "remy")
		if r := e.do("POST", "/mfa/totp", nil, bearer(u.access)...); r.Status != 409 || r.str("error") != "mfa_enabled" {
			t.Fatalf("enrol twice: %d %s", r.Status, r.Raw)
		}
		for _, tc := range []struct {
			name   string
			body   map[string]string
			status int
			code   string
		}{
			{"no proof", map[string]string{}, 400, "invalid_request"},
			{"wrong password", map[string]string{"password": "nope-nope"}, 403, "invalid_password"},
			{"wrong code", map[string]string{"code": e.code(t, u.secret, 4)}, 403, "invalid_code"},
		} {
			if r := e.do("DELETE", "/mfa/totp", tc.body, bearer(u.access)...); r.Status != tc.status || r.str("error") != tc.code {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
			}
		}
		if r := e.do("DELETE", "/mfa/totp", map[string]string{"code": e.code(t, u.secret, 1)}, bearer(u.access)...); r.Status != 204 {
			t.Fatalf("remove: %d %s", r.Status, r.Raw)
		}
		if r := e.login(u.name, u.pw); r.Status != 200 {
			t.Fatalf("login after removal: %d %s", r.Status, r.Raw)
		}
		// The administrator's reset, for a user who lost everything.
		v := e.enrol(t, "vera")
		admin := e.adminToken()
		if r := e.do("GET", "/admin/users/"+v.id, nil, bearer(admin)...); r.Body["mfa"] != true {
			t.Errorf("admin view: %s", r.Raw)
		}
		if r := e.do("DELETE", "/admin/users/"+v.id+"/mfa", nil, bearer(admin)...); r.Status != 204 {
			t.Fatalf("admin reset: %d %s", r.Status, r.Raw)
		}
		if r := e.do("DELETE", "/admin/users/"+v.id+"/mfa", nil, bearer(admin)...); r.Status != 409 || r.str("error") != "mfa_not_enabled" {
			t.Errorf("reset twice: %d %s", r.Status, r.Raw)
		}
		if r := e.do("GET", "/admin/users/"+v.id, nil, bearer(admin)...); r.Body["mfa"] != false {
			t.Errorf("admin view after reset: %s", r.Raw)
		}
		if r := e.login(v.name, v.pw); r.Status != 200 {
			t.Fatalf("login after reset: %d %s", r.Status, r.Raw)
		}
		evs, _ := e.store.AuditEvents(context.Background(), v.id, 50)
		found := false
		for _, ev := range evs {
			found = found || (ev.Event == store.AuditMFAReset && strings.HasPrefix(ev.Actor, "user:"))
		}
		if !found {
			t.Error("no mfa.reset audit event with the admin as actor")
		}
	})
}
