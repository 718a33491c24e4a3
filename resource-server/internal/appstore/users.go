package appstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// User is the app's record of a user. Version is the auth server's version of the user as last
// synced; 0 means the row was made from an access token's claims and no sync has arrived yet.
// A deleted user is a tombstone: Deleted is set, Username and Email are erased, and Version is
// that of the delete, so an older upsert arriving later cannot bring the user back.
type User struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Version   int64     `json:"version"`
	Deleted   bool      `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Identity is who an access token speaks for: its sub, preferred_username and email.
type Identity struct {
	ID       string
	Username string
	Email    string
}

type userRow struct {
	ID        string `db:"id"`
	Username  string `db:"username"`
	Email     string `db:"email"`
	Version   int64  `db:"version"`
	Deleted   int64  `db:"deleted"`
	CreatedAt int64  `db:"created_at"`
	UpdatedAt int64  `db:"updated_at"`
}

func (r userRow) user() User {
	return User{ID: r.ID, Username: r.Username, Email: r.Email, Version: r.Version, Deleted: r.Deleted != 0,
		CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt)}
}

const userCols = "id, username, email, version, deleted, created_at, updated_at"

// dest is where Scan puts a row of userCols, in their order.
func (r *userRow) dest() []any {
	return []any{&r.ID, &r.Username, &r.Email, &r.Version, &r.Deleted, &r.CreatedAt, &r.UpdatedAt}
}

// User returns the user row with id, tombstones included (Deleted set); ErrNotFound when
// there is none.
func (s *Store) User(ctx context.Context, id string) (User, error) {
	st, err := s.stmts.Get(ctx, s.getUser)
	if err != nil {
		return User{}, classify(fmt.Errorf("get user: %w", err))
	}
	var r userRow
	err = st.QueryRowContext(s.db.PointReadContext(ctx), id).Scan(r.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, classify(fmt.Errorf("get user: %w", err))
	}
	return r.user(), nil
}

// EnsureUser returns the live user who.ID, first creating it from who at version 0 when the
// app database has no row for it yet (the sync of a new user may arrive after the user's first
// request; any synced version then overwrites it). A tombstone is never recreated: the answer
// is ErrUserDeleted. When the row exists this is one read.
func (s *Store) EnsureUser(ctx context.Context, who Identity) (User, error) {
	if who.ID == "" {
		return User{}, ErrNotFound
	}
	u, err := s.User(ctx, who.ID)
	if errors.Is(err, ErrNotFound) {
		if _, err := s.db.ExecContext(ctx, s.q(insertFromClaims), insertArgs(who, s.now())...); err != nil {
			return User{}, classify(fmt.Errorf("create user: %w", err))
		}
		u, err = s.User(ctx, who.ID)
	}
	if err != nil {
		return User{}, err
	}
	if u.Deleted {
		return User{}, ErrUserDeleted
	}
	return u, nil
}

// insertFromClaims creates a version-0 user unless any row (a synced user or a tombstone)
// exists already; both databases support ON CONFLICT DO NOTHING.
const insertFromClaims = `INSERT INTO app_users (id, username, email, version, deleted, created_at, updated_at)
VALUES (?, ?, ?, 0, 0, ?, ?) ON CONFLICT (id) DO NOTHING`

func insertArgs(who Identity, now time.Time) []any {
	return []any{who.ID, clean(who.Username), clean(who.Email), ms(now), ms(now)}
}

// ensureUserTx is EnsureUser inside tx, with the row locked against a concurrent sync until tx
// ends, so a note cannot be added to a user whose delete is being applied.
func (s *Store) ensureUserTx(ctx context.Context, tx *sqlx.Tx, who Identity) (User, error) {
	if who.ID == "" {
		return User{}, ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, s.q(insertFromClaims), insertArgs(who, s.now())...); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	var r userRow
	if err := tx.GetContext(ctx, &r, s.q(`SELECT `+userCols+` FROM app_users WHERE id = ?`+s.db.ForShare()), who.ID); err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	if r.Deleted != 0 {
		return User{}, ErrUserDeleted
	}
	return r.user(), nil
}

// clean removes NUL bytes, which PostgreSQL text cannot hold, from a value taken from a token.
func clean(s string) string { return strings.ReplaceAll(s, "\x00", "") }
