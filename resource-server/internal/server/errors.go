package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// apiError is an error a client may see: an HTTP status, an error code and a description.
// Anything else is internal and answered as a bare 500 (or 503 when the database is away)
// without details.
type apiError struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration
	// Challenge is the WWW-Authenticate value of a 401.
	Challenge string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

func errBadRequest(desc string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: desc}
}

var (
	errNotFound         = &apiError{Status: http.StatusNotFound, Code: "not_found", Description: "not found"}
	errUserDeleted      = &apiError{Status: http.StatusNotFound, Code: "not_found", Description: "the user has been deleted"}
	errMethodNotAllowed = &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Description: "method not allowed"}
	errTooLarge         = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "request_too_large", Description: "request body is larger than 64 KiB"}
	errUnsupportedMedia = &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Description: "send application/json"}
	errUnavailable      = &apiError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the service is temporarily unavailable, retry later", RetryAfter: 2 * time.Second}
	errInternal         = &apiError{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
)

// errUnauthorized is the 401 of a missing or rejected token, shaped as the verifier's
// middleware shapes it (RFC 6750 §3.1): a bare "Bearer" challenge for a missing token,
// error="invalid_token" with the verifier's fixed description otherwise.
func errUnauthorized(err error) *apiError {
	desc := verifier.Description(err)
	challenge := `Bearer error="invalid_token", error_description="` + desc + `"`
	if errors.Is(err, verifier.ErrMissingToken) {
		challenge = "Bearer"
	}
	return &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: desc, Challenge: challenge}
}

// writeError is the one place errors become HTTP responses. Internal errors are logged with
// the request id and never shown.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, appstore.ErrNotFound):
		ae = errNotFound
	case errors.Is(err, appstore.ErrUserDeleted):
		ae = errUserDeleted
	case errors.Is(err, appstore.ErrInvalidEvent):
		ae = errBadRequest(err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away
	case errors.Is(err, appstore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		log.Warn("database unavailable", "request_id", requestID(r.Context()), "err", err)
		ae = errUnavailable
	default:
		log.Error("internal error", "request_id", requestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errInternal
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	if ae.Challenge != "" {
		w.Header().Set("WWW-Authenticate", ae.Challenge)
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("Cache-Control", "no-store")
	}
	encode(w, ae.Status, map[string]string{"error": ae.Code, "error_description": ae.Description})
}
