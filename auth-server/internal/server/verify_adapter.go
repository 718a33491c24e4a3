package server

import (
	"context"
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
