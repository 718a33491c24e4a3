package store

import (
	"context"
	"fmt"
	"strings"
)

// UserQuery selects a page of users in the order of their lower-cased usernames: those whose
// username or email starts with Prefix (lower-case) when set, after the username After (the
// previous page's last) when set.
type UserQuery struct {
	Prefix string
	After  string
	Limit  int
}

// FindUsers returns one page of users (keyset pagination on the unique lower-cased username,
// so users created meanwhile are neither skipped nor repeated).
func (s *Store) FindUsers(ctx context.Context, q UserQuery) ([]User, error) {
	var where []string
	var args []any
	if q.Prefix != "" {
		p := likePrefix(q.Prefix)
		where = append(where, `(lower(username) LIKE ? ESCAPE '\' OR lower(email) LIKE ? ESCAPE '\')`)
		args = append(args, p, p)
	}
	if q.After != "" {
		where, args = append(where, "lower(username) > ?"), append(args, q.After)
	}
	query := `SELECT ` + userCols + ` FROM users`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY lower(username) LIMIT ?`
	args = append(args, q.Limit)
	var rows []userRow
	if err := s.db.SelectContext(ctx, &rows, s.q(query), args...); err != nil {
		return nil, classify(fmt.Errorf("find users: %w", err))
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}

// likePrefix is a LIKE pattern matching strings that start with p, its wildcards escaped.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}
