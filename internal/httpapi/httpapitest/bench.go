package httpapitest

import (
	"net/http"
	"testing"
)

// DiscardWriter is a ResponseWriter that keeps only the status, so a benchmark measures the
// server's handler and not a recorder's buffer.
type DiscardWriter struct {
	header http.Header
	status int
}

// NewDiscardWriter returns a writer with an empty header and status 200.
func NewDiscardWriter() *DiscardWriter {
	return &DiscardWriter{header: http.Header{}, status: http.StatusOK}
}

// Header returns the response header.
func (w *DiscardWriter) Header() http.Header { return w.header }

// WriteHeader records code.
func (w *DiscardWriter) WriteHeader(code int) { w.status = code }

// Write discards b.
func (w *DiscardWriter) Write(b []byte) (int, error) { return len(b), nil }

// Status is the status written, 200 when none was.
func (w *DiscardWriter) Status() int { return w.status }

// Reset empties the header and sets the status back to 200, for the next request.
func (w *DiscardWriter) Reset() {
	clear(w.header)
	w.status = http.StatusOK
}

// ServeLoop sends r to h b.N times, reporting allocations, and fails on any status but 200.
func ServeLoop(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := NewDiscardWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}
