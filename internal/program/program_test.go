package program

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, 0, ""},
		{errors.New("configuration: AUTH_ISSUER: invalid"), 1, "auth-server: configuration: AUTH_ISSUER: invalid\n"},
		{fmt.Errorf("keys: %w", ExitCode(3)), 3, ""},
	} {
		var stderr bytes.Buffer
		if got := exitCode("auth-server", tc.err, &stderr); got != tc.code || stderr.String() != tc.stderr {
			t.Errorf("exitCode(%v) = %d, %q; want %d, %q", tc.err, got, stderr.String(), tc.code, tc.stderr)
		}
	}
}
