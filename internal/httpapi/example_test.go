package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// An HTTP-free service returns sentinel errors; the server maps them to statuses and OAuth
// error codes in one table, and its handlers only decode, call and encode.
func ExampleTable() {
	var (
		errInvalidGrant = errors.New("account: invalid grant")
		errUserExists   = errors.New("account: user exists")
		errUnavailable  = errors.New("store: database unavailable")
	)
	errs := httpapi.NewErrors(nil, httpapi.Table(
		httpapi.Mapping{Err: errInvalidGrant, API: &httpapi.Error{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "the refresh token is invalid, expired or revoked"}},
		httpapi.Mapping{Err: errUserExists, API: &httpapi.Error{Status: http.StatusConflict, Code: "user_exists", Description: "a user with this username or email already exists"}},
		httpapi.Mapping{Err: errUnavailable, API: httpapi.ErrUnavailable},
	))
	refresh := errs.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			return err
		}
		return fmt.Errorf("refresh: %w", errInvalidGrant) // what the service answered
	})
	for _, body := range []string{`{"refresh_token":"x"}`, `{"refresh_token":"x"} {}`} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/refresh", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		refresh.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body)
	}
	// Output:
	// 400 {"error":"invalid_grant","error_description":"the refresh token is invalid, expired or revoked"}
	// 400 {"error":"invalid_request","error_description":"malformed JSON body: more than one value"}
}
