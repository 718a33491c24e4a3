package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckPass(t *testing.T) {
	tests := []struct {
		c    Check
		want bool
	}{
		{Check{Got: 10, Want: 9}, true},
		{Check{Got: 8, Want: 9}, false},
		{Check{Got: 40, Want: 50, AtMost: true}, true},
		{Check{Got: 60, Want: 50, AtMost: true}, false},
	}
	for _, tt := range tests {
		if got := tt.c.Pass(); got != tt.want {
			t.Errorf("%+v: Pass = %v, want %v", tt.c, got, tt.want)
		}
	}
}

func TestNum(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{41.25, "req/s", "41.2 req/s"},
		{1700, "", "1,700"},
		{1234567.4, "tx/s", "1,234,567 tx/s"},
		{100, "", "100"},
	}
	for _, tt := range tests {
		if got := num(tt.v, tt.unit); got != tt.want {
			t.Errorf("num(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestWriteDocKeepsTheHandWrittenTop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "performance.md")
	rep := &Report{Started: time.Now(), Runs: 3, RunDur: time.Second, Rows: []Row{{
		Store: "SQLite", Name: "login", Conc: 16, Unit: "req/s",
		Fig:    Figure{Runs: []Result{{OK: 50, Elapsed: time.Second}}},
		Checks: []Check{{Target: "≥ 0.9 × hash ceiling", Got: 50, Want: 60, Unit: "req/s"}},
	}}}
	if err := WriteDoc(path, "# Default\n", rep); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(first), "# Default\n") || !strings.Contains(string(first), "**MISS**") {
		t.Fatalf("first write:\n%s", first)
	}
	edited := strings.Replace(string(first), "# Default\n", "# Hand-written\n\nMethod.\n", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	rep.Rows[0].Checks[0].Want = 40
	if err := WriteDoc(path, "# Default\n", rep); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	s := string(second)
	if !strings.HasPrefix(s, "# Hand-written\n\nMethod.\n") || strings.Count(s, Marker) != 1 || strings.Contains(s, "MISS") || !strings.Contains(s, "PASS") {
		t.Fatalf("second write:\n%s", s)
	}
}

func TestSummarizeGroupsByPackage(t *testing.T) {
	report := `# Samples: 100  of event 'cpu-clock:ppp'
#
    40.00%  auth-server        [.] golang.org/x/crypto/argon2.blamkaSSE4.abi0
    20.00%  auth-server        [.] golang.org/x/crypto/argon2.mixBlocksSSE2.abi0
    15.00%  auth-server        [.] runtime.mallocgc
    10.00%  [kernel.kallsyms]  [k] finish_task_switch.isra.0
     5.00%  auth-server        [.] encoding/json.appendString[go.shape.string]
     5.00%  auth-server        [.] p256MulInternal
     5.00%  auth-server        [.] net/http.(*conn).serve
`
	got := Summarize(report, 10, 2)
	for _, want := range []string{
		"60.00%  golang.org/x/crypto/argon2", "15.00%  runtime", "10.00%  kernel", "5.00%  encoding/json",
		"5.00%  auth-server (assembly, no package)", "5.00%  net/http", "40.00%  golang.org/x/crypto/argon2.blamkaSSE4.abi0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "runtime.mallocgc") {
		t.Errorf("more than 2 functions listed:\n%s", got)
	}
	if Summarize("# nothing\n", 10, 10) != "" {
		t.Error("a report without samples gives a summary")
	}
}
