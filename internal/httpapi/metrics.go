package httpapi

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a metrics registry holding the Go runtime's and the process's
// collectors, and extra.
func NewRegistry(extra ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(append([]prometheus.Collector{collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}, extra...)...)
	return reg
}

// methodLabels are the method label values; clients choose the method, so any other is
// counted as "other" to keep the label set bounded.
var methodLabels = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodDelete, http.MethodPatch, http.MethodOptions, "other"}

// methodIndex is the index of method's label in methodLabels.
func methodIndex(method string) int {
	for i, m := range methodLabels[:len(methodLabels)-1] {
		if m == method {
			return i
		}
	}
	return len(methodLabels) - 1
}

// RequestMetrics are a server's HTTP request metrics: PREFIX_http_requests_total by route,
// method and status, and PREFIX_http_request_duration_seconds by route. Every method is safe
// on a nil *RequestMetrics (no metrics).
type RequestMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	other    *RouteMetrics
	named    atomic.Pointer[map[string]*RouteMetrics] // Named's routes, copied on a miss
	mu       sync.Mutex                               // serialises the copies of named
}

// NewRequestMetrics registers the request metrics named after prefix on reg, the latency
// histogram with buckets.
func NewRequestMetrics(reg prometheus.Registerer, prefix string, buckets []float64) *RequestMetrics {
	m := &RequestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "_http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: prefix + "_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: buckets}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	m.other = m.Route(RouteOther)
	m.named.Store(&map[string]*RouteMetrics{})
	return m
}

// Route returns new metrics of the route with template route, to resolve once when the
// route is registered; nil on a nil *RequestMetrics.
func (m *RequestMetrics) Route(route string) *RouteMetrics {
	if m == nil {
		return nil
	}
	rm := &RouteMetrics{requests: m.requests, route: route, latency: m.latency.WithLabelValues(route)}
	rm.counters.Store(&map[uint32]prometheus.Counter{})
	return rm
}

// Other returns the metrics of requests that matched no route; nil on a nil *RequestMetrics.
func (m *RequestMetrics) Other() *RouteMetrics {
	if m == nil {
		return nil
	}
	return m.other
}

// Named returns the metrics of route, resolved on its first request, for a router that names
// routes only while serving; nil on a nil *RequestMetrics. Lookups take no lock.
func (m *RequestMetrics) Named(route string) *RouteMetrics {
	if m == nil {
		return nil
	}
	if route == RouteOther {
		return m.other
	}
	if rm, ok := (*m.named.Load())[route]; ok {
		return rm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.named.Load()
	if rm, ok := old[route]; ok {
		return rm
	}
	rm := m.Route(route)
	next := make(map[string]*RouteMetrics, len(old)+1)
	maps.Copy(next, old)
	next[route] = rm
	m.named.Store(&next)
	return rm
}

// RouteMetrics are one route's request metrics with their children resolved: the latency
// histogram once, the request counters per (method, status) on first use. Lookups take no
// lock: the counters live in an immutable map that a miss replaces with a larger copy.
type RouteMetrics struct {
	requests *prometheus.CounterVec
	route    string
	latency  prometheus.Observer
	counters atomic.Pointer[map[uint32]prometheus.Counter]
	mu       sync.Mutex // serialises the copies of counters
}

// Observe counts a request by method and status and records its latency. It is safe on a
// nil *RouteMetrics (no metrics).
func (rm *RouteMetrics) Observe(method string, status int, d time.Duration) {
	if rm == nil {
		return
	}
	mi := methodIndex(method)
	key := uint32(mi)<<16 | uint32(status)&0xffff // net/http allows statuses 100–999 only
	c, ok := (*rm.counters.Load())[key]
	if !ok {
		c = rm.counter(key, methodLabels[mi], status)
	}
	c.Inc()
	rm.latency.Observe(d.Seconds())
}

// counter resolves the counter of a (method, status) pair seen for the first time and
// publishes a copy of the map holding it.
func (rm *RouteMetrics) counter(key uint32, method string, status int) prometheus.Counter {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	old := *rm.counters.Load()
	if c, ok := old[key]; ok {
		return c
	}
	c := rm.requests.WithLabelValues(rm.route, method, strconv.Itoa(status))
	next := make(map[uint32]prometheus.Counter, len(old)+1)
	maps.Copy(next, old)
	next[key] = c
	rm.counters.Store(&next)
	return c
}
