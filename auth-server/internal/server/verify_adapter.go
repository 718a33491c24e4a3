package server

import (
	"context"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
)

// IssuerVerifier checks access tokens with the issuer's own keys, as account.AccessVerifier.
type IssuerVerifier struct {
	Issuer    *tokens.Issuer
	Keys      tokens.VerificationKeys
	Algorithm string
}

// VerifyAccess verifies token and returns its principal.
func (v IssuerVerifier) VerifyAccess(_ context.Context, token string) (account.Principal, error) {
	c, err := v.Issuer.Verify(token, v.Keys, v.Algorithm)
	if err != nil {
		return account.Principal{}, err
	}
	return account.Principal{UserID: c.UserID, SessionID: c.SessionID, ClientID: c.ClientID, Scope: c.Scope, Roles: c.Roles}, nil
}
