package verifier

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/internal/syncevent"
)

// The auth server announces revocations on its user-sync channel (docs/revocation.md):
// session.revoked when a session ends (logout, password change, an admin's action…),
// user.revoked when a user's tokens issued before an instant are void (disabled, deleted,
// roles changed). A Verifier given Config.Revocations refuses such tokens with ErrRevoked;
// RevocationHandler receives the announcements into a RevocationStore.

// Revocation is one revocation announced by the auth server.
type Revocation struct {
	// SessionID, for session.revoked: every token with this sid is refused.
	SessionID string
	// Subject is the user (sub). For user.revoked, the user's tokens issued (iat) before
	// NotBefore are refused.
	Subject   string
	NotBefore time.Time
	// Expires: no token the revocation covers is valid after this instant (plus the
	// verifier's leeway); the revocation may be forgotten then.
	Expires time.Time
}

// RevocationOf returns the revocation a sync event announces, and false for the events that
// announce none (user changes). A revocation event without its fields is an error.
func RevocationOf(e SyncEvent) (Revocation, bool, error) {
	r := Revocation{SessionID: e.SessionID, Subject: e.Subject, Expires: unixTime(e.Expires), NotBefore: unixTime(e.NotBefore)}
	switch e.Type {
	case syncevent.TypeSessionRevoked:
		if e.SessionID == "" || e.Expires <= 0 {
			return Revocation{}, false, fmt.Errorf("event %.64q: session.revoked needs sid and exp", e.ID)
		}
		r.NotBefore = time.Time{}
	case syncevent.TypeUserRevoked:
		if e.Subject == "" || e.NotBefore <= 0 || e.Expires <= 0 {
			return Revocation{}, false, fmt.Errorf("event %.64q: user.revoked needs sub, not_before and exp", e.ID)
		}
		r.SessionID = ""
	default:
		return Revocation{}, false, nil
	}
	if len(r.SessionID) > maxRevocationID || len(r.Subject) > maxRevocationID {
		return Revocation{}, false, fmt.Errorf("event %.64q: sid or sub longer than %d bytes", e.ID, maxRevocationID)
	}
	return r, true, nil
}

// maxRevocationID bounds a revocation's sid and sub.
const maxRevocationID = 320

func unixTime(s int64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// RevocationChecker is what a Verifier asks about every token it verified
// (Config.Revocations). Revoked is on the path of every request: it must answer from memory.
// It must be safe for concurrent use.
type RevocationChecker interface {
	// Revoked reports whether the verified claims c are revoked.
	Revoked(c *Claims) bool
}

// RevocationStore holds revocations: RevocationHandler records what it receives with Revoke,
// and a Verifier configured with it asks Revoked. A store shared by several processes (a
// database) keeps a copy in memory and refreshes it, as the resource server does.
// Implementations must be safe for concurrent use.
type RevocationStore interface {
	RevocationChecker
	// Revoke records rs; it is called once per received batch, and a batch may repeat
	// revocations already recorded (the auth server delivers at least once).
	Revoke(ctx context.Context, rs []Revocation) error
}

// MemoryRevocations is a RevocationStore in memory: the default, for one process. Entries
// are dropped once every token they cover has expired (Prune, also run by Revoke at most once
// a minute), so it holds about as many entries as there were revocations in one access-token
// lifetime. Ids in the UUID form the auth server issues are held as 16 bytes and times as
// Unix seconds, so a large list holds no pointers for the garbage collector to trace.
type MemoryRevocations struct {
	grace time.Duration

	mu        sync.RWMutex
	sessions  idMap[int64]          // sid → expires (Unix seconds)
	users     idMap[userRevocation] // sub → not before, expires
	lastPrune time.Time
}

type userRevocation struct{ notBefore, expires int64 } // Unix seconds

// NewMemoryRevocations returns an empty MemoryRevocations that keeps each entry for grace
// (a verifier's leeway: DefaultLeeway when 0) after its Expires.
func NewMemoryRevocations(grace time.Duration) *MemoryRevocations {
	if grace <= 0 {
		grace = DefaultLeeway
	}
	return &MemoryRevocations{grace: grace, sessions: newIDMap[int64](), users: newIDMap[userRevocation]()}
}

// Revoke records rs; it never fails.
func (m *MemoryRevocations) Revoke(_ context.Context, rs []Revocation) error {
	m.Add(rs...)
	return nil
}

// Add records rs and returns how many of them changed the list (a repeated revocation does
// not). For a user, the latest NotBefore wins.
func (m *MemoryRevocations) Add(rs ...Revocation) int {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := 0
	for _, r := range rs {
		exp := r.Expires.Unix()
		if r.SessionID != "" {
			if old, ok := m.sessions.get(r.SessionID); !ok || exp > old {
				m.sessions.put(r.SessionID, exp)
				changed++
			}
			continue
		}
		nb := r.NotBefore.Unix()
		old, ok := m.users.get(r.Subject)
		if !ok || nb > old.notBefore || exp > old.expires {
			m.users.put(r.Subject, userRevocation{notBefore: max(nb, old.notBefore), expires: max(exp, old.expires)})
			changed++
		}
	}
	if now.Sub(m.lastPrune) >= time.Minute {
		m.pruneLocked(now)
	}
	return changed
}

// Revoked reports whether c's session is revoked, or c was issued before its user's
// NotBefore. Both compare whole seconds, as the claims carry them.
func (m *MemoryRevocations) Revoked(c *Claims) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if c.SessionID != "" {
		if _, ok := m.sessions.get(c.SessionID); ok {
			return true
		}
	}
	u, ok := m.users.get(c.Subject)
	return ok && c.IssuedAt.Unix() < u.notBefore
}

// Prune drops the entries whose tokens have all expired at now, and returns how many.
func (m *MemoryRevocations) Prune(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pruneLocked(now)
}

func (m *MemoryRevocations) pruneLocked(now time.Time) int {
	m.lastPrune = now
	cutoff := now.Add(-m.grace).Unix()
	return m.sessions.drop(func(exp int64) bool { return exp < cutoff }) +
		m.users.drop(func(u userRevocation) bool { return u.expires < cutoff })
}

// Len returns how many revocations are held.
func (m *MemoryRevocations) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.sessions.len() + m.users.len()
}

// idMap maps ids to V: ids in the canonical 36-character UUID form as their 16 bytes, any
// other id as itself.
type idMap[V any] struct {
	uuids map[[16]byte]V
	other map[string]V
}

func newIDMap[V any]() idMap[V] {
	return idMap[V]{uuids: map[[16]byte]V{}, other: map[string]V{}}
}

// uuidKey returns the 16 bytes of id when it is a UUID in canonical form (lower or upper
// case hex; the auth server writes lower case).
func uuidKey(id string) ([16]byte, bool) {
	if len(id) != 36 {
		return [16]byte{}, false
	}
	u, err := uuid.Parse(id)
	return u, err == nil
}

func (m idMap[V]) get(id string) (V, bool) {
	if k, ok := uuidKey(id); ok {
		v, found := m.uuids[k]
		return v, found
	}
	v, found := m.other[id]
	return v, found
}

func (m idMap[V]) put(id string, v V) {
	if k, ok := uuidKey(id); ok {
		m.uuids[k] = v
		return
	}
	m.other[id] = v
}

func (m idMap[V]) drop(expired func(V) bool) int {
	n := 0
	for k, v := range m.uuids {
		if expired(v) {
			delete(m.uuids, k)
			n++
		}
	}
	for k, v := range m.other {
		if expired(v) {
			delete(m.other, k)
			n++
		}
	}
	return n
}

func (m idMap[V]) len() int { return len(m.uuids) + len(m.other) }
