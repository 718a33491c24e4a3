package appstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// The deny-list's rows (table revocations): what the auth server revoked, kept until every
// token it covers has expired. Apply writes them with the batch that carries them; the
// deny-list in memory (resource-server/internal/denylist) loads them at start, reads what
// other replicas applied (RevocationsSince) and prunes (PruneRevocations).

// StoredRevocation is a revocation as held: the verifier's Revocation and when the auth server
// made it.
type StoredRevocation struct {
	verifier.Revocation
	OccurredAt time.Time
}

type revocationRow struct {
	Kind       string `db:"kind"`
	ID         string `db:"id"`
	Subject    string `db:"subject"`
	NotBefore  int64  `db:"not_before"`
	ExpiresAt  int64  `db:"expires_at"`
	OccurredAt int64  `db:"occurred_at"`
}

const (
	kindSession = "session"
	kindUser    = "user"
)

func (r revocationRow) stored() StoredRevocation {
	rev := verifier.Revocation{Subject: r.Subject, Expires: fromMS(r.ExpiresAt)}
	if r.Kind == kindSession {
		rev.SessionID = r.ID
	} else {
		rev.Subject, rev.NotBefore = r.ID, fromMS(r.NotBefore)
	}
	return StoredRevocation{Revocation: rev, OccurredAt: fromMS(r.OccurredAt)}
}

// applyRevocation writes the revocation of event e in tx: a new row, or a later not_before or
// expiry for one held. applied_at becomes now either way, so other replicas read it again.
func (s *Store) applyRevocation(ctx context.Context, tx *sqlx.Tx, e syncevent.Event, now time.Time) (StoredRevocation, error) {
	rev, _, err := verifier.RevocationOf(e)
	if err != nil {
		return StoredRevocation{}, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	row := revocationRow{Kind: kindUser, ID: rev.Subject, NotBefore: rev.NotBefore.UnixMilli(), ExpiresAt: rev.Expires.UnixMilli(), OccurredAt: ms(e.OccurredAt)}
	if rev.SessionID != "" {
		row = revocationRow{Kind: kindSession, ID: rev.SessionID, Subject: rev.Subject, ExpiresAt: rev.Expires.UnixMilli(), OccurredAt: ms(e.OccurredAt)}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO revocations (kind, id, subject, not_before, expires_at, occurred_at, applied_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (kind, id) DO UPDATE SET
    not_before = CASE WHEN excluded.not_before > revocations.not_before THEN excluded.not_before ELSE revocations.not_before END,
    expires_at = CASE WHEN excluded.expires_at > revocations.expires_at THEN excluded.expires_at ELSE revocations.expires_at END,
    applied_at = excluded.applied_at`),
		row.Kind, row.ID, row.Subject, row.NotBefore, row.ExpiresAt, row.OccurredAt, ms(now)); err != nil {
		return StoredRevocation{}, fmt.Errorf("apply %s: %w", e.Type, err)
	}
	return row.stored(), nil
}

// RevocationsSince returns the revocations applied at or after since (by any replica) that
// are still in force at now: all of them for a zero since (at start).
func (s *Store) RevocationsSince(ctx context.Context, since, now time.Time) ([]StoredRevocation, error) {
	var rows []revocationRow
	err := sqlx.SelectContext(ctx, s.db, &rows, s.q(`SELECT kind, id, subject, not_before, expires_at, occurred_at FROM revocations
WHERE applied_at >= ? AND expires_at >= ?`), ms(since), ms(now))
	if err != nil {
		return nil, classify(fmt.Errorf("read revocations: %w", err))
	}
	out := make([]StoredRevocation, len(rows))
	for i, r := range rows {
		out[i] = r.stored()
	}
	return out, nil
}

// PruneRevocations deletes the revocations that expired before cutoff and returns how many.
func (s *Store) PruneRevocations(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM revocations WHERE expires_at < ?`), ms(cutoff))
	if err != nil {
		return 0, classify(fmt.Errorf("prune revocations: %w", err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}
