package mfa

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The TOTP parameters of CONTRACT §13, the ones every authenticator app supports.
const (
	Period    = 30 * time.Second
	Digits    = 6
	Skew      = 1  // steps accepted on either side of the current one
	secretLen = 20 // bytes: 160 bits, the size RFC 4226 recommends for HMAC-SHA-1
)

// ErrBadSecret reports a stored secret that is not base32.
var ErrBadSecret = errors.New("mfa: malformed totp secret")

// Enrolment is a new TOTP secret: the base32 secret and its otpauth:// URI, which an
// authenticator app reads from the QR code.
type Enrolment struct {
	Secret string
	URI    string
}

// NewTOTP makes a random secret for the account accountName (shown in the app) of issuer.
func NewTOTP(issuer, accountName string) (Enrolment, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: accountName, Period: uint(Period / time.Second),
		SecretSize: secretLen, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, fmt.Errorf("mfa: new totp secret: %w", err)
	}
	return Enrolment{Secret: k.Secret(), URI: k.URL()}, nil
}

// Step is the RFC 6238 time step (the counter T) that contains t.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the code of secret for the time step step.
func Code(secret string, step int64) (string, error) {
	c, err := totp.GenerateCodeCustom(secret, time.Unix(step*int64(Period/time.Second), 0).UTC(),
		totp.ValidateOpts{Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSecret, err)
	}
	return c, nil
}

// Match reports the time step, within Skew steps of the one containing now, whose code is
// code (spaces ignored), and whether there is one. Every candidate is computed and compared in
// constant time. It says nothing of replay: the caller accepts the step only if it is later
// than the last step it accepted.
func Match(secret, code string, now time.Time) (int64, bool, error) {
	code = strings.ReplaceAll(code, " ", "")
	if !LooksLikeTOTP(code) {
		return 0, false, nil
	}
	cur := Step(now)
	var found int64
	ok := 0
	for step := cur - Skew; step <= cur+Skew; step++ {
		want, err := Code(secret, step)
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && ok == 0 {
			found, ok = step, 1
		}
	}
	return found, ok == 1, nil
}

// LooksLikeTOTP reports whether code has the form of a TOTP code: Digits decimal digits.
func LooksLikeTOTP(code string) bool {
	if len(code) != Digits {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
