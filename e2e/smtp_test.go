package e2e

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server on 127.0.0.1 (github.com/emersion/go-smtp) that records
// every message it accepts. It can be taken down (connections refused) and brought back on the
// same port, and made to stall: accept the data of a message, then answer nothing until
// released.
type smtpServer struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	received []receivedMail
	stall    chan struct{} // while set, Data blocks on it
	stalled  int           // sessions blocked in Data now
}

// receivedMail is one accepted message.
type receivedMail struct {
	From string
	To   []string
	Raw  []byte
}

func startSMTP(t testing.TB) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{t: t, addr: ln.Addr().String()}
	s.serve(ln)
	t.Cleanup(func() { s.Down(); s.Release() })
	return s
}

// URL is the server's SMTP_URL.
func (s *smtpServer) URL() string { return "smtp://" + s.addr }

func (s *smtpServer) serve(ln net.Listener) {
	srv := smtp.NewServer(smtpBackend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Down closes the listener and every connection: from now on connections are refused.
func (s *smtpServer) Down() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close() // before Serve runs, too: it then returns at once
	}
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same port.
func (s *smtpServer) Up() {
	s.t.Helper()
	var ln net.Listener
	var err error
	if !poll(5*time.Second, func() bool { ln, err = net.Listen("tcp", s.addr); return err == nil }) {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// Stall makes every message's data wait, unanswered, until Release.
func (s *smtpServer) Stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stall == nil {
		s.stall = make(chan struct{})
	}
}

// Release lets stalled messages through (they are recorded) and stops stalling.
func (s *smtpServer) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stall != nil {
		close(s.stall)
		s.stall = nil
	}
}

// Stalled is how many sessions are blocked in a stall now.
func (s *smtpServer) Stalled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stalled
}

// To returns the messages accepted for addr.
func (s *smtpServer) To(addr string) []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []receivedMail
	for _, m := range s.received {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Wait waits until addr has n messages and returns them.
func (s *smtpServer) Wait(addr string, n int, timeout time.Duration) []receivedMail {
	s.t.Helper()
	var got []receivedMail
	if !poll(timeout, func() bool { got = s.To(addr); return len(got) >= n }) {
		s.t.Fatalf("%s received %d mails within %s, want %d", addr, len(got), timeout, n)
	}
	return got
}

type smtpBackend struct{ s *smtpServer }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: b.s}, nil }

type smtpSession struct {
	s    *smtpServer
	from string
	to   []string
}

func (x *smtpSession) Reset()        { x.from, x.to = "", nil }
func (x *smtpSession) Logout() error { return nil }
func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	stall := x.s.stall
	if stall != nil {
		x.s.stalled++
	}
	x.s.mu.Unlock()
	if stall != nil {
		<-stall
		x.s.mu.Lock()
		x.s.stalled--
		x.s.mu.Unlock()
	}
	x.s.mu.Lock()
	x.s.received = append(x.s.received, receivedMail{From: x.from, To: append([]string(nil), x.to...), Raw: raw})
	x.s.mu.Unlock()
	return nil
}

// mailParts parses a received message: its subject and its text/plain and text/html parts
// (multipart/alternative, transfer encodings decoded).
func mailParts(t testing.TB, m receivedMail) (subject, text, html string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, m.Raw)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		body, _ := io.ReadAll(p) // quoted-printable is decoded by the reader
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			text = string(body)
		case "text/html":
			html = string(body)
		}
	}
	if text == "" || html == "" {
		t.Fatalf("want a text and an HTML part; got text %q html %q", text, html)
	}
	return subject, text, html
}

var linkToken = regexp.MustCompile(`/ui/(verify|reset)\?token=([A-Za-z0-9_-]+)`)

// mailToken returns the token of the page the mail links to (verify or reset), from its text part.
func mailToken(t testing.TB, m receivedMail, page string) string {
	t.Helper()
	_, text, html := mailParts(t, m)
	match := linkToken.FindStringSubmatch(text)
	if match == nil || match[1] != page {
		t.Fatalf("no /ui/%s link in the text part:\n%s", page, text)
	}
	if !strings.Contains(html, match[0]) {
		t.Errorf("the HTML part lacks the link %s", match[0])
	}
	return match[2]
}
