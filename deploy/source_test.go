package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// root is the repository root, seen from this package's directory.
const root = ".."

// server describes one of the two binaries as the deployment files must match it.
type server struct {
	service    string // the Compose service
	pkg        string // the Go package directory, relative to root
	addrVar    string // the listen-address variable
	envExample string // the env example file, relative to root
}

var servers = []server{
	{service: "auth-server", pkg: "auth-server", addrVar: "AUTH_ADDR", envExample: "deploy/auth-server.env.example"},
	{service: "resource-server", pkg: "resource-server", addrVar: "RESOURCE_ADDR", envExample: "deploy/resource-server.env.example"},
}

// parseGo parses one source file of the repository.
func parseGo(t testing.TB, rel string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, rel), nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", rel, err)
	}
	return f
}

// stringLit returns the value of a string literal expression.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// acceptedVars returns the names in the package-level `var configVars = []string{…}` of a
// server's config.go: every variable that binary reads.
func acceptedVars(t testing.TB, s server) map[string]bool {
	t.Helper()
	rel := filepath.Join(s.pkg, "config.go")
	out := map[string]bool{}
	for _, d := range parseGo(t, rel).Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name != "configVars" || i >= len(vs.Values) {
					continue
				}
				cl, ok := vs.Values[i].(*ast.CompositeLit)
				if !ok {
					t.Fatalf("%s: configVars is not a composite literal", rel)
				}
				for _, e := range cl.Elts {
					v, ok := stringLit(e)
					if !ok {
						t.Fatalf("%s: configVars holds a non-literal element", rel)
					}
					out[v] = true
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no `var configVars = []string{…}` found", rel)
	}
	return out
}

// stringDefault returns def in the first call `x.String("NAME", def)` of a server's config.go:
// the default of a string variable.
func stringDefault(t testing.TB, s server, name string) string {
	t.Helper()
	rel := filepath.Join(s.pkg, "config.go")
	var def string
	found := false
	ast.Inspect(parseGo(t, rel), func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if found || !ok || len(call.Args) != 2 {
			return !found
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "String" {
			return true
		}
		if v, ok := stringLit(call.Args[0]); ok && v == name {
			def, found = stringLit(call.Args[1])
		}
		return !found
	})
	if !found {
		t.Fatalf("%s: no String(%q, \"default\") call found", rel, name)
	}
	return def
}

// routes returns the paths registered with Handle or HandleFunc in a server's
// internal/server/routes.go.
func routes(t testing.TB, s server) map[string]bool {
	t.Helper()
	rel := filepath.Join(s.pkg, "internal", "server", "routes.go")
	out := map[string]bool{}
	ast.Inspect(parseGo(t, rel), func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		// r.Handle("/path", …), r.HandleFunc("/path", …), or a local helper route("/path", …).
		var name string
		switch f := call.Fun.(type) {
		case *ast.SelectorExpr:
			name = f.Sel.Name
		case *ast.Ident:
			name = f.Name
		}
		if name != "Handle" && name != "HandleFunc" && name != "route" {
			return true
		}
		if p, ok := stringLit(call.Args[0]); ok {
			out[p] = true
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("%s: no routes found", rel)
	}
	return out
}

// readFile reads a file of the repository.
func readFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSourceParsers(t *testing.T) {
	// The parsers must find what the checks rely on, or every other test would pass vacuously.
	for _, s := range servers {
		t.Run(s.service, func(t *testing.T) {
			vars := acceptedVars(t, s)
			if !vars[s.addrVar] {
				t.Errorf("configVars lacks %s", s.addrVar)
			}
			r := routes(t, s)
			for _, p := range []string{"/healthz", "/readyz"} {
				if !r[p] {
					t.Errorf("routes lack %s", p)
				}
			}
			if _, err := listenPort(stringDefault(t, s, s.addrVar)); err != nil {
				t.Errorf("default %s: %v", s.addrVar, err)
			}
		})
	}
}
