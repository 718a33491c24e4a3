// Package importer moves users in from another system (CONTRACT §14): it checks each record
// by the rules of a signup, skips those whose lower-cased username or email collides with an
// earlier record (the Python system's table had no unique constraints) with the reason, and
// hands the rest to the store in batches, each one transaction with its sync events, so that
// an import run again (after it finished, or was killed) adds each user at most once. It
// knows neither HTTP nor SQL: records come from a reader (ReadJSONL, or the caller's), and the
// store decides what is already present.
package importer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// Record is one user as the other system had it.
type Record struct {
	// Line is where it came from: the line number of a JSON-lines file, the row id of a table.
	Line          int
	Username      string
	Email         string
	PasswordHash  string // argon2id PHC, or bcrypt $2a$, $2b$, $2y$
	EmailVerified bool
	Roles         []string
	// Err is set when the record could not be read at all (a line that is not JSON); it is
	// skipped with this reason.
	Err error
}

// Skip is a record that was not imported, and why.
type Skip struct {
	Line     int
	Username string
	Email    string
	Reason   string
}

// Summary is the outcome of an import.
type Summary struct {
	Read     int // records read
	Imported int // users created (with a dry run: that would be)
	Skipped  int // invalid or colliding records, listed in Skips
	Present  int // users already there from an earlier run
	Skips    []Skip
}

// String is the summary line: "imported N, skipped N, already present N".
func (s Summary) String() string {
	return fmt.Sprintf("imported %d, skipped %d, already present %d", s.Imported, s.Skipped, s.Present)
}

// Store is where users are imported to (store.Store).
type Store interface {
	ImportUsers(ctx context.Context, users []store.User, targets []string, now time.Time, dryRun bool) ([]store.ImportOutcome, error)
}

// Config configures an import. Every field but the store's targets may be left zero.
type Config struct {
	// Targets are the sync targets each imported user is queued for (SYNC_URLS).
	Targets []string
	// BatchSize is how many users go in one transaction: 500 by default, at most
	// store.ImportBatchLimit.
	BatchSize int
	// DryRun only reports: the same decisions, nothing written.
	DryRun bool
	// Now is the clock of created_at; time.Now by default.
	Now func() time.Time
	// Unit names what Record.Line counts in reasons: "line" (the default) or "id".
	Unit string
	// Progress, when set, is called after each batch with the running summary.
	Progress func(Summary)
}

// Importer runs one import; it is not safe for concurrent use.
type Importer struct {
	st      Store
	cfg     Config
	sum     Summary
	names   map[string]int // lower-cased username → the line that has it
	emails  map[string]int
	batch   []store.User
	batchOf []Record // the records of batch, same order
}

// New returns an importer into st.
func New(st Store, cfg Config) *Importer {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	cfg.BatchSize = min(cfg.BatchSize, store.ImportBatchLimit)
	if cfg.Unit == "" {
		cfg.Unit = "line"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Importer{st: st, cfg: cfg, names: map[string]int{}, emails: map[string]int{}}
}

// Run imports every record of records and returns the summary. A reader's error (records
// yielding a non-nil error) or a store error stops it: the batches already committed stay,
// and running the import again completes it.
func (im *Importer) Run(ctx context.Context, records iter.Seq2[Record, error]) (Summary, error) {
	for rec, err := range records {
		if err != nil {
			return im.sum, err
		}
		if err := im.add(ctx, rec); err != nil {
			return im.sum, err
		}
	}
	if err := im.flush(ctx); err != nil {
		return im.sum, err
	}
	return im.sum, nil
}

// add checks one record and queues it, flushing a full batch.
func (im *Importer) add(ctx context.Context, rec Record) error {
	im.sum.Read++
	u, reason := im.check(rec)
	if reason != "" {
		im.skip(rec, reason)
		return nil
	}
	im.names[u.Username], im.emails[u.Email] = rec.Line, rec.Line
	im.batch, im.batchOf = append(im.batch, u), append(im.batchOf, rec)
	if len(im.batch) >= im.cfg.BatchSize {
		return im.flush(ctx)
	}
	return nil
}

// check validates rec and looks for a collision with an earlier record; it returns the user
// to create, or why not.
func (im *Importer) check(rec Record) (store.User, string) {
	if rec.Err != nil {
		return store.User{}, rec.Err.Error()
	}
	u, err := account.ImportedUser(rec.Username, rec.Email, rec.Roles)
	switch {
	case errors.Is(err, account.ErrInvalidUsername):
		return store.User{}, "invalid username (want 3-32 of a-z 0-9 . _ -)"
	case errors.Is(err, account.ErrInvalidEmail):
		return store.User{}, "invalid email"
	case err != nil:
		return store.User{}, "invalid roles: " + err.Error()
	}
	if err := password.CheckHash(rec.PasswordHash); err != nil {
		return store.User{}, "unusable password hash: " + strings.TrimPrefix(err.Error(), password.ErrMalformedHash.Error()+": ")
	}
	if line, ok := im.names[u.Username]; ok {
		return store.User{}, fmt.Sprintf("username collides with that of %s (in letter case only, or exactly)", im.where(line))
	}
	if line, ok := im.emails[u.Email]; ok {
		return store.User{}, fmt.Sprintf("email collides with that of %s (in letter case only, or exactly)", im.where(line))
	}
	now := im.cfg.Now().UTC()
	u.ID, u.PasswordHash, u.Version, u.CreatedAt, u.UpdatedAt = uuid.NewString(), rec.PasswordHash, 1, now, now
	u.EmailVerified = rec.EmailVerified
	return u, ""
}

// flush hands the batch to the store and counts its outcomes.
func (im *Importer) flush(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	out, err := im.st.ImportUsers(ctx, im.batch, im.cfg.Targets, im.cfg.Now().UTC(), im.cfg.DryRun)
	if err != nil {
		return fmt.Errorf("import batch ending at %s: %w", im.where(im.batchOf[len(im.batchOf)-1].Line), err)
	}
	for i, o := range out {
		switch o {
		case store.Imported:
			im.sum.Imported++
		case store.AlreadyPresent:
			im.sum.Present++
		default:
			im.skip(im.batchOf[i], "username or email belongs to another user of the auth server")
		}
	}
	im.batch, im.batchOf = im.batch[:0], im.batchOf[:0]
	if im.cfg.Progress != nil {
		im.cfg.Progress(im.sum)
	}
	return nil
}

func (im *Importer) skip(rec Record, reason string) {
	im.sum.Skipped++
	im.sum.Skips = append(im.sum.Skips, Skip{Line: rec.Line, Username: rec.Username, Email: rec.Email, Reason: reason})
}

// where names a record by its line.
func (im *Importer) where(line int) string { return fmt.Sprintf("%s %d", im.cfg.Unit, line) }
