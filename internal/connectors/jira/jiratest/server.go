// Package jiratest is a stateful fake of the Jira REST API (v2 paths) for
// tests: projects, issue types, priorities, a workflow with status
// categories, issues with labels, properties, comments, parents and a
// changelog, /search/jql with a JQL subset and nextPageToken, the removed
// /search answering 410 on Cloud, and the sharp edges of the real service:
// search lag, minute-precision JQL dates in the user's (non-UTC) time zone,
// 429 with Retry-After and an ISO-8601 X-RateLimit-Reset, faults.
//
// Start it with NewServer(t), point the connector's HTTPClient at
// Server.Client() and its Now at Server.Now, then drive people's actions with
// Transition, Edit, CreateChild and inspect with Issue, Requests and Count.
package jiratest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Credentials the fake accepts.
const (
	Email    = "risksync@example.com"
	APIToken = "fake-api-token"
	PAT      = "fake-personal-access-token"
)

// Accounts.
const (
	BotAccountID    = "712020:risksync-bot" // the authenticated account
	PersonAccountID = "5b10ac8d82e05b22cc7d4ef5"
	BotName         = "risksync"
	PersonName      = "alice"
)

// Deployments.
const (
	Cloud      = "cloud"
	DataCenter = "datacenter"
)

// EpicLinkField is the Data Center Epic Link custom field.
const EpicLinkField = "customfield_10008"

// Status ids of the default workflow.
const (
	StatusToDo       = "To Do"
	StatusInProgress = "In Progress"
	StatusDone       = "Done"
)

// Option configures NewServer.
type Option func(*Server)

// WithDeployment makes the fake a Data Center instance (old /search works,
// bearer PAT, serverInfo says Server) or Cloud (the default).
func WithDeployment(d string) Option { return func(s *Server) { s.deployment = d } }

// WithTimeZone sets the authenticated user's time zone (default Australia/Adelaide, UTC+9:30/+10:30).
func WithTimeZone(name string) Option {
	return func(s *Server) {
		loc, err := time.LoadLocation(name)
		if err != nil {
			panic(err)
		}
		s.tz = loc
	}
}

// WithStart sets the fake clock's start (default 2026-11-20T09:00:00Z).
func WithStart(t time.Time) Option { return func(s *Server) { s.clock = t } }

// Server is the fake Jira.
type Server struct {
	*httptest.Server
	t testing.TB

	mu         sync.Mutex
	deployment string
	tz         *time.Location
	clock      time.Time
	projects   map[string]*Project
	issues     []*issue
	byKey      map[string]*issue
	commentSeq int
	editors    map[string]map[string]bool // account id or name → projects where it holds Edit Issues (comments.go)
	nextID     int
	histID     int
	statuses   map[string]*status
	requests   []Request
	faults     []*fault
	lag        time.Duration
	latency    time.Duration
	slept      []time.Duration
	extra      []transitionDef
	rank       rankState
}

// Project is a seeded project.
type Project struct {
	ID, Key, Name   string
	IssueTypes      []IssueType
	Priorities      []Priority // allowed in this project
	DefaultPriority string     // name
	RequiredFields  []string   // custom fields required on create, e.g. "Team"
	// NoResolutionScreen removes the resolution field from the Done transition.
	NoResolutionScreen bool
	nextNum            int
}

// IssueType is an issue type of a project.
type IssueType struct{ ID, Name string }

// Priority is a priority.
type Priority struct{ ID, Name string }

type status struct{ ID, Name, Category string }

type issue struct {
	ID          int
	Key         string
	project     *Project
	typ         IssueType
	Summary     string
	Description string
	Priority    Priority
	Labels      []string
	status      *status
	Resolution  string
	Parent      string
	EpicLink    string // Data Center: the epic of a non-sub-task issue
	Created     time.Time
	Updated     time.Time
	Props       map[string]json.RawMessage
	Comments    []Comment
	History     []History
	Fields      map[string]any // custom fields
	rank        string         // LexoRank-like digits; see rank.go
}

// Comment is a comment on an issue.
type Comment struct {
	ID, Author, Body string
	Created          time.Time
	Updated          time.Time // zero until edited
}

// History is one changelog entry.
type History struct {
	ID      int
	Author  string // account id
	Created time.Time
	Items   []HistoryItem
}

// HistoryItem is one changed field.
type HistoryItem struct{ Field, From, To string }

// Request is a recorded request.
type Request struct {
	Method, Path, Route string
	Query               url.Values
	Body                []byte
}

// DefaultPriorities are seeded into projects that name none.
var DefaultPriorities = []Priority{{"1", "Highest"}, {"2", "High"}, {"3", "Medium"}, {"4", "Low"}, {"5", "Lowest"}}

// NewServer starts a Cloud fake with no projects; Close runs at test cleanup.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	adelaide, err := time.LoadLocation("Australia/Adelaide")
	if err != nil {
		t.Fatalf("jiratest: %v", err)
	}
	s := &Server{t: t, deployment: Cloud, tz: adelaide, clock: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		projects: map[string]*Project{}, byKey: map[string]*issue{}, nextID: 10000,
		statuses: map[string]*status{
			StatusToDo:       {ID: "10000", Name: StatusToDo, Category: "new"},
			StatusInProgress: {ID: "3", Name: StatusInProgress, Category: "indeterminate"},
			StatusDone:       {ID: "10001", Name: StatusDone, Category: "done"},
		}}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Now is the fake clock; give it to the connector as Options.Now.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock
}

// Advance moves the fake clock.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.clock = s.clock.Add(d)
	s.mu.Unlock()
}

// Sleep advances the fake clock instead of sleeping; give it to the connector as Options.Sleep.
func (s *Server) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.slept = append(s.slept, d)
	s.clock = s.clock.Add(d)
	s.mu.Unlock()
	return nil
}

// Slept lists the waits passed to Sleep.
func (s *Server) Slept() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.slept...)
}

// TimeZone is the authenticated user's time zone.
func (s *Server) TimeZone() *time.Location { return s.tz }

// AddProject seeds a project. Missing issue types, priorities and default
// priority get Jira's defaults (Epic, Task, Story, Sub-task; Highest..Lowest; Medium).
func (s *Server) AddProject(p Project) *Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.ID == "" {
		p.ID = strconv.Itoa(10000 + len(s.projects))
	}
	if p.Name == "" {
		p.Name = p.Key
	}
	if len(p.IssueTypes) == 0 {
		p.IssueTypes = []IssueType{{"10000", "Epic"}, {"10001", "Task"}, {"10002", "Story"}, {"10003", "Sub-task"}}
	}
	if len(p.Priorities) == 0 {
		p.Priorities = DefaultPriorities
	}
	if p.DefaultPriority == "" {
		p.DefaultPriority = "Medium"
	}
	pp := p
	s.projects[p.Key] = &pp
	return &pp
}

// SetSearchLag hides issues created less than d ago (fake clock) from
// searches, unless their id is passed in reconcileIssues.
func (s *Server) SetSearchLag(d time.Duration) { s.mu.Lock(); s.lag = d; s.mu.Unlock() }

// SetLatency delays every answer by d (real time).
func (s *Server) SetLatency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

type fault struct {
	method, route string // "" matches any
	n             int
	status        int
	drop          bool // apply the request, then cut the connection
	retryAfter    time.Duration
	noRetryAfter  bool
	body          any
}

// Fail answers the next n requests matching method and route (a template
// such as "/rest/api/2/issue/{issueIdOrKey}"; "" matches any) with status.
func (s *Server) Fail(method, route string, n, status int) {
	s.addFault(&fault{method: method, route: route, n: n, status: status})
}

// FailJSON answers the next n matching requests with status and body, e.g.
// Jira's {"errorMessages":[],"errors":{"field":"message"}}.
func (s *Server) FailJSON(method, route string, n, status int, body any) {
	s.addFault(&fault{method: method, route: route, n: n, status: status, body: body})
}

// DropAfterCommit applies the next n matching requests, then closes the
// connection without an answer: the client cannot know the outcome.
func (s *Server) DropAfterCommit(method, route string, n int) {
	s.addFault(&fault{method: method, route: route, n: n, drop: true})
}

// RateLimit answers the next n requests with 429, Retry-After in seconds and
// X-RateLimit-Reset as Jira sends it: ISO-8601 to the minute, e.g. 2026-11-20T09:01Z.
func (s *Server) RateLimit(n int, retryAfter time.Duration) {
	s.addFault(&fault{n: n, status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// RateLimitResetOnly is RateLimit with only the X-RateLimit-Reset header.
func (s *Server) RateLimitResetOnly(n int, after time.Duration) {
	s.addFault(&fault{n: n, status: http.StatusTooManyRequests, retryAfter: after, noRetryAfter: true})
}

func (s *Server) addFault(f *fault) { s.mu.Lock(); s.faults = append(s.faults, f); s.mu.Unlock() }

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.mu.Lock(); s.requests = nil; s.mu.Unlock() }

// Count counts recorded requests by method and route template ("" matches any).
func (s *Server) Count(method, route string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && (route == "" || r.Route == route) {
			n++
		}
	}
	return n
}

// Writes counts recorded requests that change something (not GET, not searches).
func (s *Server) Writes() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet && !strings.Contains(r.Route, "/search") {
			n++
		}
	}
	return n
}

// IssueView is a read-only copy of an issue.
type IssueView struct {
	ID                                                   int
	Key, Project, Type, Summary, Description             string
	Priority, Status, StatusCategory, Resolution, Parent string
	Labels                                               []string
	Created, Updated                                     time.Time
	Properties                                           map[string]json.RawMessage
	Comments                                             []Comment
	History                                              []History
}

// Issue returns a copy of an issue, or nil.
func (s *Server) Issue(key string) *IssueView {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.byKey[key]
	if is == nil {
		return nil
	}
	return is.view()
}

// Issues returns copies of all issues, in creation order.
func (s *Server) Issues() []*IssueView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*IssueView, len(s.issues))
	for i, is := range s.issues {
		out[i] = is.view()
	}
	return out
}

func (is *issue) view() *IssueView {
	parent := is.Parent
	if parent == "" {
		parent = is.EpicLink
	}
	v := &IssueView{ID: is.ID, Key: is.Key, Project: is.project.Key, Type: is.typ.Name, Summary: is.Summary, Description: is.Description,
		Priority: is.Priority.Name, Status: is.status.Name, StatusCategory: is.status.Category, Resolution: is.Resolution, Parent: parent,
		Labels: append([]string(nil), is.Labels...), Created: is.Created, Updated: is.Updated, Properties: map[string]json.RawMessage{},
		Comments: append([]Comment(nil), is.Comments...), History: append([]History(nil), is.History...)}
	for k, p := range is.Props {
		v.Properties[k] = p
	}
	return v
}

// NewIssue is an issue a person creates.
type NewIssue struct {
	Project, Type, Summary, Description, Parent, Priority string
	Labels                                                []string
}

// CreateIssue creates an issue as a person and returns its key.
func (s *Server) CreateIssue(n NewIssue) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[n.Project]
	if p == nil {
		s.t.Fatalf("jiratest: no project %s", n.Project)
	}
	typ := p.IssueTypes[0]
	for _, it := range p.IssueTypes {
		if strings.EqualFold(it.Name, n.Type) {
			typ = it
		}
	}
	is := s.newIssue(p, typ)
	is.Summary, is.Description, is.Parent, is.Labels = n.Summary, n.Description, n.Parent, n.Labels
	if s.deployment == DataCenter && !strings.EqualFold(typ.Name, "Sub-task") {
		// Data Center ties stories and tasks to an epic through Epic Link;
		// parent holds sub-tasks only.
		is.Parent, is.EpicLink = "", n.Parent
	}
	if n.Priority != "" {
		is.Priority = findPriority(p, n.Priority, "")
	}
	return is.Key
}

// CreateChild creates a Task under parent as a person.
func (s *Server) CreateChild(parent, summary string) string {
	p := s.Issue(parent)
	if p == nil {
		s.t.Fatalf("jiratest: no issue %s", parent)
	}
	return s.CreateIssue(NewIssue{Project: p.Project, Type: "Task", Summary: summary, Parent: parent})
}

// Transition moves an issue to a status as a person; resolution is set when
// the status is of category done ("" means Done).
func (s *Server) Transition(key, statusName, resolution string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.byKey[key]
	st := s.statuses[statusName]
	if is == nil || st == nil {
		s.t.Fatalf("jiratest: transition %s to %s: unknown issue or status", key, statusName)
	}
	s.moveStatus(is, st, resolution, PersonAccountID)
}

// Edit changes a field (summary, description, priority, labels as a
// comma-separated list) as a person.
func (s *Server) Edit(key, field, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.byKey[key]
	if is == nil {
		s.t.Fatalf("jiratest: no issue %s", key)
	}
	var items []HistoryItem
	switch field {
	case "summary":
		items = append(items, HistoryItem{"summary", is.Summary, value})
		is.Summary = value
	case "description":
		items = append(items, HistoryItem{"description", is.Description, value})
		is.Description = value
	case "priority":
		p := findPriority(is.project, value, "")
		items = append(items, HistoryItem{"priority", is.Priority.Name, p.Name})
		is.Priority = p
	case "labels":
		var ls []string
		if value != "" {
			ls = strings.Split(value, ",")
		}
		items = append(items, HistoryItem{"labels", strings.Join(is.Labels, " "), strings.Join(ls, " ")})
		is.Labels = ls
	default:
		s.t.Fatalf("jiratest: Edit of unknown field %s", field)
	}
	s.record(is, PersonAccountID, items)
}

// DeleteIssue deletes an issue as a person: reads by key answer 404 and
// searches no longer show it.
func (s *Server) DeleteIssue(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.byKey[key]
	if is == nil {
		s.t.Fatalf("jiratest: no issue %s", key)
	}
	delete(s.byKey, key)
	for i, x := range s.issues {
		if x == is {
			s.issues = append(s.issues[:i:i], s.issues[i+1:]...)
			break
		}
	}
}

// SetProperty sets an issue property as a person (or an app).
func (s *Server) SetProperty(key, prop string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(value)
	s.byKey[key].Props[prop] = b
}

func findPriority(p *Project, name, id string) Priority {
	for _, pr := range p.Priorities {
		if (name != "" && strings.EqualFold(pr.Name, name)) || (id != "" && pr.ID == id) {
			return pr
		}
	}
	return Priority{}
}

func (s *Server) newIssue(p *Project, typ IssueType) *issue {
	s.nextID++
	p.nextNum++
	now := s.clock
	is := &issue{ID: s.nextID, Key: fmt.Sprintf("%s-%d", p.Key, p.nextNum), project: p, typ: typ,
		Priority: findPriority(p, p.DefaultPriority, ""), status: s.statuses[StatusToDo],
		Created: now, Updated: now, Props: map[string]json.RawMessage{}, Fields: map[string]any{}}
	is.rank = s.nextRank()
	s.issues = append(s.issues, is)
	s.byKey[is.Key] = is
	return is
}

func (s *Server) record(is *issue, author string, items []HistoryItem) {
	var real []HistoryItem
	for _, it := range items {
		if it.From != it.To {
			real = append(real, it)
		}
	}
	if len(real) == 0 {
		return
	}
	s.histID++
	is.History = append(is.History, History{ID: s.histID, Author: author, Created: s.clock, Items: real})
	is.Updated = s.clock
}

func (s *Server) moveStatus(is *issue, st *status, resolution, author string) {
	items := []HistoryItem{{"status", is.status.Name, st.Name}}
	if st.Category == "done" {
		if resolution == "" {
			resolution = "Done"
		}
		items = append(items, HistoryItem{"resolution", is.Resolution, resolution})
		is.Resolution = resolution
	} else if is.Resolution != "" {
		items = append(items, HistoryItem{"resolution", is.Resolution, ""})
		is.Resolution = ""
	}
	is.status = st
	s.record(is, author, items)
}

// ---- HTTP ----

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	route := routeOf(r.URL.Path)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Route: route, Query: r.URL.Query(), Body: body})
	latency := s.latency
	var f *fault
	for _, x := range s.faults {
		if x.n > 0 && (x.method == "" || x.method == r.Method) && (x.route == "" || x.route == route) {
			x.n--
			f = x
			break
		}
	}
	now := s.clock
	s.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, errorBody("Client must be authenticated to access this resource."))
		return
	}
	if f != nil && !f.drop {
		if f.status == http.StatusTooManyRequests || f.status == http.StatusServiceUnavailable {
			if f.retryAfter > 0 && !f.noRetryAfter {
				w.Header().Set("Retry-After", strconv.Itoa(int(f.retryAfter.Round(time.Second)/time.Second)))
			}
			if f.retryAfter > 0 {
				// Documented format: to the minute (yyyy-MM-ddTHH:mmZ).
				w.Header().Set("X-RateLimit-Reset", now.Add(f.retryAfter).UTC().Format("2006-01-02T15:04Z"))
			}
		}
		if f.body != nil {
			writeJSON(w, f.status, f.body)
			return
		}
		writeJSON(w, f.status, errorBody(http.StatusText(f.status)))
		return
	}
	rec := httptest.NewRecorder()
	s.dispatch(rec, r, route, body)
	if f != nil && f.drop {
		hj, ok := w.(http.Hijacker)
		if !ok {
			s.t.Errorf("jiratest: cannot drop the connection")
			return
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if s.deployment == DataCenter {
		return h == "Bearer "+PAT
	}
	u, p, ok := r.BasicAuth()
	return ok && u == Email && p == APIToken
}

func errorBody(msgs ...string) map[string]any {
	return map[string]any{"errorMessages": msgs, "errors": map[string]string{}}
}

func fieldErrors(errs map[string]string) map[string]any {
	return map[string]any{"errorMessages": []string{}, "errors": errs}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// routeOf maps a path to its documented template.
func routeOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 4 || segs[0] != "rest" || segs[1] != "api" {
		return path
	}
	rest := append([]string(nil), segs[3:]...)
	switch {
	case len(rest) >= 3 && rest[0] == "issue" && rest[1] == "createmeta":
		rest[2] = "{projectIdOrKey}"
		if len(rest) >= 5 {
			rest[4] = "{issueTypeId}"
		}
	case len(rest) >= 2 && rest[0] == "issue":
		rest[1] = "{issueIdOrKey}"
		if len(rest) >= 4 && rest[2] == "properties" {
			rest[3] = "{propertyKey}"
		}
		if len(rest) >= 4 && rest[2] == "comment" {
			rest[3] = "{id}"
		}
	}
	return "/" + strings.Join(append(segs[:3:3], rest...), "/")
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, route string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route == RankRoute { // Jira Software's agile API, beside the platform's
		if r.Method != http.MethodPut {
			writeJSON(w, http.StatusMethodNotAllowed, errorBody("Method not allowed."))
			return
		}
		s.rankIssues(w, body)
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	ver := ""
	if len(segs) >= 3 {
		ver = segs[2]
	}
	if ver != "2" && ver != "3" && ver != "latest" {
		writeJSON(w, http.StatusNotFound, errorBody("not found"))
		return
	}
	tmpl := strings.Replace(route, "/rest/api/"+ver+"/", "/", 1)
	q := r.URL.Query()
	switch r.Method + " " + tmpl {
	case "GET /serverInfo":
		dt := "Cloud"
		if s.deployment == DataCenter {
			dt = "Server"
		}
		writeJSON(w, 200, map[string]any{"baseUrl": s.URL, "deploymentType": dt, "version": "1001.0.0", "serverTitle": "Jira"})
	case "GET /field":
		writeJSON(w, 200, []map[string]any{
			{"id": "summary", "name": "Summary", "custom": false, "schema": map[string]any{"type": "string", "system": "summary"}},
			{"id": EpicLinkField, "name": "Epic Link", "custom": true, "schema": map[string]any{"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link", "customId": 10008}},
			{"id": RankField, "name": "Rank", "custom": true, "schema": map[string]any{"type": "any", "custom": RankSchema, "customId": RankFieldID}},
		})
	case "GET /myself":
		writeJSON(w, 200, s.user(BotAccountID, true))
	case "GET /issue/createmeta/{projectIdOrKey}/issuetypes":
		s.createMetaTypes(w, segs[5], q)
	case "GET /issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}":
		s.createMetaFields(w, segs[5], segs[7], q)
	case "GET /search/jql", "POST /search/jql":
		if s.deployment == DataCenter {
			writeJSON(w, http.StatusNotFound, errorBody("null for uri: "+r.URL.String()))
			return
		}
		s.searchJQL(w, r, body)
	case "GET /search", "POST /search":
		if s.deployment == Cloud {
			writeJSON(w, http.StatusGone, errorBody("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"))
			return
		}
		if r.Method == http.MethodPost {
			var p struct {
				JQL        string   `json:"jql"`
				StartAt    int      `json:"startAt"`
				MaxResults int      `json:"maxResults"`
				Fields     []string `json:"fields"`
				Expand     []string `json:"expand"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				writeJSON(w, 400, errorBody("Invalid request payload."))
				return
			}
			q = url.Values{"jql": {p.JQL}, "startAt": {strconv.Itoa(p.StartAt)}, "maxResults": {strconv.Itoa(p.MaxResults)},
				"fields": {strings.Join(p.Fields, ",")}, "expand": {strings.Join(p.Expand, ",")}}
		}
		s.searchOld(w, q)
	case "POST /issue":
		s.createIssue(w, body)
	case "GET /issue/{issueIdOrKey}":
		if is := s.find(w, segs[4]); is != nil {
			writeJSON(w, 200, s.render(is, splitList(q["fields"]), q.Get("expand"), true))
		}
	case "PUT /issue/{issueIdOrKey}":
		if is := s.find(w, segs[4]); is != nil {
			s.editIssue(w, is, body)
		}
	case "GET /issue/{issueIdOrKey}/properties/{propertyKey}":
		if is := s.find(w, segs[4]); is != nil {
			v, ok := is.Props[segs[6]]
			if !ok {
				writeJSON(w, 404, errorBody("The property with key '"+segs[6]+"' does not exist."))
				return
			}
			writeJSON(w, 200, map[string]any{"key": segs[6], "value": json.RawMessage(v)})
		}
	case "PUT /issue/{issueIdOrKey}/properties/{propertyKey}":
		if is := s.find(w, segs[4]); is != nil {
			if !json.Valid(body) {
				writeJSON(w, 400, errorBody("The property value must be valid JSON."))
				return
			}
			_, existed := is.Props[segs[6]]
			is.Props[segs[6]] = append(json.RawMessage(nil), body...)
			if existed {
				writeJSON(w, 200, nil)
			} else {
				writeJSON(w, 201, nil)
			}
		}
	case "GET /issue/{issueIdOrKey}/transitions":
		if is := s.find(w, segs[4]); is != nil {
			writeJSON(w, 200, map[string]any{"transitions": s.transitions(is, q.Get("expand") != "")})
		}
	case "POST /issue/{issueIdOrKey}/transitions":
		if is := s.find(w, segs[4]); is != nil {
			s.doTransition(w, is, body)
		}
	case "POST /issue/{issueIdOrKey}/comment":
		if is := s.find(w, segs[4]); is != nil {
			var c struct {
				Body any `json:"body"`
			}
			if json.Unmarshal(body, &c) != nil || c.Body == nil || c.Body == "" {
				writeJSON(w, 400, fieldErrors(map[string]string{"comment": "Comment body can not be empty!"}))
				return
			}
			text, _ := c.Body.(string)
			cm := s.addComment(is, BotAccountID, text)
			writeJSON(w, 201, map[string]any{"id": cm.ID, "body": cm.Body, "author": s.user(BotAccountID, false), "created": s.fmtTime(cm.Created)})
		}
	default:
		if !s.dispatchComments(w, r.Method+" "+tmpl, segs, q) {
			writeJSON(w, http.StatusNotFound, errorBody("null for uri: "+r.URL.String()))
		}
	}
}

func (s *Server) addComment(is *issue, author, body string) Comment {
	s.commentSeq++ // ids are unique across issues, as Jira's are
	cm := Comment{ID: strconv.Itoa(20000 + s.commentSeq), Author: author, Body: body, Created: s.clock}
	is.Comments = append(is.Comments, cm)
	is.Updated = s.clock
	return cm
}

func (s *Server) find(w http.ResponseWriter, idOrKey string) *issue {
	if is := s.byKey[strings.ToUpper(idOrKey)]; is != nil {
		return is
	}
	for _, is := range s.issues {
		if strconv.Itoa(is.ID) == idOrKey {
			return is
		}
	}
	writeJSON(w, 404, errorBody("Issue does not exist or you do not have permission to see it."))
	return nil
}

func (s *Server) user(id string, full bool) map[string]any {
	name := PersonName
	if id == BotAccountID {
		name = BotName
	}
	u := map[string]any{"displayName": name, "active": true}
	if s.deployment == DataCenter {
		u["name"], u["key"] = name, "JIRAUSER-"+name
	} else {
		u["accountId"], u["accountType"] = id, "atlassian"
	}
	if full {
		u["timeZone"] = s.tz.String()
		u["emailAddress"] = Email
	}
	return u
}

// fmtTime renders a time as Jira does: in the user's zone, milliseconds, ±hhmm.
func (s *Server) fmtTime(t time.Time) string {
	return t.In(s.tz).Format("2006-01-02T15:04:05.000-0700")
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

func (s *Server) projectOf(idOrKey string) *Project {
	for _, p := range s.projects {
		if strings.EqualFold(p.Key, idOrKey) || p.ID == idOrKey {
			return p
		}
	}
	return nil
}

func pageParams(q url.Values, def int) (start, max int) {
	start, _ = strconv.Atoi(q.Get("startAt"))
	max, _ = strconv.Atoi(q.Get("maxResults"))
	if max <= 0 {
		max = def
	}
	return max0(start), max
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

func (s *Server) createMetaTypes(w http.ResponseWriter, project string, q url.Values) {
	p := s.projectOf(project)
	if p == nil {
		writeJSON(w, 404, errorBody("No project could be found with key '"+project+"'."))
		return
	}
	var types []map[string]any
	for _, t := range p.IssueTypes {
		types = append(types, map[string]any{"id": t.ID, "name": t.Name, "subtask": strings.EqualFold(t.Name, "Sub-task")})
	}
	s.page(w, q, types, "issueTypes", 50)
}

func (s *Server) page(w http.ResponseWriter, q url.Values, all []map[string]any, key string, def int) {
	start, max := pageParams(q, def)
	end := min(start+max, len(all))
	items := []map[string]any{}
	if start < len(all) {
		items = all[start:end]
	}
	if s.deployment == DataCenter {
		writeJSON(w, 200, map[string]any{"values": items, "startAt": start, "maxResults": max, "total": len(all), "isLast": end >= len(all)})
		return
	}
	writeJSON(w, 200, map[string]any{key: items, "startAt": start, "maxResults": max, "total": len(all)})
}

func (s *Server) createMetaFields(w http.ResponseWriter, project, typeID string, q url.Values) {
	p := s.projectOf(project)
	if p == nil {
		writeJSON(w, 404, errorBody("No project could be found with key '"+project+"'."))
		return
	}
	var typ *IssueType
	for i := range p.IssueTypes {
		if p.IssueTypes[i].ID == typeID {
			typ = &p.IssueTypes[i]
		}
	}
	if typ == nil {
		writeJSON(w, 404, errorBody("Issue type with id '"+typeID+"' does not exist in project."))
		return
	}
	field := func(id, name string, required bool) map[string]any {
		return map[string]any{"fieldId": id, "key": id, "name": name, "required": required, "hasDefaultValue": false, "operations": []string{"set"}}
	}
	var prios []map[string]any
	for _, pr := range p.Priorities {
		prios = append(prios, map[string]any{"id": pr.ID, "name": pr.Name})
	}
	prio := field("priority", "Priority", false)
	prio["allowedValues"] = prios
	def := findPriority(p, p.DefaultPriority, "")
	prio["hasDefaultValue"], prio["defaultValue"] = true, map[string]any{"id": def.ID, "name": def.Name}
	reporter := field("reporter", "Reporter", true)
	reporter["hasDefaultValue"] = true
	fields := []map[string]any{field("summary", "Summary", true), field("issuetype", "Issue Type", true), field("project", "Project", true),
		field("description", "Description", false), field("labels", "Labels", false), prio, reporter}
	for i, name := range p.RequiredFields {
		fields = append(fields, field(fmt.Sprintf("customfield_%d", 10100+i), name, true))
	}
	for i := 0; i < 60; i++ { // real screens have many fields: paging matters
		fields = append(fields, field(fmt.Sprintf("customfield_%d", 10200+i), fmt.Sprintf("Other %d", i), false))
	}
	s.page(w, q, fields, "fields", 50)
}

// visible applies search lag: a fresh issue is not in the index yet.
func (s *Server) visible(is *issue, reconcile map[int]bool) bool {
	return reconcile[is.ID] || s.lag <= 0 || !s.clock.Before(is.Created.Add(s.lag))
}

func (s *Server) matching(w http.ResponseWriter, jql string, reconcile map[int]bool, requireBound bool) ([]*issue, bool) {
	q, err := parseJQL(jql)
	if err != nil {
		writeJSON(w, 400, errorBody(err.Error()))
		return nil, false
	}
	if requireBound && q.where == nil {
		writeJSON(w, 400, errorBody("Unbounded JQL queries are not allowed here. Please add a search restriction to your query."))
		return nil, false
	}
	var out []*issue
	for _, is := range s.issues {
		if s.visible(is, reconcile) && (q.where == nil || q.where.eval(s, is)) {
			out = append(out, is)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		var less bool
		switch q.orderBy {
		case "updated":
			less = a.Updated.Before(b.Updated)
		case "created", "key", "":
			less = a.ID < b.ID
		}
		if q.desc {
			return !less
		}
		return less
	})
	return out, true
}

func (s *Server) searchJQL(w http.ResponseWriter, r *http.Request, body []byte) {
	var p struct {
		JQL             string   `json:"jql"`
		NextPageToken   string   `json:"nextPageToken"`
		MaxResults      int      `json:"maxResults"`
		Fields          []string `json:"fields"`
		Expand          string   `json:"expand"`
		ReconcileIssues []int    `json:"reconcileIssues"`
	}
	if r.Method == http.MethodPost {
		if err := json.Unmarshal(body, &p); err != nil {
			writeJSON(w, 400, errorBody("Invalid request payload."))
			return
		}
	} else {
		q := r.URL.Query()
		p.JQL, p.NextPageToken, p.Expand = q.Get("jql"), q.Get("nextPageToken"), q.Get("expand")
		p.MaxResults, _ = strconv.Atoi(q.Get("maxResults"))
		p.Fields = splitList(q["fields"])
		for _, id := range splitList(q["reconcileIssues"]) {
			n, err := strconv.Atoi(id)
			if err != nil {
				writeJSON(w, 400, errorBody("reconcileIssues must be issue ids"))
				return
			}
			p.ReconcileIssues = append(p.ReconcileIssues, n)
		}
	}
	if len(p.ReconcileIssues) > 50 {
		writeJSON(w, 400, errorBody("reconcileIssues accepts at most 50 ids"))
		return
	}
	rec := map[int]bool{}
	for _, id := range p.ReconcileIssues {
		rec[id] = true
	}
	all, ok := s.matching(w, p.JQL, rec, true)
	if !ok {
		return
	}
	limit := 5000
	if len(p.Fields) > 0 && !(len(p.Fields) == 1 && (p.Fields[0] == "id" || p.Fields[0] == "key")) {
		limit = 100 // Jira returns fewer items when fields are requested
	}
	max := p.MaxResults
	if max <= 0 {
		max = 50
	}
	max = min(max, limit)
	start := 0
	if p.NextPageToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(p.NextPageToken, "tok:"))
		if err != nil || !strings.HasPrefix(p.NextPageToken, "tok:") {
			writeJSON(w, 400, errorBody("Invalid nextPageToken."))
			return
		}
		start = n
	}
	end := min(start+max, len(all))
	issues := []any{}
	for _, is := range all[min(start, len(all)):end] {
		issues = append(issues, s.render(is, p.Fields, p.Expand, false))
	}
	res := map[string]any{"issues": issues, "isLast": end >= len(all)}
	if end < len(all) {
		res["nextPageToken"] = "tok:" + strconv.Itoa(end)
	}
	writeJSON(w, 200, res)
}

func (s *Server) searchOld(w http.ResponseWriter, q url.Values) {
	all, ok := s.matching(w, q.Get("jql"), nil, false)
	if !ok {
		return
	}
	start, max := pageParams(q, 50)
	max = min(max, 100)
	end := min(start+max, len(all))
	issues := []any{}
	fields := splitList(q["fields"])
	if len(fields) == 0 {
		fields = []string{"*navigable"}
	}
	for _, is := range all[min(start, len(all)):end] {
		issues = append(issues, s.render(is, fields, q.Get("expand"), false))
	}
	writeJSON(w, 200, map[string]any{"issues": issues, "startAt": start, "maxResults": max, "total": len(all)})
}

// render builds an issue bean with the requested fields (all on GET issue
// when none are named; only the id on /search/jql when none are named).
func (s *Server) render(is *issue, fields []string, expand string, all bool) map[string]any {
	out := map[string]any{"id": strconv.Itoa(is.ID), "key": is.Key, "self": s.URL + "/rest/api/2/issue/" + strconv.Itoa(is.ID)}
	want := map[string]bool{}
	for _, f := range fields {
		want[f] = true
	}
	if len(fields) == 0 && all || want["*all"] || want["*navigable"] {
		for _, f := range []string{"summary", "description", "priority", "labels", "status", "resolution", "issuetype", "parent", "project", "created", "updated", "comment"} {
			want[f] = true
		}
	}
	if len(want) > 0 {
		f := map[string]any{}
		cat := map[string]any{"id": categoryID(is.status.Category), "key": is.status.Category, "name": categoryName(is.status.Category)}
		for name := range want {
			switch name {
			case "summary":
				f[name] = is.Summary
			case "description":
				if is.Description == "" {
					f[name] = nil
				} else {
					f[name] = is.Description
				}
			case "priority":
				f[name] = map[string]any{"id": is.Priority.ID, "name": is.Priority.Name}
			case "labels":
				f[name] = append([]string{}, is.Labels...)
			case "status":
				f[name] = map[string]any{"id": is.status.ID, "name": is.status.Name, "statusCategory": cat}
			case "resolution":
				if is.Resolution == "" {
					f[name] = nil
				} else {
					f[name] = map[string]any{"id": resolutionID(is.Resolution), "name": is.Resolution}
				}
			case "issuetype":
				f[name] = map[string]any{"id": is.typ.ID, "name": is.typ.Name}
			case "parent":
				if is.Parent != "" {
					if p := s.byKey[is.Parent]; p != nil {
						f[name] = map[string]any{"id": strconv.Itoa(p.ID), "key": p.Key}
					}
				}
			case RankField:
				f[name] = renderRank(is.rank)
			case EpicLinkField:
				if is.EpicLink != "" {
					f[name] = is.EpicLink
				} else {
					f[name] = nil
				}
			case "project":
				f[name] = map[string]any{"id": is.project.ID, "key": is.project.Key, "name": is.project.Name}
			case "created":
				f[name] = s.fmtTime(is.Created)
			case "updated":
				f[name] = s.fmtTime(is.Updated)
			case "comment":
				var cs []any
				for _, c := range is.Comments {
					cs = append(cs, map[string]any{"id": c.ID, "body": c.Body, "author": s.user(c.Author, false), "created": s.fmtTime(c.Created)})
				}
				f[name] = map[string]any{"comments": cs, "total": len(cs)}
			}
		}
		out["fields"] = f
	}
	if strings.Contains(expand, "changelog") {
		var hs []any
		for _, h := range is.History {
			var items []any
			for _, it := range h.Items {
				items = append(items, map[string]any{"field": it.Field, "fieldtype": "jira", "fromString": it.From, "toString": it.To})
			}
			hs = append(hs, map[string]any{"id": strconv.Itoa(h.ID), "author": s.user(h.Author, false), "created": s.fmtTime(h.Created), "items": items})
		}
		out["changelog"] = map[string]any{"startAt": 0, "maxResults": len(hs), "total": len(hs), "histories": hs}
	}
	return out
}

func categoryID(k string) int {
	switch k {
	case "new":
		return 2
	case "indeterminate":
		return 4
	}
	return 3
}

func categoryName(k string) string {
	switch k {
	case "new":
		return "To Do"
	case "indeterminate":
		return "In Progress"
	}
	return "Done"
}

var resolutions = []string{"Done", "Won't Do", "Duplicate", "Cannot Reproduce"}

func resolutionID(name string) string {
	for i, r := range resolutions {
		if strings.EqualFold(r, name) {
			return strconv.Itoa(10000 + i)
		}
	}
	return "10099"
}

var settable = map[string]bool{"project": true, "issuetype": true, "summary": true, "description": true, "labels": true, "priority": true, "parent": true}

type ref struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
}

func (s *Server) createIssue(w http.ResponseWriter, body []byte) {
	var req struct {
		Fields     map[string]json.RawMessage `json:"fields"`
		Properties []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, 400, errorBody("Invalid request payload. Refer to the REST API documentation and try again."))
		return
	}
	errs := map[string]string{}
	var proj ref
	_ = json.Unmarshal(req.Fields["project"], &proj)
	p := s.projectOf(proj.Key)
	if p == nil {
		p = s.projectOf(proj.ID)
	}
	if p == nil {
		writeJSON(w, 400, fieldErrors(map[string]string{"project": "Specify a valid project ID or key"}))
		return
	}
	var it ref
	_ = json.Unmarshal(req.Fields["issuetype"], &it)
	var typ *IssueType
	for i := range p.IssueTypes {
		if p.IssueTypes[i].ID == it.ID || (it.Name != "" && strings.EqualFold(p.IssueTypes[i].Name, it.Name)) {
			typ = &p.IssueTypes[i]
		}
	}
	if typ == nil {
		errs["issuetype"] = "Specify an issue type"
	}
	for k := range req.Fields {
		if !settable[k] {
			errs[k] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", k)
		}
	}
	var summary, desc string
	_ = json.Unmarshal(req.Fields["summary"], &summary)
	if strings.TrimSpace(summary) == "" {
		errs["summary"] = "You must specify a summary of the issue."
	} else if utf8.RuneCountInString(summary) > 255 {
		errs["summary"] = "Summary must be less than 255 characters."
	}
	if raw, ok := req.Fields["description"]; ok && json.Unmarshal(raw, &desc) != nil {
		errs["description"] = "Operation value must be a string"
	}
	var labels []string
	if raw, ok := req.Fields["labels"]; ok {
		_ = json.Unmarshal(raw, &labels)
		for _, l := range labels {
			if strings.ContainsAny(l, " \t") {
				errs["labels"] = "The label '" + l + "' contains spaces which is invalid."
			}
		}
	}
	prio := findPriority(p, p.DefaultPriority, "")
	if raw, ok := req.Fields["priority"]; ok {
		var pr ref
		_ = json.Unmarshal(raw, &pr)
		prio = findPriority(p, pr.Name, pr.ID)
		if prio.ID == "" {
			errs["priority"] = "Specify a valid value for priority"
		}
	}
	var parent string
	if raw, ok := req.Fields["parent"]; ok {
		var pr ref
		_ = json.Unmarshal(raw, &pr)
		parent = pr.Key
	}
	for i, name := range p.RequiredFields {
		errs[fmt.Sprintf("customfield_%d", 10100+i)] = name + " is required."
	}
	if len(errs) > 0 {
		writeJSON(w, 400, fieldErrors(errs))
		return
	}
	is := s.newIssue(p, *typ)
	is.Summary, is.Description, is.Labels, is.Priority, is.Parent = summary, s.storeText(desc), labels, prio, parent
	for _, pr := range req.Properties {
		is.Props[pr.Key] = pr.Value
	}
	writeJSON(w, 201, map[string]any{"id": strconv.Itoa(is.ID), "key": is.Key, "self": s.URL + "/rest/api/2/issue/" + strconv.Itoa(is.ID)})
}

func (s *Server) editIssue(w http.ResponseWriter, is *issue, body []byte) {
	var req struct {
		Fields map[string]json.RawMessage              `json:"fields"`
		Update map[string][]map[string]json.RawMessage `json:"update"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, 400, errorBody("Invalid request payload. Refer to the REST API documentation and try again."))
		return
	}
	errs := map[string]string{}
	for k := range req.Fields {
		if _, both := req.Update[k]; both {
			errs[k] = "Field '" + k + "' cannot be set and updated in the same request."
		}
		if !settable[k] || k == "project" || k == "issuetype" {
			errs[k] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", k)
		}
	}
	for k := range req.Update {
		if k != "labels" {
			errs[k] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", k)
		}
	}
	if len(errs) > 0 {
		writeJSON(w, 400, fieldErrors(errs))
		return
	}
	var items []HistoryItem
	newIs := *is
	if raw, ok := req.Fields["summary"]; ok {
		_ = json.Unmarshal(raw, &newIs.Summary)
		if strings.TrimSpace(newIs.Summary) == "" {
			writeJSON(w, 400, fieldErrors(map[string]string{"summary": "You must specify a summary of the issue."}))
			return
		}
	}
	if raw, ok := req.Fields["description"]; ok {
		if json.Unmarshal(raw, &newIs.Description) != nil {
			writeJSON(w, 400, fieldErrors(map[string]string{"description": "Operation value must be a string"}))
			return
		}
		newIs.Description = s.storeText(newIs.Description)
	}
	if raw, ok := req.Fields["priority"]; ok {
		var pr ref
		_ = json.Unmarshal(raw, &pr)
		newIs.Priority = findPriority(is.project, pr.Name, pr.ID)
		if newIs.Priority.ID == "" {
			writeJSON(w, 400, fieldErrors(map[string]string{"priority": "Specify a valid value for priority"}))
			return
		}
	}
	labels := append([]string(nil), is.Labels...)
	if raw, ok := req.Fields["labels"]; ok {
		labels = nil
		_ = json.Unmarshal(raw, &labels)
	}
	for _, op := range req.Update["labels"] {
		for verb, raw := range op {
			var l string
			_ = json.Unmarshal(raw, &l)
			switch verb {
			case "add":
				if !containsStr(labels, l) {
					labels = append(labels, l)
				}
			case "remove":
				var keep []string
				for _, x := range labels {
					if x != l {
						keep = append(keep, x)
					}
				}
				labels = keep
			}
		}
	}
	items = append(items,
		HistoryItem{"summary", is.Summary, newIs.Summary},
		HistoryItem{"description", is.Description, newIs.Description},
		HistoryItem{"priority", is.Priority.Name, newIs.Priority.Name},
		HistoryItem{"labels", strings.Join(is.Labels, " "), strings.Join(labels, " ")})
	is.Summary, is.Description, is.Priority, is.Labels = newIs.Summary, newIs.Description, newIs.Priority, labels
	s.record(is, BotAccountID, items)
	w.WriteHeader(http.StatusNoContent)
}

// storeText models Jira Cloud keeping rich text as ADF: wiki markup written
// through API v2 does not read back byte for byte. Trailing blanks go, and
// escapes that are not needed (\_ and \* inside words) are dropped.
func (s *Server) storeText(v string) string {
	if s.deployment != Cloud {
		return v
	}
	lines := strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, " \t")
		l = strings.ReplaceAll(l, `\_`, "_")
		lines[i] = l
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

type transitionDef struct {
	ID, Name string
	To       *status
}

func (s *Server) transitionDefs() []transitionDef {
	out := []transitionDef{
		{"11", "Back to To Do", s.statuses[StatusToDo]},
		{"21", "Start work", s.statuses[StatusInProgress]},
		{"31", "Close", s.statuses[StatusDone]},
	}
	return append(out, s.extra...)
}

// AddStatus adds a status of a category (new, indeterminate, done) to the
// workflow, reachable from every other status by a transition named "Move to
// <name>" with a generated id.
func (s *Server) AddStatus(name, category string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &status{ID: strconv.Itoa(20000 + len(s.statuses)), Name: name, Category: category}
	s.statuses[name] = st
	s.extra = append(s.extra, transitionDef{ID: strconv.Itoa(100 + 10*len(s.extra)), Name: "Move to " + name, To: st})
}

func (s *Server) transitions(is *issue, expandFields bool) []any {
	var out []any
	for _, t := range s.transitionDefs() {
		if t.To == is.status {
			continue
		}
		m := map[string]any{"id": t.ID, "name": t.Name, "hasScreen": false, "isAvailable": true,
			"to": map[string]any{"id": t.To.ID, "name": t.To.Name, "statusCategory": map[string]any{
				"id": categoryID(t.To.Category), "key": t.To.Category, "name": categoryName(t.To.Category)}}}
		if expandFields {
			fields := map[string]any{}
			if t.To.Category == "done" && !is.project.NoResolutionScreen {
				var allowed []any
				for _, r := range resolutions {
					allowed = append(allowed, map[string]any{"id": resolutionID(r), "name": r})
				}
				fields["resolution"] = map[string]any{"required": true, "name": "Resolution", "allowedValues": allowed}
				m["hasScreen"] = true
			}
			m["fields"] = fields
		}
		out = append(out, m)
	}
	return out
}

func (s *Server) doTransition(w http.ResponseWriter, is *issue, body []byte) {
	var req struct {
		Transition ref `json:"transition"`
		Fields     struct {
			Resolution *ref `json:"resolution"`
		} `json:"fields"`
		Update struct {
			Comment []struct {
				Add struct {
					Body string `json:"body"`
				} `json:"add"`
			} `json:"comment"`
		} `json:"update"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, 400, errorBody("Invalid request payload."))
		return
	}
	var def *transitionDef
	for _, t := range s.transitionDefs() {
		if t.ID == req.Transition.ID && t.To != is.status {
			def = &t
		}
	}
	if def == nil {
		writeJSON(w, 400, errorBody("Transition id '"+req.Transition.ID+"' is not valid for this issue."))
		return
	}
	res := ""
	if req.Fields.Resolution != nil {
		if def.To.Category != "done" || is.project.NoResolutionScreen {
			writeJSON(w, 400, fieldErrors(map[string]string{"resolution": "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."}))
			return
		}
		for _, r := range resolutions {
			if strings.EqualFold(r, req.Fields.Resolution.Name) || resolutionID(r) == req.Fields.Resolution.ID {
				res = r
			}
		}
		if res == "" {
			writeJSON(w, 400, fieldErrors(map[string]string{"resolution": "Resolution is invalid."}))
			return
		}
	}
	s.moveStatus(is, def.To, res, BotAccountID)
	for _, c := range req.Update.Comment {
		s.addComment(is, BotAccountID, c.Add.Body)
	}
	w.WriteHeader(http.StatusNoContent)
}
