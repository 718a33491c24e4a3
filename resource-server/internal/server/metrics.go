package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// Metrics are the resource server's Prometheus metrics, registered on a registry passed in.
// It is also the verifier's Observer (token cache hits and misses, JWKS refreshes). Every
// method is safe on a nil *Metrics (no metrics).
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	cache    *prometheus.CounterVec
	jwks     *prometheus.CounterVec
	synced   *prometheus.CounterVec
	// The children counted on every request, resolved once (WithLabelValues hashes and
	// validates its labels under a lock on each call).
	cacheHit, cacheMiss prometheus.Counter
	other               *routeMetrics // requests that matched no route
}

var _ verifier.Observer = (*Metrics)(nil)

// NewMetrics registers the server's metrics on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resource_http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "resource_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"route"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resource_token_cache_total",
			Help: "Verified-token cache lookups by result (hit, miss)."}, []string{"result"}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resource_jwks_refreshes_total",
			Help: "JWKS fetches by result (ok, error)."}, []string{"result"}),
		synced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resource_sync_events_total",
			Help: "User-sync events received by outcome (applied, ignored)."}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.cache, m.jwks, m.synced)
	m.cacheHit, m.cacheMiss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	m.other = m.route(routeOther)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// CacheHit counts a verified-token cache hit (verifier.Observer).
func (m *Metrics) CacheHit() {
	if m != nil {
		m.cacheHit.Inc()
	}
}

// CacheMiss counts a verified-token cache miss (verifier.Observer).
func (m *Metrics) CacheMiss() {
	if m != nil {
		m.cacheMiss.Inc()
	}
}

// JWKSRefresh counts a JWKS fetch by its outcome (verifier.Observer).
func (m *Metrics) JWKSRefresh(err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.jwks.WithLabelValues(result).Inc()
}

func (m *Metrics) syncApplied(applied, ignored int) {
	if m == nil {
		return
	}
	m.synced.WithLabelValues("applied").Add(float64(applied))
	m.synced.WithLabelValues("ignored").Add(float64(ignored))
}
