package e2e

import (
	"bytes"
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
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpCode is the RFC 6238 code of secret for the time step steps away from now's, computed
// here with pquerna/otp (not the server's code).
func totpCode(t testing.TB, secret string, steps int) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Now().Add(time.Duration(steps)*30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decodeQR reads the text of a data:image/png;base64 QR code with gozxing.
func decodeQR(t testing.TB, dataURI string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURI, "data:image/png;base64,"))
	if err != nil {
		t.Fatalf("qr_png: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("qr_png: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// The image is a generated one, module-aligned: read it as such (gozxing's detector,
	// meant for photos, misses about 1 % of clean codes that other decoders read).
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("qr_png does not decode: %v", err)
	}
	return res.GetText()
}

// enrolTOTP enrols and confirms TOTP for a through the API and returns the secret and the
// recovery codes.
func enrolTOTP(t *testing.T, c *Client, authURL string, a account) (string, []string) {
	t.Helper()
	var e struct {
		Secret     string `json:"secret"`
		OTPAuthURI string `json:"otpauth_uri"`
		QRPNG      string `json:"qr_png"`
	}
	c.Send(http.MethodPost, authURL+"/mfa/totp", nil, bearer(a.Tokens.AccessToken)).Want(t, http.StatusCreated).JSON(t, &e)
	if got := decodeQR(t, e.QRPNG); got != e.OTPAuthURI {
		t.Fatalf("qr_png decodes to %q, want the otpauth_uri %q", got, e.OTPAuthURI)
	}
	if u, err := url.Parse(e.OTPAuthURI); err != nil || u.Query().Get("secret") != e.Secret {
		t.Fatalf("otpauth_uri %q does not carry the secret", e.OTPAuthURI)
	}
	var conf struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.PostJSON(authURL+"/mfa/totp/confirm", map[string]string{"code": totpCode(t, e.Secret, 0)}, bearer(a.Tokens.AccessToken)).
		Want(t, http.StatusOK).JSON(t, &conf)
	if len(conf.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes", len(conf.RecoveryCodes))
	}
	return e.Secret, conf.RecoveryCodes
}

// passwordStep logs a in and returns the mfa_token of the 403 mfa_required.
func passwordStep(t *testing.T, c *Client, authURL string, a account) string {
	t.Helper()
	var out struct {
		Error    string `json:"error"`
		MFAToken string `json:"mfa_token"`
	}
	c.PostForm(authURL+"/login", url.Values{"username": {a.Username}, "password": {a.Password}}).Want(t, http.StatusForbidden).JSON(t, &out)
	if out.Error != "mfa_required" || out.MFAToken == "" {
		t.Fatalf("password step: %+v", out)
	}
	return out.MFAToken
}

// TestMFAOnTheBinaries: enrolment through the API (the QR code decodes to the otpauth URI),
// the second step at /login/mfa with amr reaching the resource server, a code replayed at
// another replica refused, a recovery code once, throttling to 429, and `users mfa reset`
// (two auth replicas on one PostgreSQL).
func TestMFAOnTheBinaries(t *testing.T) {
	t.Parallel()
	authEnv, resEnv := pgEnv(t)
	reps := startReplicas(t, 2, authEnv)
	renv := resourceEnvFor(reps[0])
	for k, v := range resEnv {
		renv[k] = v
	}
	res := startResource(t, renv)
	waitStatus(t, res.URL+"/readyz", http.StatusOK, readyTimeout)
	a, b := reps[0].URL, reps[1].URL
	c := newClient(t)
	u := c.signup(a, "otto")
	secret, recovery := enrolTOTP(t, c, a, u)

	// The second step, at the other replica; the confirmation's code is spent already.
	tok := passwordStep(t, c, a, u)
	c.PostJSON(b+"/login/mfa", map[string]string{"mfa_token": tok, "code": totpCode(t, secret, 0)}).Want(t, http.StatusForbidden)
	next := totpCode(t, secret, 1)
	var tr tokenResponse
	c.PostJSON(b+"/login/mfa", map[string]string{"mfa_token": tok, "code": next}).Want(t, http.StatusOK).JSON(t, &tr)
	var who struct {
		AMR []string `json:"amr"`
	}
	c.Get(res.URL+"/whoami", bearer(tr.AccessToken)).Want(t, http.StatusOK).JSON(t, &who)
	if !slices.Equal(who.AMR, []string{"pwd", "otp"}) {
		t.Errorf("amr at the resource server = %v", who.AMR)
	}
	// Replaying the accepted code at the first replica is refused.
	c.PostJSON(a+"/login/mfa", map[string]string{"mfa_token": passwordStep(t, c, a, u), "code": next}).Want(t, http.StatusForbidden)

	// A recovery code works once.
	c.PostForm(a+"/login/mfa", url.Values{"mfa_token": {passwordStep(t, c, a, u)}, "code": {recovery[0]}}).Want(t, http.StatusOK)
	c.PostForm(b+"/login/mfa", url.Values{"mfa_token": {passwordStep(t, c, b, u)}, "code": {recovery[0]}}).Want(t, http.StatusForbidden)

	// Five wrong codes, then 429 with Retry-After (the first block is short, so a slow
	// machine may need another wrong code or two to see it). The success first clears the
	// failures counted above (the replays).
	c.PostForm(a+"/login/mfa", url.Values{"mfa_token": {passwordStep(t, c, a, u)}, "code": {recovery[1]}}).Want(t, http.StatusOK)
	tok = passwordStep(t, c, a, u)
	wrong := totpCode(t, secret, 10)
	for range 5 {
		c.PostJSON(a+"/login/mfa", map[string]string{"mfa_token": tok, "code": wrong}).Want(t, http.StatusForbidden)
	}
	throttled := false
	for range 4 {
		r := c.PostJSON(b+"/login/mfa", map[string]string{"mfa_token": tok, "code": wrong})
		if r.StatusCode == http.StatusTooManyRequests {
			throttled = r.Header.Get("Retry-After") != ""
			break
		}
		r.Want(t, http.StatusForbidden)
	}
	if !throttled {
		t.Fatal("no 429 with Retry-After after five wrong codes")
	}

	// The operator's reset: the password alone logs in again, and the audit trail says so.
	out := reps[0].MustCLI("users", "mfa", "reset", u.Username)
	if !strings.Contains(out.Stdout, "removed the TOTP secret") {
		t.Errorf("users mfa reset: %s", out)
	}
	tr = c.login(a, u)
	if amr := jwtClaims(t, tr.AccessToken)["amr"]; !slices.Equal(toStringList(amr), []string{"pwd"}) {
		t.Errorf("amr after reset = %v", amr)
	}
	if show := reps[1].MustCLI("users", "show", u.Username, "--json"); !strings.Contains(show.Stdout, `"mfa": false`) {
		t.Errorf("users show after reset: %s", show.Stdout)
	}
}

func toStringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
