package github

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/registry"
)

// Tests of the registry.Tracker contract: a linked epic is never created
// again, no in-memory fact decides an action, and who closed an epic is
// GitHub's record.

func linkTo(key string) *registry.Link {
	return &registry.Link{Tracker: registry.TrackerGitHub, Key: key, State: registry.LinkOpen, Current: true}
}

func (e *env) startPass() {
	e.t.Helper()
	if err := e.c.StartPass(context.Background()); err != nil {
		e.t.Fatalf("StartPass: %v", err)
	}
}

func TestLinkedEpicMissingFromListingIsReadByNumberAndAdopted(t *testing.T) {
	e := newEnv(t)
	// A person removed the label and the marker: the epic listing misses it.
	n := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "failover work", Body: "notes", Labels: []string{"customer-facing"}})
	want := epicFor(3, "Failover stalls", 4, 5, 3, "storage-sre")
	want.Linked, want.MayCreate = linkTo("acme/rel#1"), false
	res := e.ensure(want)
	if res.Link.Key != "acme/rel#1" || res.Gone != "" || res.Created {
		t.Fatalf("res = %+v", res)
	}
	if c := e.srv.Count("POST", issuesRoute); c != 0 {
		t.Fatalf("creates = %d", c)
	}
	if c := e.srv.Count("GET", githubtest.RouteIssue); c != 1 {
		t.Fatalf("reads by number = %d, want 1", c)
	}
	is, _ := e.srv.Issue(repoName, n)
	if is.Title != "[RISK-3] Failover stalls" || !slices.Contains(is.Labels, "risk") || !slices.Contains(is.Labels, "customer-facing") {
		t.Fatalf("converged epic = %q %v", is.Title, is.Labels)
	}
	// Indexed now (and listed from here on): not read by number again.
	e.clock.Advance(time.Hour)
	e.startPass()
	if res := e.ensure(want); len(res.Writes) != 0 || res.Link.Key != "acme/rel#1" {
		t.Fatalf("second ensure = %+v", res)
	}
	if c := e.srv.Count("GET", githubtest.RouteIssue); c != 1 {
		t.Fatalf("reads by number = %d, want still 1", c)
	}
}

func TestLinkedEpicDeletedIsGoneNotCreated(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusGone} {
		e := newEnv(t)
		e.ensure(epicFor(1, "warm up labels", 3, 3, 3, "storage-sre"))
		// #2 exists without the risk label, so only a read by number finds it.
		e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "was RISK-2's epic"})
		e.srv.Inject(githubtest.Fault{Method: "GET", Route: githubtest.RouteIssue, Status: status})
		e.srv.ResetRequests()
		want := epicFor(2, "Queue backlog", 3, 3, 3, "storage-sre")
		want.Linked = linkTo("acme/rel#2")
		res := e.ensure(want)
		if res.Gone != "acme/rel#2" || res.Created || len(res.Writes) != 0 || res.Link.Key != "" {
			t.Fatalf("%d: res = %+v", status, res)
		}
		if e.srv.Writes() != 0 {
			t.Fatalf("%d: wrote %d times", status, e.srv.Writes())
		}
		// The engine then asks without the link: a new epic is created.
		want.Linked, want.Exclude = nil, []string{res.Gone}
		res = e.ensure(want)
		if !res.Created || res.Link.Key != "acme/rel#3" {
			t.Fatalf("%d: after gone = %+v", status, res)
		}
	}
	// A number GitHub never had is gone too.
	e := newEnv(t)
	want := epicFor(4, "x", 1, 1, 1, "")
	want.Linked = linkTo("acme/rel#9")
	if res := e.ensure(want); res.Gone != "acme/rel#9" || e.srv.Writes() != 0 {
		t.Fatalf("res = %+v, writes %d", res, e.srv.Writes())
	}
}

func TestCreateWithheldWritesNothing(t *testing.T) {
	e := newEnv(t)
	want := epicFor(5, "Unconfirmed create", 4, 5, 3, "storage-sre")
	want.MayCreate = false
	_, err := e.c.EnsureEpic(context.Background(), want, false)
	if !errors.Is(err, registry.ErrCreateWithheld) {
		t.Fatalf("err = %v", err)
	}
	if e.srv.Writes() != 0 || len(e.issues(repoName)) != 0 {
		t.Fatalf("writes = %d, issues %d", e.srv.Writes(), len(e.issues(repoName)))
	}
	// The epic of the earlier create shows up: it is adopted.
	e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "[RISK-5] Unconfirmed create", Body: marker("RISK-5"), Labels: []string{"risk"},
		Author: githubtest.DefaultLogin})
	e.clock.Advance(time.Minute)
	e.startPass()
	if res := e.ensure(want); res.Link.Key != "acme/rel#1" || res.Created {
		t.Fatalf("res = %+v", res)
	}
	if c := e.srv.Count("POST", issuesRoute); c != 0 {
		t.Fatalf("creates = %d", c)
	}
}

func TestExcludedEpicIsNotAdoptedAndBothArePulledBack(t *testing.T) {
	e := newEnv(t)
	want := epicFor(1, "Noisy neighbour", 3, 3, 3, "storage-sre")
	e.ensure(want)
	e.pull()
	e.clock.Advance(time.Hour)
	e.srv.CloseIssue(repoName, 1, "not_planned", "bob")

	e.startPass()
	want.Exclude = []string{"acme/rel#1"}
	res := e.ensure(want)
	if !res.Created || res.Link.Key != "acme/rel#2" {
		t.Fatalf("res = %+v", res)
	}
	if is, _ := e.srv.Issue(repoName, 1); is.State != "closed" || is.Title != "[RISK-1] Noisy neighbour" {
		t.Fatalf("the person's epic was touched: %+v", is)
	}
	// Both epics of the risk are reported, each under its own key.
	st := e.pull()
	if len(st) != 2 || st[0].Link.Key != "acme/rel#1" || st[1].Link.Key != "acme/rel#2" || st[0].RiskKey != "RISK-1" || st[1].RiskKey != "RISK-1" {
		t.Fatalf("states = %+v", st)
	}
	if st[0].Link.State != registry.LinkNotPlanned || st[0].ClosedByRisksync || st[1].Link.State != registry.LinkOpen {
		t.Fatalf("states = %+v", st)
	}
	// Next pass: the new epic is found again, nothing is written.
	e.clock.Advance(time.Hour)
	e.startPass()
	if res := e.ensure(want); res.Link.Key != "acme/rel#2" || len(res.Writes) != 0 || res.Created {
		t.Fatalf("next pass = %+v", res)
	}
}

func TestCloseEpicTheIndexShowsClosedSendsNoRequest(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(1, "r", 2, 2, 2, "storage-sre"))
	e.clock.Advance(time.Hour)
	e.srv.CloseIssue(repoName, 1, "completed", "carol")
	e.pull() // this pass's listing shows it closed
	e.srv.ResetRequests()
	ws, err := e.c.CloseEpic(context.Background(), "acme/rel#1", "Accepted.", false)
	if err != nil || len(ws) != 0 {
		t.Fatalf("close = %+v, %v", ws, err)
	}
	if reqs := e.srv.Requests(); len(reqs) != 0 {
		t.Fatalf("requests = %+v", reqs)
	}
	// Reopening an epic the index shows open is free too.
	e.clock.Advance(time.Hour)
	e.srv.ReopenIssue(repoName, 1, "carol")
	e.pull()
	e.srv.ResetRequests()
	if ws, err := e.c.ReopenEpic(context.Background(), "acme/rel#1", "again", false); err != nil || len(ws) != 0 || len(e.srv.Requests()) != 0 {
		t.Fatalf("reopen = %+v, %v, requests %+v", ws, err, e.srv.Requests())
	}
}

func TestCloseEpicActsOnGitHubsStateNotTheIndex(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(1, "r", 2, 2, 2, "storage-sre"))
	e.startPass()
	e.ensure(epicFor(1, "r", 2, 2, 2, "storage-sre")) // the pass's listing: open
	e.srv.CloseIssue(repoName, 1, "completed", "carol")
	e.srv.ResetRequests()
	ws, err := e.c.CloseEpic(context.Background(), "acme/rel#1", "Accepted.", false)
	if err != nil || len(ws) != 0 || e.srv.Writes() != 0 || e.srv.Count("GET", githubtest.RouteIssue) != 1 {
		t.Fatalf("close = %+v, %v; requests %+v", ws, err, e.srv.Requests())
	}
}

func TestOwnCloseIsPulledBackInTheSamePass(t *testing.T) {
	e := newEnv(t)
	want := epicFor(1, "Accepted risk", 1, 2, 1, "storage-sre")
	e.ensure(want)
	e.pull()
	e.clock.Advance(time.Hour)
	e.startPass()
	e.ensure(want) // lists once for the pass
	if _, err := e.c.CloseEpic(context.Background(), "acme/rel#1", "Accepted in the registry.", false); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequests()
	st, err := e.c.PullBack(context.Background(), repoName) // same pass: no new listing of epics
	if err != nil {
		t.Fatal(err)
	}
	s := only(t, st)
	if s.Link.State != registry.LinkNotPlanned || !s.ClosedByRisksync {
		t.Fatalf("state = %+v", s)
	}
	for _, r := range e.srv.Requests() {
		if r.Route == issuesRoute && r.Query.Get("labels") == labelRisk {
			t.Fatalf("the epic listing was read again: %+v", r)
		}
	}
	if e.srv.Count("GET", githubtest.RouteEvents) != 1 {
		t.Fatalf("who closed it was not read from the events: %+v", e.srv.Requests())
	}
}

func TestPersonReopensEpicRisksyncClosed(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(1, "r", 2, 2, 2, "storage-sre"))
	e.pull()
	e.clock.Advance(time.Hour)
	if _, err := e.c.CloseEpic(context.Background(), "acme/rel#1", "Accepted.", false); err != nil {
		t.Fatal(err)
	}
	if st := only(t, e.pull()); !st.ClosedByRisksync || st.Link.State != registry.LinkNotPlanned {
		t.Fatalf("after own close = %+v", st)
	}
	e.clock.Advance(time.Hour)
	e.srv.ReopenIssue(repoName, 1, "alice")
	if st := only(t, e.pull()); st.ClosedByRisksync || st.Link.State != registry.LinkOpen {
		t.Fatalf("after reopen = %+v", st)
	}
	// Closed again by the person between two looks, same state and reason
	// as risksync's close: still seen as theirs.
	e.clock.Advance(time.Hour)
	if _, err := e.c.CloseEpic(context.Background(), "acme/rel#1", "Accepted.", false); err != nil {
		t.Fatal(err)
	}
	if st := only(t, e.pull()); !st.ClosedByRisksync {
		t.Fatalf("after second own close = %+v", st)
	}
	e.clock.Advance(time.Hour)
	e.srv.ReopenIssue(repoName, 1, "alice")
	e.clock.Advance(time.Minute)
	e.srv.CloseIssue(repoName, 1, "not_planned", "alice")
	if st := only(t, e.pull()); st.ClosedByRisksync || st.Link.State != registry.LinkNotPlanned {
		t.Fatalf("after reopen and close by a person = %+v", st)
	}
}

func TestRestartedClientReadsWhoClosedFromEvents(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 4; i++ {
		e.ensure(epicFor(i, "r", 1, 1, 1, "storage-sre"))
	}
	ctx := context.Background()
	e.clock.Advance(time.Hour)
	for _, k := range []string{"acme/rel#1", "acme/rel#3"} {
		if _, err := e.c.CloseEpic(ctx, k, "Accepted.", false); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.CloseIssue(repoName, 2, "not_planned", "bob")
	e.srv.ReopenIssue(repoName, 3, "bob") // risksync closed #3, bob reopened it

	fresh, err := New(e.opts) // a restarted daemon: empty memory
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.StartPass(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := fresh.PullBack(ctx, repoName)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 4 {
		t.Fatalf("states = %+v", st)
	}
	got := map[string]bool{}
	for _, s := range st {
		got[s.Link.Key] = s.ClosedByRisksync
	}
	if !got["acme/rel#1"] || got["acme/rel#2"] || got["acme/rel#3"] || got["acme/rel#4"] {
		t.Fatalf("closed by risksync = %v (states %+v)", got, st)
	}
	if st[2].Link.State != registry.LinkOpen || st[0].Link.State != registry.LinkNotPlanned {
		t.Fatalf("states = %+v", st)
	}
	// Events are read for closed or reopened epics only.
	if n := e.srv.Count("GET", githubtest.RouteEvents); n != 3 {
		t.Fatalf("event listings = %d", n)
	}
}

func TestUnknownBandIsRefused(t *testing.T) {
	e := newEnv(t)
	want := epicFor(1, "r", 2, 2, 2, "storage-sre")
	want.Band = "catastrophic"
	if _, err := e.c.EnsureEpic(context.Background(), want, false); registry.ErrorCode(err) != registry.EINVALID {
		t.Fatalf("err = %v", err)
	}
	if len(e.srv.Requests()) != 0 {
		t.Fatalf("requests = %+v", e.srv.Requests())
	}
}
