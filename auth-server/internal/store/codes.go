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
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, user_id, login_session_id,
 scope, code_challenge, nonce, auth_time, amr, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.Hash, c.ClientID, c.RedirectURI, c.UserID, c.LoginSessionID, joined(c.Scope), c.CodeChallenge, c.Nonce,
		ms(c.AuthTime), joined(c.AMR), ms(c.CreatedAt), ms(c.ExpiresAt))
	if err != nil {
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
		if err := s.insertSession(ctx, tx, x.Session, x.TokenHash, x.TokenExpires); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET auth_time = ? WHERE id = ?`), ms(code.AuthTime), x.Session.ID); err != nil {
			return fmt.Errorf("insert session: %w", err)
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

// CreateLoginSession stores a browser's login session under the hash of its cookie, with the
// audit event of the login and the user's last log-in time, in one transaction.
func (s *Store) CreateLoginSession(ctx context.Context, sess Session, cookieHash string, audit AuditEvent) error {
	return s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		if err := s.insertSession(ctx, tx, sess, "", time.Time{}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET cookie_hash = ?, auth_time = ? WHERE id = ?`), cookieHash, ms(sess.CreatedAt), sess.ID); err != nil {
			return fmt.Errorf("insert login session: %w", err)
		}
		return s.audit(ctx, tx, audit)
	})
}

// LoginSessionByCookie returns the live login session stored under cookieHash with its user,
// or ErrNotFound (unknown, ended, expired, or its user disabled).
func (s *Store) LoginSessionByCookie(ctx context.Context, cookieHash string, now time.Time) (LoginSession, User, error) {
	var r struct {
		sessionRow
		AuthTime int64 `db:"auth_time"`
	}
	err := sqlx.GetContext(ctx, s.db, &r, s.q(`SELECT `+sessionCols+`, auth_time FROM sessions WHERE cookie_hash = ? AND `+liveSession),
		cookieHash, ms(now), ms(now))
	if errors.Is(err, sql.ErrNoRows) {
		return LoginSession{}, User{}, ErrNotFound
	}
	if err != nil {
		return LoginSession{}, User{}, classify(fmt.Errorf("read login session: %w", err))
	}
	u, err := s.UserByID(ctx, r.UserID)
	if err != nil {
		return LoginSession{}, User{}, err
	}
	if u.Disabled() {
		return LoginSession{}, User{}, ErrNotFound
	}
	return LoginSession{Session: r.session(), AuthTime: fromMS(r.AuthTime)}, u, nil
}
