package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/mail"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
)

// MailPolicy is how the service verifies addresses and resets passwords (CONTRACT §11). With a
// nil Writer no mail is queued at all (tests of other use cases).
type MailPolicy struct {
	Writer          *mail.Writer
	VerifyTTL       time.Duration // a verification link's lifetime (default 24h)
	ResetTTL        time.Duration // a reset link's lifetime (PASSWORD_RESET_TTL, default 30m)
	RequireVerified bool          // REQUIRE_EMAIL_VERIFICATION
	// Throttle limits the mails that /email/verify/resend and /password/forgot send, per
	// recipient and per client address (default: 5 an hour, then 1 an hour while it goes on).
	Throttle throttle.Rule
}

// DefaultMailThrottle lets 5 mails an hour through per key; past that each further mail waits
// an hour after the previous one.
func DefaultMailThrottle() throttle.Rule {
	return throttle.Rule{Threshold: 5, Window: time.Hour, BaseDelay: time.Hour, MaxDelay: time.Hour}
}

func (p MailPolicy) withDefaults() MailPolicy {
	if p.VerifyTTL <= 0 {
		p.VerifyTTL = 24 * time.Hour
	}
	if p.ResetTTL <= 0 {
		p.ResetTTL = 30 * time.Minute
	}
	if p.Throttle.Threshold < 1 {
		p.Throttle = DefaultMailThrottle()
	}
	return p
}

// signalMail wakes the mail relay after a committed change queued a mail (it also polls).
func (s *Service) signalMail() {
	if s.mailNotify != nil {
		s.mailNotify()
	}
}

// newMail is a mail of kind to u with a fresh token valid for ttl, written by write.
func (s *Service) newMail(kind string, u store.User, now time.Time, ttl time.Duration,
	write func(username, token string, ttl time.Duration) mail.Message) (store.PendingMail, error) {
	tok, hash, err := mail.NewToken()
	if err != nil {
		return store.PendingMail{}, err
	}
	msg := write(u.Username, tok, ttl)
	return store.PendingMail{
		Mail: store.Mail{ID: uuid.NewString(), Kind: kind, Recipient: u.Email, UserID: u.ID,
			Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Link: msg.Link, CreatedAt: now},
		Token: &store.MailToken{Hash: hash, Kind: kind, UserID: u.ID, Email: u.Email, CreatedAt: now, ExpiresAt: now.Add(ttl)},
	}, nil
}

// verificationMails are the mails a new or changed address gets: one verification mail, or
// none without a Writer.
func (s *Service) verificationMails(u store.User, now time.Time) ([]store.PendingMail, error) {
	if s.mail.Writer == nil {
		return nil, nil
	}
	pm, err := s.newMail(store.MailVerify, u, now, s.mail.VerifyTTL, s.mail.Writer.Verification)
	if err != nil {
		return nil, err
	}
	return []store.PendingMail{pm}, nil
}

// VerifyEmail spends a verification token: the address it was sent to becomes verified. An
// unknown, used, expired or superseded token, or one sent to a former address, gives
// ErrInvalidToken.
func (s *Service) VerifyEmail(ctx context.Context, token string, c Client) (store.User, error) {
	if !mail.PlausibleToken(token) {
		return store.User{}, ErrInvalidToken
	}
	now := s.now().UTC()
	u, err := s.store.VerifyEmail(ctx, mail.HashToken(token), now, audit(now, store.AuditEmailVerified, "", "", c))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrInvalidToken
	}
	return u, err
}

// ResendVerification queues a new verification mail to p's user's address (voiding the
// previous link). An address already verified gets nothing. Past the mail throttle it gives
// ErrTooManyMails (with a *ThrottledError carrying the wait).
func (s *Service) ResendVerification(ctx context.Context, p Principal, c Client) error {
	u, err := s.User(ctx, p)
	if err != nil || u.EmailVerified || s.mail.Writer == nil {
		return err
	}
	now := s.now().UTC()
	keys, err := s.mailAllowed(ctx, u.Email, c.IP, now)
	if err != nil {
		return err
	}
	mails, err := s.verificationMails(u, now)
	if err != nil {
		return err
	}
	if err := s.store.QueueMails(ctx, audit(now, store.AuditVerifyMailQueued, u.ID, p.SessionID, c), mails...); err != nil {
		return err
	}
	s.countMail(ctx, keys, now)
	s.signalMail()
	return nil
}

// ForgotPassword queues a reset request for email and returns: it does the same work whether
// or not the address belongs to anyone (one insert), and the mail relay resolves the request
// later (ResolveResetRequest), so neither the answer nor its time tells them apart. A malformed
// address gives ErrInvalidEmail (it cannot belong to anyone).
func (s *Service) ForgotPassword(ctx context.Context, email string, c Client) error {
	email, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if err := s.store.QueueResetRequest(ctx, store.ResetRequest{ID: uuid.NewString(), Email: email, ClientIP: c.IP, CreatedAt: now}); err != nil {
		return err
	}
	s.signalMail()
	return nil
}

// ResolveResetRequest is the relay's half of ForgotPassword: when the address belongs to an
// enabled user and the mail throttle allows it, the reset mail (with a token voiding older
// ones) is queued in the transaction that closes the request; otherwise the request is closed
// with the reason, and nothing is sent.
func (s *Service) ResolveResetRequest(ctx context.Context, r store.ResetRequest) error {
	now := s.now().UTC()
	outcome, mails, ev := "", []store.PendingMail(nil), store.AuditEvent{}
	u, err := s.store.UserByLogin(ctx, r.Email)
	var keys []string
	switch {
	case errors.Is(err, store.ErrNotFound) || !strings.Contains(r.Email, "@"):
		outcome = "no such address: nothing sent"
	case err != nil:
		return err
	case u.Disabled():
		outcome = "account disabled: nothing sent"
	case s.mail.Writer == nil:
		outcome = "mail is off: nothing sent"
	default:
		if keys, err = s.mailAllowed(ctx, u.Email, r.ClientIP, now); errors.Is(err, ErrTooManyMails) {
			outcome = "throttled: nothing sent"
			break
		} else if err != nil {
			return err
		}
		pm, err := s.newMail(store.MailReset, u, now, s.mail.ResetTTL, s.mail.Writer.PasswordReset)
		if err != nil {
			return err
		}
		outcome, mails = "reset mail queued", []store.PendingMail{pm}
		ev = audit(now, store.AuditResetRequested, u.ID, "", Client{IP: r.ClientIP})
	}
	err = s.store.ResolveResetRequest(ctx, r.ID, now, outcome, ev, mails...)
	if errors.Is(err, store.ErrNotFound) {
		return nil // resolved by another replica
	}
	if err != nil {
		return err
	}
	if len(mails) > 0 {
		s.countMail(ctx, keys, now)
	}
	return nil
}

// ResetPassword spends a reset token and sets the new password: the address is verified, every
// session of the user ends, and the token and any older ones are spent. An unknown, used,
// expired or superseded token gives ErrInvalidToken; of two concurrent resets with one token,
// exactly one succeeds.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string, c Client) error {
	if err := checkPassword(newPassword); err != nil {
		return err
	}
	if !mail.PlausibleToken(token) {
		return ErrInvalidToken
	}
	hash, now := mail.HashToken(token), s.now().UTC()
	// Check first, so that guessing tokens costs no password hashing; the spending re-checks.
	if _, err := s.store.MailTokenValid(ctx, hash, store.MailReset, now); errors.Is(err, store.ErrNotFound) {
		return ErrInvalidToken
	} else if err != nil {
		return err
	}
	pwHash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	u, n, err := s.store.ResetPassword(ctx, hash, pwHash, s.now().UTC(), audit(now, store.AuditPasswordReset, "", "", c))
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidToken
	}
	if err != nil {
		return err
	}
	if err := s.store.ClearThrottle(ctx, accountKey(u.ID, "")); err != nil {
		s.log.Warn("clear throttle after reset failed", "err", err)
	}
	s.log.Info("password reset", "user_id", u.ID, "sessions_ended", n)
	return nil
}

// mailKeys are the throttle keys of a mail to recipient caused from ip.
func mailKeys(recipient, ip string) []string {
	return []string{"mail-to:" + strings.ToLower(recipient), "mail-from:" + strings.TrimPrefix(addressKey(ip), "address:")}
}

// mailAllowed checks the mail throttle of recipient and ip: ErrTooManyMails (wrapping a
// *ThrottledError with the wait) when either is spent. It returns the keys to count.
func (s *Service) mailAllowed(ctx context.Context, recipient, ip string, now time.Time) ([]string, error) {
	keys := mailKeys(recipient, ip)
	a, b, err := s.store.ThrottleCounters(ctx, keys[0], keys[1])
	if err != nil {
		return nil, err
	}
	wa, ba := s.mail.Throttle.Blocked(a, now)
	wb, bb := s.mail.Throttle.Blocked(b, now)
	if ba || bb {
		return nil, fmt.Errorf("%w: %w", ErrTooManyMails, &ThrottledError{Wait: max(wa, wb)})
	}
	return keys, nil
}

// countMail counts one mail on the throttle keys; a failure only lets one more mail through.
func (s *Service) countMail(ctx context.Context, keys []string, now time.Time) {
	if len(keys) == 0 {
		return
	}
	err := s.store.CountEvent(ctx, func(_ string, c throttle.Counter) throttle.Counter {
		return s.mail.Throttle.Fail(c, now)
	}, keys...)
	if err != nil {
		s.log.Warn("mail throttle not counted", "err", err)
	}
}
