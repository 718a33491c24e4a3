package ui

import (
	"html/template"
	"time"
)

// LoginView is the login page's data: the client the login is for (empty when standalone),
// the authorization request's parameters carried through the form, and the username typed.
type LoginView struct {
	ClientName string
	Carry      map[string]string
	Username   string
}

// AccountView is the account page's data.
type AccountView struct {
	User          struct{ Username, Email string }
	EmailVerified bool
	Sessions      []SessionView
	MFA           struct {
		Enabled           bool
		RecoveryCodesLeft int
	}
}

// EnrolView is the TOTP enrolment page's data: the QR code of the otpauth URI (a data: URI of
// its PNG) and the secret, for typing.
type EnrolView struct {
	QR     template.URL
	Secret string
}

// SessionView is one session on the account page.
type SessionView struct {
	ID, UserAgent, IP string
	Created, LastUsed string
	Current           bool
}

// When formats a time for the pages.
func When(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}
