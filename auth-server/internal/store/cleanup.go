package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// DeleteEndedSessions deletes up to limit sessions that ended before cutoff (past their
// absolute end, or past the expiry of their newest refresh token, so that none of their tokens
// can refresh any more), with their refresh tokens, spent ones included. Revoked sessions are
// kept until they end like the others, so a late replay of their tokens still finds them and
// gets invalid_grant. It returns how many sessions it deleted; callers loop while it returns
// limit. The tokens are deleted before the sessions: the lock order of Refresh.
func (s *Store) DeleteEndedSessions(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	var n int
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		var ids []string
		c := ms(cutoff)
		if err := tx.SelectContext(ctx, &ids, s.q(`SELECT id FROM sessions WHERE expires_at < ? OR (idle_expires_at <> 0 AND idle_expires_at < ?) ORDER BY expires_at LIMIT ?`),
			c, c, limit); err != nil {
			return fmt.Errorf("find ended sessions: %w", err)
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		in, args, err := sqlx.In(`IN (?)`, ids)
		if err != nil {
			return fmt.Errorf("ended sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM refresh_tokens WHERE session_id `+in), args...); err != nil {
			return fmt.Errorf("delete refresh tokens: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE id `+in), args...); err != nil {
			return fmt.Errorf("delete sessions: %w", err)
		}
		return nil
	})
	return n, err
}
