package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// The mail queue and the mail tokens (CONTRACT §11), on both databases.

func pendingMail(u store.User, kind, hash string, now time.Time, ttl time.Duration) store.PendingMail {
	return store.PendingMail{
		Mail: store.Mail{ID: uuid.NewString(), Kind: kind, Recipient: u.Email, UserID: u.ID,
			Subject: "s", Text: "t " + hash, HTML: "<p>h</p>", Link: "http://x/?token=" + hash, CreatedAt: now},
		Token: &store.MailToken{Hash: hash, Kind: kind, UserID: u.ID, Email: u.Email, CreatedAt: now, ExpiresAt: now.Add(ttl)},
	}
}

func TestMailQueueLeaseAndStatus(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		u := newUser("mailer")
		if err := s.CreateUser(ctx, u, nil, pendingMail(u, store.MailVerify, "h1", t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.QueueMails(ctx, store.AuditEvent{}, pendingMail(u, store.MailReset, "h2", t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
		st, err := s.MailQueueStatus(ctx)
		if err != nil || st.Pending != 2 || st.Sent != 0 {
			t.Fatalf("status = %+v, %v; want 2 pending", st, err)
		}
		const lease = 10 * time.Second
		first, err := s.ClaimMails(ctx, t0, lease, 1)
		if err != nil || len(first) != 1 || first[0].Link == "" || first[0].Recipient != u.Email {
			t.Fatalf("claim = %+v, %v", first, err)
		}
		second, _ := s.ClaimMails(ctx, t0, lease, 10)
		if len(second) != 1 || second[0].ID == first[0].ID {
			t.Fatalf("second claim = %+v; want the other mail", second)
		}
		if again, _ := s.ClaimMails(ctx, t0.Add(lease-time.Millisecond), lease, 10); len(again) != 0 {
			t.Fatalf("claimed while leased: %+v", again)
		}
		// A failure schedules a retry; a sent mail is never claimed again and loses its link.
		if err := s.MarkMailFailed(ctx, second[0].ID, t0.Add(time.Minute), "421 try later"); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkMailSent(ctx, first[0].ID, t0); err != nil {
			t.Fatal(err)
		}
		st, _ = s.MailQueueStatus(ctx)
		if st.Pending != 1 || st.Sent != 1 || st.OldestID != second[0].ID || st.OldestAttempts != 1 || st.OldestLastError != "421 try later" {
			t.Fatalf("status = %+v", st)
		}
		// The lease of the first ran out, but it is sent: only the retried one comes back.
		got, _ := s.ClaimMails(ctx, t0.Add(time.Minute), lease, 10)
		if len(got) != 1 || got[0].ID != second[0].ID || got[0].Attempts != 1 {
			t.Fatalf("after retry time = %+v", got)
		}
		var link string
		_ = d.Get(&link, d.Rebind(`SELECT link || text_body FROM mail_outbox WHERE id = ?`), first[0].ID)
		if link != "" {
			t.Errorf("a sent mail keeps its body: %q", link)
		}
		if n, err := s.PurgeSentMail(ctx, t0.Add(time.Second), 100); err != nil || n != 1 {
			t.Errorf("purge = %d, %v", n, err)
		}
	})
}

func TestResetRequestResolvedOnce(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		u := newUser("forgetful")
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		req := store.ResetRequest{ID: uuid.NewString(), Email: u.Email, ClientIP: "10.0.0.1", CreatedAt: t0}
		if err := s.QueueResetRequest(ctx, req); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.MailQueueStatus(ctx); st.Requests != 1 || st.Pending != 0 {
			t.Fatalf("status = %+v; want 1 request, no mail", st)
		}
		got, err := s.PendingResetRequests(ctx, 10)
		if err != nil || len(got) != 1 || got[0] != req {
			t.Fatalf("pending = %+v, %v; want %+v", got, err, req)
		}
		if err := s.ResolveResetRequest(ctx, req.ID, t0, "reset mail queued", store.AuditEvent{}, pendingMail(u, store.MailReset, "r1", t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
		// A second resolution (another replica that read the same request) changes nothing.
		if err := s.ResolveResetRequest(ctx, req.ID, t0, "reset mail queued", store.AuditEvent{}, pendingMail(u, store.MailReset, "r2", t0, time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second resolution: %v, want ErrNotFound", err)
		}
		if _, err := s.MailTokenValid(ctx, "r2", store.MailReset, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the second resolution's token exists: %v", err)
		}
		if got, _ := s.PendingResetRequests(ctx, 10); len(got) != 0 {
			t.Errorf("still pending: %+v", got)
		}
		st, _ := s.MailQueueStatus(ctx)
		if st.Requests != 0 || st.Pending != 1 || st.OldestKind != store.MailReset {
			t.Errorf("status = %+v; want the one reset mail pending", st)
		}
		var email string
		_ = d.Get(&email, d.Rebind(`SELECT email || client_ip FROM mail_requests WHERE id = ?`), req.ID)
		if email != "" {
			t.Errorf("a resolved request keeps its addresses: %q", email)
		}
		if n, err := s.PurgeSentMail(ctx, t0.Add(time.Second), 100); err != nil || n != 1 {
			t.Errorf("purge = %d, %v; want the resolved request", n, err)
		}
	})
}

func TestMailTokenRules(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		u := newUser("tokens")
		if err := s.CreateUser(ctx, u, nil, pendingMail(u, store.MailVerify, "v1", t0, time.Hour)); err != nil {
			t.Fatal(err)
		}
		ev := store.AuditEvent{At: t0, Event: store.AuditPasswordReset}
		// A verification token does not reset a password, and a reset token does not verify.
		if _, _, err := s.ResetPassword(ctx, "v1", "new", t0, ev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("verify token used for reset: %v", err)
		}
		// Superseded: a newer reset token voids the older.
		_ = s.QueueMails(ctx, store.AuditEvent{}, pendingMail(u, store.MailReset, "old", t0, time.Hour))
		_ = s.QueueMails(ctx, store.AuditEvent{}, pendingMail(u, store.MailReset, "new", t0, time.Hour))
		if _, _, err := s.ResetPassword(ctx, "old", "h-old", t0, ev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("superseded token: %v", err)
		}
		// Expired.
		if _, _, err := s.ResetPassword(ctx, "new", "h", t0.Add(time.Hour), ev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired token: %v", err)
		}
		// Valid: the password changes, the address is verified, sessions end; then it is used.
		sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess, "rt-"+sess.ID, t0.Add(time.Hour), store.AuditEvent{At: t0, Event: store.AuditLoginSuccess}); err != nil {
			t.Fatal(err)
		}
		got, n, err := s.ResetPassword(ctx, "new", "h-new", t0, ev)
		if err != nil || n != 1 || got.PasswordHash != "h-new" || !got.EmailVerified {
			t.Fatalf("reset = %+v, %d, %v", got, n, err)
		}
		if after, _ := s.UserByID(ctx, u.ID); after.PasswordHash != "h-new" || !after.EmailVerified {
			t.Errorf("stored user = %+v", after)
		}
		if _, _, err := s.ResetPassword(ctx, "new", "again", t0, ev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("used token: %v", err)
		}
		// An email change voids the tokens sent to the former address.
		u2 := newUser("mover")
		_ = s.CreateUser(ctx, u2, nil, pendingMail(u2, store.MailVerify, "v2", t0, time.Hour))
		_, err = s.UpdateUserMail(ctx, u2.ID, t0, nil, func(x *store.User) ([]store.PendingMail, error) {
			x.Email, x.EmailVerified = "moved@example.com", false
			return []store.PendingMail{pendingMail(*x, store.MailVerify, "v3", t0, time.Hour)}, nil
		}, store.AuditEvent{At: t0, Event: store.AuditUserUpdated})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyEmail(ctx, "v2", t0, store.AuditEvent{At: t0, Event: store.AuditEmailVerified}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token of the former address: %v", err)
		}
		v, err := s.VerifyEmail(ctx, "v3", t0, store.AuditEvent{At: t0, Event: store.AuditEmailVerified})
		if err != nil || !v.EmailVerified || v.Email != "moved@example.com" {
			t.Errorf("verify = %+v, %v", v, err)
		}
	})
}

// TestConcurrentResetsOneWins: two replicas spend one reset token at once; exactly one
// succeeds.
func TestConcurrentResetsOneWins(t *testing.T) {
	eachPools(t, func(t *testing.T, a, b *db.DB) {
		sa, sb, ctx := store.New(a), store.New(b), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		for round := range 5 {
			u := newUser("racer" + string(rune('a'+round)))
			hash := "race-" + u.ID
			if err := sa.CreateUser(ctx, u, nil, pendingMail(u, store.MailReset, hash, t0, time.Hour)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, s := range []*store.Store{sa, sb} {
				wg.Go(func() {
					_, _, errs[i] = s.ResetPassword(ctx, hash, "h"+string(rune('0'+i)), t0, store.AuditEvent{At: t0, Event: store.AuditPasswordReset})
				})
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("round %d: unexpected error %v", round, err)
				}
			}
			if ok != 1 {
				t.Errorf("round %d: %d resets succeeded (%v), want exactly 1", round, ok, errs)
			}
		}
	})
}

// A password reset ends every session of the user and, like every session end, queues
// session.revoked for each of them in its transaction (CONTRACT §10, §11).
func TestResetQueuesSessionRevoked(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		targets := []string{"http://a/sync"}
		s, ctx := store.New(d, store.WithRevocations(targets, 15*time.Minute)), context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		u := newUser("resetter")
		if err := s.CreateUser(ctx, u, targets, pendingMail(u, store.MailReset, "reset-hash", now, time.Hour)); err != nil {
			t.Fatal(err)
		}
		ss := startSessions(t, s, u.ID, "", 2)
		if _, n, err := s.ResetPassword(ctx, "reset-hash", "h2", now, store.AuditEvent{At: now, Event: store.AuditPasswordReset}); err != nil || n != 2 {
			t.Fatalf("reset = %d, %v; want 2 sessions ended", n, err)
		}
		ended := map[string]bool{}
		for _, q := range queuedRevocations(t, d) {
			ended[q.SessionID] = q.Subject == u.ID && q.deliveries == len(targets)
		}
		if len(ended) != 2 || !ended[ss[0].ID] || !ended[ss[1].ID] {
			t.Errorf("session.revoked queued for %v; want both sessions", ended)
		}
	})
}

// An imported user keeps its email_verified (users import --jsonl, CONTRACT §14).
func TestImportKeepsEmailVerified(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		a, b := newUser("verifiedimport"), newUser("plainimport")
		a.EmailVerified = true
		if _, err := s.ImportUsers(ctx, []store.User{a, b}, nil, time.Now(), false); err != nil {
			t.Fatal(err)
		}
		for _, u := range []store.User{a, b} {
			if got, err := s.UserByID(ctx, u.ID); err != nil || got.EmailVerified != u.EmailVerified {
				t.Errorf("%s: email_verified = %v, %v; want %v", u.Username, got.EmailVerified, err, u.EmailVerified)
			}
		}
	})
}
