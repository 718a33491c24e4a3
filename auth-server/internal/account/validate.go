package account

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// normalizeUsername lowercases and checks a username: 3–32 of a-z 0-9 . _ -, else
// ErrInvalidUsername.
func normalizeUsername(s string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(s))
	if len(u) < 3 || len(u) > 32 {
		return "", ErrInvalidUsername
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "", ErrInvalidUsername
		}
	}
	return u, nil
}

// normalizeEmail lowercases and checks an address: a bare addr-spec with a dotted domain, else
// ErrInvalidEmail.
func normalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	bad := ErrInvalidEmail
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

// checkPassword enforces 8–256 characters, else ErrInvalidPassword.
func checkPassword(p string) error {
	n := utf8.RuneCountInString(p)
	if !utf8.ValidString(p) || n < 8 || n > 256 {
		return ErrInvalidPassword
	}
	return nil
}

// impossibleLogin reports a login that no user can have (names and emails are validated at
// sign-up), so it is never looked up nor stored in a throttle key.
func impossibleLogin(login string) bool {
	return len(login) > 254 || !utf8.ValidString(login) || strings.ContainsRune(login, 0)
}
