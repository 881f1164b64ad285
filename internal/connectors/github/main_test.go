package github

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var testBands = []scoring.Band{
	{Name: "critical", MinScore: 60, GitHubLabel: "priority/P0", JiraPriority: "Highest"},
	{Name: "high", MinScore: 30, GitHubLabel: "priority/P1", JiraPriority: "High"},
	{Name: "medium", MinScore: 12, GitHubLabel: "priority/P2", JiraPriority: "Medium"},
	{Name: "low", MinScore: 0, GitHubLabel: "priority/P3", JiraPriority: "Low"},
}

// sent collects every (method, route) the fakes received in this test
// binary; TestMain checks them against GitHub's published operations.
var sent = struct {
	sync.Mutex
	routes map[string]bool
}{routes: map[string]bool{}}

func recordRoutes(tb testing.TB, srv *githubtest.Server) {
	tb.Cleanup(func() {
		sent.Lock()
		defer sent.Unlock()
		for _, r := range srv.Requests() {
			sent.routes[r.Method+" "+r.Route] = true
		}
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	sent.Lock()
	seen := len(sent.routes) > 0
	sent.Unlock()
	if code == 0 && seen {
		if err := checkDocumentedOperations(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: requests to undocumented or deprecated GitHub operations:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkDocumentedOperations asserts that every request sent to the fake is
// a documented, non-deprecated GitHub REST operation.
func checkDocumentedOperations() error {
	path := filepath.Join("..", "..", "..", "..", "shared", "specs", "github-rest-operations.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("RISKSYNC_REQUIRE_SPECS") != "" {
			return err
		}
		fmt.Fprintln(os.Stderr, "warning: operation check skipped:", err)
		return nil
	}
	type op struct {
		Name       string `yaml:"name"`
		Deprecated bool   `yaml:"deprecated"`
	}
	var doc struct {
		Operations        []op `yaml:"operations"`
		OperationOverride []op `yaml:"operation_overrides"`
		OpenAPIOperations []op `yaml:"openapi_operations"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	ops := map[string]bool{} // name → deprecated anywhere
	for _, o := range slices.Concat(doc.Operations, doc.OperationOverride, doc.OpenAPIOperations) {
		ops[o.Name] = ops[o.Name] || o.Deprecated
	}
	sent.Lock()
	defer sent.Unlock()
	var bad []string
	for r := range sent.routes {
		if r == "POST "+githubtest.RouteGraphQL {
			continue // not REST: the fake checks the mutation's input against GitHub's GraphQL schema
		}
		dep, ok := ops[r]
		if !ok || dep {
			bad = append(bad, fmt.Sprintf("%s (documented %v, deprecated %v)", r, ok, dep))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return fmt.Errorf("%v", bad)
	}
	return nil
}

type env struct {
	t     testing.TB
	srv   *githubtest.Server
	clock *githubtest.Clock
	c     *Client
	logs  *syncBuffer
	opts  Options
}

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

const repoName = "acme/rel"

func newEnv(tb testing.TB, tweak ...func(*Options)) *env {
	tb.Helper()
	clock := githubtest.NewClock(start)
	srv := githubtest.NewServer(tb, githubtest.WithClock(clock.Now))
	recordRoutes(tb, srv)
	srv.AddRepo(repoName)
	srv.AddRepo("acme/incidents")
	srv.SetIssueTypes("acme", "Task", "Bug", "Epic")
	logs := &syncBuffer{}
	opts := Options{
		Config: &config.GitHub{BaseURL: srv.URL(), Repo: repoName, EpicIssueType: "Epic",
			Postmortem: config.GitHubPostmortem{Repos: []string{"acme/incidents"}, Label: "postmortem"}},
		Token:      config.NewSecret(srv.Token()),
		Bands:      testBands,
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTPClient: srv.HTTPClient(),
		Now:        clock.Now,
		Sleep:      clock.Sleep,
	}
	for _, f := range tweak {
		f(&opts)
	}
	c, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return &env{t: tb, srv: srv, clock: clock, c: c, logs: logs, opts: opts}
}

func ip(v int) *int { return &v }

// epicFor builds the desired epic of RISK-n with the given ratings, free to
// be created (no linked epic).
func epicFor(n int, title string, impact, scope, likelihood int, owner string) registry.EpicSpec {
	r := &registry.Risk{Key: registry.FormatKey(int64(n)), Title: title, Description: "When the primary fails over, writes stall.",
		Owner: owner, Status: registry.StatusActive}
	if impact > 0 {
		r.Impact, r.Scope, r.Likelihood = ip(impact), ip(scope), ip(likelihood)
	}
	sc := scoring.Config{Model: scoring.Ordinal, Bands: testBands}
	res := sc.Evaluate(scoring.InputsOf(r))
	r.Score = res.Score
	if res.Band != nil {
		r.Band = res.Band.Name
	}
	return registry.EpicSpec{Target: repoName, Risk: r, Band: r.Band, Explanation: res.Explain(registry.TrackerGitHub), MayCreate: true}
}

func (e *env) ensure(want registry.EpicSpec) registry.EpicResult {
	e.t.Helper()
	res, err := e.c.EnsureEpic(context.Background(), want, false)
	if err != nil {
		e.t.Fatalf("EnsureEpic %s: %v", want.Risk.Key, err)
	}
	return res
}

// pull is the pull-back of a new pass.
func (e *env) pull() []registry.EpicState {
	e.t.Helper()
	if err := e.c.StartPass(context.Background()); err != nil {
		e.t.Fatalf("StartPass: %v", err)
	}
	st, err := e.c.PullBack(context.Background(), repoName)
	if err != nil {
		e.t.Fatalf("PullBack: %v", err)
	}
	return st
}

// issues returns the repository's issues (not pull requests).
func (e *env) issues(repo string) []githubtest.Issue {
	var out []githubtest.Issue
	for _, is := range e.srv.Issues(repo) {
		if !is.PullRequest {
			out = append(out, is)
		}
	}
	return out
}

func newDebugLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
