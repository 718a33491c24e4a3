package server

import (
	"errors"
	"net/http"

	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// apiError is an error a client may see (see httpapi.Error); anything else is internal and
// answered as a bare 500 (or 503 when the database is away) without details.
type apiError = httpapi.Error

func errBadRequest(desc string) *apiError { return httpapi.BadRequest("invalid_request", desc) }

var errUserDeleted = &apiError{Status: http.StatusNotFound, Code: "not_found", Description: "the user has been deleted"}

// errorTable maps the app store's sentinel errors to API errors: the one table of this
// server (invalidEvent adds the store's reason to a refused sync event).
func errorTable() httpapi.ErrorMapper {
	return httpapi.Table(
		httpapi.Mapping{Err: appstore.ErrNotFound, API: httpapi.ErrNotFound},
		httpapi.Mapping{Err: appstore.ErrUserDeleted, API: errUserDeleted},
		httpapi.Mapping{Err: appstore.ErrUnavailable, API: httpapi.ErrUnavailable},
	)
}

// invalidEvent answers a sync event the store refused with 400 and the store's reason.
func invalidEvent(err error) (*apiError, bool) {
	if errors.Is(err, appstore.ErrInvalidEvent) {
		return errBadRequest(err.Error()), true
	}
	return nil, false
}

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
