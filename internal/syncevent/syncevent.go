// Package syncevent defines the user-sync wire format shared by the auth server (which sends)
// and the resource server (which applies): POST {"events": [Event, …]} with a Bearer token of
// type TokenType for audience Audience. Besides user changes (user.upsert, user.delete) the
// channel carries revocations (session.revoked, user.revoked; docs/revocation.md).
package syncevent

import (
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Event types.
const (
	TypeUpsert = "user.upsert"
	TypeDelete = "user.delete"
	// TypeSessionRevoked: session SessionID of user Subject ended; its access tokens, which
	// all expire by Expires, are refused.
	TypeSessionRevoked = "session.revoked"
	// TypeUserRevoked: every access token of user Subject issued before NotBefore is refused;
	// all of them expire by Expires.
	TypeUserRevoked = "user.revoked"
)

// The sync token's header type and audience: a user's access token can never pass for one.
const (
	TokenType = "sync+jwt"
	Audience  = "user-sync"
)

// BodyHashClaim is the sync token's claim holding BodyHash of the request body: a token
// authenticates one body only, so a target that received a call cannot replay its token to
// another target with events of its own.
const BodyHashClaim = "body_sha256"

// BodyHash is the base64url (unpadded) SHA-256 of a sync request body.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Event is one change of one user. Version grows with every change of that user, so a target
// applies an event only when it is newer than what it has, and a repeated ID changes nothing.
//
// A revocation (TypeSessionRevoked, TypeUserRevoked) has no User; it carries Subject (the
// user's id), SessionID (session.revoked), NotBefore (user.revoked) and Expires, the last
// instant at which a token it covers can still be valid, after which a target may forget it.
// NotBefore and Expires are Unix seconds, like the iat and exp claims they are compared with.
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	User       User      `json:"user,omitzero"`
	SessionID  string    `json:"sid,omitempty"`
	Subject    string    `json:"sub,omitempty"`
	NotBefore  int64     `json:"not_before,omitempty"`
	Expires    int64     `json:"exp,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// IsRevocation reports whether e is a revocation rather than a user change.
func (e Event) IsRevocation() bool {
	return e.Type == TypeSessionRevoked || e.Type == TypeUserRevoked
}

// User is the synced part of an account (never the password hash).
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Version  int64  `json:"version"`
}

// Batch is the body of a sync request.
type Batch struct {
	Events []Event `json:"events"`
}
