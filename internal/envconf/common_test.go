package envconf

import (
	"io"
	"strings"
	"testing"
	"time"
)

// source is a Source over env alone (no flags, no .env).
func source(t testing.TB, env map[string]string) *Source {
	t.Helper()
	s, _, err := New(CommonVars(), nil, func(k string) string { return env[k] }, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The shared variables are held to one set of rules, whichever server reads them.
func TestCommonRefusesBadValues(t *testing.T) {
	secret := strings.Repeat("s", MinSecretKey)
	for _, tc := range []struct {
		name     string
		env      map[string]string
		variable string // "" when the configuration is valid
	}{
		{"defaults", nil, ""},
		{"HS256", map[string]string{"ALGORITHM": "hs256", "SECRET_KEY": secret}, ""},
		{"https issuer", map[string]string{"AUTH_ISSUER": "https://auth.example/"}, ""},
		{"issuer not a URL", map[string]string{"AUTH_ISSUER": "not a url"}, "AUTH_ISSUER"},
		{"issuer not http", map[string]string{"AUTH_ISSUER": "ftp://auth.example"}, "AUTH_ISSUER"},
		{"issuer without host", map[string]string{"AUTH_ISSUER": "http://"}, "AUTH_ISSUER"},
		{"audience empty", map[string]string{"AUTH_AUDIENCE": " , "}, "AUTH_AUDIENCE"},
		{"algorithm", map[string]string{"ALGORITHM": "HS512"}, "ALGORITHM"},
		{"HS256 without secret", map[string]string{"ALGORITHM": "HS256"}, "SECRET_KEY"},
		{"HS256 short secret", map[string]string{"ALGORITHM": "HS256", "SECRET_KEY": secret[1:]}, "SECRET_KEY"},
		{"pool", map[string]string{"DB_MAX_CONNS": "0"}, "DB_MAX_CONNS"},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"prepared statements off", map[string]string{"DB_PREPARED_STATEMENTS": "off"}, ""},
		{"prepared statements", map[string]string{"DB_PREPARED_STATEMENTS": "sometimes"}, "DB_PREPARED_STATEMENTS"},
		{"trusted proxies", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8,192.0.2.7"}, ""},
		{"trusted proxies bad CIDR", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.0/33"}, "TRUSTED_PROXIES"},
		{"trusted proxies not an address", map[string]string{"TRUSTED_PROXIES": "proxy.local"}, "TRUSTED_PROXIES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := source(t, tc.env)
			s.Common()
			err := s.Err()
			if tc.variable == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.variable != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.variable+": ") || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("err = %v, want one line naming %s", err, tc.variable)
			}
		})
	}
}

func TestCommonDefaultsAndNormalisation(t *testing.T) {
	c := source(t, nil).Common()
	if c.Issuer != "http://localhost:8080" || len(c.Audience) != 1 || c.Audience[0] != "resource-server" ||
		c.Algorithm != "ES256" || c.SecretKey != nil || c.DBMaxConns != 16 || c.LogLevel != "info" || c.DataDir != "data" {
		t.Errorf("defaults = %+v", c)
	}
	c = source(t, map[string]string{"AUTH_ISSUER": "https://a.example/", "ALGORITHM": "eddsa", "LOG_LEVEL": "DEBUG",
		"AUTH_AUDIENCE": "a, b", "SECRET_KEY": "k"}).Common()
	if c.Issuer != "https://a.example" || c.Algorithm != "EdDSA" || c.LogLevel != "debug" || len(c.Audience) != 2 || string(c.SecretKey) != "k" {
		t.Errorf("normalised = %+v", c)
	}
	if !c.Logger(io.Discard).Enabled(t.Context(), -4) {
		t.Error("LOG_LEVEL=debug logger does not log debug")
	}
}

func TestClockLeeway(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		bad   bool
	}{
		{"", 30 * time.Second, false},
		{"0s", 0, false},
		{"5m", 5 * time.Minute, false},
		{"6m", 0, true},
		{"-1s", 0, true},
		{"soon", 0, true},
	} {
		s := source(t, map[string]string{"CLOCK_LEEWAY": tc.value})
		got := s.ClockLeeway()
		if bad := s.Err() != nil; bad != tc.bad || !bad && got != tc.want {
			t.Errorf("CLOCK_LEEWAY=%q: %v, %v", tc.value, got, s.Err())
		}
		if tc.bad && !strings.HasPrefix(s.Err().Error(), "CLOCK_LEEWAY: ") {
			t.Errorf("CLOCK_LEEWAY=%q: err %v does not name it", tc.value, s.Err())
		}
	}
}

func TestLoadAndCommand(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	// A server's list may name shared variables too (each is one flag all the same).
	src, c, rest, err := Load([]string{"OWN_VAR", "AUTH_ISSUER"}, []string{"--own-var=x", "--auth-issuer", "https://a.example", "keys", "list"},
		func(string) string { return "" }, io.Discard)
	if err != nil || src.Err() != nil {
		t.Fatal(err, src.Err())
	}
	if c.Issuer != "https://a.example" || src.String("OWN_VAR", "") != "x" {
		t.Errorf("issuer %q, OWN_VAR %q", c.Issuer, src.String("OWN_VAR", ""))
	}
	if cmd, args := Command(rest, "serve"); cmd != "keys" || strings.Join(args, " ") != "list" {
		t.Errorf("Command(%q) = %q %q", rest, cmd, args)
	}
	if cmd, args := Command(nil, "serve"); cmd != "serve" || len(args) != 0 {
		t.Errorf("Command(nil) = %q %q", cmd, args)
	}
	for args, want := range map[string]bool{"-h": true, "keys --help": true, "help": true, "serve": false, "--helpful": false} {
		if got := WantsHelp(strings.Fields(args)); got != want {
			t.Errorf("WantsHelp(%q) = %v", args, got)
		}
	}
}
