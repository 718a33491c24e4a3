package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/argon2"

	"github.com/jwtauth/jwtauth/db"
)

// The data generator: it fills fresh, migrated databases straight through SQL with as many
// users and sessions as a grown deployment holds, in the states the servers leave them in
// (COPY through lib/pq on PostgreSQL, multi-row INSERTs in large transactions on SQLite). It writes every
// column the servers' own inserts write (store.CreateUser, store.CreateSession, rotation;
// appstore's upsert), so the servers read its rows as their own.

// Per generated user: two live sessions (their tokens spent, rotated, expired or live, one
// session in ten revoked) holding genTokensPerUser refresh tokens.
const (
	genTokensPerUser   = 5
	genSessionsPerUser = 2
)

// The servers' defaults the generated times follow (SESSION_MAX_TTL, REFRESH_IDLE_TTL).
const (
	genSessionMax = 720 * time.Hour
	genIdle       = 168 * time.Hour
	day           = 24 * time.Hour
)

// genNamespace derives the generated users' ids, so the auth and the app database agree.
var genNamespace = uuid.MustParse("6f1d3c2a-8b7e-4c5d-9a0f-1e2d3c4b5a69")

// GenUserName is generated user i's username (its email is GenUserName(i)+"@scale.example").
func GenUserName(i int) string { return fmt.Sprintf("scale%07d", i) }

// GenUserID is generated user i's id: a UUID derived from i, the same in both databases.
func GenUserID(i int) string {
	return uuid.NewSHA1(genNamespace, strconv.AppendInt(nil, int64(i), 10)).String()
}

// genSessionID is the id of session k of user i (k 0 and 1 live, 2 ended).
func genSessionID(i, k int) string {
	return uuid.NewSHA1(genNamespace, fmt.Appendf(nil, "session %d %d", i, k)).String()
}

// genTokenHash is the stored hash of token j of session k of user i: the shape of
// opaque.Hash (base64url SHA-256), of a token no one holds.
func genTokenHash(i, k, j int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "gen token %d %d %d", i, k, j))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// genSealed stands for a spent token's sealed child (refresh.Seal: base64url of nonce,
// 43-byte token and tag), which only the token's holder could open.
var genSealed = func() string {
	b := make([]byte, 12+43+16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}()

// GenPasswordHash hashes password once with argon2id at params ("m=19456,t=2,p=1"), in the
// PHC form the auth server writes and verifies; every generated user gets the same hash.
func GenPasswordHash(password, params string) (string, error) {
	p, err := ParseArgon2(params)
	if err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// The columns the generator writes, as the servers' inserts write them.
var (
	genUserCols    = []string{"id", "username", "email", "password_hash", "version", "created_at", "updated_at", "roles", "disabled_at", "last_login_at", "email_verified", "tokens_not_before"}
	genSessionCols = []string{"id", "user_id", "created_at", "last_used_at", "expires_at", "idle_expires_at", "revoked_at", "revoke_reason", "user_agent", "ip", "client_id", "scope", "amr", "cookie_hash", "auth_time"}
	genTokenCols   = []string{"token_hash", "session_id", "parent_hash", "created_at", "expires_at", "spent_at", "child_sealed"}
	genAppUserCols = []string{"id", "username", "email", "version", "deleted", "created_at", "updated_at"}
)

const genScope = "openid profile email notes:read notes:write"

// GenCounts is what a fill wrote.
type GenCounts struct {
	Users, Sessions, Tokens int
}

// FillAuth writes users 0..n-1 into the migrated auth database d, every one with password
// hash, and their live sessions and refresh tokens (genSessionsPerUser and genTokensPerUser
// each), as of now.
func FillAuth(ctx context.Context, url string, n int, hash string, now time.Time) (GenCounts, error) {
	var c GenCounts
	err := bulkLoad(ctx, url, []string{"users", "sessions", "refresh_tokens"}, true, func(d *db.DB) error {
		return fillAuth(ctx, d, n, hash, now, &c)
	})
	return c, err
}

func fillAuth(ctx context.Context, d *db.DB, n int, hash string, now time.Time, c *GenCounts) error {
	err := genTable(ctx, d, "users", genUserCols, n, func(i int, emit func(...any) error) error {
		created := unixMS(now.Add(-60 * day).Add(time.Duration(i) * time.Millisecond))
		verified, disabled := 0, int64(0)
		if i%3 != 0 {
			verified = 1
		}
		if i%1000 == 999 {
			disabled = unixMS(now.Add(-day))
		}
		name := GenUserName(i)
		c.Users++
		return emit(GenUserID(i), name, name+"@scale.example", hash, 1, created, created, "", disabled,
			unixMS(sessionStart(i, 0, now)), verified, 0)
	})
	if err != nil {
		return err
	}
	err = genTable(ctx, d, "sessions", genSessionCols, n, func(i int, emit func(...any) error) error {
		for k := range genSessionsPerUser {
			created, last := sessionStart(i, k, now), lastUsed(i, k, now)
			revoked, reason := int64(0), ""
			if k == 0 && i%10 == 0 {
				revoked, reason = unixMS(last.Add(30*time.Second)), "logout"
			}
			c.Sessions++
			if err := emit(genSessionID(i, k), GenUserID(i), unixMS(created), unixMS(last), unixMS(created.Add(genSessionMax)),
				unixMS(last.Add(genIdle)), revoked, reason, "Mozilla/5.0 (X11; Linux x86_64) scale-bench", genIP(i), "first-party",
				genScope, "pwd", "", 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Session 0: three tokens (the first spent long ago and expired, the second spent at the
	// last use, the third live); session 1: two (one spent, one live).
	err = genTable(ctx, d, "refresh_tokens", genTokenCols, n, func(i int, emit func(...any) error) error {
		for k, chain := range [genSessionsPerUser]int{3, 2} {
			created, last := sessionStart(i, k, now), lastUsed(i, k, now)
			at := []time.Time{created, created.Add(last.Sub(created) / 2), last}[3-chain:]
			at[0] = created
			parent := ""
			for j, t := range at {
				spent, sealed := int64(0), ""
				if j < len(at)-1 {
					spent, sealed = unixMS(at[j+1]), genSealed
				}
				h := genTokenHash(i, k, j)
				c.Tokens++
				if err := emit(h, genSessionID(i, k), parent, unixMS(t), unixMS(t.Add(genIdle)), spent, sealed); err != nil {
					return err
				}
				parent = h
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return nil
}

// AddEndedSessions writes n sessions of users i%users that ended before now (one in two past
// SESSION_MAX_TTL, the others past their newest token's idle expiry), one unspent, expired
// refresh token each: what the session cleanup deletes.
func AddEndedSessions(ctx context.Context, url string, n, users int, now time.Time) error {
	return bulkLoad(ctx, url, []string{"sessions", "refresh_tokens"}, false, func(d *db.DB) error { return addEnded(ctx, d, n, users, now) })
}

func addEnded(ctx context.Context, d *db.DB, n, users int, now time.Time) error {
	err := genTable(ctx, d, "sessions", genSessionCols, n, func(i int, emit func(...any) error) error {
		created, expires, idle := endedTimes(i, now)
		return emit(genSessionID(i, 2), GenUserID(i%users), unixMS(created), unixMS(idle.Add(-genIdle)), unixMS(expires), unixMS(idle),
			0, "", "Mozilla/5.0 (X11; Linux x86_64) scale-bench", genIP(i), "first-party", genScope, "pwd", "", 0)
	})
	if err != nil {
		return err
	}
	err = genTable(ctx, d, "refresh_tokens", genTokenCols, n, func(i int, emit func(...any) error) error {
		_, _, idle := endedTimes(i, now)
		return emit(genTokenHash(i, 2, 0), genSessionID(i, 2), "", unixMS(idle.Add(-genIdle)), unixMS(idle), 0, "")
	})
	if err != nil {
		return err
	}
	return nil
}

// FillApp writes users 0..n-1 into the migrated app database d, as sync delivered them.
func FillApp(ctx context.Context, url string, n int, now time.Time) error {
	return bulkLoad(ctx, url, []string{"app_users"}, true, func(d *db.DB) error { return fillApp(ctx, d, n, now) })
}

func fillApp(ctx context.Context, d *db.DB, n int, now time.Time) error {
	err := genTable(ctx, d, "app_users", genAppUserCols, n, func(i int, emit func(...any) error) error {
		created := unixMS(now.Add(-60 * day).Add(time.Duration(i) * time.Millisecond))
		name := GenUserName(i)
		return emit(GenUserID(i), name, name+"@scale.example", 1, 0, created, created)
	})
	if err != nil {
		return err
	}
	return nil
}

// sessionStart and lastUsed are when live session k of user i began and was last refreshed:
// spread over the last 20 days and the last hour.
func sessionStart(i, k int, now time.Time) time.Time {
	return now.Add(-time.Duration(1+(i+7*k)%20) * day)
}

func lastUsed(i, k int, now time.Time) time.Time {
	return now.Add(-time.Duration((i*13+k*29)%3600+60) * time.Second)
}

// endedTimes are ended session i's start, absolute end and idle end.
func endedTimes(i int, now time.Time) (created, expires, idle time.Time) {
	if i%2 == 0 { // past SESSION_MAX_TTL
		created = now.Add(-time.Duration(31+i%5) * day)
		return created, created.Add(genSessionMax), now.Add(-time.Duration(2+i%3) * day)
	}
	created = now.Add(-time.Duration(10+i%5) * day) // idle for longer than REFRESH_IDLE_TTL
	return created, created.Add(genSessionMax), now.Add(-time.Duration(1+i%3) * day)
}

func genIP(i int) string { return fmt.Sprintf("198.51.%d.%d", (i>>8)&0xff, i&0xff) }

// bulkLoad opens the database at url on one connection for a bulk load and runs fill with
// foreign keys not checked row by row (the generator writes parents first and only rows whose
// parents exist; its test checks it) and, when dropIndexes (a fresh table), with the secondary
// indexes of tables dropped and built again afterwards, each in one sorted pass, from their
// own definitions as the migrations made them. It refreshes the planner's statistics at the
// end, as a grown database has them.
func bulkLoad(ctx context.Context, url string, tables []string, dropIndexes bool, fill func(d *db.DB) error) error {
	d, err := db.Open(ctx, url, 1)
	if err != nil {
		return err
	}
	defer d.Close()
	d.SetConnMaxIdleTime(0)
	if d.Dialect == db.SQLite {
		for _, p := range []string{"PRAGMA foreign_keys = OFF", "PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144"} {
			if _, err := d.ExecContext(ctx, p); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
	}
	var idx []index
	if dropIndexes {
		if idx, err = secondaryIndexes(ctx, d, tables); err != nil {
			return err
		}
	}
	for _, ix := range idx {
		if _, err := d.ExecContext(ctx, "DROP INDEX "+ix.Name); err != nil {
			return fmt.Errorf("drop index %s: %w", ix.Name, err)
		}
	}
	if err := fill(d); err != nil {
		return err
	}
	for _, ix := range idx {
		if _, err := d.ExecContext(ctx, ix.Def); err != nil {
			return fmt.Errorf("create index %s: %w", ix.Name, err)
		}
	}
	if d.Dialect == db.SQLite {
		if _, err := d.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return d.Analyze(ctx)
}

// index is a secondary index: its name and its CREATE INDEX statement.
type index struct{ Name, Def string }

// secondaryIndexes lists the indexes of tables that back no constraint (the primary keys stay).
func secondaryIndexes(ctx context.Context, d *db.DB, tables []string) ([]index, error) {
	var out []index
	for _, t := range tables {
		var idx []index
		q := `SELECT name AS "name", sql AS "def" FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`
		if d.Dialect == db.Postgres {
			q = `SELECT indexname AS "name", indexdef AS "def" FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1
 AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname`
		}
		if err := d.SelectContext(ctx, &idx, q, t); err != nil {
			return nil, fmt.Errorf("indexes of %s: %w", t, err)
		}
		out = append(out, idx...)
	}
	return out, nil
}

// genTable writes the rows that row(i, emit) emits for i in 0..n-1 into table: through COPY
// on PostgreSQL, in multi-row INSERTs on SQLite, committing every genCommitRows rows.
func genTable(ctx context.Context, d *db.DB, table string, cols []string, n int, row func(i int, emit func(...any) error) error) error {
	for from := 0; from < n; from += genCommitItems {
		to := min(from+genCommitItems, n)
		err := d.InTx(ctx, func(tx *sqlx.Tx) error {
			if d.Dialect == db.Postgres { // the foreign keys' triggers off: see bulkLoad
				if _, err := tx.ExecContext(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
					return err
				}
			}
			w, err := newBulkWriter(ctx, d, tx, table, cols)
			if err != nil {
				return err
			}
			for i := from; i < to; i++ {
				if err := row(i, w.add); err != nil {
					return err
				}
			}
			return w.close()
		})
		if err != nil {
			return fmt.Errorf("fill %s: %w", table, err)
		}
	}
	return nil
}

// genCommitItems is how many row(i) calls one transaction holds; genInsertRows how many
// rows one SQLite INSERT holds.
const (
	genCommitItems = 100_000
	genInsertRows  = 500
)

// bulkWriter writes the rows of one table in one transaction.
type bulkWriter struct {
	ctx   context.Context
	tx    *sqlx.Tx
	copy  *sqlx.Stmt // PostgreSQL: the COPY
	full  *sqlx.Stmt // SQLite: the INSERT of genInsertRows rows
	table string
	cols  []string
	args  []any
}

func newBulkWriter(ctx context.Context, d *db.DB, tx *sqlx.Tx, table string, cols []string) (*bulkWriter, error) {
	w := &bulkWriter{ctx: ctx, tx: tx, table: table, cols: cols}
	var err error
	if d.Dialect == db.Postgres {
		// lib/pq runs a prepared COPY … FROM STDIN as a copy (pq.CopyIn, deprecated, built this).
		w.copy, err = tx.PreparexContext(ctx, "COPY "+table+" ("+strings.Join(cols, ", ")+") FROM STDIN")
	} else {
		w.full, err = tx.PreparexContext(ctx, insertRowsSQL(table, cols, genInsertRows))
	}
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return w, nil
}

func (w *bulkWriter) add(vals ...any) error {
	if len(vals) != len(w.cols) {
		return fmt.Errorf("%s: %d values for %d columns", w.table, len(vals), len(w.cols))
	}
	if w.copy != nil {
		_, err := w.copy.ExecContext(w.ctx, vals...)
		return err
	}
	w.args = append(w.args, vals...)
	if len(w.args) < genInsertRows*len(w.cols) {
		return nil
	}
	_, err := w.full.ExecContext(w.ctx, w.args...)
	w.args = w.args[:0]
	return err
}

func (w *bulkWriter) close() error {
	if w.copy != nil {
		if _, err := w.copy.ExecContext(w.ctx); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		return w.copy.Close()
	}
	defer w.full.Close()
	if len(w.args) == 0 {
		return nil
	}
	_, err := w.tx.ExecContext(w.ctx, insertRowsSQL(w.table, w.cols, len(w.args)/len(w.cols)), w.args...)
	return err
}

// insertRowsSQL is an INSERT of rows rows of cols into table.
func insertRowsSQL(table string, cols []string, rows int) string {
	var b strings.Builder
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// ms is t in Unix milliseconds, the databases' time columns.
func unixMS(t time.Time) int64 { return t.UnixMilli() }
