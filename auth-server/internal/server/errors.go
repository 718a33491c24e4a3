package server

import (
	"errors"
	"net/http"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// apiError is an error a client may see (httpapi.Error): anything else is internal and
// answered as a bare 500 (or 503 when the database is away) without details.
type apiError = httpapi.Error

func errBadRequest(code, desc string) *apiError { return httpapi.BadRequest(code, desc) }

// The challenges of this server's 401 and 403 answers.
const (
	challengeBearer  = "Bearer"
	challengeInvalid = `Bearer error="invalid_token"`
	challengeBasic   = `Basic realm="auth-server", charset="UTF-8"`
)

var (
	errMissingToken = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing bearer token", Challenge: challengeBearer}
	errBadClient    = &apiError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "malformed client credentials", Challenge: challengeBasic}
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
	{account.ErrInvalidCredentials, apiError{Status: http.StatusUnauthorized, Code: "invalid_grant", Description: "invalid username or password", Challenge: challengeBearer},
		&apiError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "invalid username or password"}},
	{account.ErrInvalidClient, apiError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client authentication failed", Challenge: challengeBasic}, nil},
	{account.ErrUnauthorizedClient, apiError{Status: http.StatusBadRequest, Code: "unauthorized_client", Description: "this client may not use this grant type"}, nil},
	{account.ErrInvalidGrant, apiError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "the refresh token is invalid, expired or revoked"}, nil},
	{account.ErrTooManyMails, apiError{Status: http.StatusTooManyRequests, Code: "too_many_requests", Description: "too many mails to this address or from this client, retry later"}, nil},
	{account.ErrInvalidAuthCode, apiError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "the authorization code is invalid, expired or used, or the redirect_uri or code_verifier does not match"}, nil},
	{account.ErrThrottled, apiError{Status: http.StatusTooManyRequests, Code: "too_many_requests", Description: "too many failed attempts, retry later"}, nil},
	{account.ErrUnauthenticated, apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing or invalid access token", Challenge: challengeInvalid}, nil},
	{account.ErrAccountDisabled, apiError{Status: http.StatusForbidden, Code: "account_disabled", Description: "this account is disabled; ask an administrator"}, nil},
	{account.ErrForbidden, apiError{Status: http.StatusForbidden, Code: "forbidden", Description: "this needs the admin role"}, nil},
	{account.ErrInsufficientScope, apiError{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "the access token lacks the scope this needs"}, nil},
	{account.ErrWrongPassword, apiError{Status: http.StatusForbidden, Code: "invalid_password", Description: "the password is wrong"}, nil},
	{account.ErrUserExists, apiError{Status: http.StatusConflict, Code: "user_exists", Description: "a user with this username or email already exists"}, nil},
	{account.ErrSessionNotFound, *httpapi.ErrNotFound, nil},
	{account.ErrUserNotFound, *httpapi.ErrNotFound, nil},
	{account.ErrClientNotFound, *httpapi.ErrNotFound, nil},
	{account.ErrClientExists, apiError{Status: http.StatusConflict, Code: "client_exists", Description: "a client with this name already exists"}, nil},
	{account.ErrBuiltinClient, apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "the built-in first-party client cannot be changed"}, nil},
	{account.ErrInvalidCursor, apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "cursor is not one this server returned; start again without it"}, nil},
	{account.ErrInvalidLimit, apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "limit must be 1 to 200"}, nil},
	{clients.ErrInvalidRole, apiError{Status: http.StatusBadRequest, Code: "invalid_role", Description: "roles are a lower-case letter, then up to 63 of a-z 0-9 _ . : -"}, nil},
	{clients.ErrInvalidScope, apiError{Status: http.StatusBadRequest, Code: "invalid_scope", Description: "the requested scope is malformed, unknown or not allowed for this client"}, nil},
	{account.ErrInvalidUsername, apiError{Status: http.StatusBadRequest, Code: "invalid_username", Description: "username must be 3 to 32 characters of a-z, 0-9, '.', '_' and '-'"}, nil},
	{account.ErrInvalidEmail, apiError{Status: http.StatusBadRequest, Code: "invalid_email", Description: "email must be a valid address like name@example.com"}, nil},
	{account.ErrInvalidPassword, apiError{Status: http.StatusBadRequest, Code: "invalid_password", Description: "password must be 8 to 256 characters"}, nil},
	{account.ErrInvalidToken, apiError{Status: http.StatusBadRequest, Code: "invalid_token", Description: "the link is unknown, used, expired or replaced by a newer one"}, nil},
	{account.ErrEmailNotVerified, apiError{Status: http.StatusForbidden, Code: "email_not_verified", Description: "confirm your email address first: follow the link of the verification mail, or ask for a new one"}, nil},
	{account.ErrMFARequired, apiError{Status: http.StatusForbidden, Code: "mfa_required", Description: "a second factor is required"}, nil},
	{account.ErrInvalidMFAToken, apiError{Status: http.StatusBadRequest, Code: "invalid_mfa_token", Description: "the mfa_token is unknown, expired or used; log in again"}, nil},
	{account.ErrInvalidCode, apiError{Status: http.StatusForbidden, Code: "invalid_code", Description: "the code is wrong or was already used"}, nil},
	{account.ErrMFAEnabled, apiError{Status: http.StatusConflict, Code: "mfa_enabled", Description: "TOTP is already enabled; remove it first"}, nil},
	{account.ErrMFANotEnabled, apiError{Status: http.StatusConflict, Code: "mfa_not_enabled", Description: "TOTP is not enrolled"}, nil},
	{account.ErrMFAUnavailable, apiError{Status: http.StatusNotImplemented, Code: "mfa_unavailable", Description: "this server has no KEY_ENCRYPTION_KEY to seal TOTP secrets with"}, nil},
	{account.ErrProofRequired, apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "give a code or the password"}, nil},
	{store.ErrUnavailable, *httpapi.ErrUnavailable, nil},
}

// errorMapper maps errors with errorTable, the token endpoint's column when atToken; the
// wait of a throttled attempt becomes Retry-After and a missing scope is named in the
// challenge (RFC 6750 §3.1).
func errorMapper(atToken bool) httpapi.ErrorMapper {
	return func(err error) (*apiError, bool) {
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
				out.Description = "the access token lacks the scope " + se.Scope
				out.Challenge = `Bearer error="insufficient_scope", scope="` + se.Scope + `"`
			}
			return &out, true
		}
		return nil, false
	}
}
