package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// Authenticate verifies an access token and that its session is still live, its user not
// disabled and the token not issued before the user's tokens were revoked (a role change), so
// that a log-out, a password change, a disabling or a role change takes effect on this
// server's own endpoints at once; the principal carries the user's current roles, read in the
// same statement. Anything else gives ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	p, err := s.verifier.VerifyAccess(ctx, token)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	u, live, err := s.store.SessionUser(ctx, p.SessionID, s.now())
	if err != nil {
		return Principal{}, err
	}
	if !live || u.ID != p.UserID || u.Disabled() {
		return Principal{}, fmt.Errorf("%w: session ended", ErrUnauthenticated)
	}
	if p.IssuedAt.Before(u.TokensNotBefore) {
		return Principal{}, fmt.Errorf("%w: token revoked", ErrUnauthenticated)
	}
	p.CurrentRoles = u.Roles
	return p, nil
}

// User returns the user p speaks for; a deleted one gives ErrUnauthenticated.
func (s *Service) User(ctx context.Context, p Principal) (store.User, error) {
	u, err := s.store.UserByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("%w: user deleted", ErrUnauthenticated)
	}
	return u, err
}

// ProfileInput changes the username and/or the email; nil leaves one as it is.
type ProfileInput struct {
	Username *string
	Email    *string
}

// normalized checks and normalizes the fields given (ErrInvalidUsername, ErrInvalidEmail).
func (in ProfileInput) normalized() (ProfileInput, error) {
	var out ProfileInput
	if in.Username != nil {
		u, err := normalizeUsername(*in.Username)
		if err != nil {
			return ProfileInput{}, err
		}
		out.Username = &u
	}
	if in.Email != nil {
		e, err := normalizeEmail(*in.Email)
		if err != nil {
			return ProfileInput{}, err
		}
		out.Email = &e
	}
	return out, nil
}

// apply sets the fields given on u.
func (in ProfileInput) apply(u *store.User) {
	if in.Username != nil {
		u.Username = *in.Username
	}
	if in.Email != nil {
		u.Email = *in.Email
	}
}

// empty reports whether in changes nothing.
func (in ProfileInput) empty() bool { return in.Username == nil && in.Email == nil }

// UpdateProfile applies in to p's user, with the sync event and the audit event in the same
// transaction. A taken username or email gives ErrUserExists.
func (s *Service) UpdateProfile(ctx context.Context, p Principal, in ProfileInput, c Client) (store.User, error) {
	in, err := in.normalized()
	if err != nil {
		return store.User{}, err
	}
	now := s.now().UTC()
	u, err := s.store.UpdateUserMail(ctx, p.UserID, now, s.cfg.SyncTargets, func(u *store.User) ([]store.PendingMail, error) {
		return s.applyProfile(in, u, now)
	}, audit(now, store.AuditUserUpdated, p.UserID, p.SessionID, c))
	switch {
	case errors.Is(err, store.ErrUserExists):
		return store.User{}, ErrUserExists
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("%w: user deleted", ErrUnauthenticated)
	case err != nil:
		return store.User{}, err
	}
	s.signalSync()
	s.signalMail()
	return u, nil
}

// applyProfile sets in's fields on u; a changed email is unverified until the link of the
// verification mail returned (to the new address) is used.
func (s *Service) applyProfile(in ProfileInput, u *store.User, now time.Time) ([]store.PendingMail, error) {
	before := u.Email
	in.apply(u)
	if strings.EqualFold(before, u.Email) {
		return nil, nil
	}
	u.EmailVerified = false
	return s.verificationMails(*u, now)
}

// DeleteAccount deletes p's user after checking its password (throttled like log-in); its
// sessions go with it and the deletion reaches the sync targets through the outbox.
func (s *Service) DeleteAccount(ctx context.Context, p Principal, pw string, c Client) error {
	u, err := s.User(ctx, p)
	if err != nil {
		return err
	}
	if err := s.confirmPassword(ctx, u, pw, c); err != nil {
		return err
	}
	now := s.now().UTC()
	ev := audit(now, store.AuditUserDeleted, u.ID, p.SessionID, c)
	if err := s.store.DeleteUser(ctx, u.ID, now, s.cfg.SyncTargets, ev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.signalSync()
	return nil
}

// PasswordChange is a new password confirmed by the current one.
type PasswordChange struct {
	Current string
	New     string
}

// ChangePassword stores the new password's hash and ends every other session of the user (the
// current one stays). A wrong current password gives ErrWrongPassword and counts as a failed
// log-in of the account.
func (s *Service) ChangePassword(ctx context.Context, p Principal, in PasswordChange, c Client) error {
	if err := checkPassword(in.New); err != nil {
		return err
	}
	u, err := s.User(ctx, p)
	if err != nil {
		return err
	}
	if err := s.confirmPassword(ctx, u, in.Current, c); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, in.New)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	ev := audit(now, store.AuditPasswordChange, u.ID, p.SessionID, c)
	n, err := s.store.ChangePassword(ctx, u.ID, u.PasswordHash, hash, p.SessionID, now, ev)
	if errors.Is(err, store.ErrNotFound) {
		return ErrWrongPassword // changed (or the user deleted) since we checked it
	}
	if err := s.synced(err); err != nil {
		return err
	}
	s.log.Info("password changed", "user_id", u.ID, "sessions_ended", n)
	return nil
}

// Sessions returns p's user's live sessions, oldest first.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]store.Session, error) {
	return s.store.ListSessions(ctx, p.UserID, s.now().UTC())
}

// EndSession ends one live session of p's user; another user's, unknown or already ended one
// gives ErrSessionNotFound.
func (s *Service) EndSession(ctx context.Context, p Principal, id string, c Client) error {
	if uuid.Validate(id) != nil {
		return ErrSessionNotFound // not an id of ours (and never sent to the database)
	}
	now := s.now().UTC()
	ev := audit(now, store.AuditSessionEnded, p.UserID, id, c)
	ev.Detail = "ended from session " + p.SessionID
	err := s.store.RevokeSession(ctx, p.UserID, id, now, store.RevokeEnded, ev)
	if errors.Is(err, store.ErrNotFound) {
		return ErrSessionNotFound
	}
	return s.synced(err)
}
