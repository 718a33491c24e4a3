package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// queuedRevocations returns the revocation events in the outbox, oldest first, with the
// version each was queued at and how many deliveries it has.
func queuedRevocations(t *testing.T, d *db.DB) []queued {
	t.Helper()
	var rows []struct {
		Payload string `db:"payload"`
		Version int64  `db:"version"`
		N       int    `db:"n"`
	}
	if err := d.Select(&rows, `SELECT e.payload, e.version, (SELECT count(*) FROM outbox_deliveries d WHERE d.event_id = e.id) AS n
FROM outbox_events e WHERE e.kind IN ('session.revoked', 'user.revoked') ORDER BY e.created_at, e.id`); err != nil {
		t.Fatal(err)
	}
	var out []queued
	for _, r := range rows {
		var ev syncevent.Event
		if err := json.Unmarshal([]byte(r.Payload), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, queued{ev, r.Version, r.N})
	}
	return out
}

type queued struct {
	syncevent.Event
	version    int64
	deliveries int
}

func startSessions(t *testing.T, s *store.Store, userID, clientID string, n int) []store.Session {
	t.Helper()
	var out []store.Session
	for range n {
		x := newSession(userID, clientID)
		if err := s.CreateSession(context.Background(), x, uuid.NewString(), x.ExpiresAt, store.AuditEvent{At: x.CreatedAt, Event: store.AuditLoginSuccess}); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// Every way a session ends queues session.revoked {sid, sub, exp} in the same transaction, to
// every target; revoking a user's tokens queues user.revoked {sub, not_before, exp}.
func TestRevocationsQueued(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		const ttl = 15 * time.Minute
		targets := []string{"http://a/sync", "http://b/sync"}
		s, ctx := store.New(d, store.WithRevocations(targets, ttl)), context.Background()
		now := time.Now().UTC()
		u := newUser("alice")
		if err := s.CreateUser(ctx, u, targets); err != nil {
			t.Fatal(err)
		}
		ss := startSessions(t, s, u.ID, "", 4)
		audit := store.AuditEvent{At: now, Event: store.AuditLogout, UserID: u.ID}

		if err := s.RevokeSession(ctx, u.ID, ss[0].ID, now, store.RevokeLogout, audit); err != nil {
			t.Fatal(err)
		}
		if n, err := s.RevokeUserSessions(ctx, u.ID, ss[1].ID, now, store.RevokeLogoutAll, audit); err != nil || n != 2 {
			t.Fatalf("RevokeUserSessions = %d, %v; want 2", n, err)
		}
		got := queuedRevocations(t, d)
		ended := map[string]bool{}
		for _, q := range got {
			if q.Type != syncevent.TypeSessionRevoked || q.Subject != u.ID || q.deliveries != len(targets) || q.version != u.Version {
				t.Errorf("queued %+v; want session.revoked of %s at version %d to %d targets", q, u.ID, u.Version, len(targets))
			}
			if want := now.Add(ttl + time.Second).Unix(); q.Expires != want {
				t.Errorf("exp = %d, want %d (revoked at + ACCESS_TOKEN_TTL + 1 s)", q.Expires, want)
			}
			ended[q.SessionID] = true
		}
		if len(got) != 3 || !ended[ss[0].ID] || !ended[ss[2].ID] || !ended[ss[3].ID] || ended[ss[1].ID] {
			t.Fatalf("session.revoked for %v; want sessions 0, 2, 3 and not the kept 1", ended)
		}

		// A role change saved with RevokeTokens: user.revoked at the next whole second.
		changedAt := now.Truncate(time.Second).Add(time.Second + 300*time.Millisecond)
		v, err := s.UpdateUser(ctx, u.ID, changedAt, targets, func(x *store.User) error {
			x.Roles = []string{"editor"}
			x.RevokeTokens(changedAt)
			return nil
		}, store.AuditEvent{At: changedAt, Event: store.AuditUserRoles, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		if want := changedAt.Truncate(time.Second).Add(time.Second); !v.TokensNotBefore.Equal(want) {
			t.Errorf("TokensNotBefore = %v, want %v", v.TokensNotBefore, want)
		}
		if back, _ := s.UserByID(ctx, u.ID); !back.TokensNotBefore.Equal(v.TokensNotBefore) {
			t.Errorf("TokensNotBefore read back = %v, want %v", back.TokensNotBefore, v.TokensNotBefore)
		}
		last := queuedRevocations(t, d)[3]
		if last.Type != syncevent.TypeUserRevoked || last.NotBefore != v.TokensNotBefore.Unix() || last.version != v.Version ||
			last.Expires != v.TokensNotBefore.Add(ttl+time.Second).Unix() {
			t.Errorf("after a role change: %+v; want user.revoked not_before %d at version %d", last, v.TokensNotBefore.Unix(), v.Version)
		}
		// An update that leaves the roles alone revokes nothing.
		now = changedAt.Add(time.Second)
		if _, err := s.UpdateUser(ctx, u.ID, now, targets, func(x *store.User) error { x.Email = "a2@example.com"; return nil }, audit); err != nil {
			t.Fatal(err)
		}
		if n := len(queuedRevocations(t, d)); n != 4 {
			t.Errorf("%d revocations after a plain update; want still 4", n)
		}

		// Disabling ends the last session and revokes the tokens; deleting revokes them again,
		// queued at the version before the delete's.
		if _, err := s.SetDisabled(ctx, u.ID, true, now, targets, audit); err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, q := range queuedRevocations(t, d)[4:] {
			kinds[q.Type]++
			if q.Type == syncevent.TypeSessionRevoked && q.SessionID != ss[1].ID {
				t.Errorf("disable ended %s, want %s", q.SessionID, ss[1].ID)
			}
		}
		if kinds[syncevent.TypeSessionRevoked] != 1 || kinds[syncevent.TypeUserRevoked] != 1 {
			t.Errorf("disable queued %v; want one session.revoked and one user.revoked", kinds)
		}
		before, _ := s.UserByID(ctx, u.ID)
		if err := s.DeleteUser(ctx, u.ID, now.Add(time.Second), targets, store.AuditEvent{At: now, Event: store.AuditUserDeleted, UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		all := queuedRevocations(t, d)
		if q := all[len(all)-1]; q.Type != syncevent.TypeUserRevoked || q.version != before.Version || q.deliveries != len(targets) {
			t.Errorf("delete queued %+v; want user.revoked at version %d", q, before.Version)
		}
	})
}

// Removing a client and a refresh token's reuse end sessions too; a store without
// WithRevocations (no targets) queues nothing; sync replay queues what is still in force.
func TestRevocationsOfClientsReuseAndReplay(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		const ttl = time.Minute
		targets := []string{"http://a/sync"}
		plain := store.New(d)
		s, ctx := store.New(d, store.WithRevocations(targets, ttl)), context.Background()
		now := time.Now().UTC()
		u := newUser("bob")
		if err := s.CreateUser(ctx, u, targets); err != nil {
			t.Fatal(err)
		}
		shop := store.StoredClient{Client: clients.Client{ID: "shop", Name: "Shop", Grants: []string{clients.GrantPassword}, Scopes: []string{"openid"}}}
		if err := s.CreateClient(ctx, shop, store.AuditEvent{At: now, Event: store.AuditClientAdded}); err != nil {
			t.Fatal(err)
		}
		mine := startSessions(t, s, u.ID, "shop", 1)[0]
		other := startSessions(t, s, u.ID, "", 2)
		if _, err := s.RemoveClient(ctx, "shop", now, store.AuditEvent{At: now, Event: store.AuditClientRemoved}); err != nil {
			t.Fatal(err)
		}
		if got := queuedRevocations(t, d); len(got) != 1 || got[0].SessionID != mine.ID {
			t.Fatalf("client removal queued %+v; want session.revoked of %s", got, mine.ID)
		}
		if err := plain.RevokeSession(ctx, u.ID, other[0].ID, now, store.RevokeLogout, store.AuditEvent{At: now, Event: store.AuditLogout}); err != nil {
			t.Fatal(err)
		}
		if got := queuedRevocations(t, d); len(got) != 1 {
			t.Errorf("a store without sync targets queued a revocation: %+v", got)
		}

		// Replay: both revoked sessions are still in force; an old revocation is not.
		old := startSessions(t, s, u.ID, "", 1)[0]
		if err := s.RevokeSession(ctx, u.ID, old.ID, now.Add(-2*ttl), store.RevokeLogout, store.AuditEvent{At: now, Event: store.AuditLogout}); err != nil {
			t.Fatal(err)
		}
		n, err := s.EnqueueRevocationReplay(ctx, targets, now)
		if err != nil || n != 2 {
			t.Fatalf("EnqueueRevocationReplay = %d, %v; want 2 (the client's session and the plain logout)", n, err)
		}
		replayed := map[string]bool{}
		for _, q := range queuedRevocations(t, d)[1:] {
			replayed[q.SessionID] = true
		}
		if !replayed[mine.ID] || !replayed[other[0].ID] || replayed[old.ID] || len(replayed) != 2 {
			t.Errorf("replayed %v; want %s and %s only", replayed, mine.ID, other[0].ID)
		}
	})
}
