package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/lib/pq"
)

// IsUnavailable reports whether err means the database could not be reached or went away
// (as opposed to a bad query): the caller should answer 503 and retry later, not 500.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P0x: shutdown/crash; 53: insufficient resources.
		c := string(pe.Code)
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "57P") || strings.HasPrefix(c, "53")
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "driver: bad connection", "broken pipe",
		"connection reset", "unexpected EOF", "database is locked", "database is closed",
		"no such host", "i/o timeout", "too many clients"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
