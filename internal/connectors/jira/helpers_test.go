package jira_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/jira"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

var testBands = []scoring.Band{
	{Name: "critical", MinScore: 60, GitHubLabel: "priority/P0", JiraPriority: "Highest", ReviewEvery: 7 * 24 * time.Hour},
	{Name: "high", MinScore: 30, GitHubLabel: "priority/P1", JiraPriority: "High", ReviewEvery: 14 * 24 * time.Hour},
	{Name: "medium", MinScore: 12, GitHubLabel: "priority/P2", JiraPriority: "Medium", ReviewEvery: 30 * 24 * time.Hour},
	{Name: "low", MinScore: 0, GitHubLabel: "priority/P3", JiraPriority: "Low", ReviewEvery: 90 * 24 * time.Hour},
}

var scoringConfig = scoring.Config{Model: scoring.Ordinal, Bands: testBands}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t    testing.TB
	srv  *jiratest.Server
	c    *jira.Client
	o    jira.Options
	cfg  *config.Jira
	logs *syncBuffer
	ctx  context.Context
}

type envOpt func(*jira.Options, *[]jiratest.Option)

func withServer(o ...jiratest.Option) envOpt {
	return func(_ *jira.Options, so *[]jiratest.Option) { *so = append(*so, o...) }
}

func withOptions(f func(*jira.Options)) envOpt {
	return func(o *jira.Options, _ *[]jiratest.Option) { f(o) }
}

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	var o jira.Options
	var so []jiratest.Option
	cfg := &config.Jira{Deployment: config.JiraAuto, Project: "PAY", EpicIssueType: "Epic",
		Postmortem: config.JiraPostmortem{Projects: []string{"INC"}, Label: "postmortem"}}
	o.Config = cfg
	o.Email, o.APIToken = config.NewSecret(jiratest.Email), config.NewSecret(jiratest.APIToken)
	o.Bands = testBands
	o.MaxWait = time.Minute
	for _, f := range opts {
		f(&o, &so)
	}
	srv := jiratest.NewServer(t, so...)
	srv.AddProject(jiratest.Project{Key: "PAY"})
	srv.AddProject(jiratest.Project{Key: "INC"})
	cfg.BaseURL = srv.URL
	logs := &syncBuffer{}
	o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.HTTPClient = srv.Client()
	o.Now = srv.Now
	if o.Sleep == nil {
		o.Sleep = srv.Sleep
	}
	c, err := jira.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, c: c, o: o, cfg: cfg, logs: logs, ctx: context.Background()}
}

// restart is a new Client against the same fake: nothing cached survives.
func (e *env) restart() *env {
	e.t.Helper()
	c, err := jira.New(e.o)
	if err != nil {
		e.t.Fatal(err)
	}
	x := *e
	x.c = c
	return &x
}

func intp(n int) *int { return &n }

// newRisk returns a scored risk RISK-<id>.
func newRisk(id int64, title string, impact, scope, likelihood int) *registry.Risk {
	r := &registry.Risk{ID: id, Key: registry.FormatKey(id), Title: title, Description: "Mechanism: **things** break.\n\nUsers see errors.",
		Impact: intp(impact), Scope: intp(scope), Likelihood: intp(likelihood), Owner: "payments", Status: registry.StatusActive}
	scoringConfig.Derive(r)
	return r
}

// epicOf is the spec the engine sends for a risk without a recorded epic.
func epicOf(r *registry.Risk, project string) registry.EpicSpec {
	res := scoringConfig.Evaluate(scoring.InputsOf(r))
	spec := registry.EpicSpec{Target: project, Risk: r, Explanation: res.Explain(registry.TrackerJira), MayCreate: true}
	if res.Band != nil {
		spec.Band = res.Band.Name
	}
	return spec
}

// linkedOf is the spec the engine sends once it recorded key as the epic.
func linkedOf(r *registry.Risk, project, key string) registry.EpicSpec {
	spec := epicOf(r, project)
	spec.Linked, spec.MayCreate = &registry.Link{Tracker: registry.TrackerJira, Key: key, Current: true}, false
	return spec
}

func (e *env) ensure(r *registry.Risk) registry.EpicResult {
	e.t.Helper()
	res, err := e.c.EnsureEpic(e.ctx, epicOf(r, "PAY"), false)
	if err != nil {
		e.t.Fatalf("EnsureEpic %s: %v", r.Key, err)
	}
	return res
}

// pass starts a new sync pass.
func (e *env) pass() {
	e.t.Helper()
	if err := e.c.StartPass(e.ctx); err != nil {
		e.t.Fatalf("StartPass: %v", err)
	}
}
