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

// User is an account of the auth server.
type User struct {
	ID           string
	Username     string
	Email        string
	PasswordHash string
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Roles        []string  // never nil when read
	DisabledAt   time.Time // zero while enabled
	LastLoginAt  time.Time // zero before the first log-in
	// TokensNotBefore: access tokens of the user issued before it are revoked (user.revoked);
	// tokens issued afterwards carry an iat of at least it. Zero for none (RevokeTokens).
	TokensNotBefore time.Time

	// EmailVerified: the link of a mail sent to Email was followed (CONTRACT §11).
	EmailVerified bool

	// MFA: a confirmed TOTP secret exists. UserByID, UserByLogin and FindUsers fill it in;
	// the bulk reads of the sync replay and the revocation replay leave it false.
	MFA bool
}

// RevokeTokens makes every access token of u issued until now invalid: TokensNotBefore becomes
// now rounded up to a whole second (tokens carry whole seconds, so one issued later in the
// same second is told apart by carrying that rounded iat). Saved by UpdateUser, it queues
// user.revoked to every sync target.
func (u *User) RevokeTokens(now time.Time) {
	nb := now.Truncate(time.Second)
	if nb.Before(now) {
		nb = nb.Add(time.Second)
	}
	if nb.After(u.TokensNotBefore) {
		u.TokensNotBefore = nb.UTC()
	}
}

// Disabled reports whether the user is disabled.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

type userRow struct {
	ID           string `db:"id"`
	Username     string `db:"username"`
	Email        string `db:"email"`
	PasswordHash string `db:"password_hash"`
	Version      int64  `db:"version"`
	CreatedAt    int64  `db:"created_at"`
	UpdatedAt    int64  `db:"updated_at"`
	Roles        string `db:"roles"`
	DisabledAt   int64  `db:"disabled_at"`
	LastLoginAt  int64  `db:"last_login_at"`
	NotBefore    int64  `db:"tokens_not_before"`
	MFA          bool   `db:"mfa"` // userMFACol; false where a read leaves it out

	EmailVerified int64 `db:"email_verified"` // 00008_mail.sql
}

func (r userRow) user() User {
	return User{ID: r.ID, Username: r.Username, Email: r.Email, PasswordHash: r.PasswordHash,
		Version: r.Version, CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt),
		Roles: roleList(r.Roles), DisabledAt: fromMS(r.DisabledAt), LastLoginAt: fromMS(r.LastLoginAt),
		TokensNotBefore: fromMS(r.NotBefore), EmailVerified: r.EmailVerified != 0, MFA: r.MFA}
}

// roleList is a stored role list, never nil (a token's roles claim is always an array).
func roleList(s string) []string {
	if l := list(s); l != nil {
		return l
	}
	return []string{}
}

const userCols = "id, username, email, password_hash, version, created_at, updated_at, roles, disabled_at, last_login_at, email_verified"

// userReadCols are the columns a userRow is read from: userCols and those a new user starts
// without.
const userReadCols = userCols + ", tokens_not_before"

// qualified is cols (a comma-separated list of column names) each prefixed with table.
func qualified(table, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = table + "." + c
	}
	return strings.Join(parts, ", ")
}

// userMFACol is a user read's "mfa" column: whether a confirmed TOTP secret exists (one index
// probe), so that a log-in knows whether a second step follows without asking again.
const userMFACol = "EXISTS (SELECT 1 FROM mfa_totp t WHERE t.user_id = users.id AND t.confirmed_at <> 0) AS mfa"

// CreateUser inserts u (Version 1) and, in the same transaction, its "upsert" sync event for
// each target and the mails given (a verification mail, with its token). A username or email
// already taken in any letter case gives ErrUserExists; the unique indexes decide, so two
// racing signups cannot both win.
func (s *Store) CreateUser(ctx context.Context, u User, targets []string, mails ...PendingMail) error {
	if s.db.WritableCTE() && len(mails) == 0 {
		return s.createUserPG(ctx, u, targets)
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), userArgs(u)...)
		if db.IsUniqueViolation(err) {
			return ErrUserExists
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		if err := s.addUserEvent(ctx, tx, EventUpsert, u, targets, u.CreatedAt); err != nil {
			return err
		}
		return s.addMails(ctx, tx, mails)
	})
}

// userArgs are the values of userCols for u.
func userArgs(u User) []any {
	return []any{u.ID, u.Username, u.Email, u.PasswordHash, u.Version, ms(u.CreatedAt), ms(u.UpdatedAt),
		joined(u.Roles), ms(u.DisabledAt), ms(u.LastLoginAt), boolInt(u.EmailVerified)}
}

// createUserPG is CreateUser without mails as one PostgreSQL statement: the user, its upsert
// event and the event's delivery to each target, one round trip where BEGIN, 2 + targets
// statements and COMMIT take 4 + targets. (A sign-up that sends a verification mail takes
// the transaction.)
func (s *Store) createUserPG(ctx context.Context, u User, targets []string) error {
	ev, payload, err := newUserEvent(EventUpsert, u, u.CreatedAt)
	if err != nil {
		return err
	}
	// $1–$11 the user (userArgs: $1 its id, $5 its version), $12 the event's id, $13 its
	// kind, $14 its payload, $15 now, then the targets.
	args := append(userArgs(u), ev.ID, EventUpsert, string(payload), ms(u.CreatedAt))
	var q strings.Builder
	q.WriteString(`WITH u AS (INSERT INTO users (` + userCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)),
 ev AS (INSERT INTO outbox_events (id, user_id, version, kind, payload, created_at) VALUES ($12, $1, $5, $13, $14, $15))`)
	for i, t := range targets {
		if i == 0 {
			q.WriteString(`,
 d AS (INSERT INTO outbox_deliveries (event_id, target, user_id, version, created_at, next_attempt_at) VALUES `)
		} else {
			q.WriteString(", ")
		}
		args = append(args, t)
		fmt.Fprintf(&q, "($12, $%d, $1, $5, $15, $15)", len(args))
		if i == len(targets)-1 {
			q.WriteString(")")
		}
	}
	q.WriteString(`
SELECT 1`)
	_, err = s.stmts.Exec(ctx, q.String(), args...)
	if db.IsUniqueViolation(err) {
		return ErrUserExists
	}
	if err != nil {
		return classify(fmt.Errorf("insert user: %w", err))
	}
	return nil
}

// UserByID returns the user with id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	return s.getUser(ctx, s.db, "id = ?", id)
}

// UserByLogin returns the user whose username or email equals login in any letter case.
func (s *Store) UserByLogin(ctx context.Context, login string) (User, error) {
	l := strings.ToLower(login)
	if strings.Contains(l, "@") {
		return s.getUser(ctx, s.db, "lower(email) = ?", l)
	}
	return s.getUser(ctx, s.db, "lower(username) = ?", l)
}

func (s *Store) getUser(ctx context.Context, q sqlx.QueryerContext, where string, arg any) (User, error) {
	var r userRow
	err := sqlx.GetContext(ctx, q, &r, s.q(`SELECT `+userReadCols+`, `+userMFACol+` FROM users WHERE `+where), arg)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, classify(fmt.Errorf("get user: %w", err))
	}
	return r.user(), nil
}

// UpdateUser loads the user, lets change edit it, and saves it with its version bumped,
// writing the sync event and audit in the same transaction. change's error aborts the update.
// Username or email already taken by another user gives ErrUserExists.
func (s *Store) UpdateUser(ctx context.Context, id string, now time.Time, targets []string, change func(u *User) error, audit AuditEvent) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = s.updateUser(ctx, tx, id, now, targets, change)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
	return out, err
}

// SetDisabled disables the user at now (ending every session of it) or enables it again, with
// the sync event and audit, in one transaction.
func (s *Store) SetDisabled(ctx context.Context, id string, disabled bool, now time.Time, targets []string, audit AuditEvent) (User, error) {
	var out User
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = s.updateUser(ctx, tx, id, now, targets, func(u *User) error {
			switch {
			case disabled && !u.Disabled():
				u.DisabledAt = now
				u.RevokeTokens(now)
			case !disabled:
				u.DisabledAt = time.Time{}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if disabled {
			if _, err := s.revokeUserSessions(ctx, tx, id, "", now, RevokeDisabled); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, audit)
	})
	return out, err
}

func (s *Store) updateUser(ctx context.Context, tx *sqlx.Tx, id string, now time.Time, targets []string, change func(u *User) error) (User, error) {
	u, err := s.getUser(ctx, tx, "id = ?"+s.db.ForUpdate(), id)
	if err != nil {
		return User{}, err
	}
	notBefore := u.TokensNotBefore
	if err := change(&u); err != nil {
		return User{}, err
	}
	u.Version++
	u.UpdatedAt = now
	_, err = tx.ExecContext(ctx, s.q(`UPDATE users SET username = ?, email = ?, password_hash = ?, version = ?, updated_at = ?, roles = ?, disabled_at = ?, tokens_not_before = ?, email_verified = ? WHERE id = ?`),
		u.Username, u.Email, u.PasswordHash, u.Version, ms(u.UpdatedAt), joined(u.Roles), ms(u.DisabledAt), ms(u.TokensNotBefore), boolInt(u.EmailVerified), u.ID)
	if db.IsUniqueViolation(err) {
		return User{}, ErrUserExists
	}
	if err != nil {
		return User{}, fmt.Errorf("update user: %w", err)
	}
	if err := s.addUserEvent(ctx, tx, EventUpsert, u, targets, now); err != nil {
		return User{}, err
	}
	if u.TokensNotBefore.After(notBefore) {
		return u, s.revokeUserTokens(ctx, tx, u, now)
	}
	return u, nil
}

// SetPasswordHash replaces a user's hash without a sync event (the hash is not synced): used
// to rehash imported bcrypt hashes to argon2id.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ? WHERE id = ?`), hash, id)
	if err != nil {
		return classify(fmt.Errorf("set password hash: %w", err))
	}
	return nil
}

// DeleteUser removes the user, its sessions and refresh tokens (by cascade), and writes the
// "delete" sync event and audit in the same transaction. The cascade locks rows in another order than a
// refresh does, so on PostgreSQL a deadlock with a concurrent refresh is possible; the
// transaction is retried when the database aborts it.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time, targets []string, audit AuditEvent) error {
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		u, err := s.getUser(ctx, tx, "id = ?"+s.db.ForUpdate(), id)
		if err != nil {
			return err
		}
		// Every token of the user is refused from now on: queued while the row, whose version
		// orders the event before the delete, still exists.
		u.RevokeTokens(now)
		if err := s.revokeUserTokens(ctx, tx, u, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		u.Version++
		u.UpdatedAt = now
		if err := s.addUserEvent(ctx, tx, EventDelete, u, targets, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
}

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM users`); err != nil {
		return 0, classify(fmt.Errorf("count users: %w", err))
	}
	return n, nil
}
