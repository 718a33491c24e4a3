package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// endedSessionsSelect finds up to limit ended sessions: those past their absolute end
// ($1, $2: cutoff, limit) and those past their newest token's expiry ($3, $4), each found by
// a range scan of its own index that stops after limit rows. One condition with OR (the
// sessions past either) was a walk of sessions_expires_idx from its start filtering the OR,
// on both stores (EXPLAIN): once the sessions past their absolute end were deleted, every
// batch read all the live sessions that end before the idle ones (with 1,000,000 ended
// sessions, 700,000 rows and 12 s a batch on PostgreSQL). idle_expires_at is 0 for sessions
// without refresh tokens and never negative, so "> 0" is "<> 0" as a range.
const endedSessionsSelect = `SELECT id FROM (
 SELECT id FROM (SELECT id FROM sessions WHERE expires_at < ? ORDER BY expires_at LIMIT ?) past_end
 UNION
 SELECT id FROM (SELECT id FROM sessions WHERE idle_expires_at > 0 AND idle_expires_at < ? ORDER BY idle_expires_at LIMIT ?) past_idle
) ended LIMIT ?`

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
		if err := tx.SelectContext(ctx, &ids, s.q(endedSessionsSelect), c, limit, c, limit, limit); err != nil {
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
