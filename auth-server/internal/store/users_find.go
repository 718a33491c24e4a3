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
// so users created meanwhile are neither skipped nor repeated). The prefix condition is the
// dialect's indexed one (db.PrefixMatch).
func (s *Store) FindUsers(ctx context.Context, q UserQuery) ([]User, error) {
	var where []string
	var args []any
	if q.Prefix != "" {
		byName, nameArgs := s.db.PrefixMatch("lower(username)", q.Prefix)
		byEmail, emailArgs := s.db.PrefixMatch("lower(email)", q.Prefix)
		where = append(where, "("+byName+" OR "+byEmail+")")
		args = append(append(args, nameArgs...), emailArgs...)
	}
	if q.After != "" {
		where, args = append(where, "lower(username) > ?"), append(args, q.After)
	}
	query := `SELECT ` + userReadCols + `, ` + userMFACol + ` FROM users`
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
