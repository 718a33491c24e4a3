package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/db"
)

// ErrSessionEnded reports a rotation that lost a race with the revocation of its session (a
// logout committed between reading the session and writing it): nothing was changed.
var ErrSessionEnded = errors.New("session ended")

// errStale reports a compare-and-swap write whose row changed since it was read: the write
// was not applied, and the caller decides again under the row's lock.
var errStale = errors.New("refresh token changed since it was read")

// RefreshToken is a stored refresh token: only its hash, never the token.
type RefreshToken struct {
	Hash        string
	SessionID   string
	ParentHash  string // empty for the first token of a session
	CreatedAt   time.Time
	ExpiresAt   time.Time
	SpentAt     time.Time // zero while unspent
	ChildSealed string    // once spent: its child, sealed with a key only the token itself gives
}

// RefreshState is a presented token as found: the token, its session and the session's user
// (for the claims of the access token answered with it), and whether its child (if it was
// spent) has been spent too.
type RefreshState struct {
	Token      RefreshToken
	Session    Session
	User       User
	ChildSpent bool
}

// RefreshStep is the caller's decision on a presented token.
// Its Action is the refresh policy's outcome, which the store applies: refresh.Invalid changes
// nothing; refresh.Rotate spends the token, stores its child and touches the session;
// refresh.Replay changes nothing (the caller answers with the child it opens); refresh.Reuse
// revokes the session and writes the audit event, and commits: the caller then fails the
// request, but the revocation stays.
type RefreshStep struct {
	Action refresh.Outcome
	// Rotate: the child's hash and expiry, and the child sealed under the presented token.
	ChildHash    string
	ChildExpires time.Time
	ChildSealed  string
	// Reuse: the session's revoke reason and the audit event written with it.
	Reason string
	Audit  AuditEvent
}

// Refresh runs one refresh of the token stored under hash: it reads the token's state (token,
// session, user, child), asks decide, and applies its step atomically. An unknown hash gives
// ErrNotFound without calling decide; an error from decide changes nothing and is returned; a
// rotation whose session was revoked meanwhile gives ErrSessionEnded. The returned state is
// the one the applied step was decided on.
//
// An unspent token (the common rotation) is decided without a lock: its state is read in one
// statement, and a rotation is written as a compare-and-swap that applies only if the token is
// still unspent and its session still not revoked (the only fields of that state that change;
// the expiries never do); a step that writes nothing is final on that consistent read. A spent
// token (replay, reuse), and a rotation that lost its compare-and-swap, are decided in one
// transaction that locks the token's row before reading it (FOR UPDATE on PostgreSQL;
// SQLite's IMMEDIATE transaction holds the write lock), so concurrent refreshes of one token
// queue on the token's row and each sees the previous one's outcome. The lock order is always
// refresh_tokens row, then sessions row. decide may therefore run more than once, so it must
// only depend on its argument.
func (s *Store) Refresh(ctx context.Context, hash string, now time.Time, decide func(RefreshState) (RefreshStep, error)) (RefreshState, error) {
	ps, err := s.stmts.Get(ctx, s.refreshSelectSQL())
	if err != nil {
		return RefreshState{}, err
	}
	st, err := s.scanRefresh(ctx, s.db, ps.QueryRowxContext(ctx, hash), hash)
	if err != nil {
		return RefreshState{}, classify(err)
	}
	if st.Token.SpentAt.IsZero() {
		step, err := decide(st)
		if err != nil {
			return RefreshState{}, err
		}
		switch step.Action {
		case refresh.Invalid, refresh.Replay:
			return st, nil
		case refresh.Rotate:
			err := s.rotateIfUnchanged(ctx, st, step, now)
			if err == nil {
				return st, nil
			}
			if !errors.Is(err, errStale) {
				return RefreshState{}, classify(err)
			}
		}
	}
	return s.refreshLocked(ctx, hash, now, decide)
}

// refreshLocked is Refresh's transaction: lock the token's row, read, decide, apply.
func (s *Store) refreshLocked(ctx context.Context, hash string, now time.Time, decide func(RefreshState) (RefreshStep, error)) (RefreshState, error) {
	var out RefreshState
	err := s.inTxRetry(ctx, func(tx *sqlx.Tx) error {
		if err := s.lockRefresh(ctx, tx, hash); err != nil {
			return err
		}
		st, err := s.readRefresh(ctx, tx, hash)
		if err != nil {
			return err
		}
		step, err := decide(st)
		if err != nil {
			return err
		}
		out = st
		return s.applyRefresh(ctx, tx, st, step, now)
	})
	return out, err
}

// LookupRefresh returns the state of the token stored under hash without locking or changing
// anything, or ErrNotFound.
func (s *Store) LookupRefresh(ctx context.Context, hash string) (RefreshState, error) {
	st, err := s.readRefresh(ctx, s.db, hash)
	return st, classify(err)
}

// refreshSelect reads a token, its session and the session's user in one statement (so one
// consistent snapshot), by the token's hash. On PostgreSQL the same statement is the stored
// function refresh_state (db/functions.go), planned once per server connection, pooler or not.
const refreshSelect = `SELECT t.token_hash, t.session_id, t.parent_hash, t.created_at, t.expires_at, t.spent_at, t.child_sealed,
 s.user_id, s.created_at, s.last_used_at, s.expires_at, s.idle_expires_at, s.revoked_at, s.revoke_reason, s.user_agent, s.ip,
 s.client_id, s.scope, s.auth_time, s.amr,
 u.username, u.email, u.password_hash, u.version, u.created_at, u.updated_at, u.roles, u.disabled_at, u.tokens_not_before,
 u.email_verified
 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
 WHERE t.token_hash = ?`

// refreshSelectSQL is refreshSelect as this database runs it, rebound.
func (s *Store) refreshSelectSQL() string {
	if s.db.StoredFunctions() {
		return `SELECT * FROM refresh_state($1)`
	}
	return s.q(refreshSelect)
}

// childSpentSelect tells whether a spent token's child has been spent too. It is a statement
// of its own, run only for spent tokens (replays and reuse, not the common rotation): folded
// into refreshSelect as a subquery it costs SQLite more to prepare, on every refresh, than it
// saves on the few that need it.
const childSpentSelect = `SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND parent_hash = ? AND spent_at <> 0`

// lockRefresh locks the row of the token stored under hash, in tx, or gives ErrNotFound. On
// PostgreSQL it is a statement of its own (db.LockRow), so that the state read after it (in
// READ COMMITTED, a new snapshot per statement) includes everything committed before the lock
// was granted: the previous holder's spending and child. On SQLite the IMMEDIATE transaction
// already holds the write lock, and its snapshot starts after it.
func (s *Store) lockRefresh(ctx context.Context, tx *sqlx.Tx, hash string) error {
	err := s.db.LockRow(ctx, tx, s.q(`SELECT token_hash FROM refresh_tokens WHERE token_hash = ?`), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("lock refresh token: %w", err)
	}
	return nil
}

// readRefresh reads the state of the token stored under hash without locking anything, or
// gives ErrNotFound: the token, session and user in one statement, and for a spent token,
// whether its child was spent, in a second one.
func (s *Store) readRefresh(ctx context.Context, q sqlx.QueryerContext, hash string) (RefreshState, error) {
	return s.scanRefresh(ctx, q, q.QueryRowxContext(ctx, s.refreshSelectSQL(), hash), hash)
}

func (s *Store) scanRefresh(ctx context.Context, q sqlx.QueryerContext, row *sqlx.Row, hash string) (RefreshState, error) {
	var t [3]int64  // the token's created_at, expires_at, spent_at
	var ss [6]int64 // the session's created_at, last_used_at, expires_at, idle_expires_at, revoked_at, auth_time
	var u [4]int64  // the user's created_at, updated_at, disabled_at, tokens_not_before
	var scope, roles, amr string
	var verified int64
	var st RefreshState
	err := row.Scan(
		&st.Token.Hash, &st.Token.SessionID, &st.Token.ParentHash, &t[0], &t[1], &t[2], &st.Token.ChildSealed,
		&st.Session.UserID, &ss[0], &ss[1], &ss[2], &ss[3], &ss[4], &st.Session.RevokeReason, &st.Session.UserAgent, &st.Session.IP,
		&st.Session.ClientID, &scope, &ss[5], &amr,
		&st.User.Username, &st.User.Email, &st.User.PasswordHash, &st.User.Version, &u[0], &u[1], &roles, &u[2], &u[3],
		&verified)
	if errors.Is(err, sql.ErrNoRows) {
		return RefreshState{}, ErrNotFound
	}
	if err != nil {
		return RefreshState{}, fmt.Errorf("read refresh token: %w", err)
	}
	st.Token.CreatedAt, st.Token.ExpiresAt, st.Token.SpentAt = fromMS(t[0]), fromMS(t[1]), fromMS(t[2])
	st.Session.ID = st.Token.SessionID
	st.Session.CreatedAt, st.Session.LastUsedAt, st.Session.ExpiresAt = fromMS(ss[0]), fromMS(ss[1]), fromMS(ss[2])
	st.Session.IdleExpiresAt, st.Session.RevokedAt, st.Session.AuthTime = fromMS(ss[3]), fromMS(ss[4]), fromMS(ss[5])
	st.User.ID = st.Session.UserID
	st.User.CreatedAt, st.User.UpdatedAt, st.User.DisabledAt, st.User.TokensNotBefore = fromMS(u[0]), fromMS(u[1]), fromMS(u[2]), fromMS(u[3])
	st.Session.Scope, st.User.Roles = list(scope), roleList(roles)
	st.User.EmailVerified = verified != 0
	st.Session.AMR = list(amr)
	if t[2] != 0 {
		var n int
		if err := sqlx.GetContext(ctx, q, &n, s.q(childSpentSelect), st.Session.ID, hash); err != nil {
			return RefreshState{}, fmt.Errorf("read child token: %w", err)
		}
		st.ChildSpent = n > 0
	}
	return st, nil
}

func (s *Store) applyRefresh(ctx context.Context, tx *sqlx.Tx, st RefreshState, step RefreshStep, now time.Time) error {
	switch step.Action {
	case refresh.Rotate:
		return s.rotate(ctx, tx, st, step, now) // locked: errStale here is a bug, not a race
	case refresh.Reuse:
		if _, err := s.endSessions(ctx, tx, now, step.Reason, `id = ? AND revoked_at = 0`, st.Session.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, step.Audit)
	default:
		return nil
	}
}

// rotate spends the token if it is still unspent (errStale if not), touches its session if
// it is still not revoked (ErrSessionEnded if it is), and inserts the child, in tx. In that
// order: the token's row, then the session's, as everywhere.
func (s *Store) rotate(ctx context.Context, tx *sqlx.Tx, st RefreshState, step RefreshStep, now time.Time) error {
	res, err := s.txExec(ctx, tx, `UPDATE refresh_tokens SET spent_at = ?, child_sealed = ? WHERE token_hash = ? AND spent_at = 0`,
		ms(now), step.ChildSealed, st.Token.Hash)
	if err := oneRow(res, err, errStale); err != nil {
		return fmt.Errorf("spend refresh token: %w", err)
	}
	res, err = s.txExec(ctx, tx, `UPDATE sessions SET last_used_at = ?, idle_expires_at = ? WHERE id = ? AND revoked_at = 0`,
		ms(now), ms(step.ChildExpires), st.Session.ID)
	if err := oneRow(res, err, ErrSessionEnded); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if _, err := s.txExec(ctx, tx, `INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		step.ChildHash, st.Session.ID, st.Token.Hash, ms(now), ms(step.ChildExpires)); err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// oneRow is the error of an UPDATE expected to change one row: its own, or none when it
// changed no row.
func oneRow(res sql.Result, err, none error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}

// rotatePG is a rotation as one PostgreSQL statement, the stored function refresh_rotate
// (db/functions.go): it locks the token's row and its session's row (in that order) if the
// token is still unspent and the session still not revoked, and then spends the token, touches
// the session and inserts the child, returning 1; if either condition fails, it changes
// nothing and returns 0. $1 the token's hash, $2 now, $3 the sealed child, $4 the child's
// expiry, $5 the child's hash.
const rotatePG = `SELECT refresh_rotate($1, $2, $3, $4, $5)`

// rotateIfUnchanged applies a rotation decided on st, read without a lock, if the token is
// still unspent and its session still not revoked: on PostgreSQL as one statement (no
// transaction to open and commit), on SQLite in a short IMMEDIATE transaction of the writes
// alone. It returns errStale, having changed nothing, when either changed meanwhile (or when
// PostgreSQL aborted the statement to break a deadlock): the caller decides again under lock.
func (s *Store) rotateIfUnchanged(ctx context.Context, st RefreshState, step RefreshStep, now time.Time) error {
	if s.db.StoredFunctions() {
		n, err := s.stmts.ExecInt(ctx, rotatePG, st.Token.Hash, ms(now), step.ChildSealed, ms(step.ChildExpires), step.ChildHash)
		switch {
		case db.IsRetryable(err), err == nil && n == 0:
			return errStale
		case err != nil:
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		return nil
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.rotate(ctx, tx, st, step, now) })
	if errors.Is(err, ErrSessionEnded) {
		return errStale
	}
	return err
}

// maxTxAttempts bounds the attempts of a transaction that PostgreSQL aborted to resolve a
// conflict (serialization failure or deadlock).
const maxTxAttempts = 3

// inTxRetry is inTx, retried (db.InTxRetry) when the database refused the transaction only
// because of concurrent ones (db.IsRetryable): on PostgreSQL the victim of a serialization
// failure (40001) or a deadlock (40P01), on SQLite another process holding the write lock. All
// are safe to run again from the start; fn must therefore be free of side effects outside tx.
func (s *Store) inTxRetry(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return classify(s.db.InTxRetry(ctx, maxTxAttempts, fn))
}

func (s *Store) txExec(ctx context.Context, tx *sqlx.Tx, q string, args ...any) (sql.Result, error) {
	ps, err := s.stmts.Tx(ctx, tx, s.q(q))
	if err != nil {
		return nil, err
	}
	return ps.ExecContext(ctx, args...)
}
