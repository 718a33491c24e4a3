// Package envconf reads configuration the way both servers take it: each variable from a
// command-line flag of the same meaning, else the environment, else a .env file in the working
// directory, else its default. Typed getters collect the first bad value as an error that names
// the variable, so a process can refuse to start with one clear line.
package envconf

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Source answers the value of a variable, layering flags over the environment over .env.
type Source struct {
	flags  map[string]string
	getenv func(string) string
	dotenv map[string]string
	err    error
}

// FlagName is the command-line flag for a variable: AUTH_ADDR → auth-addr.
func FlagName(variable string) string {
	return strings.ToLower(strings.ReplaceAll(variable, "_", "-"))
}

// New parses args as flags named after vars (each `--name=value` or `--name value`), reads
// the .env file at dotenvPath if it exists, and returns the layered source. Positional
// arguments after the flags are returned too.
func New(vars []string, args []string, getenv func(string) string, dotenvPath string, stderr io.Writer) (*Source, []string, error) {
	fs := flag.NewFlagSet("flags", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := make(map[string]*string, len(vars))
	for _, v := range vars {
		vals[v] = fs.String(FlagName(v), "", "same as the "+v+" environment variable")
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	s := &Source{flags: map[string]string{}, getenv: getenv, dotenv: map[string]string{}}
	fs.Visit(func(f *flag.Flag) {
		for v, p := range vals {
			if FlagName(v) == f.Name {
				s.flags[v] = *p
			}
		}
	})
	if dotenvPath != "" {
		m, err := ReadDotenv(dotenvPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		s.dotenv = m
	}
	return s, fs.Args(), nil
}

// Lookup returns the variable's value and whether any layer set it.
func (s *Source) Lookup(name string) (string, bool) {
	if v, ok := s.flags[name]; ok {
		return v, true
	}
	if v := s.getenv(name); v != "" {
		return v, true
	}
	v, ok := s.dotenv[name]
	return v, ok
}

// Err returns the first bad value met by the typed getters, naming its variable.
func (s *Source) Err() error { return s.err }

func (s *Source) fail(name, format string, a ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("%s: "+format, append([]any{name}, a...)...)
	}
}

// String returns the variable or def.
func (s *Source) String(name, def string) string {
	if v, ok := s.Lookup(name); ok {
		return strings.TrimSpace(v)
	}
	return def
}

// Duration returns the variable parsed as a Go duration ("15m", "168h"), or def; a negative
// duration is refused.
func (s *Source) Duration(name string, def time.Duration) time.Duration {
	v, ok := s.Lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		s.fail(name, "invalid duration %q (want e.g. 15m, 168h)", v)
		return def
	}
	return d
}

// Int returns the variable as an integer of at least min, or def.
func (s *Source) Int(name string, def, min int) int {
	v, ok := s.Lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min {
		s.fail(name, "invalid value %q (want an integer >= %d)", v, min)
		return def
	}
	return n
}

// Time returns the variable parsed as an RFC 3339 time, or the zero time when unset.
func (s *Source) Time(name string) time.Time {
	v, ok := s.Lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		s.fail(name, "invalid time %q (want RFC 3339, e.g. 2026-12-31T00:00:00Z)", v)
	}
	return t
}

// List returns the comma-separated variable as trimmed, non-empty items, or def.
func (s *Source) List(name string, def []string) []string {
	v, ok := s.Lookup(name)
	if !ok {
		return def
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Check records err against name when err is not nil, for validations the getters cannot do.
func (s *Source) Check(name string, err error) {
	if err != nil {
		s.fail(name, "%v", err)
	}
}

// ReadDotenv parses a .env file: KEY=VALUE lines, optional "export ", single or double quotes,
// '#' comments, and spaces around '=' (as in the Python system's files).
func ReadDotenv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		out[strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
			return v[1 : end+1]
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

// DatabaseURL returns PREFIX_DATABASE_URL, else a PostgreSQL URL built from the Python
// system's PREFIX_HOST, _PORT, _USER, _PWD and _DB when PREFIX_HOST is set, else def.
func (s *Source) DatabaseURL(prefix, def string) string {
	if v := s.String(prefix+"_DATABASE_URL", ""); v != "" {
		return v
	}
	host := s.String(prefix+"_HOST", "")
	if host == "" {
		return def
	}
	u := url.URL{Scheme: "postgres", Host: host, Path: "/" + s.String(prefix+"_DB", "postgres"), RawQuery: "sslmode=disable"}
	if port := s.String(prefix+"_PORT", ""); port != "" {
		u.Host = host + ":" + port
	}
	if user := s.String(prefix+"_USER", ""); user != "" {
		if pwd, ok := s.Lookup(prefix + "_PWD"); ok {
			u.User = url.UserPassword(user, strings.TrimSpace(pwd))
		} else {
			u.User = url.User(user)
		}
	}
	return u.String()
}
