package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// contractOperations are the endpoints of CONTRACT §6 (auth-server) and §7 (resource-server).
var contractOperations = []struct{ kind, method, path string }{
	{kindAuth, "POST", "/signup"}, {kindAuth, "POST", "/login"}, {kindAuth, "POST", "/token"},
	{kindAuth, "POST", "/refresh"}, {kindAuth, "POST", "/logout"}, {kindAuth, "POST", "/revoke"},
	{kindAuth, "GET", "/me"}, {kindAuth, "PATCH", "/me"}, {kindAuth, "DELETE", "/me"},
	{kindAuth, "GET", "/sessions"}, {kindAuth, "DELETE", "/sessions/{id}"}, {kindAuth, "POST", "/password"},
	{kindAuth, "GET", "/.well-known/jwks.json"}, {kindAuth, "GET", "/.well-known/openid-configuration"},
	{kindAuth, "GET", "/.well-known/oauth-authorization-server"},
	{kindAuth, "GET", "/healthz"}, {kindAuth, "GET", "/readyz"}, {kindAuth, "GET", "/metrics"},
	{kindResource, "GET", "/me"}, {kindResource, "GET", "/whoami"},
	{kindResource, "GET", "/notes"}, {kindResource, "POST", "/notes"},
	{kindResource, "GET", "/notes/{id}"}, {kindResource, "DELETE", "/notes/{id}"},
	{kindResource, "GET", "/awesome_app"}, {kindResource, "POST", "/sync/users"}, {kindResource, "POST", "/sync_user"},
	{kindResource, "GET", "/healthz"}, {kindResource, "GET", "/readyz"}, {kindResource, "GET", "/metrics"},
}

// TestOpenAPIDocumentIsValid loads docs/openapi.yaml, validates it as OpenAPI, and checks
// that it describes every endpoint of CONTRACT §6 and §7 on the right server, the error
// schema on every error, and WWW-Authenticate on every 401.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	path := filepath.Join(suite.moduleRoot, "docs", "openapi.yaml")
	doc, err := loadOpenAPI(path)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi: %s, want 3.1", doc.OpenAPI)
	}
	for _, op := range contractOperations {
		t.Run(op.kind+" "+op.method+" "+op.path, func(t *testing.T) {
			req := httptest.NewRequest(op.method, strings.ReplaceAll(op.path, "{id}", "x"), nil)
			route, _, err := suite.api.routers[op.kind].FindRoute(req)
			if err != nil {
				t.Fatalf("not in the document: %v", err)
			}
			if route.Path != op.path {
				t.Errorf("routed to %s", route.Path)
			}
		})
	}
	checkOperations(t, doc)
}

// checkOperations holds every operation to the document's own conventions.
func checkOperations(t *testing.T, doc *openapi3.T) {
	ports := map[string]string{"8080": kindAuth, "8081": kindResource}
	for p, item := range doc.Paths.Map() {
		var served []string
		for _, s := range item.Servers {
			u, err := url.Parse(s.URL)
			if err != nil {
				t.Errorf("%s: server %q: %v", p, s.URL, err)
				continue
			}
			served = append(served, ports[u.Port()])
		}
		for method, op := range item.Operations() {
			name := method + " " + p
			var kinds []string
			for _, tag := range op.Tags {
				if tag == kindAuth || tag == kindResource {
					kinds = append(kinds, tag)
				}
			}
			if len(kinds) == 0 {
				t.Errorf("%s: no server tag", name)
			}
			for _, k := range kinds {
				if !slices.Contains(served, k) {
					t.Errorf("%s: tagged %s but the path's servers are %v", name, k, served)
				}
			}
			checkResponses(t, name, op)
		}
	}
}

func checkResponses(t *testing.T, name string, op *openapi3.Operation) {
	for code, rr := range op.Responses.Map() {
		if op.OperationID == "readyz" {
			continue // its 503 is the readiness report, not an error
		}
		r := rr.Value
		status, _ := strconv.Atoi(code)
		if status >= 400 && r.Content.Get("text/html") == nil { // the hosted pages answer errors in HTML
			mt := r.Content.Get("application/json")
			if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
				t.Errorf("%s %s: error response without the Error schema", name, code)
			}
		}
		if status == http.StatusUnauthorized {
			if h := r.Headers["WWW-Authenticate"]; h == nil || !h.Value.Required {
				t.Errorf("%s 401: WWW-Authenticate not required", name)
			}
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			if h := r.Headers["Retry-After"]; h == nil || !h.Value.Required {
				t.Errorf("%s %s: Retry-After not required", name, code)
			}
		}
	}
	if op.Security != nil && len(*op.Security) > 0 && op.Responses.Value("401") == nil {
		t.Errorf("%s: secured but no 401", name)
	}
}

// TestOpenAPIValidatorCatchesMismatches checks that the harness's validating transport
// reports what it must, against a fake auth server (so that a silent validator cannot make
// the whole suite pass).
func TestOpenAPIValidatorCatchesMismatches(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/healthz":
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/readyz":
			fmt.Fprint(w, `{"status":"maybe","checks":{}}`)
		case "/sessions":
			if r.Header.Get("Authorization") == "" {
				w.Header().Set("WWW-Authenticate", "Bearer")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"invalid_token","error_description":"missing bearer token"}`)
				return
			}
			fmt.Fprint(w, `{"sessions":[]}`) // no Cache-Control: no-store
		case "/me":
			w.WriteHeader(http.StatusUnauthorized) // no WWW-Authenticate
			fmt.Fprint(w, `{"error":"invalid_token","error_description":"x"}`)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":"server_error","error_description":"internal error"}`)
		}
	}))
	defer fake.Close()
	u, _ := url.Parse(fake.URL)
	port, _ := strconv.Atoi(u.Port())
	suite.api.register(port, kindAuth)
	cases := []struct {
		name, method, path string
		opts               []Opt
		wantErr            bool
	}{
		{"valid exchange", "GET", "/healthz", nil, false},
		{"body off schema", "GET", "/readyz", nil, true},
		{"missing required header", "GET", "/sessions", []Opt{bearer("x")}, true},
		{"401 without challenge", "GET", "/me", []Opt{bearer("x")}, true},
		{"missing bearer", "GET", "/sessions", nil, true},
		{"marked invalid but valid", "GET", "/healthz", []Opt{invalid()}, true},
		{"not in the document", "GET", "/nowhere", nil, true},
		{"server error", "GET", "/nowhere", []Opt{invalid()}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			vt := &validatingTransport{v: suite.api, base: http.DefaultTransport, errorf: func(f string, a ...any) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, fmt.Sprintf(f, a...))
			}}
			c := &Client{t: t, hc: &http.Client{Transport: vt}}
			c.Send(tc.method, fake.URL+tc.path, nil, tc.opts...)
			if (len(got) > 0) != tc.wantErr {
				t.Errorf("reported %q, want an error: %t", got, tc.wantErr)
			}
		})
	}
}
