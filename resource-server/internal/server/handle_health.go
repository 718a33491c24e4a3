package server

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	encode(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReadyz answers 200 when the database answers and the verifier has its keys (always
// so in HS256 mode), else 503.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "keys": "ok"}
	status, st := http.StatusOK, "ok"
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], status = "unavailable", http.StatusServiceUnavailable
	}
	if !s.verifier.Ready() {
		checks["keys"], status = "not loaded", http.StatusServiceUnavailable
	}
	if status != http.StatusOK {
		st = "unavailable"
	}
	encode(w, status, map[string]any{"status": st, "checks": checks})
	return nil
}
