package denylist_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/internal/denylist"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// Two replicas on one app database: the one that applies a batch refuses its token at once,
// the other within a few poll intervals, without a restart; a replica started later loads it.
func TestReplicasConverge(t *testing.T) {
	testdb.Each(t, db.AppSchema, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		store := appstore.New(d, time.Now)
		cfg := denylist.Config{PollInterval: 20 * time.Millisecond}
		a := denylist.New(cfg, store, nil, slog.New(slog.DiscardHandler), time.Now)
		b := denylist.New(cfg, store, nil, slog.New(slog.DiscardHandler), time.Now)
		for _, l := range []*denylist.List{a, b} {
			if err := l.Load(ctx); err != nil {
				t.Fatal(err)
			}
			go l.Run(ctx)
		}
		tok := &verifier.Claims{Subject: "u1", SessionID: "s1", IssuedAt: time.Now()}
		res, err := store.Apply(ctx, []syncevent.Event{{ID: "r1", Type: syncevent.TypeSessionRevoked, SessionID: "s1", Subject: "u1",
			Expires: time.Now().Add(time.Hour).Unix(), OccurredAt: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		a.Remember(res.Revocations)
		if !a.Revoked(tok) {
			t.Fatal("the replica that applied the batch does not refuse the token")
		}
		deadline := time.Now().Add(10 * time.Second)
		for !b.Revoked(tok) {
			if time.Now().After(deadline) {
				t.Fatal("the other replica never learned the revocation from the database")
			}
			time.Sleep(5 * time.Millisecond)
		}
		c := denylist.New(cfg, store, nil, slog.New(slog.DiscardHandler), time.Now)
		if err := c.Load(ctx); err != nil || !c.Revoked(tok) || c.Len() != 1 {
			t.Errorf("a replica started later: revoked %v, %d held, %v", c.Revoked(tok), c.Len(), err)
		}
	})
}
