package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/jwtauth/jwtauth/auth-server/internal/importer"
	"github.com/jwtauth/jwtauth/db"
)

const importUsage = "users import: want --jsonl FILE or --from-seed POSTGRES_URL, and maybe --dry-run, --batch N"

// importCommand runs `auth-server users import`, moving users in from the Python system's
// users_auth table (--from-seed) or a JSON-lines file (--jsonl), CONTRACT §14.
func importCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	o, err := parseCLIArgs("users import", args, []string{"dry-run"}, []string{"jsonl", "from-seed", "batch"})
	if err != nil {
		return err
	}
	file, seed := o.last("jsonl"), o.last("from-seed")
	if (file == "") == (seed == "") || len(o.args) > 0 {
		return errors.New(importUsage)
	}
	batch := 500
	if b := o.last("batch"); b != "" {
		if _, err := fmt.Sscan(b, &batch); err != nil || batch < 1 {
			return fmt.Errorf("users import: --batch %q is not a positive number", b)
		}
	}
	src, err := openImportSource(ctx, file, seed)
	if err != nil {
		return fmt.Errorf("users import: %w", err)
	}
	defer src.close()
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	progress := newImportProgress(stdout, src.total)
	sum, err := importer.New(a.store, importer.Config{Targets: cfg.SyncURLs, BatchSize: batch, DryRun: o.bools["dry-run"],
		Unit: src.unit, Progress: progress.update}).Run(ctx, src.records)
	progress.finish()
	return reportImport(stdout, sum, err, src.unit, o.bools["dry-run"], len(cfg.SyncURLs))
}

// reportImport prints the skipped records, a line on what happened, and the summary line.
func reportImport(stdout io.Writer, sum importer.Summary, err error, unit string, dryRun bool, targets int) error {
	for _, s := range sum.Skips {
		fmt.Fprintf(stdout, "skipped %s %d (username %q, email %q): %s\n", unit, s.Line, s.Username, s.Email, s.Reason)
	}
	if err != nil {
		fmt.Fprintf(stdout, "stopped: %s (run the import again to finish it)\n", sum)
		return fmt.Errorf("users import: %w", err)
	}
	switch {
	case dryRun:
		fmt.Fprintln(stdout, "dry run: nothing was written; an import now would give:")
	case sum.Imported == 0 && sum.Present > 0:
		fmt.Fprintln(stdout, "nothing to import: every valid user is already present")
	case sum.Imported > 0 && targets > 0:
		fmt.Fprintf(stdout, "queued %d users for sync to %d targets (a running auth server delivers them)\n", sum.Imported, targets)
	}
	fmt.Fprintln(stdout, sum)
	return nil
}

// importSource is where an import's records come from.
type importSource struct {
	records iter.Seq2[importer.Record, error]
	total   int    // records to read, -1 when unknown
	unit    string // what a record's Line is: "line" or "id"
	close   func()
}

// openImportSource opens the JSON-lines file, or the seed database and counts its users_auth.
func openImportSource(ctx context.Context, file, seed string) (importSource, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return importSource{}, err
		}
		return importSource{records: importer.ReadJSONL(f), total: -1, unit: "line", close: func() { _ = f.Close() }}, nil
	}
	d, err := db.Open(ctx, seed, 2)
	if err != nil {
		return importSource{}, fmt.Errorf("the seed database: %w", err)
	}
	total := 0
	if err := d.GetContext(ctx, &total, `SELECT count(*) FROM users_auth`); err != nil {
		_ = d.Close()
		return importSource{}, fmt.Errorf("the seed database's users_auth: %w", err)
	}
	return importSource{records: seedRecords(ctx, d.DB.DB), total: total, unit: "id", close: func() { _ = d.Close() }}, nil
}

// seedRecords yields the rows of the Python system's users_auth(id, username, email, hpass)
// in id order; a NULL reads as empty and is skipped as invalid.
func seedRecords(ctx context.Context, src *sql.DB) iter.Seq2[importer.Record, error] {
	return func(yield func(importer.Record, error) bool) {
		rows, err := src.QueryContext(ctx, `SELECT id, username, email, hpass FROM users_auth ORDER BY id`)
		if err != nil {
			yield(importer.Record{}, fmt.Errorf("read users_auth: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var id int
			var name, email, hash sql.NullString
			if err := rows.Scan(&id, &name, &email, &hash); err != nil {
				yield(importer.Record{}, fmt.Errorf("read users_auth: %w", err))
				return
			}
			if !yield(importer.Record{Line: id, Username: name.String, Email: email.String, PasswordHash: hash.String}, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(importer.Record{}, fmt.Errorf("read users_auth: %w", err))
		}
	}
}

// importProgress shows an import's progress: a bar when stdout is a terminal, else a plain
// line at most every few seconds.
type importProgress struct {
	out  io.Writer
	bar  *progressbar.ProgressBar // nil when not a terminal
	last time.Time
}

func newImportProgress(stdout io.Writer, total int) *importProgress {
	p := &importProgress{out: stdout, last: time.Now()}
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("importing users"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("users"), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *importProgress) update(s importer.Summary) {
	if p.bar != nil {
		_ = p.bar.Set(s.Read)
		return
	}
	if time.Since(p.last) >= 2*time.Second {
		p.last = time.Now()
		fmt.Fprintf(p.out, "progress: read %d, %s\n", s.Read, s)
	}
}

func (p *importProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
