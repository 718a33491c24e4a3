package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/internal/syncevent"
)

// The revocations the store queues to the sync targets (docs/revocation.md): session.revoked
// whenever a session ends, user.revoked when a user's tokens are revoked (RevokeTokens). They
// travel the user-sync outbox, written in the transaction of the change, so the relay's order,
// retries and leases apply to them unchanged.

// Option configures a Store.
type Option func(*Store)

// WithRevocations makes the store queue revocations to targets; tokenTTL is the access-token
// lifetime, which bounds how long a revocation must be remembered. Without it (a store used by
// a tool with no sync targets) nothing is queued.
func WithRevocations(targets []string, tokenTTL time.Duration) Option {
	return func(s *Store) { s.revokeTargets, s.tokenTTL = targets, tokenTTL }
}

// revocationSlack is added to every revocation's expiry: an access token may carry an iat up
// to a second later than its signing (User.RevokeTokens).
const revocationSlack = time.Second

// endSessions revokes the sessions matching where (its arguments follow), in tx, and queues
// session.revoked for each one that may still have a live access token. It returns how many
// sessions it revoked.
func (s *Store) endSessions(ctx context.Context, tx *sqlx.Tx, now time.Time, reason, where string, args ...any) (int, error) {
	rows, err := tx.QueryContext(ctx, s.q(`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE `+where+` RETURNING id, user_id, expires_at`),
		append([]any{ms(now), reason}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	type ended struct {
		id, user string
		expires  int64
	}
	var all []ended
	for rows.Next() {
		var e ended
		if err := rows.Scan(&e.id, &e.user, &e.expires); err != nil {
			rows.Close()
			return 0, fmt.Errorf("revoke sessions: %w", err)
		}
		all = append(all, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	for _, e := range all {
		// A session past its absolute end issued its last token before it; once that token
		// has expired there is nothing left to refuse.
		if fromMS(e.expires).Add(s.tokenTTL + revocationSlack).Before(now) {
			continue
		}
		if err := s.queueRevocation(ctx, tx, s.revokeTargets, e.user, sessionRevoked(e.id, e.user, now, s.tokenTTL), now); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

// sessionRevoked is the event of session sid of user ending at revokedAt: every access token
// of the session was issued by then, so all have expired tokenTTL later.
func sessionRevoked(sid, user string, revokedAt time.Time, tokenTTL time.Duration) syncevent.Event {
	return syncevent.Event{Type: syncevent.TypeSessionRevoked, SessionID: sid, Subject: user,
		Expires: revokedAt.Add(tokenTTL + revocationSlack).Unix()}
}

// userRevoked is the event refusing u's tokens issued before u.TokensNotBefore.
func userRevoked(u User, tokenTTL time.Duration) syncevent.Event {
	return syncevent.Event{Type: syncevent.TypeUserRevoked, Subject: u.ID, NotBefore: u.TokensNotBefore.Unix(),
		Expires: u.TokensNotBefore.Add(tokenTTL + revocationSlack).Unix()}
}

// revokeUserTokens queues user.revoked for u (its TokensNotBefore set), in tx.
func (s *Store) revokeUserTokens(ctx context.Context, tx *sqlx.Tx, u User, now time.Time) error {
	return s.queueRevocation(ctx, tx, s.revokeTargets, u.ID, userRevoked(u, s.tokenTTL), now)
}

// queueRevocation writes ev (its id and time filled in) to the outbox of user, with a pending
// delivery per target of targets, in tx. It takes the user's current version, read in the same
// statements, so the relay delivers it after the user's earlier changes; a user that no
// longer exists gets nothing (its delete is what the targets act on).
func (s *Store) queueRevocation(ctx context.Context, tx *sqlx.Tx, targets []string, user string, ev syncevent.Event, now time.Time) error {
	if len(targets) == 0 {
		return nil
	}
	ev.ID, ev.OccurredAt = uuid.NewString(), now.UTC()
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode revocation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbox_events (id, user_id, version, kind, payload, created_at)
SELECT ?, id, version, ?, ?, ? FROM users WHERE id = ?`), ev.ID, ev.Type, string(payload), ms(now), user); err != nil {
		return fmt.Errorf("insert revocation event: %w", err)
	}
	for _, t := range targets {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbox_deliveries (event_id, target, user_id, version, created_at, next_attempt_at)
SELECT ?, ?, id, version, ?, ? FROM users WHERE id = ?`), ev.ID, t, ms(now), ms(now), user); err != nil {
			return fmt.Errorf("insert revocation delivery: %w", err)
		}
	}
	return nil
}

// EnqueueRevocationReplay queues again, for targets, every revocation still in force at now:
// session.revoked for each session revoked less than an access-token lifetime ago, user.revoked
// for each user whose TokensNotBefore is that recent. Part of `sync replay`, so a target that
// lost its deny-list gets it back. It returns how many revocations it queued. The queries
// repeat their partial indexes' predicates, which a bound parameter cannot prove.
func (s *Store) EnqueueRevocationReplay(ctx context.Context, targets []string, now time.Time) (int, error) {
	since := ms(now.Add(-s.tokenTTL - revocationSlack))
	n := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		n = 0
		var sessions []struct {
			ID      string `db:"id"`
			UserID  string `db:"user_id"`
			Revoked int64  `db:"revoked_at"`
		}
		if err := sqlx.SelectContext(ctx, tx, &sessions, s.q(`SELECT id, user_id, revoked_at FROM sessions WHERE revoked_at > ? AND revoked_at > 0`), since); err != nil {
			return fmt.Errorf("replay revocations: %w", err)
		}
		for _, r := range sessions {
			if err := s.queueRevocation(ctx, tx, targets, r.UserID, sessionRevoked(r.ID, r.UserID, fromMS(r.Revoked), s.tokenTTL), now); err != nil {
				return err
			}
		}
		var users []userRow
		if err := sqlx.SelectContext(ctx, tx, &users, s.q(`SELECT `+userReadCols+` FROM users WHERE tokens_not_before > ? AND tokens_not_before > 0`), since); err != nil {
			return fmt.Errorf("replay revocations: %w", err)
		}
		for _, r := range users {
			if err := s.queueRevocation(ctx, tx, targets, r.ID, userRevoked(r.user(), s.tokenTTL), now); err != nil {
				return err
			}
		}
		n = len(sessions) + len(users)
		return nil
	})
	return n, err
}
