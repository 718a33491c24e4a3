package server

import (
	"log/slog"
	"testing"

	"github.com/jwtauth/jwtauth/internal/httpapi/httpapitest"
)

// TestPanicAnswered500 checks the middleware's recovery: a handler's panic is a 500 JSON
// without details, with the request id, and http.ErrAbortHandler is passed on so net/http
// aborts the response.
func TestPanicAnswered500(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	httpapitest.CheckRecovery(t, s.middleware)
}
