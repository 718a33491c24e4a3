package main

import (
	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
)

// idTokenSigner is the account service's IDTokenSigner: the issuer's ID tokens, signed with
// the key ring's ID-token keys (RS256 by default, docs/keys.md).
type idTokenSigner struct{ issuer *tokens.Issuer }

// SignIDToken signs the ID token c describes.
func (s idTokenSigner) SignIDToken(c account.IDClaims) (string, error) {
	return s.issuer.IDToken(tokens.IDTokenClaims{Subject: c.Subject, ClientID: c.ClientID, AuthTime: c.AuthTime, Nonce: c.Nonce,
		AMR: c.AMR, SessionID: c.SessionID, Profile: c.Profile, Username: c.Username, Email: c.Email, EmailAddress: c.EmailAddress,
		EmailVerified: c.EmailVerified, Alg: c.Alg})
}
