package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
)

// privateJWKMembers are the JWK members that hold private key material (RFC 7518 §6).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// TestNoPrivateKeyMaterialInTheClear checks CONTRACT §4 ("private parts sealed with
// KEY_ENCRYPTION_KEY") from outside: after a server made keys and a forced rotation, every
// column of every signing_keys row is read. A public JWK must have no private member; every
// other text or blob must not be, raw or base64- or hex-decoded, JSON, PEM, or a PKCS#8,
// SEC 1 or PKCS#1 private key, nor contain the key's public coordinates (which any plaintext
// encoding of the private key carries).
func TestNoPrivateKeyMaterialInTheClear(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"sqlite", "postgres"} {
		for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
			t.Run(b+"/"+alg, func(t *testing.T) {
				t.Parallel()
				env := authDBEnv(t, b)
				env["ALGORITHM"] = alg
				auth := startAuth(t, env)
				auth.MustCLI("keys", "rotate", "--force")
				url := env["AUTH_DATABASE_URL"]
				if url == "" {
					url = "sqlite:" + filepath.Join(auth.Dir, "data", "auth.db")
				}
				rows := readSigningKeys(t, url)
				if len(rows) < 3 {
					t.Fatalf("want at least 3 signing keys after a rotation, have %d", len(rows))
				}
				for i, row := range rows {
					checkRow(t, fmt.Sprintf("row %d", i), row)
				}
			})
		}
	}
}

// readSigningKeys returns every row of signing_keys as column → value (text and blobs only).
func readSigningKeys(t *testing.T, url string) []map[string][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, 1)
	if err != nil {
		t.Fatalf("open %s: %v", db.Redact(url), err)
	}
	defer d.Close()
	rs, err := d.QueryContext(ctx, "SELECT * FROM signing_keys")
	if err != nil {
		t.Fatalf("read signing_keys: %v", err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string][]byte
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string][]byte{}
		for i, v := range vals {
			switch x := v.(type) {
			case string:
				row[cols[i]] = []byte(x)
			case []byte:
				row[cols[i]] = x
			}
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRow checks one row: its public JWK column(s) and every other value.
func checkRow(t *testing.T, name string, row map[string][]byte) {
	t.Helper()
	var public [][]byte // the public coordinates of the row's key
	jwks := 0
	for col, v := range row {
		var m map[string]any
		if json.Unmarshal(v, &m) != nil || m["kty"] == nil {
			continue
		}
		jwks++
		for _, member := range privateJWKMembers {
			if _, ok := m[member]; ok {
				t.Errorf("%s: column %s is a JWK with the private member %q", name, col, member)
			}
		}
		for _, member := range []string{"x", "y", "n"} {
			if s, ok := m[member].(string); ok {
				if b, err := base64.RawURLEncoding.DecodeString(s); err == nil && len(b) >= 16 {
					public = append(public, b, []byte(s))
				}
			}
		}
		delete(row, col)
	}
	if jwks != 1 || len(public) == 0 {
		t.Fatalf("%s: want one public JWK column with public coordinates, found %d", name, jwks)
	}
	opaque := 0
	for col, v := range row {
		if len(v) >= 64 { // longer than kids, algorithms, states: the sealed key
			opaque++
		}
		for _, c := range decodings(v) {
			if why := plaintextKey(c, public); why != "" {
				t.Errorf("%s: column %s holds private key material in the clear: %s", name, col, why)
			}
		}
	}
	if opaque == 0 {
		t.Errorf("%s: no column holds the sealed private key", name)
	}
}

// decodings are v and its base64 and hex decodings.
func decodings(v []byte) [][]byte {
	out := [][]byte{v}
	s := strings.TrimSpace(string(v))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			out = append(out, b)
		}
	}
	if b, err := hex.DecodeString(s); err == nil {
		out = append(out, b)
	}
	return out
}

// plaintextKey says why b is a private key in the clear ("" when it does not look like one).
func plaintextKey(b []byte, public [][]byte) string {
	switch {
	case bytes.Contains(b, []byte("-----BEGIN")):
		return "PEM"
	case json.Valid(b) && len(bytes.TrimSpace(b)) > 0 && strings.ContainsAny(string(bytes.TrimSpace(b)[:1]), "{["):
		return "JSON"
	}
	if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		return "PKCS#8"
	}
	if _, err := x509.ParseECPrivateKey(b); err == nil {
		return "SEC 1"
	}
	if _, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return "PKCS#1"
	}
	for _, p := range public {
		if bytes.Contains(b, p) {
			return "contains the public key's coordinates"
		}
	}
	return ""
}
