// Package authcode seals authorization codes (RFC 6749 §4.1.2): a code carries what it was
// issued for (client, redirect URI, PKCE challenge, nonce, user, login session, scope, when
// and how the user authenticated, expiry) encrypted and authenticated under a key every
// replica derives from the same secret, so issuing a code writes nothing. A code is spent
// when it is exchanged: the store records its ID then, in the exchange's transaction, which
// is what makes it single-use and lets a replay revoke the session it started
// (docs/oauth.md, "Authorization codes").
//
// XChaCha20-Poly1305 takes a random 192-bit nonce a code, so no count of codes under one key
// comes near a nonce collision; the key is derived with HKDF-SHA256 under this package's
// label, so it is never the secret it comes from.
package authcode

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// ErrInvalid: the code was not sealed by this server's key (unknown, altered, truncated, or
// sealed under another secret).
var ErrInvalid = errors.New("not an authorization code of this server")

// MaxLen bounds a code presented for exchange: a code carries its redirect URI, nonce and
// scope, so it is longer than an opaque token, but never this long.
const MaxLen = 4096

// version is a code's first byte, so that the format can change without ambiguity.
const version byte = 1

// label separates this key from anything else derived from the same secret; it is also the
// additional data of every seal.
const label = "jwtauth authorization code v1"

// idBytes is a code's ID's entropy: the spent record's key, unguessable like an opaque token.
const idBytes = 16

// Sealer seals and opens codes. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer keyed from secret (at least 32 bytes: KEY_ENCRYPTION_KEY, or HS256's
// SECRET_KEY). Every replica given the same secret opens the others' codes.
func New(secret []byte) (*Sealer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("authcode: a secret of %d bytes, want at least 32", len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, label, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("authcode: derive key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("authcode: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Random returns a Sealer under a random secret: its codes open only in this process.
func Random() *Sealer {
	s, err := New([]byte(rand.Text() + rand.Text()))
	if err != nil {
		panic(err) // 52 characters always make a key
	}
	return s
}

// payload is what a code carries, with short names (it travels in a URL).
type payload struct {
	ID        string `json:"i"`
	Client    string `json:"c"`
	Redirect  string `json:"r"`
	User      string `json:"u"`
	Login     string `json:"l"`
	Scope     string `json:"s,omitempty"`
	Challenge string `json:"p"`
	Nonce     string `json:"n,omitempty"`
	AuthTime  int64  `json:"t"`
	AMR       string `json:"a,omitempty"`
	Created   int64  `json:"ct"`
	Expires   int64  `json:"e"`
}

// Seal returns the code for c, whose Hash, UsedAt and SessionID are ignored: the code's ID
// is new, and Open returns it as Hash. Its times (all set: a code is issued at a time, to a
// user who authenticated at a time) travel as Unix milliseconds.
func (s *Sealer) Seal(c store.AuthCode) (string, error) {
	id := make([]byte, idBytes)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("authcode: random: %w", err)
	}
	plain, err := json.Marshal(payload{ID: base64.RawURLEncoding.EncodeToString(id), Client: c.ClientID, Redirect: c.RedirectURI,
		User: c.UserID, Login: c.LoginSessionID, Scope: strings.Join(c.Scope, " "), Challenge: c.CodeChallenge, Nonce: c.Nonce,
		AuthTime: c.AuthTime.UnixMilli(), AMR: strings.Join(c.AMR, " "), Created: c.CreatedAt.UnixMilli(), Expires: c.ExpiresAt.UnixMilli()})
	if err != nil {
		return "", fmt.Errorf("authcode: %w", err)
	}
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return "", fmt.Errorf("authcode: random: %w", err)
	}
	out = s.aead.Seal(out, out[1:], plain, []byte(label))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns what code was issued for, its ID as Hash; ErrInvalid unless this server's key
// sealed it unchanged. It does not check expiry or anything else the code is bound to: the
// exchange does.
func (s *Sealer) Open(code string) (store.AuthCode, error) {
	if len(code) > MaxLen {
		return store.AuthCode{}, fmt.Errorf("%w: too long", ErrInvalid)
	}
	raw, err := base64.RawURLEncoding.DecodeString(code)
	if err != nil || len(raw) < 1+s.aead.NonceSize()+s.aead.Overhead() || raw[0] != version {
		return store.AuthCode{}, ErrInvalid
	}
	n := 1 + s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[1:n], raw[n:], []byte(label))
	if err != nil {
		return store.AuthCode{}, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil || p.ID == "" {
		return store.AuthCode{}, fmt.Errorf("%w: unreadable", ErrInvalid)
	}
	return store.AuthCode{Hash: p.ID, ClientID: p.Client, RedirectURI: p.Redirect, UserID: p.User, LoginSessionID: p.Login,
		Scope: strings.Fields(p.Scope), CodeChallenge: p.Challenge, Nonce: p.Nonce, AuthTime: time.UnixMilli(p.AuthTime).UTC(),
		AMR: strings.Fields(p.AMR), CreatedAt: time.UnixMilli(p.Created).UTC(), ExpiresAt: time.UnixMilli(p.Expires).UTC()}, nil
}
