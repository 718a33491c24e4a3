package httpapi_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// counts gathers reg's request counter as "route method status" → count.
func counts(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "test_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[l["route"]+" "+l["method"]+" "+l["status"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := httpapi.NewRequestMetrics(reg, "test", prometheus.DefBuckets)
	things := m.Route("/things")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				things.Observe(http.MethodGet, 200, time.Millisecond)
				m.Named("/named/{id}").Observe(http.MethodPost, 201, time.Millisecond)
			}
		})
	}
	wg.Wait()
	m.Other().Observe("BREW", 405, time.Millisecond)
	m.Named(httpapi.RouteOther).Observe(http.MethodGet, 404, time.Millisecond)
	got := counts(t, reg)
	for k, want := range map[string]float64{
		"/things GET 200": 100, "/named/{id} POST 201": 100, "other other 405": 1, "other GET 404": 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
	first, again := m.Named("/named/{id}"), m.Named("/named/{id}")
	if first != again {
		t.Error("Named resolved a route twice")
	}
	var none *httpapi.RequestMetrics
	none.Route("/x").Observe(http.MethodGet, 200, 0) // no metrics: no panic
	none.Named("/x").Observe(http.MethodGet, 200, 0)
	none.Other().Observe(http.MethodGet, 200, 0)
}

func TestNewRegistryHasRuntimeCollectors(t *testing.T) {
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "extra_total", Help: "x"})
	mfs, err := httpapi.NewRegistry(extra).Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	if !names["go_goroutines"] || !names["extra_total"] {
		t.Errorf("registry gathers %v", names)
	}
}
