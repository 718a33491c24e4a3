package mail

import (
	"strings"
	"testing"
	"time"
)

func TestMessages(t *testing.T) {
	w := NewWriter("", "https://id.example.com/")
	for _, tc := range []struct {
		msg  Message
		page string
		ttl  string
	}{
		{w.Verification("alice", "tok-1", 24*time.Hour), "/ui/verify?token=tok-1", "24 hours"},
		{w.PasswordReset("alice", "tok-2", 30*time.Minute), "/ui/reset?token=tok-2", "30 minutes"},
	} {
		m := tc.msg
		if m.Link != "https://id.example.com"+tc.page {
			t.Errorf("link %q", m.Link)
		}
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			for _, want := range []string{m.Link, "id.example.com", "alice", tc.ttl, "ignore this mail"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s part of %q lacks %q:\n%s", part, m.Subject, want, body)
				}
			}
		}
		if !strings.Contains(m.Subject, "id.example.com") {
			t.Errorf("subject %q does not name the system", m.Subject)
		}
	}
	if got := NewWriter("Example", "https://x").Product(); got != "Example" {
		t.Errorf("product = %q", got)
	}
	// HTML is escaped.
	if m := w.Verification("<b>", "t", time.Hour); strings.Contains(m.HTML, "<b>") {
		t.Error("username not escaped in the HTML part")
	}
}

func TestTokens(t *testing.T) {
	a, ha, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := NewToken()
	if a == b || !PlausibleToken(a) || HashToken(a) != ha || ha == a || len(a) < 22 {
		t.Errorf("tokens %q %q hash %q", a, b, ha)
	}
	for _, bad := range []string{"", "short", strings.Repeat("!", 43), a + "x"} {
		if PlausibleToken(bad) {
			t.Errorf("PlausibleToken(%q)", bad)
		}
	}
}
