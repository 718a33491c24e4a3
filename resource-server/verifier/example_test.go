package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// fakeAuthServer stands in for the auth server: an ES256 key published on an
// httptest JWKS endpoint, and a function that signs access tokens with it.
func fakeAuthServer() (jwksURL string, sign func(sub string, ttl time.Duration) string, stop func()) {
	jwksURL, signWith, stop := fakeAuthServerWith()
	return jwksURL, func(sub string, ttl time.Duration) string { return signWith(sub, ttl, nil) }, stop
}

// fakeAuthServerWith is fakeAuthServer whose sign takes more claims (scope, roles …).
func fakeAuthServerWith() (jwksURL string, sign func(sub string, ttl time.Duration, extra map[string]any) string, stop func()) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: key.Public(), KeyID: "key-1", Algorithm: "ES256", Use: "sig"},
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(jwks)
	}))
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "key-1")
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	sign = func(sub string, ttl time.Duration, extra map[string]any) string {
		now := time.Now()
		claims := map[string]any{
			"iss": "https://auth.example.com", "aud": "resource-server", "sub": sub,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
			"jti": rand.Text(), "sid": "session-1", "preferred_username": "alice", "roles": []string{},
		}
		for k, v := range extra {
			claims[k] = v
		}
		tok, _ := jwt.Signed(signer).Claims(claims).Serialize()
		return tok
	}
	return srv.URL, sign, srv.Close
}

func ExampleVerifier_Verify() {
	jwksURL, sign, stop := fakeAuthServer()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the background JWKS refresh

	v, err := verifier.New(ctx, verifier.Config{
		Issuer:   "https://auth.example.com",
		Audience: []string{"resource-server"},
		JWKSURL:  jwksURL,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ready:", v.Ready())

	claims, err := v.Verify(ctx, sign("0b0c5a57-4bfb-4c3d-9a66-8c3f5e2a1d10", 15*time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.Subject, claims.PreferredUsername, claims.Algorithm)

	_, err = v.Verify(ctx, sign("0b0c5a57-4bfb-4c3d-9a66-8c3f5e2a1d10", -time.Hour))
	fmt.Println("expired:", errors.Is(err, verifier.ErrExpired))
	// Output:
	// ready: true
	// 0b0c5a57-4bfb-4c3d-9a66-8c3f5e2a1d10 alice ES256
	// expired: true
}

func ExampleVerifier_Middleware() {
	jwksURL, sign, stop := fakeAuthServer()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := verifier.New(ctx, verifier.Config{
		Issuer:   "https://auth.example.com",
		Audience: []string{"resource-server"},
		JWKSURL:  jwksURL,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verifier.ClaimsFrom(r.Context())
		fmt.Fprintln(w, "hello", claims.PreferredUsername)
	})
	srv := httptest.NewServer(v.Middleware(whoami))
	defer srv.Close()

	for _, auth := range []string{"Bearer " + sign("0b0c5a57-4bfb-4c3d-9a66-8c3f5e2a1d10", time.Minute), "", "Bearer not-a-token"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	// Output:
	// 200 "" hello alice
	// 401 "Bearer" {"error":"invalid_token","error_description":"missing bearer token"}
	// 401 "Bearer error=\"invalid_token\", error_description=\"malformed token\"" {"error":"invalid_token","error_description":"malformed token"}
}

// A third-party service protects its routes by scope and by role: a reader's token may list
// reports but not reindex; an admin's may do both.
func ExampleRequireScope() {
	jwksURL, sign, stop := fakeAuthServerWith()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := verifier.New(ctx, verifier.Config{
		Issuer:   "https://auth.example.com",
		Audience: []string{"resource-server"},
		JWKSURL:  jwksURL,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFrom(r.Context())
		fmt.Fprintln(w, "ok for", c.ClientID)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /reports", v.Middleware(verifier.RequireScope("notes:read")(ok)))
	mux.Handle("POST /reindex", v.Middleware(verifier.RequireRole("admin")(ok)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	reader := sign("u-1", time.Minute, map[string]any{"client_id": "shop", "scope": "openid notes:read"})
	writer := sign("u-2", time.Minute, map[string]any{"client_id": "shop", "scope": "notes:write"})
	admin := sign("u-3", time.Minute, map[string]any{"client_id": "console", "scope": "notes:read", "roles": []string{"admin"}})
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "/reports", reader}, {"GET", "/reports", writer}, {"POST", "/reindex", reader}, {"POST", "/reindex", admin},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %s: %d %q %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	// Output:
	// GET /reports: 200 "" ok for shop
	// GET /reports: 403 "Bearer error=\"insufficient_scope\", scope=\"notes:read\"" {"error":"insufficient_scope","error_description":"the access token lacks the scope notes:read"}
	// POST /reindex: 403 "" {"error":"forbidden","error_description":"this needs the role admin"}
	// POST /reindex: 200 "" ok for console
}

// ExampleRequireAMR protects a route that needs a log-in with a second factor: tokens of a
// TOTP log-in carry amr ["pwd","otp"], those of a password-only log-in ["pwd"].
func ExampleRequireAMR() {
	jwksURL, sign, stop := fakeAuthServerWith()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := verifier.New(ctx, verifier.Config{
		Issuer:   "https://auth.example.com",
		Audience: []string{"resource-server"},
		JWKSURL:  jwksURL,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	payout := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFrom(r.Context())
		fmt.Fprintln(w, "payout approved for", c.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /payouts", v.Middleware(verifier.RequireAMR("otp")(payout)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	pwdOnly := sign("u-1", time.Minute, map[string]any{"amr": []string{"pwd"}})
	withOTP := sign("u-2", time.Minute, map[string]any{"amr": []string{"pwd", "otp"}})
	for _, tok := range []string{pwdOnly, withOTP} {
		req, _ := http.NewRequest("POST", srv.URL+"/payouts", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	// Output:
	// 401 "Bearer error=\"insufficient_user_authentication\", error_description=\"this needs a log-in with otp\"" {"error":"insufficient_user_authentication","error_description":"this needs a log-in with otp"}
	// 200 "" payout approved for u-2
}
