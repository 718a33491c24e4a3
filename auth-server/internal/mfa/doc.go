// Package mfa holds the rules of the second factor (CONTRACT §13), free of HTTP and SQL: RFC
// 6238 TOTP (SHA-1, 6 digits, 30-second steps, one step of skew either way) through
// github.com/pquerna/otp, the time step a code matched (which the store keeps, so that a code
// is accepted at most once), the QR code of the otpauth:// URI as a PNG, and single-use
// recovery codes, which are only ever stored as hashes. Time is always passed in.
package mfa
