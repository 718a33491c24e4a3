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
}

type userRow struct {
	ID           string `db:"id"`
	Username     string `db:"username"`
	Email        string `db:"email"`
	PasswordHash string `db:"password_hash"`
	Version      int64  `db:"version"`
	CreatedAt    int64  `db:"created_at"`
	UpdatedAt    int64  `db:"updated_at"`
}

func (r userRow) user() User {
	return User{ID: r.ID, Username: r.Username, Email: r.Email, PasswordHash: r.PasswordHash,
		Version: r.Version, CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt)}
}

const userCols = "id, username, email, password_hash, version, created_at, updated_at"

// CreateUser inserts u (Version 1) and, in the same transaction, its "upsert" sync event for
// each target. A username or email already taken in any letter case gives ErrUserExists; the
// unique indexes decide, so two racing signups cannot both win.
func (s *Store) CreateUser(ctx context.Context, u User, targets []string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			u.ID, u.Username, u.Email, u.PasswordHash, u.Version, ms(u.CreatedAt), ms(u.UpdatedAt))
		if db.IsUniqueViolation(err) {
			return ErrUserExists
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return s.addUserEvent(ctx, tx, EventUpsert, u, targets, u.CreatedAt)
	})
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
	err := sqlx.GetContext(ctx, q, &r, s.q(`SELECT `+userCols+` FROM users WHERE `+where), arg)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, classify(fmt.Errorf("get user: %w", err))
	}
	return r.user(), nil
}

// UpdateUser loads the user, lets change edit it, and saves it with its version bumped,
// writing the sync event in the same transaction. change's error aborts the update.
// Username or email already taken by another user gives ErrUserExists.
func (s *Store) UpdateUser(ctx context.Context, id string, now time.Time, targets []string, change func(u *User) error) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		u, err := s.getUser(ctx, tx, "id = ?"+s.db.ForUpdate(), id)
		if err != nil {
			return err
		}
		if err := change(&u); err != nil {
			return err
		}
		u.Version++
		u.UpdatedAt = now
		_, err = tx.ExecContext(ctx, s.q(`UPDATE users SET username = ?, email = ?, password_hash = ?, version = ?, updated_at = ? WHERE id = ?`),
			u.Username, u.Email, u.PasswordHash, u.Version, ms(u.UpdatedAt), u.ID)
		if db.IsUniqueViolation(err) {
			return ErrUserExists
		}
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		out = u
		return s.addUserEvent(ctx, tx, EventUpsert, u, targets, now)
	})
	return out, err
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
// "delete" sync event in the same transaction. The cascade locks rows in another order than a
// refresh does, so on PostgreSQL a deadlock with a concurrent refresh is possible; the
// transaction is retried when the database aborts it.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time, targets []string) error {
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		u, err := s.getUser(ctx, tx, "id = ?"+s.db.ForUpdate(), id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		u.Version++
		u.UpdatedAt = now
		return s.addUserEvent(ctx, tx, EventDelete, u, targets, now)
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
