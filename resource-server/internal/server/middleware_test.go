package server

import (
	"log/slog"
	"testing"

	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/internal/httpapi/httpapitest"
)

// TestPanicAnswered500 checks the middleware's recovery: a handler's panic is a 500 without
// details, with the request id, and http.ErrAbortHandler is passed on.
func TestPanicAnswered500(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	s := &Server{log: log, ids: httpapi.NewIDGenerator(), errs: httpapi.NewErrors(log)}
	httpapitest.CheckRecovery(t, s.middleware)
}
