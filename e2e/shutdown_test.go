package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"
)

// TestGracefulShutdown checks that SIGTERM drains (CONTRACT §1: the servers stop cleanly):
// requests the server has accepted and is still reading when the signal comes complete
// with their answer (no connection reset), new connections are refused, the process exits
// 0, and what those requests wrote is there after a restart. Each request announces its body
// with `Expect: 100-continue` and sends it only after the signal, so it is provably in
// flight: the server answers 100 only once its handler reads the body.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := startStack(t, StackOptions{})
	c := newClient(t)
	u := c.signup(s.Auth.URL, "graceful")
	// The resource server first: its requests need a token of the running auth server.
	ftDrain(t, s.Resource, "/notes", u.Tokens.AccessToken, func(i int) string {
		return fmt.Sprintf(`{"title":"in flight %d"}`, i)
	})
	ftDrain(t, s.Auth, "/signup", "", func(i int) string {
		return fmt.Sprintf(`{"username":"inflight%d","email":"inflight%d@example.com","password":"password %d"}`, i, i, i)
	})

	s.Auth.Start()
	s.Resource.Start()
	for i := range 3 {
		c.login(s.Auth.URL, account{Username: fmt.Sprintf("inflight%d", i), Password: fmt.Sprintf("password %d", i)})
	}
	var list struct{ Notes []struct{ Title string } }
	c.Get(s.Resource.URL+"/notes", bearer(c.login(s.Auth.URL, u).AccessToken)).Want(t, http.StatusOK).JSON(t, &list)
	if len(list.Notes) != 3 {
		t.Errorf("after the restart %s has %d notes, want the 3 written in flight: %+v", u.Username, len(list.Notes), list.Notes)
	}
}

// ftDrain holds three POSTs to p's path in flight, sends SIGTERM, waits until p refuses new
// connections, then sends the bodies: each must be answered 201, and p must exit 0.
func ftDrain(t *testing.T, p *Proc, path, token string, body func(i int) string) {
	t.Helper()
	held := make([]*ftHeld, 3)
	for i := range held {
		held[i] = ftHold(t, p.URL+path, token, body(i))
	}
	for _, h := range held {
		h.waitAccepted(t)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		p.Stop() // fails the test unless the exit is 0
	}()
	t.Cleanup(func() { <-stopped })
	if !poll(stopTimeout, func() bool { return !ftAccepting(p) }) {
		t.Fatalf("%s still accepts connections %s after SIGTERM", p.Name, stopTimeout)
	}
	for _, h := range held {
		h.release(t)
	}
	for _, h := range held {
		r := <-h.done
		if r.err != nil || r.status != http.StatusCreated {
			t.Errorf("%s POST %s in flight at SIGTERM: %d %v %s, want 201", p.Name, path, r.status, r.err, r.body)
		}
	}
	<-stopped
}

// ftAccepting reports whether p's port accepts a TCP connection.
func ftAccepting(p *Proc) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// ftHeld is a POST whose JSON body is sent only on release, each on a connection of its own.
type ftHeld struct {
	body     string
	pw       *io.PipeWriter
	accepted chan struct{} // closed when the server answered 100 Continue
	done     chan ftHeldResult
}

type ftHeldResult struct {
	status int
	body   []byte
	err    error
}

func ftHold(t *testing.T, url, token, body string) *ftHeld {
	t.Helper()
	pr, pw := io.Pipe()
	h := &ftHeld{body: body, pw: pw, accepted: make(chan struct{}), done: make(chan ftHeldResult, 1)}
	var once sync.Once
	trace := &httptrace.ClientTrace{Got100Continue: func() { once.Do(func() { close(h.accepted) }) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}}
	go func() {
		var r ftHeldResult
		resp, err := hc.Do(req)
		if r.err = err; err == nil {
			r.status = resp.StatusCode
			r.body, r.err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		h.done <- r
	}()
	t.Cleanup(func() { pw.CloseWithError(errors.New("test over")) })
	return h
}

// waitAccepted waits for the 100 Continue: the server's handler is reading the body.
func (h *ftHeld) waitAccepted(t *testing.T) {
	t.Helper()
	select {
	case <-h.accepted:
	case r := <-h.done:
		t.Fatalf("answered before the body was sent: %d %v %s", r.status, r.err, r.body)
	case <-time.After(readyTimeout):
		t.Fatalf("no 100 Continue within %s", readyTimeout)
	}
}

func (h *ftHeld) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.pw, h.body); err != nil {
		t.Errorf("sending a held body: %v", err)
	}
	h.pw.Close()
}
