package server

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// normalizeUsername lowercases and checks a username: 3–32 of a-z 0-9 . _ -.
func normalizeUsername(s string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(s))
	if len(u) < 3 || len(u) > 32 {
		return "", errBadRequest("invalid_username", "username must be 3 to 32 characters of a-z, 0-9, '.', '_' and '-'")
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "", errBadRequest("invalid_username", "username must be 3 to 32 characters of a-z, 0-9, '.', '_' and '-'")
		}
	}
	return u, nil
}

// normalizeEmail lowercases and checks an address: a bare addr-spec with a dotted domain.
func normalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	bad := errBadRequest("invalid_email", "email must be a valid address like name@example.com")
	if len(e) > 254 {
		return "", bad
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", bad
	}
	local, domain, _ := strings.Cut(e, "@")
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", bad
	}
	return e, nil
}

// checkPassword enforces 8–256 characters.
func checkPassword(p string) error {
	n := utf8.RuneCountInString(p)
	if !utf8.ValidString(p) || n < 8 || n > 256 {
		return errBadRequest("invalid_password", "password must be 8 to 256 characters")
	}
	return nil
}
