package jira_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry"
)

func stateOf(t *testing.T, states []registry.EpicState, risk string) *registry.EpicState {
	t.Helper()
	for i := range states {
		if states[i].RiskKey == risk {
			return &states[i]
		}
	}
	return nil
}

func TestPullBack(t *testing.T) {
	e := newEnv(t)
	a := e.ensure(newRisk(1, "A", 3, 3, 3)).Link.Key
	b := e.ensure(newRisk(2, "B", 2, 2, 2)).Link.Key
	created := e.srv.Now()

	e.srv.Advance(time.Minute)
	e.pass()
	states, err := e.c.PullBack(e.ctx, "PAY")
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 {
		t.Fatalf("first pull-back: %d states, want 2", len(states))
	}
	sa := stateOf(t, states, "RISK-1")
	if sa.Link.Key != a || sa.Link.State != registry.LinkOpen || sa.Link.LastActivityAt == nil || !sa.Link.LastActivityAt.Equal(created) {
		t.Fatalf("A: %+v", sa.Link)
	}

	// Nothing changed: one search, nothing reported.
	for i := 0; i < 3; i++ {
		e.srv.Advance(5 * time.Minute)
		e.pass()
		e.srv.ResetRequests()
		e.ensure(newRisk(1, "A", 3, 3, 3))
		e.ensure(newRisk(2, "B", 2, 2, 2))
		states, err = e.c.PullBack(e.ctx, "PAY")
		if err != nil {
			t.Fatal(err)
		}
		if len(states) != 0 {
			t.Fatalf("nothing changed, got %+v", states)
		}
		if n := e.srv.Count(http.MethodGet, routeSearchJQL); n != 1 {
			t.Fatalf("pass %d: %d searches, want 1", i, n)
		}
		if n := len(e.srv.Requests()); n != 3 { // search + createmeta types + createmeta fields
			for _, r := range e.srv.Requests() {
				t.Log(r.Method, r.Route)
			}
			t.Fatalf("pass %d: %d requests", i, n)
		}
	}

	// A person starts child work under A.
	e.srv.Advance(time.Minute)
	child := e.srv.CreateChild(a, "add cleanup job")
	e.srv.Advance(time.Minute)
	e.srv.Transition(child, jiratest.StatusInProgress, "")
	moved := e.srv.Now()
	e.srv.Advance(20 * time.Second)
	e.pass()
	states, err = e.c.PullBack(e.ctx, "PAY")
	if err != nil {
		t.Fatal(err)
	}
	sa = stateOf(t, states, "RISK-1")
	if len(states) != 1 || sa == nil || sa.Link.State != registry.LinkInProgress || sa.Link.ChildrenTotal != 1 || sa.Link.ChildrenDone != 0 ||
		!sa.Link.LastActivityAt.Equal(moved) {
		t.Fatalf("after child started: %+v", states)
	}

	// Child done, then the epic done by a person.
	e.srv.Advance(time.Hour)
	e.srv.Transition(child, jiratest.StatusDone, "")
	e.srv.Advance(time.Minute)
	e.srv.Transition(a, jiratest.StatusDone, "")
	doneAt := e.srv.Now()
	// B declined by a person.
	e.srv.Transition(b, jiratest.StatusDone, "Won't Do")
	e.srv.Advance(30 * time.Second)
	e.pass()
	states, err = e.c.PullBack(e.ctx, "PAY")
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := stateOf(t, states, "RISK-1"), stateOf(t, states, "RISK-2")
	if sa == nil || sa.Link.State != registry.LinkDone || sa.Link.ChildrenDone != 1 || !sa.Link.LastActivityAt.Equal(doneAt) {
		t.Fatalf("A done: %+v", sa)
	}
	if sb == nil || sb.Link.State != registry.LinkNotPlanned || sb.ClosedByRisksync { // a person declined it
		t.Fatalf("B not planned: %+v", sb)
	}

	// risksync's own transition does not count as activity.
	if _, err := e.c.ReopenEpic(e.ctx, a, "reopened in the registry", false); err != nil {
		t.Fatal(err)
	}
	e.srv.Advance(time.Hour)
	e.pass()
	states, err = e.c.PullBack(e.ctx, "PAY")
	if err != nil {
		t.Fatal(err)
	}
	sa = stateOf(t, states, "RISK-1")
	if sa == nil || sa.Link.State != registry.LinkInProgress || !sa.Link.LastActivityAt.Equal(doneAt) {
		t.Fatalf("after our reopen: %+v", sa)
	}
}

// A person's change a few seconds after a pass's search must be seen by the
// next pass, whatever the user's time zone (JQL dates are local, to the minute).
func TestPullBackWindowInUserTimeZone(t *testing.T) {
	for _, tz := range []string{"America/Los_Angeles", "Australia/Adelaide", "Asia/Kathmandu"} {
		t.Run(tz, func(t *testing.T) {
			e := newEnv(t, withServer(jiratest.WithTimeZone(tz), jiratest.WithStart(time.Date(2026, 11, 20, 9, 0, 50, 0, time.UTC))))
			key := e.ensure(newRisk(1, "A", 3, 3, 3)).Link.Key
			if _, err := e.c.PullBack(e.ctx, "PAY"); err != nil {
				t.Fatal(err)
			}
			e.srv.Advance(5 * time.Second)
			child := e.srv.CreateChild(key, "quick fix")
			e.srv.Advance(5 * time.Second)
			e.pass()
			states, err := e.c.PullBack(e.ctx, "PAY")
			if err != nil {
				t.Fatal(err)
			}
			if len(states) != 1 || states[0].Link.ChildrenTotal != 1 {
				t.Fatalf("missed %s: %+v", child, states)
			}
			var jql string
			for _, r := range e.srv.Requests() {
				if r.Route == routeSearchJQL {
					jql = r.Query.Get("jql")
				}
			}
			want := e.srv.Now().Add(-10*time.Second - 2*time.Minute).In(e.srv.TimeZone()).Format("2006-01-02 15:04")
			if !strings.Contains(jql, `updated >= "`+want+`"`) {
				t.Errorf("window %q does not start at local %s", jql, want)
			}
		})
	}
}

func TestTransitionsByCategory(t *testing.T) {
	e := newEnv(t)
	key := e.ensure(newRisk(1, "A", 3, 3, 3)).Link.Key

	plan, err := e.c.CloseEpic(e.ctx, key, "Accepted in the registry.", true)
	if err != nil || len(plan) != 1 || plan[0].Kind != registry.WriteClose || e.srv.Issue(key).Status != jiratest.StatusToDo {
		t.Fatalf("dry run: %+v %v", plan, err)
	}
	ws, err := e.c.CloseEpic(e.ctx, key, "Accepted in the registry.", false)
	if err != nil || len(ws) != 1 {
		t.Fatalf("close: %+v %v", ws, err)
	}
	is := e.srv.Issue(key)
	if is.StatusCategory != "done" || is.Resolution != "Won't Do" || len(is.Comments) != 1 || is.Comments[0].Body != "Accepted in the registry." {
		t.Fatalf("after close: %s %s %+v", is.Status, is.Resolution, is.Comments)
	}
	if n := e.srv.Count(http.MethodPost, routeTransition); n != 1 {
		t.Fatalf("%d transition requests", n)
	}
	// Closing again is a no-op.
	if ws, err := e.c.CloseEpic(e.ctx, key, "again", false); err != nil || len(ws) != 0 {
		t.Fatalf("second close: %+v %v", ws, err)
	}
	if _, err := e.c.ReopenEpic(e.ctx, key, "Reopened.", false); err != nil {
		t.Fatal(err)
	}
	if is := e.srv.Issue(key); is.StatusCategory != "new" || is.Resolution != "" {
		t.Fatalf("after reopen: %s %q", is.Status, is.Resolution)
	}

	// A workflow without a resolution screen: close without one.
	e.srv.AddProject(jiratest.Project{Key: "OPS", NoResolutionScreen: true})
	res, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(2, "B", 1, 1, 1), "OPS"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CloseEpic(e.ctx, res.Link.Key, "Retired.", false); err != nil {
		t.Fatal(err)
	}
	if is := e.srv.Issue(res.Link.Key); is.StatusCategory != "done" {
		t.Fatalf("OPS close: %+v", is.Status)
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("Retry-After is honoured on the fake clock", func(t *testing.T) {
		e := newEnv(t)
		e.srv.RateLimit(2, 10*time.Second)
		start := e.srv.Now()
		e.ensure(newRisk(1, "A", 3, 3, 3))
		if got := e.srv.Slept(); len(got) != 2 || got[0] != 10*time.Second || got[1] != 10*time.Second {
			t.Fatalf("slept %v, want [10s 10s]", got)
		}
		if e.srv.Now().Sub(start) < 20*time.Second {
			t.Fatal("did not wait")
		}
	})
	t.Run("ISO-8601 X-RateLimit-Reset alone", func(t *testing.T) {
		e := newEnv(t)
		e.srv.RateLimitResetOnly(1, 20*time.Second)
		start := e.srv.Now()
		e.ensure(newRisk(1, "A", 3, 3, 3))
		// The header is to the minute: wait to the end of the minute that
		// holds the reset, never less than the 20s asked.
		got := e.srv.Slept()
		if len(got) != 1 || got[0] < 20*time.Second || got[0] > 80*time.Second || !start.Add(got[0]).Equal(start.Add(20*time.Second).Truncate(time.Minute).Add(time.Minute)) {
			t.Fatalf("slept %v", got)
		}
	})
	t.Run("a POST rejected with 429 is repeated", func(t *testing.T) {
		e := newEnv(t)
		r := newRisk(1, "A", 3, 3, 3)
		if _, err := e.c.EnsureEpic(e.ctx, epicOf(r, "PAY"), true); err != nil { // warm caches
			t.Fatal(err)
		}
		e.srv.RateLimit(1, 3*time.Second)
		e.ensure(r)
		if n := len(e.srv.Issues()); n != 1 || e.srv.Count(http.MethodPost, routeIssue) != 2 || len(e.srv.Slept()) != 1 {
			t.Fatalf("%d issues, %d POSTs, slept %v", n, e.srv.Count(http.MethodPost, routeIssue), e.srv.Slept())
		}
	})
	t.Run("a long wait is deferred, not slept", func(t *testing.T) {
		e := newEnv(t)
		e.srv.RateLimit(1, 10*time.Minute)
		_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(1, "A", 3, 3, 3), "PAY"), false)
		var te *registry.TrackerError
		if !errors.As(err, &te) || !te.Retryable || te.Status != 429 || !te.RetryAt.Equal(e.srv.Now().Add(10*time.Minute)) || te.RetryAt.IsZero() {
			t.Fatalf("got %#v", err)
		}
		if len(e.srv.Slept()) != 0 {
			t.Fatalf("slept %v", e.srv.Slept())
		}
	})
	t.Run("5xx: GET retried with backoff, POST never repeated", func(t *testing.T) {
		e := newEnv(t)
		e.srv.Fail(http.MethodGet, routeSearchJQL, 1, 502)
		e.ensure(newRisk(1, "A", 3, 3, 3))
		if len(e.srv.Slept()) != 1 || e.srv.Slept()[0] > time.Second {
			t.Fatalf("slept %v", e.srv.Slept())
		}
		e.srv.Fail(http.MethodPost, routeIssue, 1, 502)
		_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(2, "B", 3, 3, 3), "PAY"), false)
		if !registry.IsRetryable(err) || e.srv.Count(http.MethodPost, routeIssue) != 2 {
			t.Fatalf("err %v, %d creates", err, e.srv.Count(http.MethodPost, routeIssue))
		}
	})
}

func TestCustomWorkflowStatuses(t *testing.T) {
	e := newEnv(t)
	e.srv.AddStatus("In Review", "indeterminate")
	e.srv.AddStatus("Declined", "done")
	key := e.ensure(newRisk(1, "A", 3, 3, 3)).Link.Key
	e.srv.Transition(key, "In Review", "")
	e.srv.Advance(time.Minute)
	e.pass()
	states, err := e.c.PullBack(e.ctx, "PAY")
	if err != nil || len(states) != 1 || states[0].Link.State != registry.LinkInProgress || states[0].Link.Key != key {
		t.Fatalf("In Review: %+v %v", states, err)
	}
	e.srv.Transition(key, "Declined", "Duplicate")
	e.srv.Advance(time.Minute)
	e.pass()
	states, err = e.c.PullBack(e.ctx, "PAY")
	if err != nil || len(states) != 1 || states[0].Link.State != registry.LinkNotPlanned {
		t.Fatalf("Declined: %+v %v", states, err)
	}
	// Reopen finds the transition into category new whatever its name or id.
	if _, err := e.c.ReopenEpic(e.ctx, key, "Reopened.", false); err != nil {
		t.Fatal(err)
	}
	if e.srv.Issue(key).StatusCategory != "new" {
		t.Fatalf("status %s", e.srv.Issue(key).Status)
	}
}
