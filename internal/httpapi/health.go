package httpapi

import (
	"context"
	"net/http"
	"time"
)

// ReadyTimeout bounds the checks of one /readyz request.
const ReadyTimeout = 2 * time.Second

// Check is one named readiness check of /readyz.
type Check struct {
	// Name is the check's key in the answer's "checks".
	Name string
	// Probe returns nil when what it checks is ready.
	Probe func(ctx context.Context) error
	// Down is the check's value in the answer when Probe fails; "unavailable" when empty.
	Down string
}

// Healthz answers 200 {"status":"ok"} while the process serves: liveness.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Readyz runs the checks in order, within ReadyTimeout altogether, and answers
// {"status": "ok"|"unavailable", "checks": {name: "ok"|down}}: 200 when every check passed,
// else 503.
func Readyz(checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		defer cancel()
		status, st := http.StatusOK, "ok"
		out := make(map[string]string, len(checks))
		for _, c := range checks {
			out[c.Name] = "ok"
			if err := c.Probe(ctx); err != nil {
				out[c.Name] = c.Down
				if c.Down == "" {
					out[c.Name] = "unavailable"
				}
				status, st = http.StatusServiceUnavailable, "unavailable"
			}
		}
		Encode(w, status, map[string]any{"status": st, "checks": out})
	})
}
