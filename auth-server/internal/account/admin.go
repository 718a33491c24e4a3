package account

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// Actor is who performs an administrative action, as the audit trail records it.
type Actor struct {
	ID string // "user:<id>" for an admin through the API, "cli" for the operator's CLI
	IP string
}

// CLI is the actor of the operator's command line.
var CLI = Actor{ID: "cli"}

// AdminUser is the actor of a signed-in admin.
func AdminUser(p Principal, c Client) Actor { return Actor{ID: "user:" + p.UserID, IP: c.IP} }

func (a Actor) audit(now time.Time, event, userID string) store.AuditEvent {
	return store.AuditEvent{At: now, Event: event, UserID: userID, IP: a.IP, Actor: a.ID}
}

// DefaultPageSize and MaxPageSize bound a page of users or audit events.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// UserSearch asks for a page of users whose username or email starts with Query.
type UserSearch struct {
	Query  string
	Cursor string // from the previous page; empty for the first
	Limit  int    // 0 for DefaultPageSize
}

// UserPage is a page of users and the cursor of the next one (empty after the last).
type UserPage struct {
	Users      []store.User
	NextCursor string
}

// FindUsers returns a page of users in username order.
func (s *Service) FindUsers(ctx context.Context, q UserSearch) (UserPage, error) {
	limit, err := pageSize(q.Limit)
	if err != nil {
		return UserPage{}, err
	}
	after, err := decodeCursor(q.Cursor, "u")
	if err != nil {
		return UserPage{}, err
	}
	prefix := strings.ToLower(strings.TrimSpace(q.Query))
	if impossibleLogin(prefix) {
		return UserPage{Users: []store.User{}}, nil
	}
	users, err := s.store.FindUsers(ctx, store.UserQuery{Prefix: prefix, After: after, Limit: limit})
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: users}
	if len(users) == limit {
		page.NextCursor = encodeCursor("u", strings.ToLower(users[len(users)-1].Username))
	}
	return page, nil
}

// UserByRef finds a user by id, username or email (the CLI's NAME|ID).
func (s *Service) UserByRef(ctx context.Context, ref string) (store.User, error) {
	var u store.User
	var err error
	switch {
	case uuid.Validate(ref) == nil:
		u, err = s.store.UserByID(ctx, ref)
	case impossibleLogin(ref) || strings.TrimSpace(ref) == "":
		err = store.ErrNotFound
	default:
		u, err = s.store.UserByLogin(ctx, strings.TrimSpace(ref))
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("%w: %q", ErrUserNotFound, ref)
	}
	return u, err
}

// UserPatch is an administrative change of a user; nil fields stay as they are.
type UserPatch struct {
	ProfileInput
	Roles    *[]string
	Disabled *bool
	// EmailVerified sets whether the address is verified (after an email change in the same
	// patch, which would otherwise leave it unverified).
	EmailVerified *bool
}

// UpdateUser applies an administrative change, each part audited with its actor. Disabling
// ends every session of the user at once; disabling and a change of roles revoke the user's
// access tokens issued before (both pushed to the resource servers, docs/revocation.md).
func (s *Service) UpdateUser(ctx context.Context, a Actor, id string, in UserPatch) (store.User, error) {
	profile, err := in.normalized()
	if err != nil {
		return store.User{}, err
	}
	var roles []string
	if in.Roles != nil {
		if roles, err = normalizeRoles(*in.Roles); err != nil {
			return store.User{}, err
		}
	}
	u, err := s.UserByRef(ctx, id)
	if err != nil {
		return store.User{}, err
	}
	now := s.now().UTC()
	if !profile.empty() || in.Roles != nil || in.EmailVerified != nil {
		ev := a.audit(now, store.AuditUserUpdated, u.ID)
		if in.Roles != nil {
			ev.Event, ev.Detail = store.AuditUserRoles, "roles="+strings.Join(roles, ",")
		}
		if in.EmailVerified != nil {
			ev.Detail = strings.TrimPrefix(ev.Detail+" email_verified="+strconv.FormatBool(*in.EmailVerified), " ")
		}
		u, err = s.store.UpdateUserMail(ctx, u.ID, now, s.cfg.SyncTargets, func(x *store.User) ([]store.PendingMail, error) {
			mails, err := s.applyProfile(profile, x, now)
			if in.Roles != nil && !slices.Equal(x.Roles, roles) {
				// Tokens carrying the old roles are refused from now on (user.revoked).
				x.Roles = roles
				x.RevokeTokens(now)
			}
			if in.EmailVerified != nil {
				x.EmailVerified = *in.EmailVerified
			}
			return mails, err
		}, ev)
		if err != nil {
			return store.User{}, s.userError(err)
		}
	}
	if in.Disabled != nil && *in.Disabled != u.Disabled() {
		event := store.AuditUserEnabled
		if *in.Disabled {
			event = store.AuditUserDisabled
		}
		if u, err = s.store.SetDisabled(ctx, u.ID, *in.Disabled, now, s.cfg.SyncTargets, a.audit(now, event, u.ID)); err != nil {
			return store.User{}, s.userError(err)
		}
	}
	s.signalSync()
	s.signalMail()
	return u, nil
}

// ChangeRoles adds or removes roles of a user (the CLI's users role add|remove).
func (s *Service) ChangeRoles(ctx context.Context, a Actor, ref string, add, remove []string) (store.User, error) {
	u, err := s.UserByRef(ctx, ref)
	if err != nil {
		return store.User{}, err
	}
	roles := []string{}
	for _, r := range u.Roles {
		if !slices.Contains(remove, r) {
			roles = append(roles, r)
		}
	}
	for _, r := range add {
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return s.UpdateUser(ctx, a, u.ID, UserPatch{Roles: &roles})
}

// DeleteUser deletes a user, its sessions and (through sync) its app data.
func (s *Service) DeleteUser(ctx context.Context, a Actor, ref string) error {
	u, err := s.UserByRef(ctx, ref)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if err := s.store.DeleteUser(ctx, u.ID, now, s.cfg.SyncTargets, a.audit(now, store.AuditUserDeleted, u.ID)); err != nil {
		return s.userError(err)
	}
	s.signalSync()
	return nil
}

// LogoutEverywhere ends every session of a user and returns how many it ended.
func (s *Service) LogoutEverywhere(ctx context.Context, a Actor, ref string) (int, error) {
	u, err := s.UserByRef(ctx, ref)
	if err != nil {
		return 0, err
	}
	now := s.now().UTC()
	n, err := s.store.RevokeUserSessions(ctx, u.ID, "", now, store.RevokeAdmin, a.audit(now, store.AuditAdminLogout, u.ID))
	return n, s.synced(err)
}

// NewUser is an account made by an operator.
type NewUser struct {
	Username string
	Email    string
	Password string
	Roles    []string
}

// CreateUser makes an account without a session (the CLI's users create, for the first admin).
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (store.User, error) {
	username, err := normalizeUsername(in.Username)
	if err != nil {
		return store.User{}, err
	}
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return store.User{}, err
	}
	if err := checkPassword(in.Password); err != nil {
		return store.User{}, err
	}
	roles, err := normalizeRoles(in.Roles)
	if err != nil {
		return store.User{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return store.User{}, err
	}
	now := s.now().UTC()
	u := store.User{ID: uuid.NewString(), Username: username, Email: email, PasswordHash: hash,
		Version: 1, CreatedAt: now, UpdatedAt: now, Roles: roles}
	mails, err := s.verificationMails(u, now)
	if err != nil {
		return store.User{}, err
	}
	if err := s.store.CreateUser(ctx, u, s.cfg.SyncTargets, mails...); err != nil {
		return store.User{}, s.userError(err)
	}
	if err := s.store.Audit(ctx, a.audit(now, store.AuditUserCreated, u.ID)); err != nil {
		return store.User{}, err
	}
	s.signalSync()
	return u, nil
}

// AuditSearch asks for a page of the audit trail, newest first.
type AuditSearch struct {
	UserID string
	Type   string
	Cursor string
	Limit  int
}

// AuditPage is a page of audit events and the cursor of the next one.
type AuditPage struct {
	Events     []store.AuditEvent
	NextCursor string
}

// AuditTrail returns a page of the audit trail.
func (s *Service) AuditTrail(ctx context.Context, q AuditSearch) (AuditPage, error) {
	limit, err := pageSize(q.Limit)
	if err != nil {
		return AuditPage{}, err
	}
	after, err := decodeCursor(q.Cursor, "a")
	if err != nil {
		return AuditPage{}, err
	}
	sq := store.AuditQuery{UserID: q.UserID, Type: q.Type, Limit: limit}
	if after != "" {
		at, id, ok := strings.Cut(after, ":")
		msec, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || uuid.Validate(id) != nil {
			return AuditPage{}, ErrInvalidCursor
		}
		sq.AfterAt, sq.AfterID = time.UnixMilli(msec), id
	}
	events, err := s.store.AuditPage(ctx, sq)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Events: events}
	if len(events) == limit {
		last := events[len(events)-1]
		page.NextCursor = encodeCursor("a", strconv.FormatInt(last.At.UnixMilli(), 10)+":"+last.ID)
	}
	return page, nil
}

func (s *Service) userError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrUserNotFound
	case errors.Is(err, store.ErrUserExists):
		return ErrUserExists
	}
	return err
}

func pageSize(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 1 || n > MaxPageSize:
		return 0, ErrInvalidLimit
	}
	return n, nil
}

// encodeCursor is an opaque cursor of kind holding key.
func encodeCursor(kind, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "1:" + key))
}

// decodeCursor returns the key of a cursor of kind, "" for no cursor; anything this server
// did not make is ErrInvalidCursor.
func decodeCursor(c, kind string) (string, error) {
	if c == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	key, ok := strings.CutPrefix(string(raw), kind+"1:")
	if err != nil || !ok || key == "" || impossibleLogin(key) {
		return "", ErrInvalidCursor
	}
	return key, nil
}

// normalizeRoles checks roles and drops repeats, never returning nil.
func normalizeRoles(roles []string) ([]string, error) {
	if err := clients.CheckRoles(roles); err != nil {
		return nil, err
	}
	out := []string{}
	for _, r := range roles {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// RequireAdmin allows the admin API to p (as Authenticate returned it) only with role admin,
// in the token and still in the user's record (a removed role takes effect here at once), and
// scope admin in the token (least privilege: an admin's ordinary log-in token cannot use it).
func RequireAdmin(p Principal) error {
	if !slices.Contains(p.Roles, clients.AdminRole) {
		return ErrForbidden
	}
	if !slices.Contains(p.Scope, "admin") {
		return &ScopeError{Scope: "admin"}
	}
	if !slices.Contains(p.CurrentRoles, clients.AdminRole) {
		return ErrForbidden
	}
	return nil
}
