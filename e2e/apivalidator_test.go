package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// apiValidator checks HTTP exchanges against docs/openapi.yaml. The document describes both
// servers; the validator keeps one view of it per server (the operations tagged with that
// server, `oneOf` alternatives narrowed by their `x-server` member) and picks the view by the
// port the request goes to: every Proc registers its port when it starts.
type apiValidator struct {
	routers map[string]routers.Router // by server kind

	mu    sync.Mutex
	ports map[int]string // port → server kind
}

// loadAPIValidator loads and validates the document at path and builds a router per server.
func loadAPIValidator(path string) (*apiValidator, error) {
	v := &apiValidator{routers: map[string]routers.Router{}, ports: map[int]string{}}
	for _, kind := range []string{kindAuth, kindResource} {
		doc, err := loadServerView(path, kind)
		if err != nil {
			return nil, err
		}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			return nil, fmt.Errorf("router for %s: %w", kind, err)
		}
		v.routers[kind] = r
	}
	return v, nil
}

// loadOpenAPI loads and validates the whole document.
func loadOpenAPI(path string) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid: %w", err)
	}
	return doc, nil
}

// loadServerView loads the document and keeps only kind's operations, without servers (so
// any host matches: the tests pick ports at random) and with each response schema that is a
// `oneOf` of per-server alternatives narrowed to kind's alternative.
func loadServerView(path, kind string) (*openapi3.T, error) {
	doc, err := loadOpenAPI(path)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil
	for p, item := range doc.Paths.Map() {
		item.Servers = nil
		for method, op := range item.Operations() {
			if !slices.Contains(op.Tags, kind) {
				item.SetOperation(method, nil)
				continue
			}
			narrowResponses(op, kind)
		}
		if len(item.Operations()) == 0 {
			doc.Paths.Delete(p)
		}
	}
	return doc, nil
}

func narrowResponses(op *openapi3.Operation, kind string) {
	for _, rr := range op.Responses.Map() {
		if rr.Value == nil {
			continue
		}
		for _, mt := range rr.Value.Content {
			if mt.Schema == nil || mt.Schema.Value == nil || len(mt.Schema.Value.OneOf) == 0 {
				continue
			}
			for _, alt := range mt.Schema.Value.OneOf {
				if alt.Value != nil && alt.Value.Extensions["x-server"] == kind {
					mt.Schema = alt
					break
				}
			}
		}
	}
}

// register records that port serves kind.
func (v *apiValidator) register(port int, kind string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ports[port] = kind
}

func (v *apiValidator) kindOf(u string) (string, bool) {
	_, ps, err := net.SplitHostPort(u)
	if err != nil {
		return "", false
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return "", false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	k, ok := v.ports[port]
	return k, ok
}

type ctxKeyInvalid struct{}

// expectInvalid marks a request that violates the document on purpose (a missing token, a
// malformed body): the validator then requires the request NOT to validate, and still checks
// the response.
func expectInvalid(ctx context.Context) context.Context {
	return context.WithValue(ctx, ctxKeyInvalid{}, true)
}

func isExpectedInvalid(ctx context.Context) bool {
	b, _ := ctx.Value(ctxKeyInvalid{}).(bool)
	return b
}

// validatingTransport is an http.RoundTripper that checks every request and response
// against the document, reporting each mismatch through errorf (a test's Errorf).
type validatingTransport struct {
	v      *apiValidator
	base   http.RoundTripper
	errorf func(format string, args ...any)
}

func (vt *validatingTransport) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus:             true,
		RejectWhenRequestBodyNotSpecified: true,
		MultiError:                        true,
		AuthenticationFunc:                checkBearerPresent,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.EnableFormatValidation(), openapi3.WithStringFormatValidators(stringFormats()),
		},
	}
}

// stringFormats are the document's string formats beyond kin-openapi's built-in date and
// date-time, checked on every request and response.
func stringFormats() map[string]openapi3.StringFormatValidator {
	return map[string]openapi3.StringFormatValidator{
		"uuid":  openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
		"email": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail),
		"uri": openapi3.NewCallbackValidator(func(s string) error {
			u, err := url.Parse(s)
			if err != nil || u.Scheme == "" || u.Host == "" {
				return fmt.Errorf("not an absolute URI: %q", s)
			}
			return nil
		}),
	}
}

// checkBearerPresent is the document's security as a client can check it: the request
// carries one `Authorization: Bearer <token>` (whether the token is good is the server's
// business, and the response's 401 is validated too).
func checkBearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Values("Authorization")
	if len(h) != 1 {
		return errors.New("want exactly one Authorization header")
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return errors.New("want Authorization: Bearer <token>")
	}
	return nil
}

// RoundTrip validates req, sends it, and validates the response.
func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	what := req.Method + " " + req.URL.Path
	kind, ok := vt.v.kindOf(req.URL.Host)
	if !ok {
		vt.errorf("openapi: %s: %s is no server of this test suite", what, req.URL.Host)
		return vt.base.RoundTrip(req)
	}
	if vt.v.routers[kind] == nil {
		return vt.base.RoundTrip(req) // a process of the suite the document does not describe (examples/)
	}
	invalid := isExpectedInvalid(req.Context())
	body, err := readAndRestore(req)
	if err != nil {
		return nil, err
	}
	route, params, rerr := vt.v.routers[kind].FindRoute(req)
	var in *openapi3filter.RequestValidationInput
	if rerr == nil {
		in = vt.requestInput(req, body, route, params)
		err := openapi3filter.ValidateRequest(req.Context(), in)
		switch {
		case err != nil && !invalid:
			vt.errorf("openapi: %s request to %s does not match the document: %v", what, kind, err)
		case err == nil && invalid:
			vt.errorf("openapi: %s request to %s was marked invalid but matches the document", what, kind)
		}
	} else if !invalid {
		vt.errorf("openapi: %s is not an operation of %s in the document: %v", what, kind, rerr)
	}
	resp, err := vt.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rbody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rbody))
	if err != nil {
		return nil, err
	}
	vt.checkResponse(what, kind, in, resp, rbody)
	return resp, nil
}

func (vt *validatingTransport) requestInput(req *http.Request, body []byte, route *routers.Route, params map[string]string) *openapi3filter.RequestValidationInput {
	clone := req.Clone(req.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) == 0 {
		clone.Body = http.NoBody
	}
	return &openapi3filter.RequestValidationInput{Request: clone, PathParams: params, Route: route, Options: vt.options()}
}

func (vt *validatingTransport) checkResponse(what, kind string, in *openapi3filter.RequestValidationInput, resp *http.Response, body []byte) {
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		vt.errorf("openapi: %s to %s answered %d (a test never causes a server error): %s", what, kind, resp.StatusCode, body)
	}
	if in == nil { // not an operation: at least the error shape
		if resp.StatusCode >= 400 {
			var e struct {
				Error       *string `json:"error"`
				Description *string `json:"error_description"`
			}
			if json.Unmarshal(body, &e) != nil || e.Error == nil || e.Description == nil {
				vt.errorf(`openapi: %s to %s: %d body is not {"error", "error_description"}: %s`, what, kind, resp.StatusCode, body)
			}
		}
		return
	}
	err := openapi3filter.ValidateResponse(in.Request.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: vt.options(),
	})
	if err != nil {
		vt.errorf("openapi: %s response %d of %s does not match the document: %v\nbody: %s", what, resp.StatusCode, kind, err, truncate(body, 2000))
	}
}

func readAndRestore(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
