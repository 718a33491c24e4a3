package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ErrSessionEnded reports a rotation that lost a race with the revocation of its session (a
// logout committed between reading the session and writing it): nothing was changed.
var ErrSessionEnded = errors.New("session ended")

// RefreshToken is a stored refresh token: only its hash, never the token.
type RefreshToken struct {
	Hash        string
	SessionID   string
	ParentHash  string // empty for the first token of a session
	CreatedAt   time.Time
	ExpiresAt   time.Time
	SpentAt     time.Time // zero while unspent
	ChildSealed string    // once spent: its child, sealed with a key only the token itself gives
}

type refreshRow struct {
	Hash        string `db:"token_hash"`
	SessionID   string `db:"session_id"`
	ParentHash  string `db:"parent_hash"`
	CreatedAt   int64  `db:"created_at"`
	ExpiresAt   int64  `db:"expires_at"`
	SpentAt     int64  `db:"spent_at"`
	ChildSealed string `db:"child_sealed"`
}

const refreshCols = "token_hash, session_id, parent_hash, created_at, expires_at, spent_at, child_sealed"

func (r refreshRow) token() RefreshToken {
	return RefreshToken{Hash: r.Hash, SessionID: r.SessionID, ParentHash: r.ParentHash, CreatedAt: fromMS(r.CreatedAt),
		ExpiresAt: fromMS(r.ExpiresAt), SpentAt: fromMS(r.SpentAt), ChildSealed: r.ChildSealed}
}

// RefreshState is a presented token as found: the token, its session, and whether its child
// (if it was spent) has been spent too.
type RefreshState struct {
	Token      RefreshToken
	Session    Session
	ChildSpent bool
}

// RefreshAction is what Refresh does with a presented token, as its caller decided.
type RefreshAction int

// The actions of a refresh.
const (
	// RefreshReject changes nothing (the caller answers invalid_grant).
	RefreshReject RefreshAction = iota
	// RefreshRotate spends the token, stores its child and touches the session.
	RefreshRotate
	// RefreshReplay changes nothing: the caller answers with the child it opens.
	RefreshReplay
	// RefreshRevoke revokes the session and writes the audit event, and commits: the caller
	// then fails the request, but the revocation stays.
	RefreshRevoke
)

// RefreshStep is the caller's decision on a presented token.
type RefreshStep struct {
	Action RefreshAction
	// RefreshRotate: the child's hash and expiry, and the child sealed under the presented token.
	ChildHash    string
	ChildExpires time.Time
	ChildSealed  string
	// RefreshRevoke: the session's revoke reason and the audit event written with it.
	Reason string
	Audit  AuditEvent
}

// Refresh runs one refresh of the token stored under hash, in one transaction: it locks the
// token's row (FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction holds the write lock),
// reads the session and the child, asks decide, and applies its step. The lock order is always
// refresh_tokens row, then sessions row, so concurrent refreshes of one token queue on the
// token's row and each sees the previous one's outcome. An unknown hash gives ErrNotFound
// without calling decide; an error from decide rolls back and is returned; a rotation whose
// session was revoked meanwhile gives ErrSessionEnded. decide may run more than once (the
// transaction is retried on a PostgreSQL serialization failure or deadlock), so it must only
// depend on its argument. The returned state is the one the applied step was decided on.
func (s *Store) Refresh(ctx context.Context, hash string, now time.Time, decide func(RefreshState) (RefreshStep, error)) (RefreshState, error) {
	var out RefreshState
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		st, err := s.refreshState(ctx, tx, hash, s.db.ForUpdate())
		if err != nil {
			return err
		}
		step, err := decide(st)
		if err != nil {
			return err
		}
		out = st
		return s.applyRefresh(ctx, tx, st, step, now)
	})
	return out, err
}

// LookupRefresh returns the state of the token stored under hash without locking or changing
// anything, or ErrNotFound.
func (s *Store) LookupRefresh(ctx context.Context, hash string) (RefreshState, error) {
	st, err := s.refreshState(ctx, s.db, hash, "")
	return st, classify(err)
}

func (s *Store) refreshState(ctx context.Context, q sqlx.QueryerContext, hash, lock string) (RefreshState, error) {
	var tr refreshRow
	err := sqlx.GetContext(ctx, q, &tr, s.q(`SELECT `+refreshCols+` FROM refresh_tokens WHERE token_hash = ?`+lock), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return RefreshState{}, ErrNotFound
	}
	if err != nil {
		return RefreshState{}, fmt.Errorf("read refresh token: %w", err)
	}
	var sr sessionRow
	err = sqlx.GetContext(ctx, q, &sr, s.q(`SELECT `+sessionCols+` FROM sessions WHERE id = ?`), tr.SessionID)
	if errors.Is(err, sql.ErrNoRows) {
		return RefreshState{}, ErrNotFound
	}
	if err != nil {
		return RefreshState{}, fmt.Errorf("read session: %w", err)
	}
	st := RefreshState{Token: tr.token(), Session: sr.session()}
	if tr.SpentAt != 0 {
		var n int
		err = sqlx.GetContext(ctx, q, &n, s.q(`SELECT count(*) FROM refresh_tokens WHERE parent_hash = ? AND spent_at <> 0`), hash)
		if err != nil {
			return RefreshState{}, fmt.Errorf("read child token: %w", err)
		}
		st.ChildSpent = n > 0
	}
	return st, nil
}

func (s *Store) applyRefresh(ctx context.Context, tx *sqlx.Tx, st RefreshState, step RefreshStep, now time.Time) error {
	switch step.Action {
	case RefreshRotate:
		return s.rotate(ctx, tx, st, step, now)
	case RefreshRevoke:
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at = 0`),
			ms(now), step.Reason, st.Session.ID); err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		return s.audit(ctx, tx, step.Audit)
	default:
		return nil
	}
}

func (s *Store) rotate(ctx context.Context, tx *sqlx.Tx, st RefreshState, step RefreshStep, now time.Time) error {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET spent_at = ?, child_sealed = ? WHERE token_hash = ? AND spent_at = 0`),
		ms(now), step.ChildSealed, st.Token.Hash)
	if err != nil {
		return fmt.Errorf("spend refresh token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("spend refresh token: %w", err)
	} else if n != 1 {
		return fmt.Errorf("spend refresh token: %d rows, want 1 (not locked?)", n)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		step.ChildHash, st.Session.ID, st.Token.Hash, ms(now), ms(step.ChildExpires)); err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	res, err = tx.ExecContext(ctx, s.q(`UPDATE sessions SET last_used_at = ?, idle_expires_at = ? WHERE id = ? AND revoked_at = 0`),
		ms(now), ms(step.ChildExpires), st.Session.ID)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("touch session: %w", err)
	} else if n == 0 {
		return ErrSessionEnded
	}
	return nil
}

// maxTxAttempts bounds the attempts of a transaction that PostgreSQL aborted to resolve a
// conflict (serialization failure or deadlock).
const maxTxAttempts = 3

// inTxRetry is inTx, retried when PostgreSQL chose the transaction as the victim of a
// serialization failure (40001) or a deadlock (40P01): both are safe to run again from the
// start. fn must therefore be free of side effects outside tx.
func (s *Store) inTxRetry(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, fn)
		if err == nil || attempt >= maxTxAttempts || !isRetryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

func isRetryable(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
