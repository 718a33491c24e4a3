package envconf

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLayering(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	content := "# seed style\nSECRET_KEY=\"from dotenv\"\nAPP_HOST =\"app_db\"\nexport A_TTL='5m'\nB=plain # comment\nC=flagged\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"A_TTL": "7m", "C": "env"}
	s, rest, err := New([]string{"SECRET_KEY", "APP_HOST", "A_TTL", "B", "C"}, []string{"--c=flag", "serve"},
		func(k string) string { return env[k] }, path, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 1 || rest[0] != "serve" {
		t.Errorf("rest = %v", rest)
	}
	for name, want := range map[string]string{"SECRET_KEY": "from dotenv", "APP_HOST": "app_db", "B": "plain", "C": "flag"} {
		if got := s.String(name, ""); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := s.Duration("A_TTL", 0); got != 7*time.Minute {
		t.Errorf("A_TTL = %v, want env to win over .env", got)
	}
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	env := map[string]string{"TTL": "soon", "N": "-3", "WHEN": "tomorrow"}
	for _, tc := range []struct {
		name string
		get  func(s *Source)
	}{
		{"TTL", func(s *Source) { s.Duration("TTL", 0) }},
		{"N", func(s *Source) { s.Int("N", 1, 1) }},
		{"WHEN", func(s *Source) { s.Time("WHEN") }},
	} {
		s, _, err := New(nil, nil, func(k string) string { return env[k] }, "", io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		tc.get(s)
		if s.Err() == nil || !strings.HasPrefix(s.Err().Error(), tc.name+":") {
			t.Errorf("%s: err = %v, want one naming the variable", tc.name, s.Err())
		}
	}
}
