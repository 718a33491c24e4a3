// Command revocation-service is the smallest third-party Go service that refuses revoked
// tokens, built on nothing but the public verifier package (docs/revocation.md): a Verifier
// checking a MemoryRevocations, and the RevocationHandler the auth server's sync calls reach.
// Register its /sync URL in the auth server's SYNC_URLS.
//
//	ADDR=:8090 AUTH_ISSUER=http://localhost:8080 JWKS_URL=http://localhost:8080/.well-known/jwks.json \
//	    go run ./examples/revocation-service
//
// GET /hello answers "hello <username>" to a valid, unrevoked access token.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	revoked := verifier.NewMemoryRevocations(0)
	v, err := verifier.New(ctx, verifier.Config{
		Issuer:      os.Getenv("AUTH_ISSUER"),
		Audience:    []string{cmp.Or(os.Getenv("AUTH_AUDIENCE"), "resource-server")},
		JWKSURL:     os.Getenv("JWKS_URL"),
		Revocations: revoked,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /sync", v.RevocationHandler(revoked))
	mux.Handle("GET /hello", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello %s\n", c.PreferredUsername)
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })

	srv := &http.Server{Addr: cmp.Or(os.Getenv("ADDR"), ":8090"), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("revocation-service listening on %s", srv.Addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
