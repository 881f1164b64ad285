// Package githubtest is a stateful fake of the GitHub REST API, served by
// httptest under /api/v3/ (the GitHub Enterprise Server layout), for tests
// that drive the real go-github client.
//
// It models what the connector depends on: issues (pull requests included in
// list endpoints, as GitHub does), labels (auto-created on use), comments,
// issue events, sub-issues, organisation issue types, page pagination with
// Link headers (per_page capped at 100), `since`, ETags with 304 (free against
// the rate limit), primary rate-limit headers, and fault injection. It keeps
// GitHub's sharp edges: every change bumps updated_at, including the
// client's own; secondary limits come as 403 or 429, with or without
// retry-after.
//
// Typical use:
//
//	clock := githubtest.NewClock(start)
//	srv := githubtest.NewServer(t, githubtest.WithClock(clock.Now))
//	srv.SetIssueTypes("acme", "Epic", "Bug")
//	srv.AddRepo("acme/rel")
//	// point the connector at srv.URL() with srv.Token() and srv.HTTPClient()
package githubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Defaults of a new server.
const (
	DefaultToken = "ghp_fake_token_for_tests"
	DefaultLogin = "risksync-bot"
	// DefaultPerson acts in helpers that play a human (CreateIssue, Close...).
	DefaultPerson = "octocat"
)

// Issue is the fake's record of an issue or pull request.
type Issue struct {
	ID          int64
	Number      int
	Repo        string
	Title       string
	Body        string
	State       string // open | closed
	StateReason string // "", completed, not_planned, duplicate, reopened
	Labels      []string
	Assignees   []string
	Author      string
	Type        string // issue type name, "" when none
	PullRequest bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    *time.Time
	ClosedBy    string
	Parent      *Ref
	Children    []Ref
	Comments    []Comment
	Events      []Event
}

// Ref names an issue.
type Ref struct {
	Repo   string
	Number int
}

// Comment on an issue.
type Comment struct {
	ID        int64
	Author    string
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time // zero until edited
}

// Event is an issue event (closed, reopened, labeled, renamed...).
type Event struct {
	ID          int64
	Event       string
	Actor       string
	StateReason string
	Label       string
	CreatedAt   time.Time
}

// Label of a repository.
type Label struct {
	ID    int64
	Name  string
	Color string
}

// Request is one request the fake received. Route is the operation's path
// template as GitHub's description names it (e.g.
// /repos/{owner}/{repo}/issues), "" when no route matched.
type Request struct {
	Method string
	Route  string
	Path   string
	Query  url.Values
	Status int
	At     time.Time
}

// Fault is injected into the next Times requests matching Method and Route
// (empty matches any).
type Fault struct {
	Method string
	Route  string
	Times  int // default 1
	// Status answers instead of the handler (e.g. 500, 502, 403, 429).
	Status int
	// AfterCommit runs the handler first (the change is stored) and then
	// answers Status, or drops the connection when Drop is set: a create
	// whose outcome the client cannot know.
	AfterCommit bool
	Drop        bool
	// Secondary makes Status a secondary rate limit (403 or 429) with
	// GitHub's message and documentation_url.
	Secondary  bool
	RetryAfter string // Retry-After header value, "" for none
	Header     http.Header
	Message    string
	Latency    time.Duration // real delay before answering
}

type repo struct {
	name   string
	issues []*Issue // by number-1
	labels []*Label
}

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	srv   *httptest.Server
	mux   *http.ServeMux
	now   func() time.Time
	token string
	login string

	mu         sync.Mutex
	repos      map[string]*repo
	issueTypes map[string][]string // org → enabled type names
	projects   map[string]*Project // "owner#number" → project (see projects.go)
	nextID     int64
	requests   []Request
	faults     []*Fault
	rateLimit  int
	remaining  int
	reset      time.Time
	perms      map[string]string // "owner/repo login" → role (see comments.go)
	inflight   int               // writes being served
	maxFlight  int
}

// Option configures a Server.
type Option func(*Server)

// WithClock makes the fake read time from now (share it with the client).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithToken sets the token the fake accepts.
func WithToken(tok string) Option { return func(s *Server) { s.token = tok } }

// WithLogin sets the login of the token's user.
func WithLogin(login string) Option { return func(s *Server) { s.login = login } }

// NewServer starts a fake closed at the end of the test.
func NewServer(tb testing.TB, opts ...Option) *Server {
	s := &Server{now: time.Now, token: DefaultToken, login: DefaultLogin, repos: map[string]*repo{},
		issueTypes: map[string][]string{}, nextID: 1000, rateLimit: 5000, remaining: 5000}
	for _, o := range opts {
		o(s)
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	if tb != nil {
		tb.Cleanup(s.srv.Close)
	}
	return s
}

// URL is the API base URL, ending in /api/v3/.
func (s *Server) URL() string { return s.srv.URL + "/api/v3/" }

// HTTPClient returns a client for the fake.
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// Token is the token the fake accepts.
func (s *Server) Token() string { return s.token }

// Login is the login of the token's user.
func (s *Server) Login() string { return s.login }

func (s *Server) clock() time.Time { return s.now().UTC().Truncate(time.Second) }

// AddRepo creates an empty repository ("owner/name").
func (s *Server) AddRepo(full string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos[full] == nil {
		s.repos[full] = &repo{name: full}
	}
}

// SetIssueTypes gives an organisation issue types; organisations without
// them answer 404 on the issue-types endpoint, like user accounts.
func (s *Server) SetIssueTypes(org string, names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issueTypes[org] = names
}

// AddLabel creates a label in a repository.
func (s *Server) AddLabel(repoName, name, color string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureLabel(s.mustRepo(repoName), name, color)
}

// SetRateLimit sets the primary rate limit state.
func (s *Server) SetRateLimit(remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remaining, s.reset = remaining, reset.UTC().Truncate(time.Second)
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// NewIssue describes an issue created by a person.
type NewIssue struct {
	Title       string
	Body        string
	Labels      []string
	Assignees   []string
	Author      string // default DefaultPerson
	Type        string
	PullRequest bool
}

// CreateIssue adds an issue (or pull request) as a person and returns its number.
func (s *Server) CreateIssue(repoName string, in NewIssue) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Author == "" {
		in.Author = DefaultPerson
	}
	return s.createIssue(s.mustRepo(repoName), in).Number
}

// Edit changes an issue as actor (default DefaultPerson); updated_at is bumped.
func (s *Server) Edit(repoName string, number int, actor string, edit func(*Issue)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.mustIssue(repoName, number)
	edit(is)
	is.UpdatedAt = s.clock()
}

// CloseIssue closes an issue as actor with a state reason (completed, not_planned).
func (s *Server) CloseIssue(repoName string, number int, reason, actor string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if actor == "" {
		actor = DefaultPerson
	}
	s.setState(s.mustIssue(repoName, number), "closed", reason, actor)
}

// ReopenIssue reopens an issue as actor.
func (s *Server) ReopenIssue(repoName string, number int, actor string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if actor == "" {
		actor = DefaultPerson
	}
	s.setState(s.mustIssue(repoName, number), "open", "", actor)
}

// AddSubIssue makes child a sub-issue of parent (bumps both).
func (s *Server) AddSubIssue(parent, child Ref) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addSub(s.mustIssue(parent.Repo, parent.Number), s.mustIssue(child.Repo, child.Number))
}

// Issue returns a copy of an issue.
func (s *Server) Issue(repoName string, number int) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoName]
	if r == nil || number < 1 || number > len(r.issues) {
		return Issue{}, false
	}
	return copyIssue(r.issues[number-1]), true
}

// Issues returns copies of a repository's issues and pull requests.
func (s *Server) Issues(repoName string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoName]
	if r == nil {
		return nil
	}
	out := make([]Issue, 0, len(r.issues))
	for _, is := range r.issues {
		out = append(out, copyIssue(is))
	}
	return out
}

// Labels returns a repository's labels.
func (s *Server) Labels(repoName string) []Label {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoName]
	if r == nil {
		return nil
	}
	out := make([]Label, 0, len(r.labels))
	for _, l := range r.labels {
		out = append(out, *l)
	}
	return out
}

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Count returns how many requests matched method and route ("" matches any).
func (s *Server) Count(method, route string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && (route == "" || r.Route == route) {
			n++
		}
	}
	return n
}

// MaxConcurrentWrites is the most writes the fake ever served at once.
func (s *Server) MaxConcurrentWrites() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight
}

// Writes counts requests that are not GET or HEAD.
func (s *Server) Writes() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			n++
		}
	}
	return n
}

func copyIssue(is *Issue) Issue {
	c := *is
	c.Labels = slices.Clone(is.Labels)
	c.Assignees = slices.Clone(is.Assignees)
	c.Children = slices.Clone(is.Children)
	c.Comments = slices.Clone(is.Comments)
	c.Events = slices.Clone(is.Events)
	if is.Parent != nil {
		p := *is.Parent
		c.Parent = &p
	}
	return c
}

// --- state changes (callers hold s.mu) ---

func (s *Server) id() int64 { s.nextID++; return s.nextID }

func (s *Server) mustRepo(name string) *repo {
	r := s.repos[name]
	if r == nil {
		r = &repo{name: name}
		s.repos[name] = r
	}
	return r
}

func (s *Server) mustIssue(repoName string, n int) *Issue {
	r := s.repos[repoName]
	if r == nil || n < 1 || n > len(r.issues) {
		panic(fmt.Sprintf("githubtest: no issue %s#%d", repoName, n))
	}
	return r.issues[n-1]
}

func (s *Server) findByID(id int64) *Issue {
	for _, r := range s.repos {
		for _, is := range r.issues {
			if is.ID == id {
				return is
			}
		}
	}
	return nil
}

func (s *Server) ensureLabel(r *repo, name, color string) *Label {
	for _, l := range r.labels {
		if strings.EqualFold(l.Name, name) {
			return l
		}
	}
	if color == "" {
		color = "ededed"
	}
	l := &Label{ID: s.id(), Name: name, Color: color}
	r.labels = append(r.labels, l)
	return l
}

func (s *Server) createIssue(r *repo, in NewIssue) *Issue {
	now := s.clock()
	is := &Issue{ID: s.id(), Number: len(r.issues) + 1, Repo: r.name, Title: in.Title, Body: in.Body, State: "open",
		Author: in.Author, Type: in.Type, PullRequest: in.PullRequest, CreatedAt: now, UpdatedAt: now,
		Assignees: slices.Clone(in.Assignees)}
	for _, l := range in.Labels {
		is.Labels = append(is.Labels, s.ensureLabel(r, l, "").Name)
	}
	r.issues = append(r.issues, is)
	return is
}

func (s *Server) setState(is *Issue, state, reason, actor string) {
	now := s.clock()
	switch state {
	case "closed":
		if reason == "" {
			reason = "completed"
		}
		is.State, is.StateReason, is.ClosedAt, is.ClosedBy = "closed", reason, &now, actor
		is.Events = append(is.Events, Event{ID: s.id(), Event: "closed", Actor: actor, StateReason: reason, CreatedAt: now})
	case "open":
		is.State, is.StateReason, is.ClosedAt, is.ClosedBy = "open", "reopened", nil, ""
		is.Events = append(is.Events, Event{ID: s.id(), Event: "reopened", Actor: actor, CreatedAt: now})
	}
	is.UpdatedAt = now
}

func (s *Server) addSub(parent, child *Issue) {
	now := s.clock()
	child.Parent = &Ref{Repo: parent.Repo, Number: parent.Number}
	parent.Children = append(parent.Children, Ref{Repo: child.Repo, Number: child.Number})
	parent.UpdatedAt, child.UpdatedAt = now, now
}

// --- HTTP ---

// Routes the fake serves, named as GitHub's REST description names them
// (for Fault.Route and Count).
const (
	RouteUser       = "/user"
	RouteIssueTypes = "/orgs/{org}/issue-types"
	RouteIssues     = "/repos/{owner}/{repo}/issues"
	RouteIssue      = "/repos/{owner}/{repo}/issues/{issue_number}"
	RouteComments   = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
	RouteEvents     = "/repos/{owner}/{repo}/issues/{issue_number}/events"
	RouteSubIssues  = "/repos/{owner}/{repo}/issues/{issue_number}/sub_issues"
	RouteLabels     = "/repos/{owner}/{repo}/labels"
)

type routeFunc func(w http.ResponseWriter, r *http.Request) (int, any)

func (s *Server) routes() {
	h := func(pattern string, f routeFunc) {
		s.mux.HandleFunc(strings.Replace(pattern, " ", " /api/v3", 1), func(w http.ResponseWriter, r *http.Request) {
			status, body := f(w, r)
			s.writeJSON(w, r, status, body)
		})
	}
	h("GET "+RouteUser, s.getUser)
	h("GET "+RouteIssueTypes, s.listIssueTypes)
	h("GET "+RouteIssues, s.listIssues)
	h("POST "+RouteIssues, s.postIssue)
	h("GET "+RouteIssue, s.getIssue)
	h("PATCH "+RouteIssue, s.patchIssue)
	h("GET "+RouteComments, s.listComments)
	h("POST "+RouteComments, s.postComment)
	h("GET "+RouteEvents, s.listEvents)
	h("GET "+RouteSubIssues, s.listSubIssues)
	h("POST "+RouteSubIssues, s.postSubIssue)
	h("GET "+RouteLabels, s.listLabels)
	h("POST "+RouteLabels, s.postLabel)
	s.projectRoutes(h)
	s.commentRoutes(h)
}

// serve records the request, checks auth, applies faults and the rate limit,
// then dispatches.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	route := ""
	if _, p, ok := strings.Cut(pattern, " "); ok {
		route = strings.TrimPrefix(p, "/api/v3")
		if route == "/api/graphql" {
			route = RouteGraphQL
		}
	}
	s.mu.Lock()
	now := s.clock()
	rec := Request{Method: r.Method, Route: route, Path: r.URL.Path, Query: r.URL.Query(), At: now}
	idx := len(s.requests)
	s.requests = append(s.requests, rec)
	fault := s.takeFault(r.Method, route)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.inflight++
		s.maxFlight = max(s.maxFlight, s.inflight)
		defer func() {
			s.mu.Lock()
			s.inflight--
			s.mu.Unlock()
		}()
	}
	s.mu.Unlock()
	setStatus := func(code int) {
		s.mu.Lock()
		s.requests[idx].Status = code
		s.mu.Unlock()
	}

	if fault != nil && fault.Latency > 0 {
		select {
		case <-time.After(fault.Latency):
		case <-r.Context().Done():
			setStatus(0)
			return
		}
	}
	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+s.token && auth != "token "+s.token {
		setStatus(http.StatusUnauthorized)
		s.writeError(w, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest", nil)
		return
	}
	if code, limited := s.primaryLimit(w); limited {
		setStatus(code)
		return
	}
	if fault != nil && (fault.Status != 0 || fault.Drop) && !fault.AfterCommit {
		setStatus(fault.Status)
		s.writeFault(w, fault)
		return
	}
	if route == "" {
		setStatus(http.StatusNotFound)
		s.writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest", nil)
		return
	}
	if fault != nil && fault.AfterCommit {
		rr := httptest.NewRecorder()
		s.mux.ServeHTTP(rr, r) // the change is stored; the client never learns
		if fault.Drop {
			setStatus(0)
			dropConn(w)
			return
		}
		setStatus(fault.Status)
		s.writeFault(w, fault)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	s.mux.ServeHTTP(sw, r)
	setStatus(sw.status)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func dropConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("githubtest: response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func (s *Server) takeFault(method, route string) *Fault {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == method) && (f.Route == "" || f.Route == route) {
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			c := *f
			return &c
		}
	}
	return nil
}

const (
	docsPrimary   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
	docsSecondary = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

func (s *Server) writeFault(w http.ResponseWriter, f *Fault) {
	if f.Drop {
		dropConn(w)
		return
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	msg, docs := f.Message, "https://docs.github.com/rest"
	if f.Secondary {
		docs = docsSecondary
		if msg == "" {
			msg = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
		}
	}
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	s.writeError(w, f.Status, msg, docs, nil)
}

// primaryLimit answers 403 while the primary limit is exhausted.
func (s *Server) primaryLimit(w http.ResponseWriter) (int, bool) {
	s.mu.Lock()
	now := s.clock()
	if !s.reset.IsZero() && !now.Before(s.reset) {
		s.remaining, s.reset = s.rateLimit, time.Time{}
	}
	exhausted := s.remaining <= 0
	s.mu.Unlock()
	if !exhausted {
		return 0, false
	}
	s.rateHeaders(w, false)
	s.writeError(w, http.StatusForbidden, "API rate limit exceeded for user.", docsPrimary, nil)
	return http.StatusForbidden, true
}

func (s *Server) rateHeaders(w http.ResponseWriter, spend bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if s.reset.IsZero() {
		s.reset = now.Add(time.Hour)
	}
	if spend && s.remaining > 0 {
		s.remaining--
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.rateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(s.rateLimit-s.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("Date", now.Format(http.TimeFormat))
}

func (s *Server) writeError(w http.ResponseWriter, status int, msg, docs string, errs []map[string]string) {
	if w.Header().Get("X-RateLimit-Limit") == "" {
		s.rateHeaders(w, false)
	}
	body := map[string]any{"message": msg, "documentation_url": docs, "status": strconv.Itoa(status)}
	if errs != nil {
		body["errors"] = errs
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeJSON answers with ETag support on GET: a matching If-None-Match gets
// 304 and does not count against the rate limit.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, body any) {
	if status >= 400 {
		if e, ok := body.(apiError); ok {
			s.writeError(w, status, e.msg, "https://docs.github.com/rest", e.errs)
			return
		}
		s.writeError(w, status, http.StatusText(status), "https://docs.github.com/rest", nil)
		return
	}
	var b []byte
	if status != http.StatusNoContent {
		b, _ = json.Marshal(body)
	}
	if r.Method == http.MethodGet && status == http.StatusOK {
		sum := sha256.Sum256(append([]byte(w.Header().Get("Link")+"\n"), b...))
		etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
		w.Header().Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || strings.TrimPrefix(inm, "W/") == strings.TrimPrefix(etag, "W/")) {
			s.rateHeaders(w, false)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	s.rateHeaders(w, true)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type apiError struct {
	msg  string
	errs []map[string]string
}

func notFound() (int, any) { return http.StatusNotFound, apiError{msg: "Not Found"} }

func invalid(resource, field, code string) (int, any) {
	return http.StatusUnprocessableEntity, apiError{msg: "Validation Failed",
		errs: []map[string]string{{"resource": resource, "field": field, "code": code}}}
}

// lookup resolves {owner}/{repo} and, when present, {issue_number}.
func (s *Server) lookup(r *http.Request) (*repo, *Issue, bool) {
	rp := s.repos[r.PathValue("owner")+"/"+r.PathValue("repo")]
	if rp == nil {
		return nil, nil, false
	}
	if r.PathValue("issue_number") == "" {
		return rp, nil, true
	}
	n, err := strconv.Atoi(r.PathValue("issue_number"))
	if err != nil || n < 1 || n > len(rp.issues) {
		return rp, nil, false
	}
	return rp, rp.issues[n-1], true
}

func (s *Server) base(r *http.Request) string { return "http://" + r.Host + "/api/v3" }

// issueJSON renders an issue. closed_by appears only in single-issue
// responses (GET/PATCH one issue), as on GitHub; lists omit it.
func (s *Server) issueJSON(r *http.Request, is *Issue) map[string]any {
	base := s.base(r)
	labels := []map[string]any{}
	rp := s.repos[is.Repo]
	for _, name := range is.Labels {
		l := s.ensureLabel(rp, name, "")
		labels = append(labels, map[string]any{"id": l.ID, "name": l.Name, "color": l.Color})
	}
	assignees := []map[string]any{}
	for _, a := range is.Assignees {
		assignees = append(assignees, user(a))
	}
	m := map[string]any{
		"id": is.ID, "node_id": fmt.Sprintf("I_%d", is.ID), "number": is.Number, "title": is.Title, "body": is.Body,
		"state": is.State, "state_reason": nilIfEmpty(is.StateReason), "labels": labels, "assignees": assignees,
		"user": user(is.Author), "created_at": is.CreatedAt, "updated_at": is.UpdatedAt, "closed_at": is.ClosedAt,
		"comments": len(is.Comments), "locked": false,
		"url":            fmt.Sprintf("%s/repos/%s/issues/%d", base, is.Repo, is.Number),
		"repository_url": fmt.Sprintf("%s/repos/%s", base, is.Repo),
		"html_url":       fmt.Sprintf("http://%s/%s/issues/%d", r.Host, is.Repo, is.Number),
	}
	if is.ClosedBy != "" && r.PathValue("issue_number") != "" && !strings.HasSuffix(r.Pattern, "/sub_issues") {
		m["closed_by"] = user(is.ClosedBy)
	}
	if is.Type != "" {
		m["type"] = map[string]any{"id": typeID(is.Type), "name": is.Type}
	} else {
		m["type"] = nil
	}
	if is.PullRequest {
		m["pull_request"] = map[string]any{"url": fmt.Sprintf("%s/repos/%s/pulls/%d", base, is.Repo, is.Number)}
		m["html_url"] = fmt.Sprintf("http://%s/%s/pull/%d", r.Host, is.Repo, is.Number)
	} else {
		done := 0
		for _, c := range is.Children {
			if ch := s.repos[c.Repo].issues[c.Number-1]; ch.State == "closed" {
				done++
			}
		}
		pct := 0
		if len(is.Children) > 0 {
			pct = done * 100 / len(is.Children)
		}
		m["sub_issues_summary"] = map[string]any{"total": len(is.Children), "completed": done, "percent_completed": pct}
	}
	if is.Parent != nil {
		m["parent_issue_url"] = fmt.Sprintf("%s/repos/%s/issues/%d", base, is.Parent.Repo, is.Parent.Number)
	}
	return m
}

func typeID(name string) int64 {
	var h int64
	for _, c := range name {
		h = h*31 + int64(c)
	}
	return h&0xffff + 1
}

func user(login string) map[string]any {
	return map[string]any{"login": login, "id": typeID(login), "type": "User"}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// paginate applies page/per_page (default 30, max 100) and sets Link.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) []T {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	last := max((len(items)+per-1)/per, 1)
	link := func(p int, rel string) string {
		u := *r.URL
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		u.RawQuery = v.Encode()
		return fmt.Sprintf(`<http://%s%s>; rel="%s"`, r.Host, u.RequestURI(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := (page - 1) * per
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(start+per, len(items))]
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) (int, any) {
	return http.StatusOK, user(s.login)
}

func (s *Server) listIssueTypes(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names, ok := s.issueTypes[r.PathValue("org")]
	if !ok {
		return notFound()
	}
	out := []map[string]any{}
	for _, n := range names {
		out = append(out, map[string]any{"id": typeID(n), "name": n, "is_enabled": true})
	}
	return http.StatusOK, out
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, _, ok := s.lookup(r)
	if !ok {
		return notFound()
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return invalid("Issue", "since", "invalid")
		}
		since = t
	}
	var sel []*Issue
	for _, is := range rp.issues {
		if state != "all" && is.State != state {
			continue
		}
		if !since.IsZero() && is.UpdatedAt.Before(since) {
			continue
		}
		if !hasAll(is.Labels, want) {
			continue
		}
		sel = append(sel, is)
	}
	key := func(is *Issue) time.Time { return is.CreatedAt }
	if q.Get("sort") == "updated" {
		key = func(is *Issue) time.Time { return is.UpdatedAt }
	}
	asc := q.Get("direction") == "asc"
	sort.SliceStable(sel, func(i, j int) bool {
		a, b := key(sel[i]), key(sel[j])
		if a.Equal(b) {
			if asc {
				return sel[i].Number < sel[j].Number
			}
			return sel[i].Number > sel[j].Number
		}
		if asc {
			return a.Before(b)
		}
		return a.After(b)
	})
	out := []map[string]any{}
	for _, is := range paginate(w, r, sel) {
		out = append(out, s.issueJSON(r, is))
	}
	return http.StatusOK, out
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, strings.TrimSpace(w)) }) {
			return false
		}
	}
	return true
}

type issueBody struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	Labels      *[]string `json:"labels"`
	Assignees   *[]string `json:"assignees"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
	Type        *string   `json:"type"`
}

func decode(r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return err == nil && json.Unmarshal(b, v) == nil
}

// tooLong applies GitHub's limits on titles (256) and bodies (65536 characters).
func tooLong(in issueBody) (int, any, bool) {
	if in.Title != nil && utf8.RuneCountInString(*in.Title) > 256 {
		code, body := invalid("Issue", "title", "custom")
		return code, body, true
	}
	if in.Body != nil && utf8.RuneCountInString(*in.Body) > 65536 {
		code, body := invalid("Issue", "body", "custom")
		return code, body, true
	}
	return 0, nil, false
}

func (s *Server) validType(repoName, name string) bool {
	org, _, _ := strings.Cut(repoName, "/")
	return slices.Contains(s.issueTypes[org], name)
}

func (s *Server) postIssue(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, _, ok := s.lookup(r)
	if !ok {
		return notFound()
	}
	var in issueBody
	if !decode(r, &in) || in.Title == nil || strings.TrimSpace(*in.Title) == "" {
		return invalid("Issue", "title", "missing_field")
	}
	if in.Type != nil && *in.Type != "" && !s.validType(rp.name, *in.Type) {
		return invalid("Issue", "type", "invalid")
	}
	if code, body, bad := tooLong(in); bad {
		return code, body
	}
	ni := NewIssue{Title: *in.Title, Author: s.login}
	if in.Body != nil {
		ni.Body = *in.Body
	}
	if in.Labels != nil {
		ni.Labels = *in.Labels
	}
	if in.Assignees != nil {
		ni.Assignees = *in.Assignees
	}
	if in.Type != nil {
		ni.Type = *in.Type
	}
	is := s.createIssue(rp, ni)
	w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/issues/%d", s.base(r), rp.name, is.Number))
	return http.StatusCreated, s.issueJSON(r, is)
}

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is, ok := s.lookup(r)
	if !ok || is == nil {
		return notFound()
	}
	return http.StatusOK, s.issueJSON(r, is)
}

func (s *Server) patchIssue(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, is, ok := s.lookup(r)
	if !ok || is == nil {
		return notFound()
	}
	var in issueBody
	if !decode(r, &in) {
		return http.StatusBadRequest, apiError{msg: "Problems parsing JSON"}
	}
	if in.Type != nil && *in.Type != "" && !s.validType(rp.name, *in.Type) {
		return invalid("Issue", "type", "invalid")
	}
	if code, body, bad := tooLong(in); bad {
		return code, body
	}
	now := s.clock()
	if in.Title != nil && *in.Title != is.Title {
		is.Events = append(is.Events, Event{ID: s.id(), Event: "renamed", Actor: s.login, CreatedAt: now})
		is.Title = *in.Title
	}
	if in.Body != nil {
		is.Body = *in.Body
	}
	if in.Labels != nil {
		var next []string
		for _, l := range *in.Labels {
			next = append(next, s.ensureLabel(rp, l, "").Name)
		}
		for _, l := range next {
			if !slices.Contains(is.Labels, l) {
				is.Events = append(is.Events, Event{ID: s.id(), Event: "labeled", Actor: s.login, Label: l, CreatedAt: now})
			}
		}
		for _, l := range is.Labels {
			if !slices.Contains(next, l) {
				is.Events = append(is.Events, Event{ID: s.id(), Event: "unlabeled", Actor: s.login, Label: l, CreatedAt: now})
			}
		}
		is.Labels = next
	}
	if in.Assignees != nil {
		is.Assignees = slices.Clone(*in.Assignees)
	}
	if in.Type != nil {
		is.Type = *in.Type
	}
	if in.State != nil && *in.State != is.State {
		reason := ""
		if in.StateReason != nil {
			reason = *in.StateReason
		}
		s.setState(is, *in.State, reason, s.login)
	} else if in.State != nil && *in.State == "closed" && in.StateReason != nil {
		is.StateReason = *in.StateReason
	}
	is.UpdatedAt = now // GitHub bumps updated_at on every edit, ours included
	return http.StatusOK, s.issueJSON(r, is)
}

func commentJSON(r *http.Request, repoName string, n int, c Comment) map[string]any {
	return map[string]any{"id": c.ID, "body": c.Body, "user": user(c.Author), "created_at": c.CreatedAt,
		"updated_at": c.updated(), "html_url": fmt.Sprintf("http://%s/%s/issues/%d#issuecomment-%d", r.Host, repoName, n, c.ID)}
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, is, ok := s.lookup(r)
	if !ok || is == nil {
		return notFound()
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return invalid("IssueComment", "since", "invalid")
		}
		since = t
	}
	var sel []Comment
	for _, c := range is.Comments {
		if !c.CreatedAt.Before(since) {
			sel = append(sel, c)
		}
	}
	out := []map[string]any{}
	for _, c := range paginate(w, r, sel) {
		out = append(out, commentJSON(r, rp.name, is.Number, c))
	}
	return http.StatusOK, out
}

func (s *Server) postComment(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, is, ok := s.lookup(r)
	if !ok || is == nil {
		return notFound()
	}
	var in struct {
		Body string `json:"body"`
	}
	if !decode(r, &in) || in.Body == "" {
		return invalid("IssueComment", "body", "missing_field")
	}
	c := Comment{ID: s.id(), Author: s.login, Body: in.Body, CreatedAt: s.clock()}
	is.Comments = append(is.Comments, c)
	is.UpdatedAt = c.CreatedAt
	return http.StatusCreated, commentJSON(r, rp.name, is.Number, c)
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is, ok := s.lookup(r)
	if !ok || is == nil {
		return notFound()
	}
	out := []map[string]any{}
	for _, e := range paginate(w, r, is.Events) {
		m := map[string]any{"id": e.ID, "event": e.Event, "actor": user(e.Actor), "created_at": e.CreatedAt,
			"state_reason": nilIfEmpty(e.StateReason)}
		if e.Label != "" {
			m["label"] = map[string]any{"name": e.Label}
		}
		out = append(out, m)
	}
	return http.StatusOK, out
}

func (s *Server) listSubIssues(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is, ok := s.lookup(r)
	if !ok || is == nil {
		return notFound()
	}
	out := []map[string]any{}
	for _, c := range paginate(w, r, is.Children) {
		out = append(out, s.issueJSON(r, s.repos[c.Repo].issues[c.Number-1]))
	}
	return http.StatusOK, out
}

func (s *Server) postSubIssue(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is, ok := s.lookup(r)
	if !ok || is == nil {
		return notFound()
	}
	var in struct {
		SubIssueID int64 `json:"sub_issue_id"`
	}
	if !decode(r, &in) {
		return invalid("SubIssue", "sub_issue_id", "missing_field")
	}
	child := s.findByID(in.SubIssueID)
	if child == nil || child.Parent != nil || child == is {
		return invalid("SubIssue", "sub_issue_id", "invalid")
	}
	s.addSub(is, child)
	return http.StatusCreated, s.issueJSON(r, child)
}

func (s *Server) listLabels(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, _, ok := s.lookup(r)
	if !ok {
		return notFound()
	}
	out := []map[string]any{}
	for _, l := range paginate(w, r, rp.labels) {
		out = append(out, map[string]any{"id": l.ID, "name": l.Name, "color": l.Color})
	}
	return http.StatusOK, out
}

func (s *Server) postLabel(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, _, ok := s.lookup(r)
	if !ok {
		return notFound()
	}
	var in struct {
		Name  string `json:"name"`
		Color string `json:"color"`
	}
	if !decode(r, &in) || in.Name == "" {
		return invalid("Label", "name", "missing_field")
	}
	for _, l := range rp.labels {
		if strings.EqualFold(l.Name, in.Name) {
			return invalid("Label", "name", "already_exists")
		}
	}
	l := s.ensureLabel(rp, in.Name, in.Color)
	return http.StatusCreated, map[string]any{"id": l.ID, "name": l.Name, "color": l.Color}
}
