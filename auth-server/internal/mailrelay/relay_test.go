package mailrelay_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/mailrelay"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// flaky fails its first n sends, then records.
type flaky struct {
	mu   sync.Mutex
	n    int
	sent map[string]int
}

func (f *flaky) Send(_ context.Context, m store.Mail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > 0 {
		f.n--
		return errors.New("421 service not available")
	}
	f.sent[m.ID]++
	return nil
}

func (f *flaky) count() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	out := map[string]int{}
	for id, c := range f.sent {
		n += c
		out[id] = c
	}
	return n, out
}

// A failing SMTP server delays mails (with backoff) without losing or repeating any.
func TestRelayRetriesUntilSent(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		now := time.Now().UTC()
		var ids []string
		for range 3 {
			m := store.Mail{ID: uuid.NewString(), Kind: store.MailVerify, Recipient: "a@example.com", Subject: "s", CreatedAt: now}
			ids = append(ids, m.ID)
			if err := s.QueueMails(ctx, store.AuditEvent{}, store.PendingMail{Mail: m}); err != nil {
				t.Fatal(err)
			}
		}
		f := &flaky{n: 4, sent: map[string]int{}}
		r := mailrelay.New(mailrelay.Config{RetryBase: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, PollInterval: 5 * time.Millisecond},
			mailrelay.Deps{Store: s, Sender: f})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { r.Run(rctx); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if st, _ := s.MailQueueStatus(ctx); st.Pending == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		n, per := f.count()
		if n != 3 {
			t.Fatalf("%d mails sent, want 3 (%v)", n, per)
		}
		for _, id := range ids {
			if per[id] != 1 {
				t.Errorf("mail %s sent %d times", id, per[id])
			}
		}
	})
}
