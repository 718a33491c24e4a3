package verifier_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

func TestMemoryRevocations(t *testing.T) {
	m := verifier.NewMemoryRevocations(30 * time.Second)
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	exp := at.Add(15 * time.Minute)
	claims := func(sid, sub string, iat time.Time) *verifier.Claims {
		return &verifier.Claims{SessionID: sid, Subject: sub, IssuedAt: iat}
	}
	if n := m.Add(verifier.Revocation{SessionID: "s1", Subject: "u1", Expires: exp}); n != 1 {
		t.Errorf("Add = %d, want 1", n)
	}
	if n := m.Add(verifier.Revocation{SessionID: "s1", Subject: "u1", Expires: exp}); n != 0 {
		t.Errorf("a repeated revocation changed %d entries", n)
	}
	if !m.Revoked(claims("s1", "u1", at)) || m.Revoked(claims("s2", "u1", at)) {
		t.Error("session s1 only must be revoked")
	}
	// Ids in UUID form are held as their 16 bytes: the same UUID in either case matches.
	const sid = "5f0c2f7e-3a47-4c55-8a3e-2d1b7c9e4f60"
	m.Add(verifier.Revocation{SessionID: sid, Expires: exp})
	if !m.Revoked(claims(sid, "u1", at)) || !m.Revoked(claims(strings.ToUpper(sid), "u1", at)) || m.Revoked(claims("5f0c2f7e-3a47-4c55-8a3e-2d1b7c9e4f61", "u1", at)) {
		t.Error("a UUID session id must match itself only")
	}
	// user.revoked compares whole seconds: a token of the not_before second is newer.
	nb := at.Add(10 * time.Second)
	m.Add(verifier.Revocation{Subject: "u2", NotBefore: nb, Expires: nb.Add(15 * time.Minute)})
	for _, c := range []struct {
		iat  time.Time
		want bool
	}{{nb.Add(-time.Second), true}, {nb, false}, {nb.Add(time.Second), false}} {
		if got := m.Revoked(claims("s9", "u2", c.iat)); got != c.want {
			t.Errorf("iat %v, not_before %v: revoked = %v, want %v", c.iat, nb, got, c.want)
		}
	}
	// The latest not_before wins, whatever order they arrive in.
	m.Add(verifier.Revocation{Subject: "u2", NotBefore: nb.Add(-time.Minute), Expires: nb.Add(time.Minute)})
	if !m.Revoked(claims("s9", "u2", nb.Add(-time.Second))) {
		t.Error("an older user.revoked moved not_before back")
	}
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
	// Pruned once the tokens have expired plus the grace, not before.
	if n := m.Prune(exp.Add(29 * time.Second)); n != 0 {
		t.Errorf("pruned %d within the grace", n)
	}
	if n := m.Prune(nb.Add(15*time.Minute + 31*time.Second)); n != 3 || m.Len() != 0 {
		t.Errorf("Prune = %d, Len = %d; want 3 pruned, none left", n, m.Len())
	}
}

// A revoked token fails with ErrRevoked, also when it was verified (and cached) before.
func TestVerifyRefusesRevoked(t *testing.T) {
	auth := newRevokingAuthServer()
	defer auth.Close()
	revs := verifier.NewMemoryRevocations(0)
	v, err := verifier.New(context.Background(), verifier.Config{Issuer: "https://auth.example.com",
		Audience: []string{"resource-server"}, JWKSURL: auth.URL, Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	tok := auth.accessToken("s1")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	revs.Add(verifier.Revocation{SessionID: "s1", Expires: time.Now().Add(time.Hour)})
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("cached, then revoked: %v; want ErrRevoked", err)
	}
	if d := verifier.Description(verifier.ErrRevoked); d != "token revoked" {
		t.Errorf("Description = %q", d)
	}
	if _, err := v.Verify(context.Background(), auth.accessToken("s2")); err != nil {
		t.Errorf("another session: %v", err)
	}
}

// RevocationHandler authenticates like the resource server's sync route and changes nothing
// on a bad call.
func TestRevocationHandlerRefusals(t *testing.T) {
	auth := newRevokingAuthServer()
	defer auth.Close()
	revs := verifier.NewMemoryRevocations(0)
	v, err := verifier.New(context.Background(), verifier.Config{Issuer: "https://auth.example.com",
		Audience: []string{"resource-server"}, JWKSURL: auth.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v.RevocationHandler(revs))
	defer srv.Close()
	good := verifier.SyncEvent{ID: "e1", Type: "session.revoked", SessionID: "s1", Subject: "u", Expires: time.Now().Add(time.Hour).Unix()}
	post := func(token, body string) string {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return do(req)
	}
	access := auth.accessToken("s1")
	cases := []struct{ name, got, want string }{
		{"no token", post("", `{"events":[]}`), "401"},
		{"an access token", post(access, `{"events":[]}`), "401"},
		{"sync token of another body", post(auth.syncToken([]byte(`{"events":[]}`)), `{"events":[{"id":"x"}]}`), "401 {\"error\":\"invalid_token\",\"error_description\":\"the sync token does not match the request body\"}"},
		{"not an events body", post(auth.syncToken([]byte(`{}`)), `{}`), "400"},
		{"session.revoked without sid", post(auth.syncToken([]byte(`{"events":[{"id":"x","type":"session.revoked","exp":9999999999}]}`)), `{"events":[{"id":"x","type":"session.revoked","exp":9999999999}]}`), "400"},
	}
	for _, c := range cases {
		if !strings.HasPrefix(c.got, c.want) {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
	if revs.Len() != 0 {
		t.Fatalf("refused calls recorded %d revocations", revs.Len())
	}
	// A good batch: revocations recorded, user changes and unknown types acknowledged.
	got := auth.send(srv.URL, good, verifier.SyncEvent{ID: "e2", Type: "user.upsert"}, verifier.SyncEvent{ID: "e3", Type: "user.future"})
	if got != `200 {"applied":1,"ignored":2}` || revs.Len() != 1 {
		t.Errorf("good batch: %s, %d held", got, revs.Len())
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if got := do(req); !strings.HasPrefix(got, "405") {
		t.Errorf("GET: %s", got)
	}
	big := bytes.Repeat([]byte("x"), 2<<20)
	if got := post(auth.syncToken(big), string(big)); !strings.HasPrefix(got, "413") {
		t.Errorf("2 MiB body: %.40s", got)
	}
}
