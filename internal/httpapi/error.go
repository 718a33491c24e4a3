// Package httpapi is the HTTP plumbing both servers share, so that a fix lands once: the API
// error type and the one writer that turns any error into a JSON response, JSON encoding and
// decoding, the per-request middleware (request id, panic recovery, body limit, status
// recorder, access log) and the health endpoints. It holds no policy: each server maps its
// own sentinel errors to API errors with a table (Table, Mapping) handed to NewErrors.
package httpapi

import (
	"net/http"
	"time"
)

// MaxBody is the largest request body accepted (CONTRACT §6): a larger one gets 413.
const MaxBody = 64 << 10

// Error is an error a client may see: an HTTP status, an error code (RFC 6749 §5.2 codes on
// the token endpoints), a description, and optionally a Retry-After and a WWW-Authenticate
// challenge. Any other error is internal and answered without details (Errors.Write).
type Error struct {
	Status      int
	Code        string
	Description string
	// RetryAfter, when positive, is sent as Retry-After in whole seconds, rounded up.
	RetryAfter time.Duration
	// Challenge, when set, is the WWW-Authenticate header of the response.
	Challenge string
}

// Error returns "code: description".
func (e *Error) Error() string { return e.Code + ": " + e.Description }

// BadRequest is a 400 with code and desc.
func BadRequest(code, desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Description: desc}
}

// The API errors both servers answer. They are shared values: never modify one, copy it.
var (
	ErrNotFound         = &Error{Status: http.StatusNotFound, Code: "not_found", Description: "not found"}
	ErrMethodNotAllowed = &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Description: "method not allowed"}
	ErrTooLarge         = &Error{Status: http.StatusRequestEntityTooLarge, Code: "request_too_large", Description: "request body is larger than 64 KiB"}
	ErrUnsupportedMedia = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Description: "send application/json"}
	ErrUnavailable      = &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the service is temporarily unavailable, retry later", RetryAfter: 2 * time.Second}
	ErrInternal         = &Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
)
