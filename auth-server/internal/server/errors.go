package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// apiError is an error a client may see: an HTTP status, an error code (RFC 6749 §5.2 codes on
// the token endpoints) and a description. Anything else is internal and answered as a bare
// 500 (or 503 when the database is away) without details.
type apiError struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration
	Challenge   bool // add WWW-Authenticate: Bearer error="invalid_token"
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

func errBadRequest(code, desc string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Description: desc}
}

var (
	errInvalidCredentials = &apiError{Status: http.StatusUnauthorized, Code: "invalid_grant", Description: "invalid username or password"}
	errInvalidGrant       = &apiError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "the refresh token is invalid, expired or revoked"}
	errUnauthorized       = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing or invalid access token", Challenge: true}
	errNotFound           = &apiError{Status: http.StatusNotFound, Code: "not_found", Description: "not found"}
	errUserExists         = &apiError{Status: http.StatusConflict, Code: "user_exists", Description: "a user with this username or email already exists"}
	errTooLarge           = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "request_too_large", Description: "request body is larger than 64 KiB"}
	errUnavailable        = &apiError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the service is temporarily unavailable, retry later", RetryAfter: 2 * time.Second}
)

func errTooManyRequests(wait time.Duration) *apiError {
	return &apiError{Status: http.StatusTooManyRequests, Code: "too_many_requests",
		Description: "too many failed login attempts, retry later", RetryAfter: wait}
}

// writeError is the one place errors become HTTP responses. Internal errors are logged with
// the request id and never shown.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		log.Warn("database unavailable", "request_id", requestID(r.Context()), "err", err)
		ae = errUnavailable
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away
	default:
		log.Error("internal error", "request_id", requestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
	}
	if ae.RetryAfter > 0 {
		secs := int((ae.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if ae.Challenge {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	if ae.Status == http.StatusUnauthorized && !ae.Challenge {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	encode(w, ae.Status, map[string]string{"error": ae.Code, "error_description": ae.Description})
}
