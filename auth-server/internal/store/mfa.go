package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
)

// Errors of the second factor's writes, which callers branch on.
var (
	// ErrMFAEnabled: the user already has a confirmed TOTP secret.
	ErrMFAEnabled = errors.New("mfa already enabled")
	// ErrFactorUsed: the TOTP time step (or an earlier one) was already accepted, or the
	// recovery code was already used, or the enrolment confirmed meanwhile: nothing was
	// changed. Of two concurrent uses of one code exactly one gets past this.
	ErrFactorUsed = errors.New("code already used")
)

// Audit events of the second factor.
const (
	AuditMFAEnabled      = "mfa.enabled"
	AuditMFARemoved      = "mfa.removed"
	AuditMFAReset        = "mfa.reset" // by an administrator
	AuditMFAFailure      = "mfa.failure"
	AuditMFARecoveryUsed = "mfa.recovery_used"
	AuditMFAChallenge    = "mfa.required" // the right password of a user with TOTP
)

// TOTP is a user's TOTP secret, sealed (the store never sees it in the clear).
type TOTP struct {
	UserID      string
	Sealed      string
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while enrolment awaits its confirming code
	LastStep    int64     // the time step of the last accepted code
}

// Confirmed reports whether the secret is an active factor.
func (t TOTP) Confirmed() bool { return !t.ConfirmedAt.IsZero() }

// MFAChallenge is the pending second step of a password log-in: its mfa_token (by hash), for
// which user and client, with the scopes the password step granted.
type MFAChallenge struct {
	Hash      string
	UserID    string
	ClientID  string
	Scope     []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Factor is a second factor being spent: a TOTP code of time Step, or (Step 0) the recovery
// code stored under RecoveryHash.
type Factor struct {
	Step         int64
	RecoveryHash string
}

// PutPendingTOTP stores a new unconfirmed secret for userID, replacing an unconfirmed one;
// ErrMFAEnabled when a confirmed one exists.
func (s *Store) PutPendingTOTP(ctx context.Context, userID, sealed string, now time.Time) error {
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM mfa_totp WHERE user_id = ? AND confirmed_at = 0`), userID); err != nil {
			return fmt.Errorf("drop pending totp: %w", err)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO mfa_totp (user_id, secret_sealed, created_at) VALUES (?, ?, ?)`), userID, sealed, ms(now))
		if db.IsUniqueViolation(err) {
			return ErrMFAEnabled
		}
		if err != nil {
			return fmt.Errorf("insert totp: %w", err)
		}
		return nil
	})
}

// TOTPOf returns userID's secret, confirmed or pending, or ErrNotFound.
func (s *Store) TOTPOf(ctx context.Context, userID string) (TOTP, error) {
	var r struct {
		Sealed      string `db:"secret_sealed"`
		CreatedAt   int64  `db:"created_at"`
		ConfirmedAt int64  `db:"confirmed_at"`
		LastStep    int64  `db:"last_step"`
	}
	err := s.db.GetContext(ctx, &r, s.q(`SELECT secret_sealed, created_at, confirmed_at, last_step FROM mfa_totp WHERE user_id = ?`), userID)
	if errors.Is(err, sql.ErrNoRows) {
		return TOTP{}, ErrNotFound
	}
	if err != nil {
		return TOTP{}, classify(fmt.Errorf("read totp: %w", err))
	}
	return TOTP{UserID: userID, Sealed: r.Sealed, CreatedAt: fromMS(r.CreatedAt), ConfirmedAt: fromMS(r.ConfirmedAt), LastStep: r.LastStep}, nil
}

// ConfirmTOTP makes userID's pending secret (the one sealed as sealed, so a newer enrolment is
// not confirmed by a code of an older one) active, accepting the code of step, and replaces
// the recovery codes by the ones stored under hashes, with audit, in one transaction.
// ErrFactorUsed when the secret is not pending any more (or was replaced).
func (s *Store) ConfirmTOTP(ctx context.Context, userID, sealed string, step int64, hashes []string, now time.Time, audit AuditEvent) error {
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE mfa_totp SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND secret_sealed = ? AND confirmed_at = 0`),
			ms(now), step, userID, sealed)
		if err := oneRow(res, err, ErrFactorUsed); err != nil {
			return fmt.Errorf("confirm totp: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM mfa_recovery_codes WHERE user_id = ?`), userID); err != nil {
			return fmt.Errorf("drop recovery codes: %w", err)
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (?, ?)`), userID, h); err != nil {
				return fmt.Errorf("insert recovery code: %w", err)
			}
		}
		return s.audit(ctx, tx, audit)
	})
}

// spendFactor spends f for userID in tx: a TOTP step is accepted only if it is later than the
// last accepted one (of a confirmed secret), a recovery code only if unused; else
// ErrFactorUsed. Each is one conditional UPDATE, so concurrent spenders of one code queue on
// its row and exactly one changes it.
func (s *Store) spendFactor(ctx context.Context, tx *sqlx.Tx, userID string, f Factor, now time.Time) error {
	var res sql.Result
	var err error
	if f.RecoveryHash != "" {
		res, err = tx.ExecContext(ctx, s.q(`UPDATE mfa_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`),
			ms(now), userID, f.RecoveryHash)
	} else {
		res, err = tx.ExecContext(ctx, s.q(`UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND confirmed_at <> 0 AND last_step < ?`),
			f.Step, userID, f.Step)
	}
	if err := oneRow(res, err, ErrFactorUsed); err != nil {
		return fmt.Errorf("spend second factor: %w", err)
	}
	return nil
}

// RemoveTOTP deletes userID's secret and recovery codes, spending f first when it is not nil
// (a removal confirmed with a code), with audit, in one transaction. ErrNotFound when the
// user has no secret; ErrFactorUsed (nothing removed) when f was used already.
func (s *Store) RemoveTOTP(ctx context.Context, userID string, f *Factor, now time.Time, audit AuditEvent) error {
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		if f != nil {
			if err := s.spendFactor(ctx, tx, userID, *f, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM mfa_recovery_codes WHERE user_id = ?`), userID); err != nil {
			return fmt.Errorf("drop recovery codes: %w", err)
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM mfa_totp WHERE user_id = ?`), userID)
		if err := oneRow(res, err, ErrNotFound); err != nil {
			return fmt.Errorf("remove totp: %w", err)
		}
		return s.audit(ctx, tx, audit)
	})
}

// RecoveryCodesLeft counts userID's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, s.q(`SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ? AND used_at = 0`), userID); err != nil {
		return 0, classify(fmt.Errorf("count recovery codes: %w", err))
	}
	return n, nil
}

// CreateMFAChallenge stores a pending second step, with audit in the same transaction.
func (s *Store) CreateMFAChallenge(ctx context.Context, c MFAChallenge, audit AuditEvent) error {
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO mfa_challenges (token_hash, user_id, client_id, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
			c.Hash, c.UserID, c.ClientID, joined(c.Scope), ms(c.CreatedAt), ms(c.ExpiresAt)); err != nil {
			return fmt.Errorf("insert mfa challenge: %w", err)
		}
		return s.audit(ctx, tx, audit)
	})
}

// mfaLoginSelect reads a pending second step, its user and the user's TOTP secret in one
// statement.
var mfaLoginSelect = `SELECT ` + qualified("users", userReadCols) + `,
 c.client_id AS c_client_id, c.scope AS c_scope, c.created_at AS c_created_at, c.expires_at AS c_expires_at,
 coalesce(t.secret_sealed, '') AS t_sealed, coalesce(t.created_at, 0) AS t_created_at,
 coalesce(t.confirmed_at, 0) AS t_confirmed_at, coalesce(t.last_step, 0) AS t_last_step
 FROM mfa_challenges c JOIN users ON users.id = c.user_id LEFT JOIN mfa_totp t ON t.user_id = c.user_id
 WHERE c.token_hash = ? AND c.expires_at > ?`

// MFAStep is a pending second step as MFALogin reads it: the challenge, its user, and the
// user's TOTP secret (zero when the user has none any more).
type MFAStep struct {
	Challenge MFAChallenge
	User      User
	TOTP      TOTP
}

// MFALogin returns, in one prepared statement, the pending second step stored under hash if it
// has not expired at now (else ErrNotFound), with its user and the user's TOTP secret.
func (s *Store) MFALogin(ctx context.Context, hash string, now time.Time) (MFAStep, error) {
	ps, err := s.stmts.Get(ctx, s.q(mfaLoginSelect))
	if err != nil {
		return MFAStep{}, classify(fmt.Errorf("read mfa challenge: %w", err))
	}
	var r struct {
		userRow
		ClientID     string `db:"c_client_id"`
		Scope        string `db:"c_scope"`
		CreatedAt    int64  `db:"c_created_at"`
		ExpiresAt    int64  `db:"c_expires_at"`
		Sealed       string `db:"t_sealed"`
		TCreatedAt   int64  `db:"t_created_at"`
		TConfirmedAt int64  `db:"t_confirmed_at"`
		LastStep     int64  `db:"t_last_step"`
	}
	err = ps.QueryRowxContext(ctx, hash, ms(now)).StructScan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return MFAStep{}, ErrNotFound
	}
	if err != nil {
		return MFAStep{}, classify(fmt.Errorf("read mfa challenge: %w", err))
	}
	st := MFAStep{User: r.user(), Challenge: MFAChallenge{Hash: hash, UserID: r.ID, ClientID: r.ClientID, Scope: list(r.Scope),
		CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMS(r.ExpiresAt)}}
	if r.Sealed != "" {
		st.TOTP = TOTP{UserID: r.ID, Sealed: r.Sealed, CreatedAt: fromMS(r.TCreatedAt), ConfirmedAt: fromMS(r.TConfirmedAt), LastStep: r.LastStep}
		st.User.MFA = st.TOTP.Confirmed()
	}
	return st, nil
}

// CompleteMFALogin finishes the second step of challenge hash with f and starts the session, in
// one transaction: the challenge is deleted if it is still there and unexpired at now (else
// ErrNotFound: used or expired), f is spent (else ErrFactorUsed), and the session, its first
// refresh token and every audit event are written. On any error nothing changes, so a
// refused code leaves the challenge usable for another.
func (s *Store) CompleteMFALogin(ctx context.Context, hash string, f Factor, sess Session, tokenHash string, tokenExpires time.Time, audits ...AuditEvent) error {
	now := sess.CreatedAt
	if s.db.WritableCTE() {
		return s.completeMFALoginPG(ctx, hash, f, sess, tokenHash, tokenExpires, audits)
	}
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM mfa_challenges WHERE token_hash = ? AND user_id = ? AND expires_at > ?`), hash, sess.UserID, ms(now))
		if err := oneRow(res, err, ErrNotFound); err != nil {
			return fmt.Errorf("use mfa challenge: %w", err)
		}
		if err := s.spendFactor(ctx, tx, sess.UserID, f, now); err != nil {
			return err
		}
		if err := s.insertSession(ctx, tx, sess, tokenHash, tokenExpires); err != nil {
			return err
		}
		for _, a := range audits {
			if err := s.audit(ctx, tx, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// completeMFALoginPG is CompleteMFALogin as one PostgreSQL statement (completeMFAStatement):
// one round trip where BEGIN, six or seven statements and COMMIT take nine or ten. It takes
// the rows' locks in the transaction's order (the challenge, the factor, the user) and is
// retried, as a transaction would be, when PostgreSQL aborts it to break a deadlock.
func (s *Store) completeMFALoginPG(ctx context.Context, hash string, f Factor, sess Session, tokenHash string, tokenExpires time.Time, audits []AuditEvent) error {
	now := ms(sess.CreatedAt)
	var factor any = f.Step
	if f.RecoveryHash != "" {
		factor = f.RecoveryHash
	}
	args := append([]any{hash, sess.UserID, now, factor}, sessionArgs(sess, tokenExpires)...)
	if tokenHash != "" {
		args = append(args, tokenHash)
	}
	for _, a := range audits {
		ev, err := auditArgs(a)
		if err != nil {
			return fmt.Errorf("audit %s: %w", a.Event, err)
		}
		args = append(args, ev...)
	}
	q := completeMFAStatement(f.RecoveryHash != "", tokenHash != "", len(audits))
	ps, err := s.stmts.Get(ctx, q)
	if err != nil {
		return classify(fmt.Errorf("finish second step: %w", err))
	}
	for range maxTxAttempts {
		var found, spent int
		if err = ps.QueryRowxContext(ctx, args...).Scan(&found, &spent); !db.IsRetryable(err) {
			switch {
			case err != nil:
				return classify(fmt.Errorf("finish second step: %w", err))
			case found == 0:
				return fmt.Errorf("use mfa challenge: %w", ErrNotFound)
			case spent == 0:
				return fmt.Errorf("spend second factor: %w", ErrFactorUsed)
			}
			return nil
		}
	}
	return classify(fmt.Errorf("finish second step: %w", err))
}

// completeMFAStatement is the statement of completeMFALoginPG, for a recovery code or a TOTP
// step, with a first refresh token or without (a browser's login session), and n audit
// events. $1 the challenge's hash, $2 the user, $3 now, $4 the step or the recovery code's
// hash, $5–$19 the session (sessionArgs), then the token's hash, then 8 values an event
// (auditArgs). Unless the challenge is there (locked first) and the factor unspent, it
// changes nothing; it answers whether the challenge was found and whether the factor was
// spent. A parameter in a SELECT list would be text: the integer ones are cast.
func completeMFAStatement(recovery, token bool, n int) string {
	var b strings.Builder
	b.WriteString(`WITH ch AS (SELECT token_hash FROM mfa_challenges WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3 FOR UPDATE),
 f AS (`)
	if recovery {
		b.WriteString(`UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $2 AND code_hash = $4 AND used_at = 0`)
	} else {
		b.WriteString(`UPDATE mfa_totp SET last_step = $4 WHERE user_id = $2 AND confirmed_at <> 0 AND last_step < $4`)
	}
	b.WriteString(` AND EXISTS (SELECT 1 FROM ch) RETURNING user_id),
 del AS (DELETE FROM mfa_challenges c USING f WHERE c.token_hash = $1 RETURNING c.user_id),
 login AS (UPDATE users u SET last_login_at = $3 FROM del WHERE u.id = del.user_id),
 sess AS (INSERT INTO sessions (` + sessionCols + `, cookie_hash, auth_time)
  SELECT $5, $6, $7::bigint, $8::bigint, $9::bigint, $10::bigint, $11::bigint, $12, $13, $14, $15, $16, $17, $18, $19::bigint FROM del)`)
	next := 20
	if token {
		b.WriteString(`,
 tok AS (INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) SELECT $20, $5, $7::bigint, $10::bigint FROM del)`)
		next = 21
	}
	for i := range n {
		if i == 0 {
			b.WriteString(`,
 aud AS (INSERT INTO audit_events (` + auditCols + `) `)
		}
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		p := next + 8*i
		fmt.Fprintf(&b, "SELECT $%d, $%d::bigint, $%d, $%d, $%d, $%d, $%d, $%d FROM del", p, p+1, p+2, p+3, p+4, p+5, p+6, p+7)
		if i == n-1 {
			b.WriteString(")")
		}
	}
	b.WriteString(`
SELECT (SELECT count(*) FROM ch), (SELECT count(*) FROM f)`)
	return b.String()
}

// DeleteExpiredMFAChallenges deletes the pending second steps that expired before cutoff and
// returns how many.
func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM mfa_challenges WHERE expires_at < ?`), ms(cutoff))
	if err != nil {
		return 0, classify(fmt.Errorf("prune mfa challenges: %w", err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, classify(fmt.Errorf("prune mfa challenges: %w", err))
	}
	return int(n), nil
}
