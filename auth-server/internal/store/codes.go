package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
)

// Authorization codes (RFC 6749 §4.1, CONTRACT §12) and the browser's login sessions.

// ErrCodeReused: an authorization code was presented again. The session its first exchange
// started has been revoked (and the revocation committed) when this is returned.
var ErrCodeReused = errors.New("authorization code used twice")

// AuthCode is what an authorization code was issued for. Codes are sealed (package
// authcode), not stored when issued: the store records a code when it is exchanged, under
// its ID (Hash), which makes it single-use.
type AuthCode struct {
	Hash           string // the code's ID: the key of its record once spent
	ClientID       string
	RedirectURI    string
	UserID         string
	LoginSessionID string
	Scope          []string
	CodeChallenge  string // S256
	Nonce          string
	AuthTime       time.Time
	AMR            []string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	UsedAt         time.Time // zero until exchanged
	SessionID      string    // the session the exchange started
}

// liveLoginSession is the condition of a live login session s (not ended, not expired, idle
// or not) stored under a cookie hash (the first parameter; then now twice) whose user u is not
// disabled. It repeats the partial index's predicate (a cookie hash that is not empty):
// neither database can tell that of a bound parameter, and without it both scanned every
// session.
const liveLoginSession = `s.cookie_hash = ? AND s.cookie_hash <> '' AND s.revoked_at = 0 AND s.expires_at > ?
 AND (s.idle_expires_at = 0 OR s.idle_expires_at > ?) AND u.disabled_at = 0`

// CodeExchange is what the caller decided for a presented code: the session to start (with its
// first refresh token) and the audit event written with it.
type CodeExchange struct {
	Session      Session
	TokenHash    string
	TokenExpires time.Time
	Audit        AuditEvent
}

// errCodeRaced: another exchange of the same code committed its record first.
var errCodeRaced = errors.New("authorization code exchanged concurrently")

// ExchangeCode spends code (opened from its seal) in one transaction: a code spent before
// revokes the session its first exchange started (queuing session.revoked), commits that, and
// returns ErrCodeReused with that session's ID in the returned code; otherwise decide checks
// the code (client, redirect URI, verifier, expiry: its error changes nothing and is
// returned) and returns the session to start, which is stored with the code's record, the
// user's row read for its claims (ErrNotFound when the user is gone). It returns the code and
// the user. Two exchanges of one code at once: one starts its session, the other finds the
// first's record and revokes that session.
func (s *Store) ExchangeCode(ctx context.Context, code AuthCode, now time.Time, decide func(AuthCode) (CodeExchange, error)) (AuthCode, User, error) {
	if s.db.WritableCTE() {
		if x, err := decide(code); err == nil {
			if u, ok, err := s.exchangeCodePG(ctx, code, now, x); ok || err != nil {
				code.UsedAt, code.SessionID = now, x.Session.ID
				return code, u, err
			}
		}
	}
	c, u, err := s.exchangeCode(ctx, code, now, decide)
	if errors.Is(err, errCodeRaced) { // the other exchange committed: this one is the replay
		c, u, err = s.exchangeCode(ctx, code, now, decide)
	}
	return c, u, err
}

// exchangeCodePG is a code's first exchange as one PostgreSQL statement, the decision x made
// already: the code's record, the user's last log-in, the session, its refresh token and the
// audit event, returning the user. A code recorded before (a replay, or a racing exchange)
// breaks the record's key and a user deleted since its foreign key: the statement then writes
// nothing and ok is false, for the transaction of exchangeCode to tell which.
func (s *Store) exchangeCodePG(ctx context.Context, code AuthCode, now time.Time, x CodeExchange) (User, bool, error) {
	ev, err := auditArgs(x.Audit)
	if err != nil {
		return User{}, false, fmt.Errorf("audit %s: %w", x.Audit.Event, err)
	}
	sess := x.Session
	sess.AuthTime = code.AuthTime
	args := []any{code.Hash, code.ClientID, code.RedirectURI, code.UserID, code.LoginSessionID, joined(code.Scope), code.CodeChallenge,
		code.Nonce, ms(code.AuthTime), joined(code.AMR), ms(code.CreatedAt), ms(code.ExpiresAt), ms(now), sess.ID}
	args = append(append(append(args, sessionArgs(sess, x.TokenExpires)...), x.TokenHash), ev...)
	ps, err := s.stmts.Get(ctx, `WITH rec AS (INSERT INTO authorization_codes (`+codeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)),
 login AS (UPDATE users SET last_login_at = $17 WHERE id = $4),
 sess AS (INSERT INTO sessions (`+sessionCols+`, cookie_hash, auth_time) VALUES ($15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)),
 tok AS (INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($30, $15, $17, $20)),
 aud AS (INSERT INTO audit_events (`+auditCols+`) VALUES ($31, $32, $33, $34, $35, $36, $37, $38))
SELECT `+userReadCols+`, `+userMFACol+` FROM users WHERE id = $4`)
	if err != nil {
		return User{}, false, classify(fmt.Errorf("exchange authorization code: %w", err))
	}
	var r userRow
	switch err := ps.QueryRowxContext(ctx, args...).StructScan(&r); {
	case db.IsUniqueViolation(err) || db.IsForeignKeyViolation(err) || errors.Is(err, sql.ErrNoRows):
		return User{}, false, nil
	case err != nil:
		return User{}, false, classify(fmt.Errorf("exchange authorization code: %w", err))
	}
	return r.user(), true, nil
}

// codeCols are the columns of a code's record.
const codeCols = `code_hash, client_id, redirect_uri, user_id, login_session_id, scope, code_challenge, nonce, auth_time, amr,
 created_at, expires_at, used_at, session_id`

func (s *Store) exchangeCode(ctx context.Context, code AuthCode, now time.Time, decide func(AuthCode) (CodeExchange, error)) (AuthCode, User, error) {
	var user User
	reused := false
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		reused, code.SessionID = false, ""
		err := tx.GetContext(ctx, &code.SessionID, s.q(`SELECT session_id FROM authorization_codes WHERE code_hash = ?`), code.Hash)
		if err == nil {
			reused = true
			if code.SessionID == "" {
				return nil
			}
			_, err := s.endSessions(ctx, tx, now, RevokeCodeReuse, `id = ? AND revoked_at = 0`, code.SessionID)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read authorization code: %w", err)
		}
		x, err := decide(code)
		if err != nil {
			return err
		}
		if user, err = s.getUser(ctx, tx, "id = ?", code.UserID); err != nil {
			return err
		}
		// ON CONFLICT: on PostgreSQL a concurrent exchange's uncommitted record makes this wait
		// for it, then insert nothing.
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO authorization_codes (`+codeCols+`)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code_hash) DO NOTHING`),
			code.Hash, code.ClientID, code.RedirectURI, code.UserID, code.LoginSessionID, joined(code.Scope), code.CodeChallenge,
			code.Nonce, ms(code.AuthTime), joined(code.AMR), ms(code.CreatedAt), ms(code.ExpiresAt), ms(now), x.Session.ID)
		if err = oneRow(res, err, errCodeRaced); err != nil {
			return err
		}
		x.Session.AuthTime = code.AuthTime
		if err := s.insertSession(ctx, tx, x.Session, x.TokenHash, x.TokenExpires); err != nil {
			return err
		}
		code.UsedAt, code.SessionID = now, x.Session.ID
		return s.audit(ctx, tx, x.Audit)
	})
	if err != nil {
		return AuthCode{}, User{}, err
	}
	if reused {
		return code, User{}, ErrCodeReused
	}
	return code, user, nil
}

// DeleteExpiredCodes deletes the codes that expired before cutoff (kept a while after their
// 60 s, so a late replay still finds the code and revokes its session), up to limit.
func (s *Store) DeleteExpiredCodes(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash FROM authorization_codes WHERE expires_at < ? LIMIT ?)`),
		ms(cutoff), limit)
	if err != nil {
		return 0, classify(fmt.Errorf("delete expired codes: %w", err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// LoginSession is a browser's session with the hosted pages.
type LoginSession struct {
	Session
	AuthTime time.Time
}

// CreateLoginSession stores a browser's login session (sess with its CookieHash and
// AuthTime), with the audit event of the login and the user's last log-in time, in one
// transaction.
func (s *Store) CreateLoginSession(ctx context.Context, sess Session, audit AuditEvent) error {
	return s.CreateSession(ctx, sess, "", time.Time{}, audit)
}

// LoginSessionForCode is LoginSessionByCookie without the user: the live login session's id,
// user, auth_time and amr (what a code carries), or ErrNotFound; one prepared statement, what
// an /authorize of a logged-in browser costs.
func (s *Store) LoginSessionForCode(ctx context.Context, cookieHash string, now time.Time) (LoginSession, error) {
	ps, err := s.stmts.Get(ctx, s.q(`SELECT s.id, s.user_id, s.auth_time, s.amr FROM sessions s JOIN users u ON u.id = s.user_id WHERE `+liveLoginSession))
	if err != nil {
		return LoginSession{}, classify(fmt.Errorf("read login session: %w", err))
	}
	var ls LoginSession
	var authTime int64
	var amr string
	err = ps.QueryRowxContext(ctx, cookieHash, ms(now), ms(now)).Scan(&ls.ID, &ls.UserID, &authTime, &amr)
	if errors.Is(err, sql.ErrNoRows) {
		return LoginSession{}, ErrNotFound
	}
	if err != nil {
		return LoginSession{}, classify(fmt.Errorf("read login session: %w", err))
	}
	ls.AuthTime, ls.AMR = fromMS(authTime), list(amr)
	ls.Session.AuthTime = ls.AuthTime
	return ls, nil
}

// LoginSessionByCookie returns the live login session stored under cookieHash with its user,
// or ErrNotFound (unknown, ended, expired, or its user disabled): one prepared statement, as
// every page of a logged-in browser reads it.
func (s *Store) LoginSessionByCookie(ctx context.Context, cookieHash string, now time.Time) (LoginSession, User, error) {
	ps, err := s.stmts.Get(ctx, s.q(`SELECT s.id, s.created_at, s.last_used_at, s.expires_at, s.client_id, s.auth_time, s.amr,
 u.id, u.username, u.email, u.version, u.roles, u.disabled_at, u.tokens_not_before
 FROM sessions s JOIN users u ON u.id = s.user_id WHERE `+liveLoginSession))
	if err != nil {
		return LoginSession{}, User{}, classify(fmt.Errorf("read login session: %w", err))
	}
	var ls LoginSession
	var u User
	var t [4]int64 // the session's created_at, last_used_at, expires_at, auth_time
	var disabled, notBefore int64
	var roles, amr string
	err = ps.QueryRowxContext(ctx, cookieHash, ms(now), ms(now)).Scan(&ls.ID, &t[0], &t[1], &t[2], &ls.ClientID, &t[3], &amr,
		&u.ID, &u.Username, &u.Email, &u.Version, &roles, &disabled, &notBefore)
	if errors.Is(err, sql.ErrNoRows) {
		return LoginSession{}, User{}, ErrNotFound
	}
	if err != nil {
		return LoginSession{}, User{}, classify(fmt.Errorf("read login session: %w", err))
	}
	u.Roles, u.DisabledAt, u.TokensNotBefore = roleList(roles), fromMS(disabled), fromMS(notBefore)
	ls.UserID, ls.AMR = u.ID, list(amr)
	ls.CreatedAt, ls.LastUsedAt, ls.ExpiresAt, ls.AuthTime = fromMS(t[0]), fromMS(t[1]), fromMS(t[2]), fromMS(t[3])
	ls.Session.AuthTime = ls.AuthTime
	return ls, u, nil
}
