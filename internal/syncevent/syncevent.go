// Package syncevent defines the user-sync wire format shared by the auth server (which sends)
// and the resource server (which applies): POST {"events": [Event, …]} with a Bearer token of
// type TokenType for audience Audience.
package syncevent

import "time"

// Event types.
const (
	TypeUpsert = "user.upsert"
	TypeDelete = "user.delete"
)

// The sync token's header type and audience: a user's access token can never pass for one.
const (
	TokenType = "sync+jwt"
	Audience  = "user-sync"
)

// Event is one change of one user. Version grows with every change of that user, so a target
// applies an event only when it is newer than what it has, and a repeated ID changes nothing.
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	User       User      `json:"user"`
	OccurredAt time.Time `json:"occurred_at"`
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
