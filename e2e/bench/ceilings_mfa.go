package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// CeilingMFA is a bare second login step: decode {mfa_token, code}, match the code against
// the TOTP secret BENCH_TOTP_SECRET over the three steps of the skew window (as the auth
// server does, in constant time), sign an access token with go-jose ES256 and make a refresh
// token; no database.
const CeilingMFA = "mfa"

// totpOpts are the TOTP parameters of CONTRACT §13.
var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpMatch reports whether code is secret's code within one step of now, computing all three.
func totpMatch(secret, code string, now time.Time) bool {
	ok := 0
	for d := -1; d <= 1; d++ {
		want, err := totp.GenerateCodeCustom(secret, now.Add(time.Duration(d)*30*time.Second), totpOpts)
		if err == nil {
			ok |= subtle.ConstantTimeCompare([]byte(want), []byte(code))
		}
	}
	return ok == 1
}

// mfaHandler is the CeilingMFA server's handler.
func mfaHandler(getenv func(string) string) (http.Handler, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType(accesstoken.Type).WithHeader("kid", "bench")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		return nil, err
	}
	secret, iss, aud := getenv("BENCH_TOTP_SECRET"), getenv("BENCH_ISSUER"), getenv("BENCH_AUDIENCE")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"mfa_token"`
			Code  string `json:"code"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Token == "" || !totpMatch(secret, req.Code, time.Now()) {
			http.Error(w, `{"error":"invalid_code"}`, http.StatusForbidden)
			return
		}
		p := accesstoken.Payload{Issuer: iss, Subject: uuid.NewString(), Audience: jwt.Audience{aud}, ID: uuid.NewString(),
			SessionID: uuid.NewString(), ClientID: "first-party", Scope: "openid profile email notes:read notes:write",
			Roles: []string{}, AMR: []string{"pwd", "otp"}}
		p.SetTimes(time.Now(), 15*time.Minute)
		tok, err := jwt.Signed(signer).Claims(p).Serialize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		rt := make([]byte, 32)
		_, _ = rand.Read(rt)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 900,
			"refresh_token": base64.RawURLEncoding.EncodeToString(rt), "scope": p.Scope})
	}), nil
}
