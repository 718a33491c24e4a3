package server

import (
	"net/http"
	"net/url"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// encode writes v as JSON with status (httpapi.Encode).
func encode(w http.ResponseWriter, status int, v any) { httpapi.Encode(w, status, v) }

// noStore marks a response that carries tokens (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) { httpapi.NoStore(w) }

// decodeJSON reads a JSON body into v with httpapi.DecodeJSON's rules: other content types
// get 415, bodies over the limit 413, malformed JSON or trailing data 400.
func decodeJSON(r *http.Request, v any) error { return httpapi.DecodeJSON(r, v) }

// decodeParams reads a form or JSON object of string fields, as the token endpoints take
// either (httpapi.DecodeParams).
func decodeParams(r *http.Request) (url.Values, error) {
	return httpapi.DecodeParams(r)
}
