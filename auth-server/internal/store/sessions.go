package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
)

// Session is a refresh-token family started by one login.
type Session struct {
	ID            string
	UserID        string
	CreatedAt     time.Time
	LastUsedAt    time.Time // the last rotation (the login at first)
	ExpiresAt     time.Time // the absolute end (SESSION_MAX_TTL after creation)
	IdleExpiresAt time.Time // when its newest refresh token expires; zero if unknown
	RevokedAt     time.Time
	RevokeReason  string
	UserAgent     string
	IP            string
	ClientID      string   // the client it was issued to
	Scope         []string // the scopes it was granted; a refresh keeps or narrows them
	AMR           []string // how it was authenticated (RFC 8176); nil for a password login
	// AuthTime is when the user authenticated, for a session started by an authorization
	// code (its refreshes carry ID tokens) or a browser's login session; zero otherwise.
	AuthTime time.Time
	// CookieHash is a browser's login session's cookie, by hash (written, never read back).
	CookieHash string
}

// Reasons a session was revoked, stored in its revoke_reason.
const (
	RevokeLogout         = "logout"
	RevokeLogoutAll      = "logout_all"
	RevokeEnded          = "ended"
	RevokeRevoked        = "revoked" // RFC 7009 /revoke
	RevokePasswordChange = "password_change"
	RevokeReuse          = "reuse"
	RevokeClientRemoved  = "client_removed"
	RevokeDisabled       = "user_disabled"
	RevokeAdmin          = "admin_logout"
	RevokeCodeReuse      = "code_reuse" // its authorization code was presented again
)

type sessionRow struct {
	ID            string `db:"id"`
	UserID        string `db:"user_id"`
	CreatedAt     int64  `db:"created_at"`
	LastUsedAt    int64  `db:"last_used_at"`
	ExpiresAt     int64  `db:"expires_at"`
	IdleExpiresAt int64  `db:"idle_expires_at"`
	RevokedAt     int64  `db:"revoked_at"`
	RevokeReason  string `db:"revoke_reason"`
	UserAgent     string `db:"user_agent"`
	IP            string `db:"ip"`
	ClientID      string `db:"client_id"`
	Scope         string `db:"scope"`
	AMR           string `db:"amr"`
}

const sessionCols = "id, user_id, created_at, last_used_at, expires_at, idle_expires_at, revoked_at, revoke_reason, user_agent, ip, client_id, scope, amr"

// liveSession is the WHERE condition of a session usable at the time bound twice after it.
const liveSession = "revoked_at = 0 AND expires_at > ? AND (idle_expires_at = 0 OR idle_expires_at > ?)"

func (r sessionRow) session() Session {
	return Session{ID: r.ID, UserID: r.UserID, CreatedAt: fromMS(r.CreatedAt), LastUsedAt: fromMS(r.LastUsedAt),
		ExpiresAt: fromMS(r.ExpiresAt), IdleExpiresAt: fromMS(r.IdleExpiresAt), RevokedAt: fromMS(r.RevokedAt),
		RevokeReason: r.RevokeReason, UserAgent: r.UserAgent, IP: r.IP, ClientID: r.ClientID, Scope: list(r.Scope), AMR: list(r.AMR)}
}

// CreateSession stores a new session and its first refresh token (by hash only), with the
// audit event of the login and the user's last log-in time, in one transaction. The session's
// IdleExpiresAt is tokenExpires.
func (s *Store) CreateSession(ctx context.Context, sess Session, tokenHash string, tokenExpires time.Time, audit AuditEvent) error {
	if s.db.WritableCTE() {
		return s.createSessionPG(ctx, sess, tokenHash, tokenExpires, audit)
	}
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		if err := s.insertSession(ctx, tx, sess, tokenHash, tokenExpires); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
}

// createSessionPG is CreateSession as one PostgreSQL statement (a statement is a transaction
// of its own): one round trip where BEGIN, four statements and COMMIT take six. It locks one
// existing row only (the user's, as insertSession does first), so it cannot deadlock.
func (s *Store) createSessionPG(ctx context.Context, sess Session, tokenHash string, tokenExpires time.Time, audit AuditEvent) error {
	ev, err := auditArgs(audit)
	if err != nil {
		return fmt.Errorf("audit %s: %w", audit.Event, err)
	}
	args := append(sessionArgs(sess, tokenExpires), tokenHash)
	// A login session has no refresh token: the token's insert is skipped by its condition.
	_, err = s.stmts.Exec(ctx, `WITH login AS (UPDATE users SET last_login_at = $3 WHERE id = $2),
 sess AS (INSERT INTO sessions (`+sessionCols+`, cookie_hash, auth_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)),
 tok AS (INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) SELECT $16, $1, $3, $6 WHERE $16 <> '')
INSERT INTO audit_events (`+auditCols+`) VALUES ($17, $18, $19, $20, $21, $22, $23, $24)`, append(args, ev...)...)
	if err != nil {
		return classify(fmt.Errorf("create session: %w", err))
	}
	return nil
}

// sessionArgs are the values of a session row (sessionCols, cookie_hash, auth_time) for sess,
// whose idle expiry is tokenExpires.
func sessionArgs(sess Session, tokenExpires time.Time) []any {
	if sess.ClientID == "" {
		sess.ClientID = clients.FirstParty
	}
	return []any{sess.ID, sess.UserID, ms(sess.CreatedAt), ms(sess.LastUsedAt), ms(sess.ExpiresAt), ms(tokenExpires),
		ms(sess.RevokedAt), sess.RevokeReason, sess.UserAgent, sess.IP, sess.ClientID, joined(sess.Scope), joined(sess.AMR),
		sess.CookieHash, ms(sess.AuthTime)}
}

// insertSession records the user's log-in time and inserts sess with its first refresh token
// (none when tokenHash is empty: a browser's login session), in tx. The users row first, then
// the session's: the lock order of DeleteUser and ChangePassword.
func (s *Store) insertSession(ctx context.Context, tx *sqlx.Tx, sess Session, tokenHash string, tokenExpires time.Time) error {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET last_login_at = ? WHERE id = ?`), ms(sess.CreatedAt), sess.UserID); err != nil {
		return fmt.Errorf("record last login: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO sessions (`+sessionCols+`, cookie_hash, auth_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		sessionArgs(sess, tokenExpires)...); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	if tokenHash == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		tokenHash, sess.ID, ms(sess.CreatedAt), ms(tokenExpires)); err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// SessionUser reads, in one prepared statement, whether session id is live at now (exists,
// not revoked, not past its end) and, when it is, its user's current roles and disabled time:
// what the auth server's Bearer endpoints check on every request.
func (s *Store) SessionUser(ctx context.Context, id string, now time.Time) (User, bool, error) {
	ps, err := s.stmts.Get(ctx, s.q(`SELECT u.id, u.roles, u.disabled_at, u.tokens_not_before FROM sessions s JOIN users u ON u.id = s.user_id
 WHERE s.id = ? AND s.revoked_at = 0 AND s.expires_at > ? AND (s.idle_expires_at = 0 OR s.idle_expires_at > ?)`))
	if err != nil {
		return User{}, false, classify(fmt.Errorf("session user: %w", err))
	}
	var u User
	var roles string
	var disabled, notBefore int64
	err = ps.QueryRowxContext(ctx, id, ms(now), ms(now)).Scan(&u.ID, &roles, &disabled, &notBefore)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, classify(fmt.Errorf("session user: %w", err))
	}
	u.Roles, u.DisabledAt, u.TokensNotBefore = roleList(roles), fromMS(disabled), fromMS(notBefore)
	return u, true, nil
}

// ListSessions returns the user's live sessions at now (not revoked, not past their end nor
// their newest token's expiry), oldest first.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]Session, error) {
	var rows []sessionRow
	err := s.db.SelectContext(ctx, &rows, s.q(`SELECT `+sessionCols+` FROM sessions WHERE user_id = ? AND `+liveSession+
		` ORDER BY created_at, id`), userID, ms(now), ms(now))
	if err != nil {
		return nil, classify(fmt.Errorf("list sessions: %w", err))
	}
	out := make([]Session, len(rows))
	for i, r := range rows {
		out[i] = r.session()
	}
	return out, nil
}

// RevokeSession revokes session id of userID (any user when userID is empty) if it is live at
// now, writing audit and queuing session.revoked in the same transaction; ErrNotFound when
// there is no such live session.
// It updates only the sessions row (the lock order of docs/refresh-sessions.md).
func (s *Store) RevokeSession(ctx context.Context, userID, id string, now time.Time, reason string, audit AuditEvent) error {
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		where := `id = ? AND ` + liveSession
		args := []any{id, ms(now), ms(now)}
		if userID != "" {
			where += ` AND user_id = ?`
			args = append(args, userID)
		}
		n, err := s.endSessions(ctx, tx, now, reason, where, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return s.audit(ctx, tx, audit)
	})
}

// RevokeUserSessions revokes every session of userID not yet revoked, except keep (when not
// empty), writing audit and queuing session.revoked in the same transaction. It returns how many it revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keep string, now time.Time, reason string, audit AuditEvent) (int, error) {
	var n int
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		var err error
		n, err = s.revokeUserSessions(ctx, tx, userID, keep, now, reason)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
	return n, err
}

func (s *Store) revokeUserSessions(ctx context.Context, tx *sqlx.Tx, userID, keep string, now time.Time, reason string) (int, error) {
	return s.endSessions(ctx, tx, now, reason, `user_id = ? AND id <> ? AND revoked_at = 0`, userID, keep)
}

// ChangePassword replaces the password hash of userID with newHash if it still is oldHash
// (compare-and-swap: the caller checked the current password against oldHash outside the
// transaction, so a concurrent change is not overwritten; ErrNotFound then), revokes every
// other session of the user but keep, and writes audit, in one transaction. It returns how
// many sessions it revoked. Lock order: the users row, then sessions rows, as DeleteUser.
func (s *Store) ChangePassword(ctx context.Context, userID, oldHash, newHash, keep string, now time.Time, audit AuditEvent) (int, error) {
	var n int
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`), newHash, userID, oldHash)
		if err != nil {
			return fmt.Errorf("update password: %w", err)
		}
		if c, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("update password: %w", err)
		} else if c == 0 {
			return ErrNotFound
		}
		if n, err = s.revokeUserSessions(ctx, tx, userID, keep, now, RevokePasswordChange); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
	return n, err
}
