package jira_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/jira"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
)

func TestNewChecksOptions(t *testing.T) {
	cfg := &config.Jira{BaseURL: "https://acme.atlassian.net", Deployment: config.JiraCloud}
	for name, o := range map[string]jira.Options{
		"no config":      {},
		"no credentials": {Config: cfg},
		"PAT on cloud":   {Config: cfg, PAT: config.NewSecret("x")},
		"band without priority": {Config: cfg, Email: config.NewSecret("a"), APIToken: config.NewSecret("b"),
			Bands: append(testBands[:1:1], testBands[1:]...)[:1]},
	} {
		if name == "band without priority" {
			o.Bands[0].JiraPriority = ""
		}
		if _, err := jira.New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	testBands[0].JiraPriority = "Highest" // restore the shared fixture
}

func TestOnRequestAndRoutes(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	e := newEnv(t, withOptions(func(o *jira.Options) {
		o.OnRequest = func(method, route string, status int, d time.Duration) {
			mu.Lock()
			seen[fmt.Sprintf("%s %s %d", method, route, status)]++
			mu.Unlock()
		}
	}))
	e.srv.RateLimit(1, time.Second)
	e.ensure(newRisk(1, "A", 3, 3, 3))
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"GET /rest/api/2/myself 200", "POST /rest/api/2/issue 201",
		"GET /rest/api/2/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId} 200"} {
		if seen[want] == 0 {
			t.Errorf("OnRequest never saw %q: %v", want, seen)
		}
	}
	if seen["GET /rest/api/2/issue/createmeta/{projectIdOrKey}/issuetypes 429"] != 1 {
		t.Errorf("each attempt is reported: %v", seen)
	}
	if got := jira.Route("/rest/api/2/issue/PAY-7/properties/risksync"); got != "/rest/api/2/issue/{issueIdOrKey}/properties/{propertyKey}" {
		t.Errorf("Route: %s", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 1; i <= 20; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(int64(i), "R", 2, 2, 2), "PAY"), false)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := e.c.PullBack(e.ctx, "PAY")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.srv.Issues()); n != 20 {
		t.Fatalf("%d issues, want 20", n)
	}
}

func TestCancelledWait(t *testing.T) {
	e := newEnv(t, withOptions(func(o *jira.Options) {
		o.Sleep = func(ctx context.Context, d time.Duration) error { return context.Canceled }
	}))
	e.srv.RateLimit(1, 5*time.Second)
	_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(1, "A", 1, 1, 1), "PAY"), false)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestAccountID(t *testing.T) {
	e := newEnv(t)
	if id, err := e.c.AccountID(e.ctx); err != nil || id != jiratest.BotAccountID {
		t.Fatalf("%q %v", id, err)
	}
	if e.srv.Count(http.MethodGet, "/rest/api/2/myself") != 1 {
		t.Fatal("myself not read once")
	}
	_, _ = e.c.AccountID(e.ctx)
	if e.srv.Count(http.MethodGet, "/rest/api/2/myself") != 1 {
		t.Fatal("myself read twice")
	}
}

func TestPaginationAcrossPages(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 250; i++ {
		e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Epic", Summary: fmt.Sprintf("[RISK-%d] x", i),
			Labels: []string{"risk", fmt.Sprintf("risksync-RISK-%d", i)}})
	}
	states, err := e.c.PullBack(e.ctx, "PAY")
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 250 {
		t.Fatalf("%d states, want 250", len(states))
	}
	pages := 0
	for _, r := range e.srv.Requests() {
		if r.Route == routeSearchJQL && r.Method == http.MethodGet && r.Query.Get("nextPageToken") != "" {
			pages++
		}
	}
	if pages < 2 {
		t.Fatalf("followed %d nextPageTokens", pages)
	}
}

func TestLatencyHonoursContext(t *testing.T) {
	e := newEnv(t)
	e.srv.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(e.ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.c.EnsureEpic(ctx, epicOf(newRisk(1, "A", 1, 1, 1), "PAY"), false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 250*time.Millisecond {
		t.Fatalf("took %s", time.Since(start))
	}
	e.srv.SetLatency(0)
}
