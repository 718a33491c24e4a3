package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/keys"
)

// ClientKeys prepares the key-set change that gives an ID-token algorithm its key lifecycle,
// applied in the transaction that registers the client (the key ring's ClientLifecycle).
type ClientKeys interface {
	ClientLifecycle(ctx context.Context, alg string) (func(old []keys.Key) ([]keys.Key, error), error)
}

// AddClient registers c (its ID is made here) and returns it with its secret, shown once, for
// a confidential client. A name taken in any letter case gives ErrClientExists; a client that
// breaks the rules one of the clients package's errors (an ID-token algorithm that is not one
// of clients.IDTokenAlgs: ErrInvalidIDTokenAlg), and nothing is written. A client with an
// ID-token algorithm other than RS256 is registered, when the service has ClientKeys, in one
// transaction with that algorithm's key lifecycle (created if it has none), so that every
// replica signs its ID tokens within its key poll interval.
func (s *Service) AddClient(ctx context.Context, a Actor, c clients.Client) (store.StoredClient, string, error) {
	if c.DefaultScopes == nil {
		c.DefaultScopes = c.Scopes
	}
	if err := c.Validate(); err != nil {
		return store.StoredClient{}, "", err
	}
	if c.IDTokenAlg == clients.DefaultIDTokenAlg {
		c.IDTokenAlg = "" // one stored form of the default
	}
	if strings.EqualFold(c.Name, clients.FirstParty) {
		return store.StoredClient{}, "", fmt.Errorf("%w: %q is the built-in client's name", ErrClientExists, c.Name)
	}
	now := s.now().UTC()
	c.ID = uuid.NewString()
	sc := store.StoredClient{Client: c, CreatedAt: now, UpdatedAt: now}
	var secret string
	if c.Confidential {
		var err error
		if secret, sc.SecretHash, err = clients.NewSecret(); err != nil {
			return store.StoredClient{}, "", err
		}
	}
	ev := a.audit(now, store.AuditClientAdded, "")
	ev.Detail = "client_id=" + c.ID + " name=" + c.Name
	if c.IDTokenAlg != "" {
		ev.Detail += " id_token_alg=" + c.IDTokenAlg
	}
	if err := s.createClient(ctx, sc, ev); err != nil {
		if errors.Is(err, store.ErrClientExists) {
			return store.StoredClient{}, "", fmt.Errorf("%w: %q", ErrClientExists, c.Name)
		}
		return store.StoredClient{}, "", err
	}
	return sc, secret, nil
}

// createClient stores sc, with its ID-token algorithm's key lifecycle when it has one of its
// own and the service has ClientKeys (else the lifecycle is made at the next start of a
// server that has a key ring, which manages every algorithm a client registered).
func (s *Service) createClient(ctx context.Context, sc store.StoredClient, ev store.AuditEvent) error {
	if sc.IDTokenAlg == "" || s.clientKeys == nil {
		return s.store.CreateClient(ctx, sc, ev)
	}
	change, err := s.clientKeys.ClientLifecycle(ctx, sc.IDTokenAlg)
	if err != nil {
		return err
	}
	return s.store.CreateClientWithKeys(ctx, sc, ev, change)
}

// Clients returns the built-in client, then every registered one by name.
func (s *Service) Clients(ctx context.Context) ([]store.StoredClient, error) {
	list, err := s.store.Clients(ctx)
	if err != nil {
		return nil, err
	}
	return append([]store.StoredClient{{Client: clients.Builtin()}}, list...), nil
}

// Client returns a client by id (the built-in one included), or ErrClientNotFound. A
// registered client is read from the database at most once per clientCacheTTL.
func (s *Service) Client(ctx context.Context, id string) (store.StoredClient, error) {
	if id == clients.FirstParty {
		return store.StoredClient{Client: clients.Builtin()}, nil
	}
	if uuid.Validate(id) != nil {
		return store.StoredClient{}, fmt.Errorf("%w: %q", ErrClientNotFound, id)
	}
	now := s.now()
	if c, ok := s.clients.get(id, now); ok {
		return c, nil
	}
	c, err := s.store.ClientByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.StoredClient{}, fmt.Errorf("%w: %q", ErrClientNotFound, id)
	}
	if err == nil {
		s.clients.put(c, now)
	}
	return c, err
}

// RotateClientSecret gives a confidential client a new secret, shown once; the old one stops
// working at once.
func (s *Service) RotateClientSecret(ctx context.Context, a Actor, id string) (string, error) {
	c, err := s.Client(ctx, id)
	if err != nil {
		return "", err
	}
	if !c.Confidential {
		return "", fmt.Errorf("%w: %s is a public client, it has no secret", ErrClientNotFound, id)
	}
	secret, hash, err := clients.NewSecret()
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	ev := a.audit(now, store.AuditClientSecret, "")
	ev.Detail = "client_id=" + id
	defer s.clients.forget(id)
	if err := s.store.SetClientSecret(ctx, id, hash, now, ev); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("%w: %q", ErrClientNotFound, id)
		}
		return "", err
	}
	return secret, nil
}

// RemoveClient deletes a registered client and ends every session issued to it; it returns
// how many it ended.
func (s *Service) RemoveClient(ctx context.Context, a Actor, id string) (int, error) {
	if id == clients.FirstParty {
		return 0, ErrBuiltinClient
	}
	if _, err := s.Client(ctx, id); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	ev := a.audit(now, store.AuditClientRemoved, "")
	ev.Detail = "client_id=" + id
	defer s.clients.forget(id)
	n, err := s.store.RemoveClient(ctx, id, now, ev)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("%w: %q", ErrClientNotFound, id)
	}
	return n, s.synced(err)
}
