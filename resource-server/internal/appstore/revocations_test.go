package appstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
)

func sessionRevoked(id, sid string, exp time.Time) syncevent.Event {
	return syncevent.Event{ID: id, Type: syncevent.TypeSessionRevoked, SessionID: sid, Subject: "u1", Expires: exp.Unix(), OccurredAt: exp.Add(-15 * time.Minute)}
}

func userRevoked(id, sub string, notBefore, exp time.Time) syncevent.Event {
	return syncevent.Event{ID: id, Type: syncevent.TypeUserRevoked, Subject: sub, NotBefore: notBefore.Unix(), Expires: exp.Unix()}
}

// Revocations are applied with their batch, whatever the user's versions, repeat harmlessly,
// are read back by any replica, and pruned after they expire.
func TestRevocationsApplied(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		ctx := context.Background()
		now := c.now()
		exp := now.Add(15 * time.Minute)
		res := apply(t, s, upsert("e1", "u1", 3, "alice"), sessionRevoked("r1", "s1", exp), userRevoked("r2", "u1", now, exp))
		wantResult(t, res, 3, 0)
		if len(res.Revocations) != 2 || res.Revocations[0].SessionID != "s1" || !res.Revocations[1].NotBefore.Equal(now) {
			t.Fatalf("Revocations = %+v", res.Revocations)
		}
		// A repeat (at-least-once delivery) is written again without harm but counted as
		// ignored; a later not_before for the same user replaces the earlier one, an earlier
		// one does not.
		later := now.Add(time.Minute)
		wantResult(t, apply(t, s, sessionRevoked("r1", "s1", exp), userRevoked("r3", "u1", later, later.Add(15*time.Minute)), userRevoked("r4", "u1", now.Add(-time.Hour), exp)), 2, 1)

		all, err := s.RevocationsSince(ctx, time.Time{}, now)
		if err != nil || len(all) != 2 {
			t.Fatalf("RevocationsSince(zero) = %+v, %v; want 2", all, err)
		}
		for _, r := range all {
			if r.SessionID == "" && (!r.NotBefore.Equal(later) || !r.Expires.Equal(later.Add(15*time.Minute))) {
				t.Errorf("user revocation held as %+v; want not_before %v", r, later)
			}
		}
		c.advance(10 * time.Second)
		if recent, _ := s.RevocationsSince(ctx, c.now(), c.now()); len(recent) != 0 {
			t.Errorf("nothing applied since: %+v", recent)
		}
		// Expired ones are neither read nor kept.
		if gone, _ := s.RevocationsSince(ctx, time.Time{}, exp.Add(time.Second)); len(gone) != 1 {
			t.Errorf("after the session's expiry %d are in force, want 1 (the later user revocation)", len(gone))
		}
		if n, err := s.PruneRevocations(ctx, exp.Add(time.Second)); err != nil || n != 1 {
			t.Errorf("PruneRevocations = %d, %v; want 1", n, err)
		}
	})
}

func TestRevocationEventsValidated(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		exp := c.now().Add(time.Hour)
		for _, e := range []syncevent.Event{
			{ID: "x", Type: syncevent.TypeSessionRevoked, Expires: exp.Unix()},
			{ID: "x", Type: syncevent.TypeSessionRevoked, SessionID: "s"},
			{ID: "x", Type: syncevent.TypeUserRevoked, Subject: "u", Expires: exp.Unix()},
			{Type: syncevent.TypeUserRevoked, Subject: "u", NotBefore: 1, Expires: exp.Unix()},
		} {
			if _, err := s.Apply(context.Background(), []syncevent.Event{upsert("ok", "u9", 1, "bob"), e}); !errors.Is(err, appstore.ErrInvalidEvent) {
				t.Errorf("%+v: %v; want ErrInvalidEvent", e, err)
			}
		}
		if all, _ := s.RevocationsSince(context.Background(), time.Time{}, c.now()); len(all) != 0 {
			t.Errorf("a refused batch stored %d revocations", len(all))
		}
	})
}
