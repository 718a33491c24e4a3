package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/argon2"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// ChildEnv names the variable that makes the bench's test binary run a ceiling instead of
// the benchmarks, so a ceiling runs as its own process, pinned like the server it bounds.
const ChildEnv = "JWTAUTH_BENCH_CHILD"

// The ceilings a child process runs.
const (
	CeilingHello     = "hello"     // serves a bare hello handler
	CeilingVerify    = "verify"    // serves a bare go-jose verify handler
	CeilingHash      = "hash"      // argon2id hashes per second on all of its CPUs
	CeilingRefreshTx = "refreshtx" // the refresh-shaped transaction at a concurrency
)

// CeilingListening is the msg of the log line of a ceiling server, like the servers' own.
const CeilingListening = "ceiling listening"

// RunChild runs the ceiling named mode with its parameters from getenv, writing results (the
// JSON of a []Result) to stdout and its listening line to stderr. It returns when a job is
// done, or when a server gets SIGTERM.
func RunChild(mode string, getenv func(string) string, stdout, stderr io.Writer) error {
	switch mode {
	case CeilingHello:
		return serveCeiling(stderr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "hello\n")
		}))
	case CeilingVerify:
		key, err := parsePublicJWK([]byte(getenv("BENCH_JWK")))
		if err != nil {
			return err
		}
		return serveCeiling(stderr, verifyHandler(key, getenv("BENCH_ISSUER"), strings.Split(getenv("BENCH_AUDIENCE"), ",")))
	case CeilingHash:
		p, err := ParseArgon2(getenv("BENCH_ARGON2"))
		if err != nil {
			return err
		}
		return runJob(getenv, stdout, func(int) (Op, error) { return hashOp(p), nil }, runtime.GOMAXPROCS(0))
	case CeilingRefreshTx:
		return runRefreshTx(getenv, stdout)
	case CeilingAwesome:
		key, err := parsePublicJWK([]byte(getenv("BENCH_JWK")))
		if err != nil {
			return err
		}
		h, d, err := awesomeHandler(getenv, bareVerifier(key, getenv("BENCH_ISSUER"), strings.Split(getenv("BENCH_AUDIENCE"), ",")))
		if err != nil {
			return err
		}
		defer d.Close()
		return serveCeiling(stderr, h)
	case CeilingSign:
		h, err := signHandler(getenv)
		if err != nil {
			return err
		}
		return serveCeiling(stderr, h)
	case CeilingImport:
		return runImportCeiling(getenv, stdout)
	case CeilingSyncUpsert:
		return runSyncUpsertCeiling(getenv, stdout)
	case CeilingMFA:
		h, err := mfaHandler(getenv)
		if err != nil {
			return err
		}
		return serveCeiling(stderr, h)
	case CeilingSearch:
		h, d, err := searchHandler(getenv)
		if err != nil {
			return err
		}
		defer d.Close()
		return serveCeiling(stderr, h)
	}
	return fmt.Errorf("unknown ceiling %q", mode)
}

func serveCeiling(stderr io.Writer, h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	slog.New(slog.NewJSONHandler(stderr, nil)).Info(CeilingListening, "addr", ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// verifyHandler verifies the Bearer token with go-jose alone (ES256, the expected iss and aud,
// exp/nbf/iat with 30 s leeway) and answers its claims as JSON: /whoami without the service.
func verifyHandler(key jose.JSONWebKey, issuer string, audience []string) http.Handler {
	verify := bareVerifier(key, issuer, audience)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := verify(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c)
	})
}

// bareVerifier returns the ceilings' token check: go-jose alone, ES256, the expected iss and
// aud, exp/nbf/iat with the default leeway. It answers 401 itself when the token fails.
func bareVerifier(key jose.JSONWebKey, issuer string, audience []string) func(w http.ResponseWriter, r *http.Request) (accesstoken.Payload, bool) {
	algs := []jose.SignatureAlgorithm{jose.ES256}
	return func(w http.ResponseWriter, r *http.Request) (accesstoken.Payload, bool) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok, err := jwt.ParseSigned(raw, algs)
		var c accesstoken.Payload
		if ok && err == nil {
			err = tok.Claims(key, &c)
		}
		if ok && err == nil {
			jc := jwt.Claims{Issuer: c.Issuer, Audience: c.Audience, Expiry: c.Expiry, NotBefore: c.NotBefore, IssuedAt: c.IssuedAt}
			err = jc.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: audience, Time: time.Now()}, accesstoken.DefaultLeeway)
		}
		if !ok || err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return accesstoken.Payload{}, false
		}
		return c, true
	}
}

// Argon2 are argon2id cost parameters, as ARGON2_PARAMS gives them.
type Argon2 struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// ParseArgon2 parses "m=19456,t=2,p=1".
func ParseArgon2(s string) (Argon2, error) {
	var p Argon2
	for part := range strings.SplitSeq(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return p, fmt.Errorf("argon2 params %q: bad %s", s, k)
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			p.Threads = uint8(min(n, 255))
		default:
			return p, fmt.Errorf("argon2 params %q: unknown %q", s, k)
		}
	}
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return p, fmt.Errorf("argon2 params %q: want m, t and p", s)
	}
	return p, nil
}

func hashOp(p Argon2) Op {
	salt := make([]byte, 16)
	return func() error {
		_, _ = rand.Read(salt)
		_ = argon2.IDKey([]byte("correct horse battery"), salt, p.Time, p.Memory, p.Threads, 32)
		return nil
	}
}

// runJob runs BENCH_RUNS loads of BENCH_DUR at concurrency conc and prints their results.
func runJob(getenv func(string) string, stdout io.Writer, worker func(int) (Op, error), conc int) error {
	dur, err := time.ParseDuration(getenv("BENCH_DUR"))
	if err != nil {
		return fmt.Errorf("BENCH_DUR: %w", err)
	}
	runs, err := strconv.Atoi(getenv("BENCH_RUNS"))
	if err != nil || runs < 1 {
		return fmt.Errorf("BENCH_RUNS: bad %q", getenv("BENCH_RUNS"))
	}
	f, err := Measure(runs, func() (Result, error) {
		return Run(context.Background(), Load{Concurrency: conc, Duration: dur, Worker: worker})
	})
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(f.Runs)
}

// runRefreshTx measures the refresh-shaped transaction: lock the token row by hash, mark it
// spent, insert the child; BENCH_CONC workers each follow their own chain through a pool of
// BENCH_POOL connections (the server's DB_MAX_CONNS), on BENCH_DB_URL.
func runRefreshTx(getenv func(string) string, stdout io.Writer) error {
	ctx := context.Background()
	conc, err := strconv.Atoi(getenv("BENCH_CONC"))
	if err != nil || conc < 1 {
		return fmt.Errorf("BENCH_CONC: bad %q", getenv("BENCH_CONC"))
	}
	pool, _ := strconv.Atoi(getenv("BENCH_POOL"))
	d, err := db.Open(ctx, getenv("BENCH_DB_URL"), pool)
	if err != nil {
		return err
	}
	defer d.Close()
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS bench_refresh (token_hash TEXT PRIMARY KEY, parent_hash TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, spent_at BIGINT NOT NULL DEFAULT 0)`,
		`CREATE INDEX IF NOT EXISTS bench_refresh_parent_idx ON bench_refresh (parent_hash)`,
	} {
		if _, err := d.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
	}
	heads := make([]string, conc)
	for i := range heads {
		heads[i] = newHash()
		if _, err := d.ExecContext(ctx, d.Rebind(`INSERT INTO bench_refresh (token_hash, created_at) VALUES (?, ?)`), heads[i], time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	worker := func(i int) (Op, error) {
		return func() error {
			child, err := refreshTx(ctx, d, heads[i])
			if err == nil {
				heads[i] = child
			}
			return err
		}, nil
	}
	return runJob(getenv, stdout, worker, conc)
}

func refreshTx(ctx context.Context, d *db.DB, hash string) (string, error) {
	child := newHash()
	err := d.InTx(ctx, func(tx *sqlx.Tx) error {
		var spent int64
		if err := tx.GetContext(ctx, &spent, d.Rebind(`SELECT spent_at FROM bench_refresh WHERE token_hash = ?`+d.ForUpdate()), hash); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		now := time.Now().UnixMilli()
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE bench_refresh SET spent_at = ? WHERE token_hash = ? AND spent_at = 0`), now, hash); err != nil {
			return fmt.Errorf("spend: %w", err)
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO bench_refresh (token_hash, parent_hash, created_at) VALUES (?, ?, ?)`), child, hash, now); err != nil {
			return fmt.Errorf("insert child: %w", err)
		}
		return nil
	})
	return child, err
}

func newHash() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// RunCeilingJob runs a job ceiling (hash, refreshtx) as a child process of self, the test
// binary, on cpus, and returns its runs.
func RunCeilingJob(ctx context.Context, self, mode, cpus string, env []string) (Figure, error) {
	cmd := Command(ctx, cpus, self)
	cmd.Env = append(append(BaseEnv(), ChildEnv+"="+mode), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Figure{}, fmt.Errorf("ceiling %s: %w: %s", mode, err, strings.TrimSpace(stderr.String()))
	}
	var f Figure
	if err := json.Unmarshal(out, &f.Runs); err != nil {
		return Figure{}, fmt.Errorf("ceiling %s: output %q: %w", mode, out, err)
	}
	return f, nil
}
