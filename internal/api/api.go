// Package api serves the registry's JSON API under /api/v1, described by an
// OpenAPI 3.1 document generated from the handlers' types (huma). Handlers
// parse, call the service and render: every rule lives in internal/service.
package api

//go:generate go test -run TestOpenAPIDocumentIsCommitted -update .

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/service"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// DocumentPath serves the OpenAPI document.
const DocumentPath = Prefix + "/openapi.json"

// MaxBody is the largest request body accepted; larger ones get 413.
const MaxBody = 1 << 20

// Authenticator says who sent a request. It fails with an EUNAUTHORIZED
// registry error for a missing, unknown, expired or revoked credential.
type Authenticator interface {
	Authenticate(r *http.Request) (registry.Principal, error)
}

// Option configures New.
type Option func(*API)

// WithLogger logs unexpected failures (500s) with their cause; the client
// sees only that the server log has the details.
func WithLogger(l *slog.Logger) Option { return func(a *API) { a.log = l } }

// API is the /api/v1 handler.
type API struct {
	svc   *service.Service
	authn Authenticator
	log   *slog.Logger
	mux   *http.ServeMux
	huma  huma.API
	doc   []byte // the OpenAPI document, as served
}

// New returns the API's handler. Every request but the OpenAPI document
// is authenticated before anything else is read.
func New(svc *service.Service, authn Authenticator, opts ...Option) *API {
	a := &API{svc: svc, authn: authn, log: slog.New(slog.DiscardHandler), mux: http.NewServeMux()}
	for _, o := range opts {
		o(a)
	}
	a.huma = humago.New(a.mux, newConfig())
	a.register()
	a.mux.HandleFunc(Prefix+"/", a.unknownRoute)
	doc, err := json.MarshalIndent(a.huma.OpenAPI(), "", "  ")
	if err != nil {
		panic("api: OpenAPI document: " + err.Error()) // a bug in the types above, caught by every test
	}
	a.doc = append(doc, '\n')
	return a
}

// Document returns the OpenAPI 3.1 document served at DocumentPath.
func (a *API) Document() []byte { return a.doc }

func newConfig() huma.Config {
	cfg := huma.DefaultConfig("risksync API", "1")
	cfg.Info.Description = "The risk registry of risksync. Send `Authorization: Bearer <token>` " +
		"(`risksync token create`). Errors are application/problem+json (RFC 9457)."
	// Our names for the schemas, one registry per API (not huma's global).
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API token: rsk_…"},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	// The document is served by New (with the rest behind authentication
	// off); no docs UI, no $schema links in bodies.
	cfg.OpenAPIPath, cfg.DocsPath, cfg.SchemasPath = "", "", ""
	cfg.CreateHooks = nil
	return cfg
}

// schemaName names the service's views as the design does (Risk, Link…)
// and prefixes the report's.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	switch {
	case strings.HasSuffix(t.PkgPath(), "/internal/service"):
		return strings.TrimSuffix(name, "View")
	case strings.HasSuffix(t.PkgPath(), "/internal/report") && !strings.HasPrefix(name, "Report"):
		return "Report" + name
	}
	return name
}

type principalKey struct{}

func principal(ctx context.Context) registry.Principal {
	p, _ := ctx.Value(principalKey{}).(registry.Principal)
	return p
}

// ServeHTTP authenticates, then routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == DocumentPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		// The document describes the API, not the registry: no token needed.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.doc)
		return
	}
	who, err := a.authn.Authenticate(r)
	if err != nil {
		writeProblem(w, a.problem(r.Context(), err, "header.Authorization", ""))
		return
	}
	a.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, who)))
}

// unknownRoute answers paths and methods the API does not have, in the
// same problem shape as everything else.
func (a *API) unknownRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != Prefix+"/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+" is not allowed: use "+strings.Join(allowed, " or ")))
		return
	}
	writeProblem(w, newProblem(http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+"; the endpoints are listed in "+DocumentPath))
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	for k, vs := range p.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
}

// problem renders a service error. Field locations gain prefix (body.,
// query.); an error naming no field is placed at where.
func (a *API) problem(ctx context.Context, err error, where, prefix string) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var e *registry.Error
	if !errors.As(err, &e) || statusOf(e.Code) == http.StatusInternalServerError {
		a.log.ErrorContext(ctx, "api: unexpected failure", "err", err)
		return newProblem(http.StatusInternalServerError, "internal error: the server log has the details")
	}
	status := statusOf(e.Code)
	var fields []ProblemField
	for _, f := range e.Fields {
		loc := where
		if f.Location != "" {
			loc = prefix + f.Location
		}
		fields = append(fields, ProblemField{Location: loc, Message: f.Message})
	}
	if fields == nil && where != "" && (status == http.StatusUnprocessableEntity || status == http.StatusNotFound) {
		fields = []ProblemField{{Location: where, Message: e.Message}}
	}
	// The detail is the service's message, word for word as direct mode
	// prints it, so the CLI over the API says the same.
	p = newProblem(status, e.Message, fields...)
	if status == http.StatusUnauthorized {
		p.header = http.Header{"Www-Authenticate": {`Bearer realm="risksync"`}}
	}
	return p
}
