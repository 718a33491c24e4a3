package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the auth server's Prometheus metrics, registered on a registry passed in.
// Every method is safe on a nil *Metrics (no metrics).
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	logins    *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	issued    *prometheus.CounterVec
}

// NewMetrics registers the server's metrics on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "auth_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_logins_total",
			Help: "Login attempts by outcome (success, failure, throttled)."}, []string{"outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_refreshes_total",
			Help: "Refresh attempts by outcome (rotated, replay, reuse, invalid)."}, []string{"outcome"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_tokens_issued_total",
			Help: "Access tokens issued by signing key and algorithm."}, []string{"kid", "alg"}),
	}
	reg.MustRegister(m.requests, m.latency, m.logins, m.refreshes, m.issued)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) observeRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
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
