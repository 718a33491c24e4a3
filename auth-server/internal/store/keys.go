package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/keys"
)

// ErrKeysUnchanged may be returned by an UpdateKeys function to end the transaction without
// writing anything; UpdateKeys then returns it to the caller unchanged.
var ErrKeysUnchanged = errors.New("keys unchanged")

type keyRow struct {
	KID         string `db:"kid"`
	Alg         string `db:"alg"`
	State       string `db:"state"`
	PublicJWK   string `db:"public_jwk"`
	Sealed      string `db:"private_sealed"`
	CreatedAt   int64  `db:"created_at"`
	ActivatedAt int64  `db:"activated_at"`
	RetiredAt   int64  `db:"retired_at"`
	RevokedAt   int64  `db:"revoked_at"`
}

func (r keyRow) key() (keys.Key, error) {
	sealed, err := base64.StdEncoding.DecodeString(r.Sealed)
	if err != nil {
		return keys.Key{}, fmt.Errorf("key %s: sealed private key: %w", r.KID, err)
	}
	return keys.Key{KID: r.KID, Alg: r.Alg, State: keys.State(r.State), PublicJWK: []byte(r.PublicJWK),
		Sealed: sealed, CreatedAt: fromMS(r.CreatedAt), ActivatedAt: fromMS(r.ActivatedAt),
		RetiredAt: fromMS(r.RetiredAt), RevokedAt: fromMS(r.RevokedAt)}, nil
}

// KeySetVersion returns the version of the key set, bumped by every UpdateKeys; replicas poll
// it to notice a change cheaply.
func (s *Store) KeySetVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.GetContext(ctx, &v, `SELECT version FROM key_set WHERE id = 1`); err != nil {
		return 0, classify(fmt.Errorf("key set version: %w", err))
	}
	return v, nil
}

// Keys returns every stored key and the key set's version, read consistently.
func (s *Store) Keys(ctx context.Context) ([]keys.Key, int64, error) {
	var (
		ks []keys.Key
		v  int64
	)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		ks, v, err = s.readKeys(ctx, tx, false)
		return err
	})
	return ks, v, err
}

func (s *Store) readKeys(ctx context.Context, tx *sqlx.Tx, lock bool) ([]keys.Key, int64, error) {
	var v int64
	q := `SELECT version FROM key_set WHERE id = 1`
	if lock {
		q += s.db.ForUpdate()
	}
	if err := tx.GetContext(ctx, &v, q); err != nil {
		return nil, 0, fmt.Errorf("read key set: %w", err)
	}
	var rows []keyRow
	if err := tx.SelectContext(ctx, &rows, `SELECT kid, alg, state, public_jwk, private_sealed, created_at, activated_at, retired_at, revoked_at FROM signing_keys ORDER BY created_at, kid`); err != nil {
		return nil, 0, fmt.Errorf("read keys: %w", err)
	}
	ks := make([]keys.Key, len(rows))
	for i, r := range rows {
		k, err := r.key()
		if err != nil {
			return nil, 0, err
		}
		ks[i] = k
	}
	return ks, v, nil
}

// UpdateKeys is a compare-and-swap of the whole key set: in one transaction holding the key
// set's lock it reads the keys, passes them to fn, and writes fn's result (rows missing from
// the result are deleted). fn sees the state as it is now, so it must re-check its reason to
// change anything; a replica that lost the race sees the winner's keys. It returns the new
// version. When audit is not nil, the event it returns once fn succeeded is written in the
// same transaction: a key change commits with its audit event or not at all.
func (s *Store) UpdateKeys(ctx context.Context, fn func(old []keys.Key) ([]keys.Key, error), audit func() AuditEvent) (int64, error) {
	var version int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if version, err = s.updateKeys(ctx, tx, fn); err != nil {
			return err
		}
		if audit != nil {
			return s.audit(ctx, tx, audit())
		}
		return nil
	})
	return version, err
}

// updateKeys is UpdateKeys' work inside tx: lock the key set, read it, write fn's result, bump
// the version (returned).
func (s *Store) updateKeys(ctx context.Context, tx *sqlx.Tx, fn func(old []keys.Key) ([]keys.Key, error)) (int64, error) {
	old, v, err := s.readKeys(ctx, tx, true)
	if err != nil {
		return 0, err
	}
	next, err := fn(old)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys`); err != nil {
		return 0, fmt.Errorf("replace keys: %w", err)
	}
	for _, k := range next {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO signing_keys (kid, alg, state, public_jwk, private_sealed, created_at, activated_at, retired_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			k.KID, k.Alg, string(k.State), string(k.PublicJWK), base64.StdEncoding.EncodeToString(k.Sealed), ms(k.CreatedAt), ms(k.ActivatedAt), ms(k.RetiredAt), ms(k.RevokedAt)); err != nil {
			return 0, fmt.Errorf("write key %s: %w", k.KID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE key_set SET version = ? WHERE id = 1`), v+1); err != nil {
		return 0, fmt.Errorf("bump key set: %w", err)
	}
	return v + 1, nil
}
