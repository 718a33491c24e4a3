package refresh

import "time"

// Outcome is what the policy decides for a presented refresh token.
type Outcome int

// The outcomes of presenting a refresh token.
const (
	// Invalid: unknown, expired, or of a revoked or ended session. Nothing changes.
	Invalid Outcome = iota
	// Rotate: the token is unspent and usable; spend it and issue its child.
	Rotate
	// Replay: the token is spent but may be replayed; answer with its existing child.
	Replay
	// Reuse: the token is spent and may not be replayed; revoke the whole session.
	Reuse
)

// String is the outcome's metrics label: invalid, rotated, replay or reuse.
func (o Outcome) String() string {
	switch o {
	case Rotate:
		return "rotated"
	case Replay:
		return "replay"
	case Reuse:
		return "reuse"
	default:
		return "invalid"
	}
}

// State is what the policy needs to know about a presented token that the store found.
type State struct {
	TokenExpiresAt   time.Time // the token's own (idle) expiry
	SpentAt          time.Time // zero while unspent
	ChildSpent       bool      // whether the child issued when it was spent has been spent too
	SessionExpiresAt time.Time // the session's absolute end
	SessionRevoked   bool
	UserDisabled     bool
}

// Expired reports whether a token or session ending at end has ended at now.
func Expired(end, now time.Time) bool { return !now.Before(end) }

// ReplayAllowed reports whether a token spent at spentAt may be presented again at now and get
// its child back: while the child is unspent, or within ReuseGrace of the spending (two tabs
// refreshing at once, or a response lost on the way).
func (p Policy) ReplayAllowed(spentAt, now time.Time, childSpent bool) bool {
	return !childSpent || now.Before(spentAt.Add(p.ReuseGrace))
}

// Decide answers what presenting a token in state st at now does. In order: a disabled user,
// or a revoked or ended session, makes every token of it Invalid (no second alarm for a session already
// closed); a spent token is Replay when ReplayAllowed and it has not expired, and Reuse when
// not allowed, expired or not (a legitimate client never presents a superseded token, so this
// is the theft signal); an unspent token is Rotate until it expires, then Invalid.
func (p Policy) Decide(st State, now time.Time) Outcome {
	if st.UserDisabled || st.SessionRevoked || Expired(st.SessionExpiresAt, now) {
		return Invalid
	}
	if !st.SpentAt.IsZero() {
		if !p.ReplayAllowed(st.SpentAt, now, st.ChildSpent) {
			return Reuse
		}
		if Expired(st.TokenExpiresAt, now) {
			return Invalid
		}
		return Replay
	}
	if Expired(st.TokenExpiresAt, now) {
		return Invalid
	}
	return Rotate
}
