package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// The ceilings of the admin phase.
const (
	CeilingSign   = "sign"   // a bare client_credentials token endpoint: check the secret, sign with go-jose
	CeilingSearch = "search" // a bare handler running the admin search's prefix query
)

// signHandler is /token for client_credentials without the service: it checks the Basic
// credentials against BENCH_CLIENT_ID and the SHA-256 BENCH_SECRET_HASH in constant time and
// signs the same claims (accesstoken.Payload, for BENCH_ISSUER and BENCH_AUDIENCE) with an
// ES256 key of its own.
func signHandler(getenv func(string) string) (http.Handler, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType(accesstoken.Type).WithHeader("kid", "bench")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		return nil, err
	}
	clientID, want, iss, aud := getenv("BENCH_CLIENT_ID"), getenv("BENCH_SECRET_HASH"), getenv("BENCH_ISSUER"), getenv("BENCH_AUDIENCE")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		sum := sha256.Sum256([]byte(secret))
		if err := r.ParseForm(); err != nil || !ok || id != clientID || r.PostForm.Get("grant_type") != "client_credentials" ||
			subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(want)) != 1 {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		p := accesstoken.Payload{Issuer: iss, Subject: id, Audience: jwt.Audience{aud}, ID: uuid.NewString(),
			ClientID: id, Scope: "notes:read", Roles: []string{}}
		p.SetTimes(time.Now(), 15*time.Minute)
		tok, err := jwt.Signed(signer).Claims(p).Serialize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 900, "scope": "notes:read"})
	}), nil
}

// searchQuery is the admin search's statement (auth-server/internal/store.FindUsers with a
// prefix and no cursor), its prefix conditions the dialect's (db.PrefixMatch).
const searchQuery = `SELECT id, username, email, password_hash, version, created_at, updated_at, roles, disabled_at, last_login_at FROM users
 WHERE (%s OR %s) ORDER BY lower(username) LIMIT ?`

// searchHandler answers GET /?q=PREFIX with the users the admin search finds, as JSON, through
// the same driver and pool size (BENCH_POOL) as the auth server, on BENCH_DB_URL.
func searchHandler(getenv func(string) string) (http.Handler, io.Closer, error) {
	pool, _ := strconv.Atoi(getenv("BENCH_POOL"))
	d, err := db.Open(context.Background(), getenv("BENCH_DB_URL"), pool)
	if err != nil {
		return nil, nil, err
	}
	type row struct {
		ID          string `db:"id" json:"id"`
		Username    string `db:"username" json:"username"`
		Email       string `db:"email" json:"email"`
		Hash        string `db:"password_hash" json:"-"`
		Version     int64  `db:"version" json:"-"`
		CreatedAt   int64  `db:"created_at" json:"created_at"`
		UpdatedAt   int64  `db:"updated_at" json:"updated_at"`
		Roles       string `db:"roles" json:"roles"`
		DisabledAt  int64  `db:"disabled_at" json:"disabled"`
		LastLoginAt int64  `db:"last_login_at" json:"last_login_at"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.ToLower(r.URL.Query().Get("q"))
		byName, nameArgs := d.PrefixMatch("lower(username)", p)
		byEmail, emailArgs := d.PrefixMatch("lower(email)", p)
		q := d.Rebind(fmt.Sprintf(searchQuery, byName, byEmail))
		var rows []row
		if err := d.SelectContext(r.Context(), &rows, q, append(append(nameArgs, emailArgs...), 50)...); err != nil {
			http.Error(w, fmt.Sprint(err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"users": rows})
	}), d, nil
}
