package account

import (
	"errors"
	"time"
)

// The outcomes callers branch on. The HTTP layer maps each to a status and error code in one
// table; any other error is internal.
var (
	// ErrInvalidCredentials: unknown user or wrong password at log-in, told apart by nothing.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrThrottled: too many failed attempts; errors.As gives the *ThrottledError with the wait.
	ErrThrottled = errors.New("too many failed attempts")
	// ErrInvalidGrant: a refresh token that is unknown, expired, of an ended session, or reused.
	ErrInvalidGrant = errors.New("invalid refresh token")
	// ErrUnauthenticated: an access token that does not verify, or whose session or user is gone.
	ErrUnauthenticated = errors.New("invalid access token")
	// ErrWrongPassword: the current password given to confirm a change is wrong.
	ErrWrongPassword = errors.New("wrong password")
	// ErrUserExists: the username or email is taken, in any letter case.
	ErrUserExists = errors.New("user exists")
	// ErrSessionNotFound: no such live session of this user.
	ErrSessionNotFound = errors.New("session not found")
	// ErrAccountDisabled: the right password of a disabled account (a wrong one is still
	// ErrInvalidCredentials, so disabled accounts cannot be found by guessing).
	ErrAccountDisabled = errors.New("account disabled")
	// ErrInvalidClient: unknown client, wrong or missing secret of a confidential client, or a
	// secret sent by a public one (RFC 6749 §5.2), as a *ClientError.
	ErrInvalidClient = errors.New("invalid client")
	// ErrUnauthorizedClient: the client may not use this grant.
	ErrUnauthorizedClient = errors.New("unauthorized client")
	// ErrForbidden: the token's user lacks the role the call needs.
	ErrForbidden = errors.New("forbidden")
	// ErrInsufficientScope: the token lacks the scope the call needs; errors.As gives the
	// *ScopeError naming it.
	ErrInsufficientScope = errors.New("insufficient scope")
	// ErrUserNotFound: no such user (administrative calls).
	ErrUserNotFound = errors.New("user not found")
	// ErrClientNotFound, ErrClientExists, ErrBuiltinClient: registered clients.
	ErrClientNotFound = errors.New("client not found")
	ErrClientExists   = errors.New("client name taken")
	ErrBuiltinClient  = errors.New("the built-in first-party client cannot be changed")
	// ErrInvalidCursor, ErrInvalidLimit: paging input that was not made by this server.
	ErrInvalidCursor = errors.New("invalid cursor")
	ErrInvalidLimit  = errors.New("limit must be 1 to 200")
	// ErrInvalidUsername, ErrInvalidEmail, ErrInvalidPassword: input that breaks the rules.
	ErrInvalidUsername = errors.New("invalid username")
	ErrInvalidEmail    = errors.New("invalid email")
	ErrInvalidPassword = errors.New("invalid password")
	// ErrInvalidToken: a verification or reset token that is unknown, used, expired or
	// superseded (CONTRACT §11).
	ErrInvalidToken = errors.New("invalid or expired link token")
	// ErrEmailNotVerified: the right password of an unverified address while
	// REQUIRE_EMAIL_VERIFICATION is on.
	ErrEmailNotVerified = errors.New("email not verified")
	// ErrTooManyMails: the mail throttle of the recipient or the client address is spent;
	// errors.As gives the *ThrottledError with the wait.
	ErrTooManyMails = errors.New("too many mails")
	// ErrMFARequired: the right password of a user with TOTP; errors.As gives the
	// *MFARequiredError with the mfa_token of the second step.
	ErrMFARequired = errors.New("a second factor is required")
	// ErrInvalidMFAToken: an mfa_token that is unknown, expired, used, or another client's.
	ErrInvalidMFAToken = errors.New("invalid mfa token")
	// ErrInvalidCode: a TOTP code that is wrong or was accepted before, or a recovery code
	// that is unknown or used.
	ErrInvalidCode = errors.New("invalid code")
	// ErrMFAEnabled: TOTP is active already (remove it before enrolling again).
	ErrMFAEnabled = errors.New("mfa already enabled")
	// ErrMFANotEnabled: no TOTP enrolment to confirm, remove or reset.
	ErrMFANotEnabled = errors.New("mfa not enabled")
	// ErrMFAUnavailable: no KEY_ENCRYPTION_KEY to seal TOTP secrets with.
	ErrMFAUnavailable = errors.New("mfa unavailable")
	// ErrProofRequired: removing TOTP needs a code or the password.
	ErrProofRequired = errors.New("a code or the password is required")
)

// MFARequiredError is ErrMFARequired with the mfa_token that POST /login/mfa takes, and how
// long it lives.
type MFARequiredError struct {
	Token     string
	ExpiresIn time.Duration
}

func (e *MFARequiredError) Error() string { return ErrMFARequired.Error() }

// Is makes errors.Is(err, ErrMFARequired) hold.
func (e *MFARequiredError) Is(target error) bool { return target == ErrMFARequired }

// ThrottledError is ErrThrottled with the time to wait before the next attempt.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string { return ErrThrottled.Error() }

// Is makes errors.Is(err, ErrThrottled) hold.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// ScopeError is ErrInsufficientScope with the scope that was missing.
type ScopeError struct{ Scope string }

func (e *ScopeError) Error() string { return ErrInsufficientScope.Error() + ": " + e.Scope }

// Is makes errors.Is(err, ErrInsufficientScope) hold.
func (e *ScopeError) Is(target error) bool { return target == ErrInsufficientScope }

// ClientError is ErrInvalidClient with the reason (for logs; the client is told nothing more).
type ClientError struct{ Reason string }

func (e *ClientError) Error() string { return ErrInvalidClient.Error() + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalidClient) hold.
func (e *ClientError) Is(target error) bool { return target == ErrInvalidClient }
