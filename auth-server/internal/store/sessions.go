package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Session is a refresh-token family started by one login.
type Session struct {
	ID           string
	UserID       string
	CreatedAt    time.Time
	LastUsedAt   time.Time
	ExpiresAt    time.Time // the absolute end (SESSION_MAX_TTL after creation)
	RevokedAt    time.Time
	RevokeReason string
	UserAgent    string
	IP           string
}

type sessionRow struct {
	ID           string `db:"id"`
	UserID       string `db:"user_id"`
	CreatedAt    int64  `db:"created_at"`
	LastUsedAt   int64  `db:"last_used_at"`
	ExpiresAt    int64  `db:"expires_at"`
	RevokedAt    int64  `db:"revoked_at"`
	RevokeReason string `db:"revoke_reason"`
	UserAgent    string `db:"user_agent"`
	IP           string `db:"ip"`
}

const sessionCols = "id, user_id, created_at, last_used_at, expires_at, revoked_at, revoke_reason, user_agent, ip"

func (r sessionRow) session() Session {
	return Session{ID: r.ID, UserID: r.UserID, CreatedAt: fromMS(r.CreatedAt), LastUsedAt: fromMS(r.LastUsedAt),
		ExpiresAt: fromMS(r.ExpiresAt), RevokedAt: fromMS(r.RevokedAt), RevokeReason: r.RevokeReason,
		UserAgent: r.UserAgent, IP: r.IP}
}

// CreateSession stores a new session and its first refresh token (by hash only), with the
// audit event of the login, in one transaction.
func (s *Store) CreateSession(ctx context.Context, sess Session, tokenHash string, tokenExpires time.Time, audit AuditEvent) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			sess.ID, sess.UserID, ms(sess.CreatedAt), ms(sess.LastUsedAt), ms(sess.ExpiresAt), ms(sess.RevokedAt),
			sess.RevokeReason, sess.UserAgent, sess.IP); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
			tokenHash, sess.ID, ms(sess.CreatedAt), ms(tokenExpires)); err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		return s.audit(ctx, tx, audit)
	})
}

// SessionLive reports whether session id exists, is not revoked and has not ended at now.
func (s *Store) SessionLive(ctx context.Context, id string, now time.Time) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, s.q(`SELECT count(*) FROM sessions WHERE id = ? AND revoked_at = 0 AND expires_at > ?`), id, ms(now))
	if err != nil {
		return false, classify(fmt.Errorf("session live: %w", err))
	}
	return n > 0, nil
}
