package server

import (
	"net/http"

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
	reg.MustRegister(m.cache, m.jwks, m.synced)
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
