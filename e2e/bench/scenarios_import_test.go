package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// importUsers is the size of the users import row.
const importUsers = 100_000

// importBatch is the batch size of both the import and its ceiling (the import's default).
const importBatch = 500

// importPhase measures `auth-server users import --jsonl` of importUsers users with bcrypt
// hashes (no hashing cost) into a fresh auth database, against a ceiling that bulk-inserts the
// same rows (users, sync events, deliveries) with the same driver and batch size into another
// fresh one; their runs alternate.
func (h *harness) importPhase(st storeCfg) error {
	hash, err := bcrypt.GenerateFromPassword([]byte("bench import password"), 4)
	if err != nil {
		return err
	}
	file := filepath.Join(h.dir, "import.jsonl")
	if err := writeImportFile(file, string(hash)); err != nil {
		return err
	}
	dead, err := FreePort()
	if err != nil {
		return err
	}
	sync := "http://" + dead + "/sync/users"
	name := fmt.Sprintf("users import --jsonl, %s users (bcrypt), batches of %d", num(importUsers, ""), importBatch)
	row := Row{Store: st.Name, Name: name, Conc: 1, Unit: "users/s"}
	ceil := Row{Store: st.Name, Name: fmt.Sprintf("bulk write of the same rows (users, events, deliveries; COPY on PostgreSQL), batches of %d, same driver|bulk-insert ceiling", importBatch),
		Where: cpuLabel(h.server), Unit: "users/s", Conc: 1, Paired: name}
	ceil.Name, ceil.Short, _ = strings.Cut(ceil.Name, "|")
	for run := range h.runs {
		url, err := h.freshAuthDB(st, sync, fmt.Sprintf("import-ceiling-%d", run))
		if err != nil {
			return err
		}
		f, err := RunCeilingJob(h.ctx, h.self, CeilingImport, h.server, []string{"BENCH_DB_URL=" + url,
			"BENCH_USERS=" + strconv.Itoa(importUsers), "BENCH_BATCH=" + strconv.Itoa(importBatch), "BENCH_HASH=" + string(hash), "BENCH_TARGET=" + sync})
		if err != nil {
			ceil.Err = err
			break
		}
		ceil.Fig.Runs = append(ceil.Fig.Runs, f.Runs...)
		r, err := h.importOnce(st, sync, file, fmt.Sprintf("import-%d", run))
		if err != nil {
			row.Err = err
			break
		}
		row.Fig.Runs = append(row.Fig.Runs, r)
	}
	h.addCeiling(ceil)
	if row.Err == nil && ceil.Err != nil {
		row.Err = fmt.Errorf("its ceiling failed: %w", ceil.Err)
	}
	if row.Err == nil {
		row.Checks = []Check{{What: "users/s", Target: fmt.Sprintf("≥ 0.5 × %s (%s)", ceil.Short, num(ceil.Fig.Rate(), ceil.Unit)),
			Got: row.Fig.Rate(), Want: 0.5 * ceil.Fig.Rate(), Unit: "users/s"}}
		row.Notes = append(row.Notes, "the import's time includes starting the process, reading and checking the file, and the per-batch lookup of users already present")
	}
	h.add(row)
	return nil
}

var importSummary = regexp.MustCompile(`(?m)^imported (\d+), skipped (\d+), already present (\d+)$`)

// importOnce imports file into a fresh auth database, timing the command.
func (h *harness) importOnce(st storeCfg, sync, file, name string) (Result, error) {
	url, err := h.freshAuthDB(st, sync, name)
	if err != nil {
		return Result{}, err
	}
	fresh := st
	fresh.AuthURL = url
	cmd := Command(h.ctx, h.server, h.bin+"/auth-server", "users", "import", "--jsonl", file, "--batch", strconv.Itoa(importBatch))
	cmd.Env, cmd.Dir = append(BaseEnv(), h.authEnv(fresh, sync)...), h.dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, fmt.Errorf("auth-server users import: %w: %s", err, lastLine(string(out)))
	}
	m := importSummary.FindStringSubmatch(string(out))
	if m == nil || m[1] != strconv.Itoa(importUsers) || m[2] != "0" || m[3] != "0" {
		return Result{}, fmt.Errorf("users import: want imported %d, skipped 0, already present 0; got %q", importUsers, lastLine(string(out)))
	}
	return Result{OK: importUsers, Elapsed: elapsed}, nil
}

// freshAuthDB makes an empty auth database of the store and migrates it (`auth-server migrate`).
func (h *harness) freshAuthDB(st storeCfg, sync, name string) (string, error) {
	url := "sqlite:" + filepath.Join(h.dir, name+".db")
	if st.Name == "PostgreSQL" {
		url = testdb.PostgresURL(h.b)
	}
	fresh := st
	fresh.AuthURL = url
	if _, err := h.cli(fresh, sync, "", "migrate"); err != nil {
		return "", err
	}
	return url, nil
}

// writeImportFile writes importUsers JSON lines, importUserName's users, all with hash.
func writeImportFile(path, hash string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range importUsers {
		n := importUserName(i)
		fmt.Fprintf(w, `{"username":%q,"email":%q,"password_hash":%q}`+"\n", n, n+"@bench.example", hash)
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
