package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/risksync/risksync/internal/api"
	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/registry/sqlstore"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/service"
)

const testConfig = `
teams:
  - {name: storage-sre, tracker: github, github_repo: acme/storage, aliases: ["Service Lifecycle SRE"]}
  - {name: payments, tracker: jira, jira_project: PAY}
  - {name: web, tracker: github, github_repo: acme/web}
github: {repo: acme/rel}
jira: {base_url: "https://acme.atlassian.net", project: REL}
`

// tokenAuth is a real Authenticator over a fixed set of bearer tokens.
type tokenAuth map[string]registry.Principal

func (t tokenAuth) Authenticate(r *http.Request) (registry.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return registry.Principal{}, registry.Errorf(registry.EUNAUTHORIZED, "no token: send Authorization: Bearer <token>")
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	p, known := t[tok]
	if !ok || !known {
		return registry.Principal{}, registry.Errorf(registry.EUNAUTHORIZED, "unknown, expired or revoked token")
	}
	return p, nil
}

// Tokens of the test principals, by role.
const (
	reader = "rsk_reader"
	editor = "rsk_editor"
	teamed = "rsk_payments_editor" // an editor limited to payments
	admin  = "rsk_admin"
)

var principals = tokenAuth{
	reader: {Actor: "token:reader", Role: registry.RoleReader},
	editor: {Actor: "token:editor", Role: registry.RoleEditor},
	teamed: {Actor: "token:payments", Role: registry.RoleEditor, Teams: []string{"payments"}},
	admin:  {Actor: "token:admin", Role: registry.RoleAdmin},
}

type env struct {
	ctx    context.Context
	store  *sqlstore.Store
	clock  *registrytest.Clock
	svc    *service.Service
	api    *api.API
	srv    *httptest.Server
	deps   report.Deps
	oapi   *openapi3.T
	router routers.Router
}

// eachBackend runs fn against a real server over SQLite, and PostgreSQL
// when registrytest.PostgresEnv is set.
func eachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for name, open := range registrytest.Backends() {
		t.Run(name, func(t *testing.T) { fn(t, newEnv(t, open)) })
	}
}

func newEnv(t testing.TB, open registrytest.Opener) *env {
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	clock := registrytest.NewClock()
	opts := registrytest.DefaultOptions(clock)
	opts.Derive = cfg.ScoringConfig().Derive
	store := open(t, opts)
	deps := report.Deps{Store: store, Scoring: cfg.ScoringConfig(), StagnationAfter: cfg.Stagnation.After.Std()}
	svc := service.New(service.Options{Store: store, Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(),
		StagnantAfter: cfg.Stagnation.After.Std(), Now: clock.Now,
		Reports: func(ctx context.Context, o report.Options) (*report.Report, error) {
			return report.Generate(ctx, deps, clock.Now(), o)
		}})
	a := api.New(svc, principals)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	e := &env{ctx: context.Background(), store: store, clock: clock, svc: svc, api: a, srv: srv, deps: deps}
	e.oapi, e.router = loadDocument(t, a.Document())
	return e
}

func loadDocument(t testing.TB, doc []byte) (*openapi3.T, routers.Router) {
	t.Helper()
	loader := openapi3.NewLoader()
	oapi, err := loader.LoadFromData(doc)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if !oapi.IsOpenAPI31OrLater() {
		t.Fatalf("the document is OpenAPI %s, want 3.1", oapi.OpenAPI)
	}
	router, err := legacy.NewRouter(oapi) // validates the document itself
	if err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	return oapi, router
}

// response is what a call returned, its body already read.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: decode %s: %v", r.Request.URL, r.body, err)
	}
}

// call sends a request as the holder of token ("" for none) and checks
// the response against the OpenAPI document, whatever its status.
func (e *env) call(t *testing.T, token, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp := response{Response: res, body: out}
	e.validate(t, req, resp)
	return resp
}

// validate checks one response against the document: its status is
// declared, its headers and body match. Answers of routes the document
// does not have (404, 405) must still be problems.
func (e *env) validate(t *testing.T, req *http.Request, res response) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); res.StatusCode >= 400 && ct != api.ProblemContentType {
		t.Errorf("%s %s: %d with Content-Type %q, want %s", req.Method, req.URL.Path, res.StatusCode, ct, api.ProblemContentType)
	}
	if req.URL.Path == api.DocumentPath {
		return // the document itself, checked against the committed file
	}
	probe := req.Clone(e.ctx)
	route, params, err := e.router.FindRoute(probe)
	if err != nil {
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed && res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s: not in the document (%v) yet answered %d", req.Method, req.URL.Path, err, res.StatusCode)
		}
		schema := e.oapi.Components.Schemas["Problem"].Value
		var v any
		if err := json.Unmarshal(res.body, &v); err != nil {
			t.Errorf("%s %s: %d body is not JSON: %s", req.Method, req.URL.Path, res.StatusCode, res.body)
		} else if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s %s: %d body is not a Problem: %v", req.Method, req.URL.Path, res.StatusCode, err)
		}
		return
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts},
		Status:                 res.StatusCode, Header: res.Header, Options: opts,
	}
	in.SetBodyBytes(res.body)
	if err := openapi3filter.ValidateResponse(e.ctx, in); err != nil {
		t.Errorf("%s %s: %d response does not match the OpenAPI document: %v\nbody: %.500s", req.Method, req.URL.Path, res.StatusCode, err, res.body)
	}
}
