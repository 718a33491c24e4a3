package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a JSON body into v. A content type other than application/json gets 415,
// a body over the limit 413, malformed JSON or trailing data 400.
func decodeJSON(r *http.Request, v any) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return errUnsupportedMedia
	}
	if err := decodeJSONBody(r, v); err != nil {
		if errors.Is(err, io.EOF) {
			return errBadRequest("empty body: send a JSON object")
		}
		return err
	}
	return nil
}

// decodeJSONBody reads a JSON body into v whatever its content type; an empty body is io.EOF.
func decodeJSONBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			return errBadRequest("malformed JSON body: more than one value")
		}
		return bodyError(err)
	}
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return errBadRequest("malformed JSON body: field " + te.Field + " has the wrong type")
	}
	return errBadRequest("malformed JSON body: " + strings.TrimPrefix(err.Error(), "json: "))
}
