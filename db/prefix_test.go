package db_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// PrefixMatch finds exactly the strings with the prefix, wildcards and all, on both dialects.
func TestPrefixMatch(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, `CREATE TABLE words (w TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"al", "al_x", "alx", "al%", "alpha", "am", "ak", "a-l", "älg", "älx", "b"} {
			if _, err := d.ExecContext(ctx, d.Rebind(`INSERT INTO words (w) VALUES (?)`), w); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"al", []string{"al", "al%", "al_x", "alpha", "alx"}},
			{"al_", []string{"al_x"}},
			{"al%", []string{"al%"}},
			{"ä", []string{"älg", "älx"}},
			{"z", nil},
		} {
			cond, args := d.PrefixMatch("lower(w)", tc.prefix)
			var got []string
			if err := d.SelectContext(ctx, &got, d.Rebind(`SELECT w FROM words WHERE `+cond), args...); err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("prefix %q: %q, want %q", tc.prefix, got, tc.want)
			}
		}
	})
}
