package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// BearerVerifier is the public verifier (package bearer builds it on the server's own keys)
// as the account service's AccessVerifier.
type BearerVerifier struct{ V *verifier.Verifier }

// VerifyAccess verifies token and returns its principal.
func (b BearerVerifier) VerifyAccess(ctx context.Context, token string) (account.Principal, error) {
	c, err := b.V.Verify(ctx, token)
	if err != nil {
		return account.Principal{}, err
	}
	return account.Principal{UserID: c.Subject, SessionID: c.SessionID, ClientID: c.ClientID,
		Scope: strings.Fields(c.Scope), Roles: c.Roles, IssuedAt: c.IssuedAt}, nil
}

// VerifyIDToken checks an ID token this server signed (an id_token_hint: typ JWT, its own
// issuer and keys, not expired) and returns its audience, the client it was issued to.
func (b BearerVerifier) VerifyIDToken(ctx context.Context, token string) (string, error) {
	aud, err := unverifiedAudience(token)
	if err != nil {
		return "", err
	}
	if _, err := b.V.WithExpectations("JWT", aud).Verify(ctx, token); err != nil {
		return "", err
	}
	return aud, nil
}

// unverifiedAudience reads the single aud of a JWT without verifying it, to know which
// audience to verify it for.
func unverifiedAudience(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		Aud any `json:"aud"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", err
	}
	switch a := c.Aud.(type) {
	case string:
		return a, nil
	case []any:
		if len(a) == 1 {
			if s, ok := a[0].(string); ok {
				return s, nil
			}
		}
	}
	return "", errors.New("not a single audience")
}
