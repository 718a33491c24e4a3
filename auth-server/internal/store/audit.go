package store

import (
	"context"
	"fmt"
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
	At        time.Time
	Event     string
	UserID    string
	SessionID string
	IP        string
	Detail    string
}

type auditRow struct {
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
	_, err := x.ExecContext(ctx, s.q(`INSERT INTO audit_events (id, at, event, user_id, session_id, ip, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		uuid.NewString(), ms(e.At), e.Event, e.UserID, e.SessionID, e.IP, e.Detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Event, err)
	}
	return nil
}

// AuditEvents returns the newest events (of one user when userID is not empty), newest first.
func (s *Store) AuditEvents(ctx context.Context, userID string, limit int) ([]AuditEvent, error) {
	q := `SELECT at, event, user_id, session_id, ip, detail FROM audit_events`
	args := []any{}
	if userID != "" {
		q += ` WHERE user_id = ?`
		args = append(args, userID)
	}
	q += ` ORDER BY at DESC LIMIT ?`
	args = append(args, limit)
	var rows []auditRow
	if err := s.db.SelectContext(ctx, &rows, s.q(q), args...); err != nil {
		return nil, classify(fmt.Errorf("read audit: %w", err))
	}
	out := make([]AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = AuditEvent{At: fromMS(r.At), Event: r.Event, UserID: r.UserID, SessionID: r.SessionID, IP: r.IP, Detail: r.Detail}
	}
	return out, nil
}
