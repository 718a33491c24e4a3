package server_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// metricValue returns the value of the first sample of /metrics whose line matches pattern
// (a regexp for the name and labels), or -1.
func metricValue(raw []byte, pattern string) float64 {
	m := regexp.MustCompile(`(?m)^` + pattern + ` ([0-9.e+-]+)$`).FindSubmatch(raw)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// A short flow moves the metrics an operator watches.
func TestMetricsMove(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	e := newEnv(t, d)
	e.metrics.WatchKeys(e.ring.StateCounts)
	e.signup("mona", "mona@example.com", "password1")
	ok := e.login("mona", "password1")
	e.login("mona", "wrong-pass")
	e.do("POST", "/refresh", map[string]string{"refresh_token": ok.str("refresh_token")})
	e.do("POST", "/refresh", map[string]string{"refresh_token": "unknown"})
	e.do("GET", "/.well-known/jwks.json", nil)

	raw := e.do("GET", "/metrics", nil).Raw
	for _, c := range []struct {
		pattern string
		want    float64
	}{
		{`auth_logins_total\{outcome="success"\}`, 1},
		{`auth_logins_total\{outcome="failure"\}`, 1},
		{`auth_refreshes_total\{outcome="rotated"\}`, 1},
		{`auth_refreshes_total\{outcome="invalid"\}`, 1},
		{`auth_tokens_issued_total\{alg="ES256",kid="` + e.ring.CurrentKID() + `"\}`, 3},
		{`auth_http_requests_total\{method="POST",route="/signup",status="201"\}`, 1},
		{`auth_http_requests_total\{method="POST",route="/login",status="401"\}`, 1},
		{`auth_http_requests_total\{method="GET",route="/.well-known/jwks.json",status="200"\}`, 1},
		{`auth_signing_keys\{state="current"\}`, 2}, // ES256 and RS256 (ID tokens)
		{`auth_signing_keys\{state="next"\}`, 2},
	} {
		if got := metricValue(raw, c.pattern); got != c.want {
			t.Errorf("%s = %v, want %v", c.pattern, got, c.want)
		}
	}
	if metricValue(raw, `auth_http_request_duration_seconds_count\{route="/login"\}`) != 2 {
		t.Errorf("latency histogram did not count the logins")
	}
}
