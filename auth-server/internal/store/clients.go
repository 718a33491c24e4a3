package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/keys"
)

// ErrClientExists reports a client name already taken (in any letter case).
var ErrClientExists = errors.New("client exists")

// StoredClient is a registered client with what only the store keeps: its secret's hash and
// its times.
type StoredClient struct {
	clients.Client
	SecretHash string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

type clientRow struct {
	ID             string `db:"client_id"`
	Name           string `db:"name"`
	Confidential   int64  `db:"confidential"`
	SecretHash     string `db:"secret_hash"`
	RedirectURIs   string `db:"redirect_uris"`
	PostLogoutURIs string `db:"post_logout_uris"`
	Grants         string `db:"grants"`
	Scopes         string `db:"scopes"`
	DefaultScopes  string `db:"default_scopes"`
	Roles          string `db:"roles"`
	IDTokenAlg     string `db:"id_token_alg"`
	CreatedAt      int64  `db:"created_at"`
	UpdatedAt      int64  `db:"updated_at"`
}

const clientCols = "client_id, name, confidential, secret_hash, redirect_uris, post_logout_uris, grants, scopes, default_scopes, roles, id_token_alg, created_at, updated_at"

func (r clientRow) client() StoredClient {
	return StoredClient{Client: clients.Client{ID: r.ID, Name: r.Name, Confidential: r.Confidential != 0,
		RedirectURIs: list(r.RedirectURIs), PostLogoutURIs: list(r.PostLogoutURIs), Grants: list(r.Grants),
		Scopes: list(r.Scopes), DefaultScopes: list(r.DefaultScopes), Roles: list(r.Roles), IDTokenAlg: r.IDTokenAlg},
		SecretHash: r.SecretHash, CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt)}
}

// list splits a stored space-separated list; the empty string is no item.
func list(s string) []string { return strings.Fields(s) }

// joined is the stored form of a list.
func joined(items []string) string { return strings.Join(items, " ") }

// CreateClient stores c with its audit event in one transaction; a name already taken in any
// letter case gives ErrClientExists.
func (s *Store) CreateClient(ctx context.Context, c StoredClient, audit AuditEvent) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.insertClient(ctx, tx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
}

// CreateClientWithKeys is CreateClient and UpdateKeys(keysFn) in one transaction: a client
// whose ID tokens need a key lifecycle of their own is registered with that lifecycle's keys,
// or neither is written. The key set's version is bumped whatever keysFn returns, so every
// replica polling it reloads and learns of the client's algorithm.
func (s *Store) CreateClientWithKeys(ctx context.Context, c StoredClient, audit AuditEvent, keysFn func(old []keys.Key) ([]keys.Key, error)) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.updateKeys(ctx, tx, keysFn); err != nil {
			return err
		}
		if err := s.insertClient(ctx, tx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
}

func (s *Store) insertClient(ctx context.Context, tx *sqlx.Tx, c StoredClient) error {
	conf := int64(0)
	if c.Confidential {
		conf = 1
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.ID, c.Name, conf, c.SecretHash, joined(c.RedirectURIs), joined(c.PostLogoutURIs), joined(c.Grants),
		joined(c.Scopes), joined(c.DefaultScopes), joined(c.Roles), c.IDTokenAlg, ms(c.CreatedAt), ms(c.UpdatedAt))
	if db.IsUniqueViolation(err) {
		return ErrClientExists
	}
	if err != nil {
		return fmt.Errorf("insert client: %w", err)
	}
	return nil
}

// ClientIDTokenAlgs returns the distinct ID-token algorithms registered clients chose (not
// the default, ""), sorted.
func (s *Store) ClientIDTokenAlgs(ctx context.Context) ([]string, error) {
	var out []string
	if err := s.db.SelectContext(ctx, &out, `SELECT DISTINCT id_token_alg FROM clients WHERE id_token_alg <> '' ORDER BY id_token_alg`); err != nil {
		return nil, classify(fmt.Errorf("client id token algorithms: %w", err))
	}
	return out, nil
}

// ClientByID returns the registered client id, or ErrNotFound.
func (s *Store) ClientByID(ctx context.Context, id string) (StoredClient, error) {
	// Prepared once: every token request of a registered client reads its row.
	ps, err := s.stmts.Get(ctx, s.q(`SELECT `+clientCols+` FROM clients WHERE client_id = ?`))
	if err != nil {
		return StoredClient{}, classify(fmt.Errorf("get client: %w", err))
	}
	var r clientRow
	err = ps.GetContext(ctx, &r, id)
	if errors.Is(err, sql.ErrNoRows) {
		return StoredClient{}, ErrNotFound
	}
	if err != nil {
		return StoredClient{}, classify(fmt.Errorf("get client: %w", err))
	}
	return r.client(), nil
}

// Clients returns every registered client, by name.
func (s *Store) Clients(ctx context.Context) ([]StoredClient, error) {
	var rows []clientRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+clientCols+` FROM clients ORDER BY lower(name)`); err != nil {
		return nil, classify(fmt.Errorf("list clients: %w", err))
	}
	out := make([]StoredClient, len(rows))
	for i, r := range rows {
		out[i] = r.client()
	}
	return out, nil
}

// SetClientSecret replaces the secret hash of a confidential client (the old secret stops
// working at once), with its audit event; ErrNotFound when there is no such confidential client.
func (s *Store) SetClientSecret(ctx context.Context, id, hash string, now time.Time, audit AuditEvent) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE clients SET secret_hash = ?, updated_at = ? WHERE client_id = ? AND confidential = 1`),
			hash, ms(now), id)
		if err := oneRow(res, err, ErrNotFound); err != nil {
			return fmt.Errorf("set client secret: %w", err)
		}
		return s.audit(ctx, tx, audit)
	})
}

// RemoveClient deletes a client and revokes every live session issued to it, with its audit
// event, in one transaction; it returns how many sessions it revoked, or ErrNotFound.
func (s *Store) RemoveClient(ctx context.Context, id string, now time.Time, audit AuditEvent) (int, error) {
	var n int
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM clients WHERE client_id = ?`), id)
		if err := oneRow(res, err, ErrNotFound); err != nil {
			return fmt.Errorf("remove client: %w", err)
		}
		if n, err = s.endSessions(ctx, tx, now, RevokeClientRemoved, `client_id = ? AND revoked_at = 0`, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
	return n, err
}
