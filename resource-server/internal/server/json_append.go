package server

import (
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// The hot answers (/whoami, /awesome_app) are appended by hand: encoding/json's reflection,
// its re-validation of time.Time's MarshalJSON output and its buffers were a fifth of a cached
// /whoami. The bytes are those encoding/json writes (json_append_test.go compares them):
// HTML-escaped strings, RFC 3339 times, and a final newline as json.Encoder ends with.

// writeJSON writes body, a JSON document, with status.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = []string{"application/json"} // canonical key: no Set needed
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appendClaims appends c as encoding/json encodes a verifier.Claims, and a newline. The error
// is that of a time encoding/json cannot encode either (a year outside 0–9999).
func appendClaims(b []byte, c *verifier.Claims) ([]byte, error) {
	var err error
	b = appendString(append(b, `{"iss":`...), c.Issuer)
	b = appendString(append(b, `,"sub":`...), c.Subject)
	b = appendStrings(append(b, `,"aud":`...), c.Audience)
	if b, err = appendTime(append(b, `,"exp":`...), c.Expiry); err != nil {
		return nil, err
	}
	if b, err = appendTime(append(b, `,"iat":`...), c.IssuedAt); err != nil {
		return nil, err
	}
	if !c.NotBefore.IsZero() {
		if b, err = appendTime(append(b, `,"nbf":`...), c.NotBefore); err != nil {
			return nil, err
		}
	}
	b = appendString(append(b, `,"jti":`...), c.ID)
	b = appendOptional(b, `,"sid":`, c.SessionID)
	b = appendOptional(b, `,"client_id":`, c.ClientID)
	b = appendOptional(b, `,"scope":`, c.Scope)
	b = appendStrings(append(b, `,"roles":`...), c.Roles)
	if len(c.AMR) > 0 {
		b = appendStrings(append(b, `,"amr":`...), c.AMR)
	}
	b = appendOptional(b, `,"preferred_username":`, c.PreferredUsername)
	b = appendOptional(b, `,"email":`, c.Email)
	if c.EmailVerified {
		b = append(b, `,"email_verified":true`...)
	} else {
		b = append(b, `,"email_verified":false`...)
	}
	b = appendString(append(b, `,"typ":`...), c.Type)
	b = appendOptional(b, `,"kid":`, c.KeyID)
	b = appendString(append(b, `,"alg":`...), c.Algorithm)
	return append(b, "}\n"...), nil
}

// claimsSize is a capacity that holds c's JSON unless many of its characters need escaping.
func claimsSize(c *verifier.Claims) int {
	n := 320 + len(c.Issuer) + len(c.Subject) + len(c.ID) + len(c.SessionID) + len(c.PreferredUsername) +
		len(c.Email) + len(c.Type) + len(c.KeyID) + len(c.Algorithm) + len(c.ClientID) + len(c.Scope)
	for _, list := range [...][]string{c.Audience, c.Roles, c.AMR} {
		for _, a := range list {
			n += len(a) + 3
		}
	}
	return n
}

// appendStrings appends ss as a JSON array (null when nil).
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendOptional appends key and s unless s is empty (omitempty).
func appendOptional(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendTime appends t as time.Time's MarshalJSON does (quoted RFC 3339 with nanoseconds).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

// appendString appends s as a JSON string. Printable ASCII other than `"`, `\` and the
// HTML-escaped `<`, `>`, `&` is copied; anything else takes encoding/json's path.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always encodes
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
