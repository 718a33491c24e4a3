package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// noStore marks a response that carries tokens (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

var errUnsupportedMedia = &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
	Description: "send application/json or application/x-www-form-urlencoded"}

// decodeJSON reads a JSON body into v. Other content types get 415, bodies over the limit 413,
// malformed JSON 400.
func decodeJSON(r *http.Request, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Description: "send application/json"}
	}
	return decodeJSONBody(r, v)
}

func decodeJSONBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return errBadRequest("invalid_request", fmt.Sprintf("malformed JSON body: %v", jsonReason(err)))
	}
	return nil
}

func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// decodeParams reads a form or JSON object of string fields, as the token endpoints take
// either (RFC 6749 uses forms; JSON is accepted for convenience).
func decodeParams(r *http.Request) (url.Values, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		var err error
		if mt == "multipart/form-data" {
			err = r.ParseMultipartForm(64 << 10)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, errTooLarge
			}
			return nil, errBadRequest("invalid_request", "malformed form body")
		}
		return r.PostForm, nil
	case "application/json":
		var m map[string]any
		if err := decodeJSONBody(r, &m); err != nil {
			return nil, err
		}
		vals := url.Values{}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				vals.Set(k, x)
			case bool:
				vals.Set(k, fmt.Sprint(x))
			case nil:
			default:
				return nil, errBadRequest("invalid_request", "field "+k+" must be a string")
			}
		}
		return vals, nil
	default:
		return nil, errUnsupportedMedia
	}
}
