package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// The mail queue (CONTRACT §11): one row per mail, written in the transaction of the change
// that causes it, claimed by the mail relay under a lease exactly as the user-sync relay claims
// deliveries (ClaimDeliveries): the lease is committed before the claim returns, so a relay
// that dies mid-send loses only its lease and any replica sends the mail once it expires.

// Mail is one message of the queue.
type Mail struct {
	ID        string
	Kind      string // MailVerify or MailReset
	Recipient string
	UserID    string
	Subject   string
	Text      string // the text/plain part
	HTML      string // the text/html part
	Link      string // the link the mail carries (logged when no SMTP server is configured)
	CreatedAt time.Time
	// Attempts counts the failed attempts recorded so far (0 for a first try).
	Attempts int
}

// PendingMail is a mail and the token it carries (nil for none), written together.
type PendingMail struct {
	Mail  Mail
	Token *MailToken
}

// ResetRequest is a /password/forgot waiting to be resolved (ResolveResetRequest).
type ResetRequest struct {
	ID        string
	Email     string
	ClientIP  string // who asked (the mail throttle counts per client address)
	CreatedAt time.Time
}

// MailStatus is the state of the queue: the mails not yet sent, the oldest of them, how many
// sent mails are kept, and the reset requests not yet resolved.
type MailStatus struct {
	Pending           int
	Requests          int
	Sent              int
	OldestID          string
	OldestKind        string
	OldestCreatedAt   time.Time
	OldestAttempts    int
	OldestLastError   string
	OldestNextAttempt time.Time
}

const mailCols = "id, kind, recipient, user_id, subject, text_body, html_body, link, created_at, attempts"

type mailRow struct {
	ID        string `db:"id"`
	Kind      string `db:"kind"`
	Recipient string `db:"recipient"`
	UserID    string `db:"user_id"`
	Subject   string `db:"subject"`
	Text      string `db:"text_body"`
	HTML      string `db:"html_body"`
	Link      string `db:"link"`
	CreatedAt int64  `db:"created_at"`
	Attempts  int    `db:"attempts"`
}

func (r mailRow) mail() Mail {
	return Mail{ID: r.ID, Kind: r.Kind, Recipient: r.Recipient, UserID: r.UserID,
		Subject: r.Subject, Text: r.Text, HTML: r.HTML, Link: r.Link, CreatedAt: fromMS(r.CreatedAt), Attempts: r.Attempts}
}

// addMails writes each mail, due at its creation, and its token, in tx. A token voids the
// user's unused older tokens of its kind ("a newer reset token voids the older").
func (s *Store) addMails(ctx context.Context, tx *sqlx.Tx, mails []PendingMail) error {
	for _, pm := range mails {
		if t := pm.Token; t != nil {
			if err := s.voidTokens(ctx, tx, t.UserID, t.Kind); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO mail_tokens (token_hash, kind, user_id, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
				t.Hash, t.Kind, t.UserID, t.Email, ms(t.CreatedAt), ms(t.ExpiresAt)); err != nil {
				return fmt.Errorf("insert mail token: %w", err)
			}
		}
		m := pm.Mail
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO mail_outbox (`+mailCols+`, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`),
			m.ID, m.Kind, m.Recipient, m.UserID, m.Subject, m.Text, m.HTML, m.Link, ms(m.CreatedAt), ms(m.CreatedAt)); err != nil {
			return fmt.Errorf("insert mail: %w", err)
		}
	}
	return nil
}

// QueueMails writes the mails and their tokens in one transaction, with audit when its Event
// is set.
func (s *Store) QueueMails(ctx context.Context, audit AuditEvent, mails ...PendingMail) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.addMails(ctx, tx, mails); err != nil {
			return err
		}
		if audit.Event == "" {
			return nil
		}
		return s.audit(ctx, tx, audit)
	})
}

// QueueResetRequest writes a /password/forgot request: one insert, whoever the address is.
func (s *Store) QueueResetRequest(ctx context.Context, r ResetRequest) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO mail_requests (id, email, client_ip, created_at) VALUES (?, ?, ?, ?)`),
		r.ID, r.Email, r.ClientIP, ms(r.CreatedAt)); err != nil {
		return classify(fmt.Errorf("queue reset request: %w", err))
	}
	return nil
}

// PendingResetRequests returns up to limit unresolved requests, oldest first. Nothing is
// leased: resolving is a compare-and-swap (ResolveResetRequest), so two replicas that pick the
// same request resolve it once.
func (s *Store) PendingResetRequests(ctx context.Context, limit int) ([]ResetRequest, error) {
	var rows []struct {
		ID        string `db:"id"`
		Email     string `db:"email"`
		ClientIP  string `db:"client_ip"`
		CreatedAt int64  `db:"created_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.q(`SELECT id, email, client_ip, created_at FROM mail_requests
WHERE resolved_at = 0 ORDER BY created_at LIMIT ?`), limit); err != nil {
		return nil, classify(fmt.Errorf("pending reset requests: %w", err))
	}
	out := make([]ResetRequest, len(rows))
	for i, r := range rows {
		out[i] = ResetRequest{ID: r.ID, Email: r.Email, ClientIP: r.ClientIP, CreatedAt: fromMS(r.CreatedAt)}
	}
	return out, nil
}

// ResolveResetRequest closes request id with outcome (its address and client address are
// emptied) and queues mails in the same transaction, with audit when its Event is set. A
// request already resolved (by another replica) gives ErrNotFound and queues nothing.
func (s *Store) ResolveResetRequest(ctx context.Context, id string, now time.Time, outcome string, audit AuditEvent, mails ...PendingMail) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE mail_requests SET resolved_at = ?, outcome = ?, email = '', client_ip = '' WHERE id = ? AND resolved_at = 0`),
			ms(now), outcome, id)
		if err != nil {
			return fmt.Errorf("resolve reset request: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("resolve reset request: %w", err)
		} else if n == 0 {
			return ErrNotFound
		}
		if err := s.addMails(ctx, tx, mails); err != nil {
			return err
		}
		if audit.Event == "" {
			return nil
		}
		return s.audit(ctx, tx, audit)
	})
}

// ClaimMails leases up to limit unsent mails due at now and returns them, oldest due first.
// The lease (next_attempt_at = now + lease) is committed before this returns; other claimers
// skip the rows until it expires (on PostgreSQL with FOR UPDATE SKIP LOCKED, on SQLite under
// the database's write lock).
func (s *Store) ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Mail, error) {
	if limit <= 0 {
		return nil, nil
	}
	query := s.q(`SELECT ` + mailCols + ` FROM mail_outbox m WHERE m.sent_at = 0 AND m.next_attempt_at <= ?
ORDER BY m.next_attempt_at LIMIT ?` + s.db.SkipLocked("m"))
	var out []Mail
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var rows []mailRow
		if err := sqlx.SelectContext(ctx, tx, &rows, query, ms(now), limit); err != nil {
			return fmt.Errorf("claim mails: %w", err)
		}
		out = make([]Mail, 0, len(rows))
		ids := make([]string, 0, len(rows))
		for _, r := range rows {
			out = append(out, r.mail())
			ids = append(ids, r.ID)
		}
		return s.setMails(ctx, tx, ids, `next_attempt_at = ?`, ms(now.Add(lease)))
	})
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// setMails runs UPDATE mail_outbox SET set WHERE id in ids, still unsent.
func (s *Store) setMails(ctx context.Context, tx sqlx.ExecerContext, ids []string, set string, args ...any) error {
	if len(ids) == 0 {
		return nil
	}
	query, inArgs, err := sqlx.In(`UPDATE mail_outbox SET `+set+` WHERE sent_at <= 0 AND id IN (?)`, append(args, ids)...)
	if err != nil {
		return fmt.Errorf("update mails: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(query), inArgs...); err != nil {
		return fmt.Errorf("update mails: %w", err)
	}
	return nil
}

// MarkMailSent records that the mail was handed to the SMTP server (or logged) at now, and
// empties its bodies and link: the token they carry is not kept in the clear any longer than
// the mail waits.
func (s *Store) MarkMailSent(ctx context.Context, id string, now time.Time) error {
	return classify(s.setMails(ctx, s.db, []string{id}, `sent_at = ?, last_error = '', text_body = '', html_body = '', link = ''`, ms(now)))
}

// MarkMailFailed records a failed attempt: attempts grows by one, last_error becomes msg
// (truncated) and the next attempt is due at next.
func (s *Store) MarkMailFailed(ctx context.Context, id string, next time.Time, msg string) error {
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	return classify(s.setMails(ctx, s.db, []string{id}, `attempts = attempts + 1, last_error = ?, next_attempt_at = ?`, msg, ms(next)))
}

// ReleaseMails ends the lease on mails claimed but not attempted (the relay is stopping), so
// any replica may send them at once; no attempt is counted.
func (s *Store) ReleaseMails(ctx context.Context, ids []string, now time.Time) error {
	return classify(s.setMails(ctx, s.db, ids, `next_attempt_at = ?`, ms(now)))
}

// MailQueueStatus reports the queue: unsent mails and the oldest of them, and the sent ones
// still kept.
func (s *Store) MailQueueStatus(ctx context.Context) (MailStatus, error) {
	var st MailStatus
	if err := s.db.GetContext(ctx, &st.Pending, `SELECT count(*) FROM mail_outbox WHERE sent_at = 0`); err != nil {
		return MailStatus{}, classify(fmt.Errorf("mail status: %w", err))
	}
	if err := s.db.GetContext(ctx, &st.Sent, `SELECT count(*) FROM mail_outbox WHERE sent_at > 0`); err != nil {
		return MailStatus{}, classify(fmt.Errorf("mail status: %w", err))
	}
	if err := s.db.GetContext(ctx, &st.Requests, `SELECT count(*) FROM mail_requests WHERE resolved_at = 0`); err != nil {
		return MailStatus{}, classify(fmt.Errorf("mail status: %w", err))
	}
	var r struct {
		ID          string `db:"id"`
		Kind        string `db:"kind"`
		CreatedAt   int64  `db:"created_at"`
		Attempts    int    `db:"attempts"`
		LastError   string `db:"last_error"`
		NextAttempt int64  `db:"next_attempt_at"`
	}
	err := s.db.GetContext(ctx, &r, `SELECT id, kind, created_at, attempts, last_error, next_attempt_at FROM mail_outbox
WHERE sent_at = 0 ORDER BY created_at, id LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return MailStatus{}, classify(fmt.Errorf("mail status: %w", err))
	}
	st.OldestID, st.OldestKind, st.OldestCreatedAt = r.ID, r.Kind, fromMS(r.CreatedAt)
	st.OldestAttempts, st.OldestLastError, st.OldestNextAttempt = r.Attempts, r.LastError, fromMS(r.NextAttempt)
	return st, nil
}

// PurgeSentMail deletes up to limit mails sent before cutoff, then up to limit reset requests
// resolved before it, and returns how many rows it deleted in all.
func (s *Store) PurgeSentMail(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	total := 0
	for _, q := range []string{
		`DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at > 0 AND sent_at < ? LIMIT ?)`,
		`DELETE FROM mail_requests WHERE id IN (SELECT id FROM mail_requests WHERE resolved_at > 0 AND resolved_at < ? LIMIT ?)`,
	} {
		res, err := s.db.ExecContext(ctx, s.q(q), ms(cutoff), limit)
		if err != nil {
			return total, classify(fmt.Errorf("purge mail: %w", err))
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}
