package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// Metrics are the resource server's Prometheus metrics, registered on a registry passed in.
// It is also the verifier's Observer (token cache hits and misses, JWKS refreshes). Every
// method is safe on a nil *Metrics (no metrics).
type Metrics struct {
	reg    *prometheus.Registry
	http   *httpapi.RequestMetrics
	cache  *prometheus.CounterVec
	jwks   *prometheus.CounterVec
	synced *prometheus.CounterVec
	// the deny-list: entries held, revocations that entered it, and their lag
	revoked    *prometheus.CounterVec
	revokeLag  *prometheus.HistogramVec
	denyListSz prometheus.Gauge
	// The children counted on every request, resolved once (WithLabelValues hashes and
	// validates its labels under a lock on each call).
	cacheHit, cacheMiss prometheus.Counter
}

var _ verifier.Observer = (*Metrics)(nil)

// NewMetrics registers the server's metrics on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reg:  reg,
		http: httpapi.NewRequestMetrics(reg, "resource", prometheus.ExponentialBuckets(0.0001, 2, 16)),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resource_token_cache_total",
			Help: "Verified-token cache lookups by result (hit, miss)."}, []string{"result"}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resource_jwks_refreshes_total",
			Help: "JWKS fetches by result (ok, error)."}, []string{"result"}),
		synced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resource_sync_events_total",
			Help: "User-sync events received by outcome (applied, ignored)."}, []string{"outcome"}),
	}
	m.revoked = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resource_revocations_applied_total",
		Help: "Revocations that entered the deny-list, by source (sync: received by this replica; database: applied by another)."}, []string{"source"})
	m.revokeLag = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "resource_revocation_lag_seconds",
		Help:    "Time from the auth server's revocation to its entering this replica's deny-list, by source.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60}}, []string{"source"})
	m.denyListSz = prometheus.NewGauge(prometheus.GaugeOpts{Name: "resource_deny_list_entries",
		Help: "Revocations held in the deny-list (sessions and users whose tokens may still be live)."})
	reg.MustRegister(m.cache, m.jwks, m.synced, m.revoked, m.revokeLag, m.denyListSz)
	m.cacheHit, m.cacheMiss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	return m
}

// route returns the request metrics of the route with template route, resolved once; nil on
// a nil *Metrics.
func (m *Metrics) route(route string) *httpapi.RouteMetrics {
	if m == nil {
		return nil
	}
	return m.http.Route(route)
}

// otherRoute returns the metrics of requests that matched no route; nil on a nil *Metrics.
func (m *Metrics) otherRoute() *httpapi.RouteMetrics {
	if m == nil {
		return nil
	}
	return m.http.Other()
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

// RevocationApplied counts a revocation that entered the deny-list and observes its lag
// (denylist.Observer).
func (m *Metrics) RevocationApplied(source string, lag time.Duration) {
	if m != nil {
		m.revoked.WithLabelValues(source).Inc()
		m.revokeLag.WithLabelValues(source).Observe(max(lag, 0).Seconds())
	}
}

// DenyListSize sets the deny-list's size (denylist.Observer).
func (m *Metrics) DenyListSize(n int) {
	if m != nil {
		m.denyListSz.Set(float64(n))
	}
}
