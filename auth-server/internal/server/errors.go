package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
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
	Challenge   bool   // add WWW-Authenticate: Bearer error="invalid_token"
	scope       string // the missing scope of an insufficient_scope answer (RFC 6750 §3.1)
	// basicChallenge adds WWW-Authenticate: Basic to an invalid_client answer (RFC 6749 §5.2;
	// RFC 9110 wants a challenge in every 401).
	basicChallenge bool
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

func errBadRequest(code, desc string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Description: desc}
}

var (
	errMissingToken = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing bearer token"}
	errNotFound     = &apiError{Status: http.StatusNotFound, Code: "not_found", Description: "not found"}
	errTooLarge     = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "request_too_large", Description: "request body is larger than 64 KiB"}
	errUnavailable  = &apiError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the service is temporarily unavailable, retry later", RetryAfter: 2 * time.Second}
	errInternal     = &apiError{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
)

// errorTable is the one mapping of the account service's outcomes to responses. token, when
// set, is the answer at the token endpoint, where RFC 6749 §5.2 wants 400 invalid_grant for
// bad credentials (401 only for client authentication) while /login keeps the Python
// system's 401.
var errorTable = []struct {
	err   error
	api   apiError
	token *apiError
}{
	{account.ErrInvalidCredentials, apiError{Status: http.StatusUnauthorized, Code: "invalid_grant", Description: "invalid username or password"},
		&apiError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "invalid username or password"}},
	{account.ErrInvalidClient, apiError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client authentication failed", basicChallenge: true}, nil},
	{account.ErrUnauthorizedClient, apiError{Status: http.StatusBadRequest, Code: "unauthorized_client", Description: "this client may not use this grant type"}, nil},
	{account.ErrInvalidGrant, apiError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "the refresh token is invalid, expired or revoked"}, nil},
	{account.ErrThrottled, apiError{Status: http.StatusTooManyRequests, Code: "too_many_requests", Description: "too many failed attempts, retry later"}, nil},
	{account.ErrUnauthenticated, apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing or invalid access token", Challenge: true}, nil},
	{account.ErrWrongPassword, apiError{Status: http.StatusForbidden, Code: "invalid_password", Description: "the password is wrong"}, nil},
	{account.ErrUserExists, apiError{Status: http.StatusConflict, Code: "user_exists", Description: "a user with this username or email already exists"}, nil},
	{account.ErrSessionNotFound, *errNotFound, nil},
	{account.ErrAccountDisabled, apiError{Status: http.StatusForbidden, Code: "account_disabled", Description: "this account is disabled; ask an administrator"}, nil},
	{account.ErrUserNotFound, *errNotFound, nil},
	{account.ErrForbidden, apiError{Status: http.StatusForbidden, Code: "forbidden", Description: "this needs the admin role"}, nil},
	{account.ErrInsufficientScope, apiError{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "the access token lacks the scope this needs"}, nil},
	{account.ErrClientNotFound, *errNotFound, nil},
	{account.ErrClientExists, apiError{Status: http.StatusConflict, Code: "client_exists", Description: "a client with this name already exists"}, nil},
	{account.ErrBuiltinClient, apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "the built-in first-party client cannot be changed"}, nil},
	{account.ErrInvalidCursor, apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "cursor is not one this server returned; start again without it"}, nil},
	{account.ErrInvalidLimit, apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "limit must be 1 to 200"}, nil},
	{clients.ErrInvalidRole, apiError{Status: http.StatusBadRequest, Code: "invalid_role", Description: "roles are a lower-case letter, then up to 63 of a-z 0-9 _ . : -"}, nil},
	{clients.ErrInvalidScope, apiError{Status: http.StatusBadRequest, Code: "invalid_scope", Description: "the requested scope is malformed, unknown or not allowed for this client"}, nil},
	{account.ErrInvalidUsername, apiError{Status: http.StatusBadRequest, Code: "invalid_username", Description: "username must be 3 to 32 characters of a-z, 0-9, '.', '_' and '-'"}, nil},
	{account.ErrInvalidEmail, apiError{Status: http.StatusBadRequest, Code: "invalid_email", Description: "email must be a valid address like name@example.com"}, nil},
	{account.ErrInvalidPassword, apiError{Status: http.StatusBadRequest, Code: "invalid_password", Description: "password must be 8 to 256 characters"}, nil},
}

// toAPIError finds the answer to err: its own when it is an *apiError, its row of errorTable
// (the token endpoint's column when atToken), or nil for an internal error.
func toAPIError(err error, atToken bool) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, row := range errorTable {
		if !errors.Is(err, row.err) {
			continue
		}
		out := row.api
		if atToken && row.token != nil {
			out = *row.token
		}
		var te *account.ThrottledError
		if errors.As(err, &te) {
			out.RetryAfter = te.Wait
		}
		var se *account.ScopeError
		if errors.As(err, &se) {
			out.Description, out.scope = "the access token lacks the scope "+se.Scope, se.Scope
		}
		return &out
	}
	return nil
}

// writeError is the one place errors become HTTP responses. Internal errors are logged with
// the request id and never shown.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, atToken bool) {
	ae := toAPIError(err, atToken)
	switch {
	case ae != nil:
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		log.Warn("database unavailable", "request_id", requestID(r.Context()), "err", err)
		ae = errUnavailable
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away
	default:
		log.Error("internal error", "request_id", requestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errInternal
	}
	if ae.RetryAfter > 0 {
		secs := int((ae.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	switch {
	case ae.basicChallenge:
		w.Header().Set("WWW-Authenticate", `Basic realm="auth-server", charset="UTF-8"`)
	case ae.scope != "":
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+ae.scope+`"`)
	case ae.Challenge:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case ae.Status == http.StatusUnauthorized && !atToken:
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	encode(w, ae.Status, map[string]string{"error": ae.Code, "error_description": ae.Description})
}
