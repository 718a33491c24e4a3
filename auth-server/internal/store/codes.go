package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Authorization codes (RFC 6749 §4.1, CONTRACT §12) and the browser's login sessions.

// ErrCodeReused: an authorization code was presented again. The session its first exchange
// started has been revoked (and the revocation committed) when this is returned.
var ErrCodeReused = errors.New("authorization code used twice")

// AuthCode is an issued authorization code, stored only as its hash.
type AuthCode struct {
	Hash           string
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

// CreateCode stores a new authorization code.
func (s *Store) CreateCode(ctx context.Context, c AuthCode) error {
	// Prepared once (every /authorize with a login session runs it).
	_, err := s.stmts.Exec(ctx, s.q(`INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, user_id, login_session_id,
 scope, code_challenge, nonce, auth_time, amr, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.Hash, c.ClientID, c.RedirectURI, c.UserID, c.LoginSessionID, joined(c.Scope), c.CodeChallenge, c.Nonce,
		ms(c.AuthTime), joined(c.AMR), ms(c.CreatedAt), ms(c.ExpiresAt))
	if err != nil {
		return classify(fmt.Errorf("insert authorization code: %w", err))
	}
	return nil
}

// liveLoginSession is the condition of a live login session s (not ended, not expired, idle
// or not) stored under a cookie hash (the first parameter; then now twice) whose user u is not
// disabled. It repeats the partial index's predicate (a cookie hash that is not empty):
// neither database can tell that of a bound parameter, and without it both scanned every
// session.
const liveLoginSession = `s.cookie_hash = ? AND s.cookie_hash <> '' AND s.revoked_at = 0 AND s.expires_at > ?
 AND (s.idle_expires_at = 0 OR s.idle_expires_at > ?) AND u.disabled_at = 0`

// CreateCodeInSession stores a new authorization code in the live login session stored under
// cookieHash (its user, session, auth_time and amr are the session's; c's are ignored), or
// gives ErrNotFound when there is none at c.CreatedAt: one prepared statement, what an
// /authorize of a logged-in browser costs.
func (s *Store) CreateCodeInSession(ctx context.Context, c AuthCode, cookieHash string) error {
	now := ms(c.CreatedAt)
	// CAST: PostgreSQL would type a bare parameter of a SELECT list as text.
	res, err := s.stmts.Exec(ctx, s.q(`INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, user_id, login_session_id,
 scope, code_challenge, nonce, auth_time, amr, created_at, expires_at)
 SELECT ?, ?, ?, s.user_id, s.id, ?, ?, ?, s.auth_time, s.amr, CAST(? AS BIGINT), CAST(? AS BIGINT)
 FROM sessions s JOIN users u ON u.id = s.user_id WHERE `+liveLoginSession),
		c.Hash, c.ClientID, c.RedirectURI, joined(c.Scope), c.CodeChallenge, c.Nonce, now, ms(c.ExpiresAt),
		cookieHash, now, now)
	switch err := oneRow(res, err, ErrNotFound); {
	case errors.Is(err, ErrNotFound):
		return ErrNotFound
	case err != nil:
		return classify(fmt.Errorf("insert authorization code: %w", err))
	}
	return nil
}

// CodeExchange is what the caller decided for a presented code: the session to start (with its
// first refresh token) and the audit event written with it.
type CodeExchange struct {
	Session      Session
	TokenHash    string
	TokenExpires time.Time
	Audit        AuditEvent
}

// ExchangeCode spends the code stored under hash, in one transaction that locks its row: an
// unknown code is ErrNotFound; a code used before revokes the session its first exchange
// started (queuing session.revoked), commits that, and returns ErrCodeReused; otherwise decide
// checks the code (client, redirect URI, verifier, expiry: its error changes nothing and is
// returned) and returns the session to start, which is stored with the code marked used, the
// user's user row read for its claims. It returns the code and the user.
func (s *Store) ExchangeCode(ctx context.Context, hash string, now time.Time, decide func(AuthCode) (CodeExchange, error)) (AuthCode, User, error) {
	var code AuthCode
	var user User
	reused := false
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		reused = false
		var err error
		if code, err = s.lockedCode(ctx, tx, hash); err != nil {
			return err
		}
		if !code.UsedAt.IsZero() {
			reused = true
			if code.SessionID == "" {
				return nil
			}
			_, err := s.endSessions(ctx, tx, now, RevokeCodeReuse, `id = ? AND revoked_at = 0`, code.SessionID)
			return err
		}
		x, err := decide(code)
		if err != nil {
			return err
		}
		if user, err = s.getUser(ctx, tx, "id = ?", code.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE authorization_codes SET used_at = ?, session_id = ? WHERE code_hash = ?`),
			ms(now), x.Session.ID, hash); err != nil {
			return fmt.Errorf("spend authorization code: %w", err)
		}
		x.Session.AuthTime = code.AuthTime
		if err := s.insertSession(ctx, tx, x.Session, x.TokenHash, x.TokenExpires); err != nil {
			return err
		}
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

func (s *Store) lockedCode(ctx context.Context, tx *sqlx.Tx, hash string) (AuthCode, error) {
	var r struct {
		ClientID       string `db:"client_id"`
		RedirectURI    string `db:"redirect_uri"`
		UserID         string `db:"user_id"`
		LoginSessionID string `db:"login_session_id"`
		Scope          string `db:"scope"`
		CodeChallenge  string `db:"code_challenge"`
		Nonce          string `db:"nonce"`
		AuthTime       int64  `db:"auth_time"`
		AMR            string `db:"amr"`
		CreatedAt      int64  `db:"created_at"`
		ExpiresAt      int64  `db:"expires_at"`
		UsedAt         int64  `db:"used_at"`
		SessionID      string `db:"session_id"`
	}
	err := sqlx.GetContext(ctx, tx, &r, s.q(`SELECT client_id, redirect_uri, user_id, login_session_id, scope, code_challenge, nonce,
 auth_time, amr, created_at, expires_at, used_at, session_id FROM authorization_codes WHERE code_hash = ?`+s.db.ForUpdate()), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return AuthCode{}, ErrNotFound
	}
	if err != nil {
		return AuthCode{}, fmt.Errorf("read authorization code: %w", err)
	}
	return AuthCode{Hash: hash, ClientID: r.ClientID, RedirectURI: r.RedirectURI, UserID: r.UserID, LoginSessionID: r.LoginSessionID,
		Scope: list(r.Scope), CodeChallenge: r.CodeChallenge, Nonce: r.Nonce, AuthTime: fromMS(r.AuthTime), AMR: list(r.AMR),
		CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMS(r.ExpiresAt), UsedAt: fromMS(r.UsedAt), SessionID: r.SessionID}, nil
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
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		if err := s.insertSession(ctx, tx, sess, "", time.Time{}); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
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
