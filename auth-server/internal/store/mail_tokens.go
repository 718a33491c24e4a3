package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Mail tokens: the single-use tokens of verification and reset links (CONTRACT §11), stored only
// as hashes. Issuing one voids the user's unused older ones of its kind (addMails); spending
// one is a compare-and-swap on its used_at, so of two concurrent spenders exactly one wins.

// Kinds of mail tokens, and of mails.
const (
	MailVerify = "verify" // a verification mail and its token
	MailReset  = "reset"  // a password-reset mail and its token
)

// Audit events of email.
const (
	AuditEmailVerified    = "email.verified"
	AuditPasswordReset    = "password.reset"
	AuditResetRequested   = "password.reset_requested"
	AuditVerifyMailQueued = "email.verification_queued"
	AuditUserEmailStatus  = "user.email_verified"
)

// RevokePasswordReset is the revoke_reason of the sessions a password reset ended.
const RevokePasswordReset = "password_reset"

// MailToken is a token carried by a mail: the hash of the token, what it is for, whose it is
// and the address it was sent to.
type MailToken struct {
	Hash      string
	Kind      string
	UserID    string
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// MailTokenValid returns the unused, unexpired token of kind stored under hash, or ErrNotFound.
// It changes nothing: the spending call checks again.
func (s *Store) MailTokenValid(ctx context.Context, hash, kind string, now time.Time) (MailToken, error) {
	var r struct {
		UserID    string `db:"user_id"`
		Email     string `db:"email"`
		CreatedAt int64  `db:"created_at"`
		ExpiresAt int64  `db:"expires_at"`
	}
	err := s.db.GetContext(ctx, &r, s.q(`SELECT user_id, email, created_at, expires_at FROM mail_tokens
WHERE token_hash = ? AND kind = ? AND used_at = 0 AND expires_at > ?`), hash, kind, ms(now))
	if errors.Is(err, sql.ErrNoRows) {
		return MailToken{}, ErrNotFound
	}
	if err != nil {
		return MailToken{}, classify(fmt.Errorf("read mail token: %w", err))
	}
	return MailToken{Hash: hash, Kind: kind, UserID: r.UserID, Email: r.Email,
		CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMS(r.ExpiresAt)}, nil
}

// spendToken marks the token of kind under hash used at now, in tx, and returns its user, locked
// for update. A token that is unknown, used, expired, or sent to an address that is no longer
// the user's gives ErrNotFound.
func (s *Store) spendToken(ctx context.Context, tx *sqlx.Tx, hash, kind string, now time.Time) (User, error) {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE mail_tokens SET used_at = ? WHERE token_hash = ? AND kind = ? AND used_at = 0 AND expires_at > ?`),
		ms(now), hash, kind, ms(now))
	if err != nil {
		return User{}, fmt.Errorf("spend mail token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return User{}, fmt.Errorf("spend mail token: %w", err)
	} else if n == 0 {
		return User{}, ErrNotFound
	}
	var t struct {
		UserID string `db:"user_id"`
		Email  string `db:"email"`
	}
	if err := tx.GetContext(ctx, &t, s.q(`SELECT user_id, email FROM mail_tokens WHERE token_hash = ?`), hash); err != nil {
		return User{}, fmt.Errorf("read mail token: %w", err)
	}
	u, err := s.getUser(ctx, tx, "id = ?"+s.db.ForUpdate(), t.UserID)
	if err != nil {
		return User{}, err
	}
	if !strings.EqualFold(u.Email, t.Email) {
		return User{}, ErrNotFound
	}
	return u, nil
}

// VerifyEmail spends a verification token and marks its user's address verified, with audit
// (UserID filled in here) in the same transaction. A token that is unknown, used, expired or
// sent to a former address gives ErrNotFound.
func (s *Store) VerifyEmail(ctx context.Context, hash string, now time.Time, audit AuditEvent) (User, error) {
	var out User
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		u, err := s.spendToken(ctx, tx, hash, MailVerify, now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET email_verified = 1, updated_at = ? WHERE id = ?`), ms(now), u.ID); err != nil {
			return fmt.Errorf("verify email: %w", err)
		}
		u.EmailVerified, u.UpdatedAt = true, now
		out = u
		audit.UserID = u.ID
		return s.audit(ctx, tx, audit)
	})
	return out, err
}

// ResetPassword spends a reset token, sets its user's password hash to newHash, marks the
// address verified (the mail reached it), voids the user's other reset tokens and revokes
// every session of the user, with audit (UserID filled in here), in one transaction. It
// returns the user and how many sessions ended. A token that is unknown, used, expired or sent
// to a former address gives ErrNotFound.
func (s *Store) ResetPassword(ctx context.Context, hash, newHash string, now time.Time, audit AuditEvent) (User, int, error) {
	var out User
	var n int
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		u, err := s.spendToken(ctx, tx, hash, MailReset, now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ?, email_verified = 1, updated_at = ? WHERE id = ?`),
			newHash, ms(now), u.ID); err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		if err := s.voidTokens(ctx, tx, u.ID, MailReset); err != nil {
			return err
		}
		if n, err = s.revokeUserSessions(ctx, tx, u.ID, "", now, RevokePasswordReset); err != nil {
			return err
		}
		u.PasswordHash, u.EmailVerified, u.UpdatedAt = newHash, true, now
		out = u
		audit.UserID = u.ID
		return s.audit(ctx, tx, audit)
	})
	return out, n, err
}

// voidTokens deletes the unused tokens of userID of the kinds given (every kind when none).
func (s *Store) voidTokens(ctx context.Context, tx *sqlx.Tx, userID string, kinds ...string) error {
	query, args := `DELETE FROM mail_tokens WHERE user_id = ? AND used_at = 0`, []any{userID}
	if len(kinds) > 0 {
		q, a, err := sqlx.In(query+` AND kind IN (?)`, userID, kinds)
		if err != nil {
			return fmt.Errorf("void mail tokens: %w", err)
		}
		query, args = q, a
	}
	if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
		return fmt.Errorf("void mail tokens: %w", err)
	}
	return nil
}

// UpdateUserMail is UpdateUser for a change that may queue mails: change edits the user and
// returns the mails (with their tokens) to queue in the same transaction. When the change
// alters the email, the user's unused tokens (sent to the former address) are voided first.
func (s *Store) UpdateUserMail(ctx context.Context, id string, now time.Time, targets []string, change func(u *User) ([]PendingMail, error), audit AuditEvent) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var before string
		var mails []PendingMail
		var err error
		out, err = s.updateUser(ctx, tx, id, now, targets, func(u *User) error {
			before = u.Email
			var err error
			mails, err = change(u)
			return err
		})
		if err != nil {
			return err
		}
		if !strings.EqualFold(before, out.Email) {
			if err := s.voidTokens(ctx, tx, id); err != nil {
				return err
			}
		}
		if err := s.addMails(ctx, tx, mails); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
	return out, err
}

// PurgeMailTokens deletes tokens that expired before cutoff, used or not, and returns how many.
func (s *Store) PurgeMailTokens(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM mail_tokens WHERE expires_at < ?`), ms(cutoff))
	if err != nil {
		return 0, classify(fmt.Errorf("purge mail tokens: %w", err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
