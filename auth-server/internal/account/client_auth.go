package account

import (
	"context"
	"errors"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
)

// ClientAuth is how a request at the token endpoint names its client: client_secret_basic,
// client_secret_post, or only a client_id (a public client). All empty is the built-in
// first-party client.
type ClientAuth struct {
	ID     string
	Secret string
}

// authenticateClient finds the client a request names and checks its credentials: a
// confidential client's secret (in constant time), no secret from a public one.
func (s *Service) authenticateClient(ctx context.Context, a ClientAuth) (clients.Client, error) {
	fail := func(reason string) error { return &ClientError{Reason: reason} }
	if a.ID == "" {
		if a.Secret != "" {
			return clients.Client{}, fail("a client_secret without a client_id")
		}
		return clients.Builtin(), nil
	}
	c, err := s.Client(ctx, a.ID)
	if errors.Is(err, ErrClientNotFound) {
		// The same work as a wrong secret, so that client ids cannot be told by timing.
		clients.SecretMatches(a.Secret, clients.HashSecret(""))
		return clients.Client{}, fail("unknown client")
	}
	if err != nil {
		return clients.Client{}, err
	}
	switch {
	case c.Confidential && !clients.SecretMatches(a.Secret, c.SecretHash):
		return clients.Client{}, fail("wrong or missing client secret")
	case !c.Confidential && a.Secret != "":
		return clients.Client{}, fail("a public client sends no secret")
	}
	return c.Client, nil
}

// grantFor authenticates the client, checks that it may use grant, and decides the scopes a
// request for scope (space-separated; empty for the client's defaults) gets.
func (s *Service) grantFor(ctx context.Context, a ClientAuth, grant, scope string) (clients.Client, []string, error) {
	c, err := s.authenticateClient(ctx, a)
	if err != nil {
		return clients.Client{}, nil, err
	}
	if !c.HasGrant(grant) {
		return clients.Client{}, nil, ErrUnauthorizedClient
	}
	requested, err := clients.ParseScope(scope)
	if err != nil {
		return clients.Client{}, nil, err
	}
	granted, err := c.Grant(requested)
	if err != nil {
		return clients.Client{}, nil, err
	}
	return c, granted, nil
}
