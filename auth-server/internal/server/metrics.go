package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// Metrics are the auth server's Prometheus metrics, registered on a registry passed in.
// Every method is safe on a nil *Metrics (no metrics).
type Metrics struct {
	reg       *prometheus.Registry
	http      *httpapi.RequestMetrics
	logins    *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	issued    *prometheus.CounterVec
	pending   *prometheus.GaugeVec
	oldest    *prometheus.GaugeVec
	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
}

// NewMetrics registers the server's metrics on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reg:  reg,
		http: httpapi.NewRequestMetrics(reg, "auth", prometheus.ExponentialBuckets(0.0005, 2, 16)),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_logins_total",
			Help: "Login attempts by outcome (success, failure, throttled)."}, []string{"outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_refreshes_total",
			Help: "Refresh attempts by outcome (rotated, replay, reuse, invalid)."}, []string{"outcome"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_tokens_issued_total",
			Help: "Access tokens issued by signing key and algorithm."}, []string{"kid", "alg"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auth_sync_pending",
			Help: "User-sync deliveries not yet acknowledged, by target."}, []string{"target"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auth_sync_oldest_pending_seconds",
			Help: "Age of the oldest unacknowledged user-sync delivery, by target."}, []string{"target"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_sync_delivered_events_total",
			Help: "User-sync events acknowledged, by target."}, []string{"target"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_sync_failed_events_total",
			Help: "User-sync events of failed calls (retried later), by target."}, []string{"target"}),
	}
	reg.MustRegister(m.logins, m.refreshes, m.issued, m.pending, m.oldest, m.delivered, m.failed)
	return m
}

// Backlog records the sync backlog of a target (the relay's observer).
func (m *Metrics) Backlog(target string, pending int, oldest time.Duration) {
	m.pending.WithLabelValues(target).Set(float64(pending))
	m.oldest.WithLabelValues(target).Set(oldest.Seconds())
}

// Delivered counts events a sync target acknowledged.
func (m *Metrics) Delivered(target string, events int) {
	m.delivered.WithLabelValues(target).Add(float64(events))
}

// Failed counts events of a failed sync call.
func (m *Metrics) Failed(target string, events int) {
	m.failed.WithLabelValues(target).Add(float64(events))
}

// WatchKeys exports the number of signing keys in each state, read from states at scrape time.
func (m *Metrics) WatchKeys(states func() map[string]int) {
	for _, st := range []string{"next", "current", "retired", "revoked"} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "auth_signing_keys",
			Help: "Signing keys by state.", ConstLabels: prometheus.Labels{"state": st}},
			func() float64 { return float64(states()[st]) }))
	}
}

// WatchHasher exports the password-hashing queue: hashes running and requests waiting.
func (m *Metrics) WatchHasher(stats func() (running, waiting int)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "auth_password_hashes_running", Help: "Password hashes being computed."},
			func() float64 { r, _ := stats(); return float64(r) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "auth_password_hashes_waiting", Help: "Requests waiting for a hashing slot."},
			func() float64 { _, w := stats(); return float64(w) }))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observeRequest counts a request of route (a template) by method and status and records
// its latency.
func (m *Metrics) observeRequest(route, method string, status int, d time.Duration) {
	if m != nil {
		m.http.Named(route).Observe(method, status, d)
	}
}

func (m *Metrics) login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) refresh(outcome string) {
	if m != nil {
		m.refreshes.WithLabelValues(outcome).Inc()
	}
}

// tokenIssued counts a token by the kid and alg of its header.
func (m *Metrics) tokenIssued(token string) {
	if m == nil {
		return
	}
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return
	}
	var h struct {
		Kid string `json:"kid"`
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &h) == nil {
		m.issued.WithLabelValues(h.Kid, h.Alg).Inc()
	}
}
