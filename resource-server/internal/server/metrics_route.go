package server

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeOther is the route label of a request that matched no route (404, 405).
const routeOther = "other"

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

// routeMetrics are one route's request metrics with their children resolved: the latency
// histogram once, the request counters per (method, status) on first use. Lookups take no
// lock: the counters live in an immutable map that a miss replaces with a larger copy.
type routeMetrics struct {
	requests *prometheus.CounterVec
	route    string
	latency  prometheus.Observer
	counters atomic.Pointer[map[uint32]prometheus.Counter]
	mu       sync.Mutex // serialises the copies of counters
}

// route returns the metrics of the route with template route; nil on a nil *Metrics.
func (m *Metrics) route(route string) *routeMetrics {
	if m == nil {
		return nil
	}
	rm := &routeMetrics{requests: m.requests, route: route, latency: m.latency.WithLabelValues(route)}
	rm.counters.Store(&map[uint32]prometheus.Counter{})
	return rm
}

// otherRoute returns the metrics of requests that matched no route; nil on a nil *Metrics.
func (m *Metrics) otherRoute() *routeMetrics {
	if m == nil {
		return nil
	}
	return m.other
}

// observe counts a request by method and status and records its latency. It is safe on a
// nil *routeMetrics (no metrics).
func (rm *routeMetrics) observe(method string, status int, d time.Duration) {
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
func (rm *routeMetrics) counter(key uint32, method string, status int) prometheus.Counter {
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
