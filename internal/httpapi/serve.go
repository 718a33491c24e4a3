package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long in-flight requests may take to finish once Serve's ctx ends.
const ShutdownGrace = 10 * time.Second

// ListenAndServe listens on addr, logs msg at info level with the address listened on
// ("addr", the port chosen when addr asks for :0) and attrs, then serves h there (Serve).
func ListenAndServe(ctx context.Context, addr string, h http.Handler, log *slog.Logger, msg string, attrs ...any) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Info(msg, append([]any{"addr", ln.Addr().String()}, attrs...)...)
	return Serve(ctx, ln, h, log)
}

// Serve serves h on ln until ctx ends, then shuts down gracefully, giving in-flight requests
// ShutdownGrace. The server's timeouts bound slow clients (5 s for the header, 15 s for the
// request, 30 s for the answer, 2 min idle, 64 KiB of header), and net/http's own error log
// goes to log at warn level.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
