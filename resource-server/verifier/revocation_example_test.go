package verifier_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// A third-party service that honours the auth server's revocations: a MemoryRevocations
// store, a Verifier that checks it, and RevocationHandler at the URL registered in the auth
// server's SYNC_URLS. After the auth server announces that session-1 ended, its token is
// refused.
func ExampleVerifier_RevocationHandler() {
	auth := newRevokingAuthServer()
	defer auth.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	revoked := verifier.NewMemoryRevocations(0)
	v, err := verifier.New(ctx, verifier.Config{
		Issuer:      "https://auth.example.com",
		Audience:    []string{"resource-server"},
		JWKSURL:     auth.URL,
		Revocations: revoked,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("POST /sync/revocations", v.RevocationHandler(revoked))
	mux.Handle("GET /hello", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello %s", c.PreferredUsername)
	})))
	svc := httptest.NewServer(mux)
	defer svc.Close()

	token := auth.accessToken("session-1")
	fmt.Println(get(svc.URL+"/hello", token))

	// What the auth server sends when session-1 ends (a logout, say).
	fmt.Println(auth.send(svc.URL+"/sync/revocations", verifier.SyncEvent{
		ID: "ev-1", Type: "session.revoked", SessionID: "session-1", Subject: "alice-id",
		Expires: time.Now().Add(15 * time.Minute).Unix(), OccurredAt: time.Now(),
	}))
	fmt.Println(get(svc.URL+"/hello", token))
	// Output:
	// 200 hello alice
	// 200 {"applied":1,"ignored":0}
	// 401 {"error":"invalid_token","error_description":"token revoked"}
}

func get(url, token string) string {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return do(req)
}

func do(req *http.Request) string {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return fmt.Sprintf("%d %s", res.StatusCode, bytes.TrimSpace(body))
}

// revokingAuthServer stands in for the auth server: its JWKS, access tokens, and sync calls
// signed like the real one's (typ sync+jwt, aud user-sync, body_sha256 of the body).
type revokingAuthServer struct {
	*httptest.Server
	key *ecdsa.PrivateKey
}

func newRevokingAuthServer() *revokingAuthServer {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "key-1", Algorithm: "ES256", Use: "sig"}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(jwks) }))
	return &revokingAuthServer{Server: srv, key: key}
}

func (a *revokingAuthServer) sign(typ string, claims map[string]any) string {
	now := time.Now()
	base := map[string]any{"iss": "https://auth.example.com", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(2 * time.Minute).Unix(), "jti": rand.Text()}
	for k, v := range claims {
		base[k] = v
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: a.key}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", "key-1"))
	tok, _ := jwt.Signed(signer).Claims(base).Serialize()
	return tok
}

func (a *revokingAuthServer) accessToken(sid string) string {
	return a.sign("at+jwt", map[string]any{"aud": "resource-server", "sub": "alice-id", "sid": sid,
		"preferred_username": "alice", "roles": []string{}})
}

func (a *revokingAuthServer) syncToken(body []byte) string {
	sum := sha256.Sum256(body)
	return a.sign("sync+jwt", map[string]any{"aud": "user-sync", "sub": "auth-server",
		"body_sha256": base64.RawURLEncoding.EncodeToString(sum[:])})
}

func (a *revokingAuthServer) send(url string, events ...verifier.SyncEvent) string {
	body, _ := json.Marshal(verifier.SyncBatch{Events: events})
	token := a.syncToken(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return do(req)
}
