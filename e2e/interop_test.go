package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// verifyTimeout bounds one third-party verification (which may fetch the JWKS).
const verifyTimeout = 30 * time.Second

// verifyFunc verifies one access token and answers "ok <kid> <sub>" or "fail <reason>", as the
// scripts under e2e/interop do.
type verifyFunc func(token string) string

// library is a third-party JWT library that verifies the auth server's tokens from its JWKS URL
// alone, as another team's service would.
type library struct {
	name string
	// missing says why the library cannot run here ("" when it can).
	missing func() string
	// lacks says why the library cannot verify alg ("" when it can).
	lacks func(alg string) string
	// start starts a verifier for the auth server's JWKS, issuer, audience and alg; it is
	// stopped when the test ends.
	start func(t *testing.T, jwksURL, issuer, audience, alg string) verifyFunc
}

// TestInteropThirdPartyVerifiers checks CONTRACT §3 and §4 from a third party's side: access
// tokens verify with Node jose, Python PyJWT (PyJWKClient) and Go golang-jwt + keyfunc,
// reading nothing but the auth server's JWKS URL, for ES256, RS256 and EdDSA; before a key
// rotation, after one (the pre-published next key), after a second (a key created after the
// verifiers first read the JWKS, so they must refetch), and for the retired key. A tampered
// token fails with each, so each can fail. A library that is not installed, or lacks an
// algorithm, is skipped with a line saying why.
func TestInteropThirdPartyVerifiers(t *testing.T) {
	t.Parallel()
	var libs []library
	for _, lib := range []library{nodeJose(), pyJWT(), goJWT()} {
		if why := lib.missing(); why != "" {
			t.Run(lib.name, func(t *testing.T) { t.Skip(why) })
			continue
		}
		libs = append(libs, lib)
	}
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			interop(t, alg, libs)
		})
	}
}

func interop(t *testing.T, alg string, libs []library) {
	auth := startAuth(t, map[string]string{"ALGORITHM": alg, "KEY_PUBLISH_AHEAD": "1s", "JWKS_MAX_AGE": "1s"})
	c := newClient(t)
	user := c.signup(auth.URL, "interop")
	jwksURL := auth.URL + "/.well-known/jwks.json"
	verifiers := map[string]verifyFunc{}
	for _, lib := range libs {
		if why := lib.lacks(alg); why != "" {
			t.Run(lib.name, func(t *testing.T) { t.Skip(why) })
			continue
		}
		verifiers[lib.name] = lib.start(t, jwksURL, auth.env["AUTH_ISSUER"], "resource-server", alg)
	}
	check := func(what, token string, wantOK bool) {
		t.Helper()
		want := "ok " + kidOf(t, token) + " " + user.ID
		for name, verify := range verifiers {
			got := verify(token)
			switch {
			case wantOK && got != want:
				t.Errorf("%s, %s: got %q, want %q", what, name, got, want)
			case !wantOK && !strings.HasPrefix(got, "fail "):
				t.Errorf("%s, %s: got %q, want a failure", what, name, got)
			}
		}
	}
	first := user.Tokens.AccessToken
	check("before a rotation", first, true)
	check("tampered", tamper(t, first), false)
	for i := 1; i <= 2; i++ {
		next := keyIn(t, listKeys(t, auth), "next")
		waitPublishedFor(t, auth, next, time.Second)
		auth.MustCLI("keys", "rotate")
		waitSigningKID(t, c, user, next.KID, auth)
		check(fmt.Sprintf("after rotation %d", i), c.login(auth.URL, user).AccessToken, true)
	}
	check("retired key", first, true)
}

// nodeJose is e2e/interop/node/verify.mjs (jose; `npm ci` in that folder installs it).
func nodeJose() library {
	dir := filepath.Join(suite.moduleRoot, "e2e", "interop", "node")
	return library{
		name: "node-jose",
		missing: func() string {
			if _, err := exec.LookPath("node"); err != nil {
				return "node not found in PATH; install Node.js 20+ to run the Node jose interop check"
			}
			if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose")); err != nil {
				return "jose not installed; run `npm ci` in e2e/interop/node"
			}
			return ""
		},
		lacks: func(alg string) string {
			if alg != "EdDSA" {
				return ""
			}
			probe := `crypto.subtle.generateKey({name: "Ed25519"}, false, ["sign"]).then(() => process.exit(0), () => process.exit(3))`
			if err := exec.Command("node", "-e", probe).Run(); err != nil {
				return "this Node has no Ed25519 in WebCrypto, which jose needs for EdDSA: " + err.Error()
			}
			return ""
		},
		start: func(t *testing.T, jwksURL, issuer, audience, alg string) verifyFunc {
			return startLineVerifier(t, "node-jose", dir, "node", "verify.mjs", jwksURL, issuer, audience, alg)
		},
	}
}

// pyJWT is e2e/interop/python/verify.py (PyJWT's PyJWKClient; Debian's python3-jwt).
func pyJWT() library {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = "python3"
	}
	dir := filepath.Join(suite.moduleRoot, "e2e", "interop", "python")
	return library{
		name: "python-pyjwt",
		missing: func() string {
			if err := exec.Command(py, "-c", "import jwt, cryptography").Run(); err != nil {
				return py + " cannot import jwt and cryptography (" + err.Error() + "); install python3-jwt"
			}
			return ""
		},
		lacks: func(alg string) string {
			probe := "import sys, jwt; sys.exit(0 if sys.argv[1] in jwt.algorithms.get_default_algorithms() else 3)"
			if err := exec.Command(py, "-c", probe, alg).Run(); err != nil {
				return "this PyJWT does not offer " + alg + " (" + err.Error() + ")"
			}
			return ""
		},
		start: func(t *testing.T, jwksURL, issuer, audience, alg string) verifyFunc {
			return startLineVerifier(t, "python-pyjwt", dir, py, "verify.py", jwksURL, issuer, audience, alg)
		},
	}
}

// goJWT verifies in this process with golang-jwt/v5 and a keyfunc/v3 default JWKS client.
func goJWT() library {
	return library{
		name:    "go-jwt-keyfunc",
		missing: func() string { return "" },
		lacks:   func(string) string { return "" },
		start: func(t *testing.T, jwksURL, issuer, audience, alg string) verifyFunc {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
			if err != nil {
				t.Fatalf("keyfunc: %v", err)
			}
			parser := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(issuer),
				jwt.WithAudience(audience), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
			return func(token string) string {
				vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
				defer cancel()
				tok, err := parser.Parse(token, kf.KeyfuncCtx(vctx))
				if err != nil {
					return "fail " + strings.ReplaceAll(err.Error(), "\n", " ")
				}
				if typ, _ := tok.Header["typ"].(string); !strings.EqualFold(strings.TrimPrefix(typ, "application/"), "at+jwt") {
					return "fail typ " + typ
				}
				sub, err := tok.Claims.GetSubject()
				if err != nil || sub == "" {
					return "fail no sub"
				}
				return fmt.Sprintf("ok %v %s", tok.Header["kid"], sub)
			}
		},
	}
}

// startLineVerifier runs a verifier script (one token a line on stdin, one answer a line on
// stdout) in dir, and returns a function that sends one token and reads its answer. The
// script ends with the test (its stdin closed); its stderr is logged when the test fails.
func startLineVerifier(t *testing.T, name, dir string, argv ...string) verifyFunc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	lines, read := make(chan string, 64), make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-read:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-read
		}
		if err := cmd.Wait(); err != nil || t.Failed() {
			t.Logf("%s exited (%v); stderr:\n%s", name, err, stderr)
		}
	})
	return func(token string) string {
		if _, err := io.WriteString(stdin, token+"\n"); err != nil {
			return "fail write: " + err.Error()
		}
		select {
		case l := <-lines:
			return l
		case <-read:
			select {
			case l := <-lines: // its last answer, read just before it exited
				return l
			default:
				return "fail the verifier exited: " + stderr.String()
			}
		case <-time.After(verifyTimeout):
			return "fail no answer within " + verifyTimeout.String()
		}
	}
}
