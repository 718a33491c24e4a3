package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Encode writes v as JSON with status.
func Encode(w http.ResponseWriter, status int, v any) {
	w.Header()["Content-Type"] = []string{"application/json"} // canonical key: no Set needed
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NoStore marks a response that must not be cached, such as one carrying tokens (RFC 6749
// §5.1).
func NoStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// DecodeJSON reads a JSON body into v. A content type other than application/json gets 415,
// a body over the limit 413, an empty body, malformed JSON or trailing data after the value
// 400 invalid_request with a description saying which.
func DecodeJSON(r *http.Request, v any) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return ErrUnsupportedMedia
	}
	if err := DecodeJSONBody(r, v); err != nil {
		if errors.Is(err, io.EOF) {
			return BadRequest("invalid_request", "empty body: send a JSON object")
		}
		return err
	}
	return nil
}

// DecodeJSONBody reads a JSON body into v whatever its content type, with DecodeJSON's
// errors, except that an empty body is io.EOF (for callers to whom no body is meaningful).
func DecodeJSONBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			return BadRequest("invalid_request", "malformed JSON body: more than one value")
		}
		return bodyError(err)
	}
	return nil
}

// ReadBody reads the whole request body: over the limit it is ErrTooLarge (413), and a body
// that cannot be read is a 400.
func ReadBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, bodyError(err)
	}
	return b, nil
}

// bodyError is the API error of a failed JSON decode.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ErrTooLarge
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return BadRequest("invalid_request", "malformed JSON body: field "+te.Field+" has the wrong type")
	}
	return BadRequest("invalid_request", "malformed JSON body: "+strings.TrimPrefix(err.Error(), "json: "))
}

// errUnsupportedParams is the 415 of DecodeParams.
var errUnsupportedParams = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
	Description: "send application/json or application/x-www-form-urlencoded"}

// DecodeParams reads a form or a JSON object of string (or boolean) fields, as the token
// endpoints take either (RFC 6749 uses forms; JSON is accepted for convenience). The JSON is
// held to DecodeJSON's rules; another content type gets 415.
func DecodeParams(r *http.Request) (url.Values, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		return decodeForm(r, mt)
	case "application/json":
		var m map[string]any
		if err := DecodeJSON(r, &m); err != nil {
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
				return nil, BadRequest("invalid_request", "field "+k+" must be a string")
			}
		}
		return vals, nil
	default:
		return nil, errUnsupportedParams
	}
}

// decodeForm parses a urlencoded or multipart form body.
func decodeForm(r *http.Request, mediaType string) (url.Values, error) {
	var err error
	if mediaType == "multipart/form-data" {
		err = r.ParseMultipartForm(MaxBody)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, ErrTooLarge
		}
		return nil, BadRequest("invalid_request", "malformed form body")
	}
	return r.PostForm, nil
}
