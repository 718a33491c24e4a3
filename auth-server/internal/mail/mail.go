// Package mail writes the messages of CONTRACT §11: address verification and password reset,
// each as a subject, a plain-text part and an HTML part (sent as multipart/alternative). They
// are short, name the system they come from, and say what to do when the reader did not ask.
// The package is pure: no network, no SQL.
package mail

import (
	"bytes"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"
)

// Message is one mail's content.
type Message struct {
	Subject string
	Text    string
	HTML    string
	Link    string // the link it carries
}

// Writer writes the messages of one deployment: its product name and public URL.
type Writer struct {
	product   string
	publicURL string
}

// NewWriter returns a Writer naming product (when empty, the host of publicURL) whose links
// start with publicURL (the hosted pages /ui/verify and /ui/reset live under it).
func NewWriter(product, publicURL string) *Writer {
	publicURL = strings.TrimRight(publicURL, "/")
	if product == "" {
		if u, err := url.Parse(publicURL); err == nil && u.Host != "" {
			product = u.Host
		} else {
			product = "the auth server"
		}
	}
	return &Writer{product: product, publicURL: publicURL}
}

// Product is the name the mails give the system.
func (w *Writer) Product() string { return w.product }

// Verification is the mail asking username to confirm address with token, valid for ttl.
func (w *Writer) Verification(username, token string, ttl time.Duration) Message {
	link := w.publicURL + "/ui/verify?token=" + url.QueryEscape(token)
	return w.render(content{
		Subject: "Confirm your email address for " + w.product,
		Hello:   "Hello " + username + ",",
		Lead:    "please confirm that this is your email address for your " + w.product + " account by opening this link:",
		Link:    link,
		Expiry:  "The link works once and expires in " + human(ttl) + ".",
		NotYou:  "If you did not create an account or change your address at " + w.product + ", ignore this mail: nothing changes until the link is opened.",
		Product: w.product,
	})
}

// PasswordReset is the mail letting username choose a new password with token, valid for ttl.
func (w *Writer) PasswordReset(username, token string, ttl time.Duration) Message {
	link := w.publicURL + "/ui/reset?token=" + url.QueryEscape(token)
	return w.render(content{
		Subject: "Reset your " + w.product + " password",
		Hello:   "Hello " + username + ",",
		Lead:    "someone asked to reset the password of your " + w.product + " account. To choose a new password, open this link:",
		Link:    link,
		Expiry:  "The link works once and expires in " + human(ttl) + ". Resetting the password signs you out everywhere.",
		NotYou:  "If you did not ask for this, ignore this mail: your password stays as it is.",
		Product: w.product,
	})
}

type content struct {
	Subject, Hello, Lead, Link, Expiry, NotYou, Product string
}

var htmlPage = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; max-width: 36em">
<p>{{.Hello}}</p>
<p>{{.Lead}}</p>
<p><a href="{{.Link}}">{{.Link}}</a></p>
<p>{{.Expiry}}</p>
<p style="color: #555">{{.NotYou}}</p>
<p style="color: #555">— {{.Product}}</p>
</body></html>
`))

func (w *Writer) render(c content) Message {
	text := fmt.Sprintf("%s\n\n%s\n\n%s\n\n%s\n\n%s\n\n-- %s\n", c.Hello, c.Lead, c.Link, c.Expiry, c.NotYou, c.Product)
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, c); err != nil {
		// The template is fixed and its data plain strings: this cannot happen.
		panic(fmt.Sprintf("mail template: %v", err))
	}
	return Message{Subject: c.Subject, Text: text, HTML: b.String(), Link: c.Link}
}

// human writes d as minutes or hours, as a reader says it.
func human(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= time.Minute:
		if d < 2*time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", d/time.Minute)
	default:
		return d.String()
	}
}
