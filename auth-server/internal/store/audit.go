package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Audit event names.
const (
	AuditLoginSuccess   = "login.success"
	AuditLoginFailure   = "login.failure"
	AuditLoginThrottled = "login.throttled"
	AuditSignup         = "user.signup"
	AuditUserUpdated    = "user.updated"
	AuditUserDeleted    = "user.deleted"
	AuditUserDisabled   = "user.disabled"
	AuditUserEnabled    = "user.enabled"
	AuditUserRoles      = "user.roles"
	AuditUserCreated    = "user.created"
	AuditAdminLogout    = "session.admin_logout"
	AuditRefreshReuse   = "refresh.reuse"
	AuditLogout         = "session.logout"
	AuditLogoutAll      = "session.logout_all"
	AuditSessionEnded   = "session.ended"
	AuditPasswordChange = "password.changed"
	// AuditPasswordFailure: a wrong current password given to confirm a change or deletion.
	AuditPasswordFailure = "password.failure"
	AuditKeyRotated      = "key.rotated"
	AuditKeyRevoked      = "key.revoked"
	AuditClientAdded     = "client.added"
	AuditClientSecret    = "client.secret_rotated"
	AuditClientRemoved   = "client.removed"
)

// AuditEvent is one row of the audit trail.
type AuditEvent struct {
	ID        string // set by the store
	Actor     string // who did it, for administrative actions: "user:<id>" or "cli"
	At        time.Time
	Event     string
	UserID    string
	SessionID string
	IP        string
	Detail    string
}

type auditRow struct {
	ID        string `db:"id"`
	Actor     string `db:"actor"`
	At        int64  `db:"at"`
	Event     string `db:"event"`
	UserID    string `db:"user_id"`
	SessionID string `db:"session_id"`
	IP        string `db:"ip"`
	Detail    string `db:"detail"`
}

// Audit appends e to the audit trail.
func (s *Store) Audit(ctx context.Context, e AuditEvent) error {
	return classify(s.audit(ctx, s.db, e))
}

func (s *Store) audit(ctx context.Context, x sqlx.ExecerContext, e AuditEvent) error {
	// A time-ordered id (UUIDv7, monotonic within the process): events of the same
	// millisecond keep the order they were written in, which the trail's order (at, id) shows.
	args, err := auditArgs(e)
	if err == nil {
		_, err = x.ExecContext(ctx, s.q(`INSERT INTO audit_events (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), args...)
	}
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Event, err)
	}
	return nil
}

// auditCols are the columns of an audit event as auditArgs gives their values.
const auditCols = "id, at, event, user_id, session_id, ip, detail, actor"

// auditArgs are the values of auditCols for e, with a new id.
func auditArgs(e AuditEvent) ([]any, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	return []any{id.String(), ms(e.At), e.Event, e.UserID, e.SessionID, e.IP, e.Detail, e.Actor}, nil
}

// AuditEvents returns the newest events (of one user when userID is not empty), newest first.
func (s *Store) AuditEvents(ctx context.Context, userID string, limit int) ([]AuditEvent, error) {
	return s.AuditPage(ctx, AuditQuery{UserID: userID, Limit: limit})
}

// AuditQuery selects a page of the audit trail, newest first: of one user and/or one event
// type when set, older than the event After (its time and id, from the previous page's last
// event) when set.
type AuditQuery struct {
	UserID  string
	Type    string
	AfterAt time.Time
	AfterID string
	Limit   int
}

// AuditPage returns one page of the audit trail (keyset pagination on time and id, so events
// written meanwhile never shift a page).
func (s *Store) AuditPage(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	var where []string
	var args []any
	if q.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, q.UserID)
	}
	if q.Type != "" {
		where, args = append(where, "event = ?"), append(args, q.Type)
	}
	if q.AfterID != "" {
		where = append(where, "(at < ? OR (at = ? AND id < ?))")
		args = append(args, ms(q.AfterAt), ms(q.AfterAt), q.AfterID)
	}
	query := `SELECT id, actor, at, event, user_id, session_id, ip, detail FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY at DESC, id DESC LIMIT ?`
	args = append(args, q.Limit)
	var rows []auditRow
	if err := s.db.SelectContext(ctx, &rows, s.q(query), args...); err != nil {
		return nil, classify(fmt.Errorf("read audit: %w", err))
	}
	out := make([]AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = AuditEvent{ID: r.ID, Actor: r.Actor, At: fromMS(r.At), Event: r.Event, UserID: r.UserID,
			SessionID: r.SessionID, IP: r.IP, Detail: r.Detail}
	}
	return out, nil
}
