package github

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/registry"
)

func only(t *testing.T, st []registry.EpicState) registry.EpicState {
	t.Helper()
	if len(st) != 1 {
		t.Fatalf("states = %+v, want one", st)
	}
	return st[0]
}

func at(st registry.EpicState) time.Time {
	if st.Link.LastActivityAt == nil {
		return time.Time{}
	}
	return *st.Link.LastActivityAt
}

func TestPullBackFollowsWorkAndIgnoresOwnWrites(t *testing.T) {
	e := newEnv(t)
	want := epicFor(1, "Failover stalls", 4, 5, 3, "storage-sre")
	e.ensure(want)
	created := e.clock.Now()

	st := only(t, e.pull())
	if st.RiskKey != "RISK-1" || st.Link.State != registry.LinkOpen || st.Link.ChildrenTotal != 0 || !at(st).Equal(created) {
		t.Fatalf("first pull = %+v at %v", st, at(st))
	}

	// risksync's own edit of the epic is no activity and no change.
	e.clock.Advance(time.Hour)
	want.Risk.Title = "Failover stalls writes"
	e.ensure(want)
	e.clock.Advance(time.Minute)
	if st := e.pull(); len(st) != 0 {
		t.Fatalf("own write reported: %+v", st)
	}

	// A person adds a sub-issue: children 1/0, activity moves.
	e.clock.Advance(time.Hour)
	child := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "Add write fencing"})
	e.srv.AddSubIssue(githubtest.Ref{Repo: repoName, Number: 1}, githubtest.Ref{Repo: repoName, Number: child})
	added := e.clock.Now()
	st = only(t, e.pull())
	if st.Link.ChildrenTotal != 1 || st.Link.ChildrenDone != 0 || st.Link.State != registry.LinkOpen || !at(st).Equal(added) {
		t.Fatalf("after sub-issue = %+v at %v", st.Link, at(st))
	}

	// The child is picked up (assigned): in progress, without the epic changing.
	e.clock.Advance(time.Hour)
	e.srv.Edit(repoName, child, "", func(is *githubtest.Issue) { is.Assignees = []string{"alice"} })
	st = only(t, e.pull())
	if st.Link.State != registry.LinkInProgress || !at(st).Equal(e.clock.Now()) {
		t.Fatalf("after assignment = %+v", st.Link)
	}

	// The child is closed.
	e.clock.Advance(time.Hour)
	e.srv.CloseIssue(repoName, child, "completed", "alice")
	st = only(t, e.pull())
	if st.Link.ChildrenDone != 1 || st.Link.State != registry.LinkInProgress || !at(st).Equal(e.clock.Now()) {
		t.Fatalf("after child closed = %+v", st.Link)
	}

	// Nothing moved: conditional requests only, all 304, nothing reported.
	e.clock.Advance(time.Hour)
	e.pull() // the cursor moved last pass: one fresh listing
	e.srv.ResetRequests()
	e.clock.Advance(time.Hour)
	if st := e.pull(); len(st) != 0 {
		t.Fatalf("idle pass reported %+v", st)
	}
	reqs := e.srv.Requests()
	if len(reqs) == 0 || len(reqs) > 2 {
		t.Fatalf("idle pass sent %d requests: %+v", len(reqs), reqs)
	}
	for _, r := range reqs {
		if r.Status != 304 {
			t.Fatalf("idle pass: %s %s → %d, want 304", r.Method, r.Route, r.Status)
		}
	}

	// A person closes the epic as completed: done.
	e.clock.Advance(time.Hour)
	e.srv.CloseIssue(repoName, 1, "completed", "")
	st = only(t, e.pull())
	if st.Link.State != registry.LinkDone || st.ClosedByRisksync || !at(st).Equal(e.clock.Now()) {
		t.Fatalf("after person closed = %+v (by us %v)", st.Link, st.ClosedByRisksync)
	}
	// ... and reopens it.
	e.clock.Advance(time.Hour)
	e.srv.ReopenIssue(repoName, 1, "")
	st = only(t, e.pull())
	if st.Link.State != registry.LinkInProgress || !at(st).Equal(e.clock.Now()) {
		t.Fatalf("after reopen = %+v", st.Link)
	}
	// risksync closes it (accepted): not_planned, and its own close is no activity.
	before := at(st)
	e.clock.Advance(time.Hour)
	if _, err := e.c.CloseEpic(context.Background(), "acme/rel#1", "Accepted.", false); err != nil {
		t.Fatal(err)
	}
	st = only(t, e.pull())
	if st.Link.State != registry.LinkNotPlanned || !st.ClosedByRisksync || !at(st).Equal(before) {
		t.Fatalf("after own close = %+v (by us %v) at %v, want activity %v", st.Link, st.ClosedByRisksync, at(st), before)
	}
}

func TestPullBackPersonClosesNotPlanned(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(2, "Noisy neighbour", 3, 3, 3, "storage-sre"))
	e.pull()
	e.clock.Advance(24 * time.Hour)
	e.srv.CloseIssue(repoName, 1, "not_planned", "bob")
	st := only(t, e.pull())
	if st.Link.State != registry.LinkNotPlanned || st.ClosedByRisksync {
		t.Fatalf("state = %+v", st)
	}
}

func TestPullBackAfterRestartReadsEverything(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		e.ensure(epicFor(i, "r", 1, 1, 1, "storage-sre"))
	}
	child := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "work"})
	e.srv.AddSubIssue(githubtest.Ref{Repo: repoName, Number: 2}, githubtest.Ref{Repo: repoName, Number: child})
	e.srv.CloseIssue(repoName, 3, "completed", "carol")

	fresh, err := New(e.opts) // a restarted daemon: empty memory
	if err != nil {
		t.Fatal(err)
	}
	st, err := fresh.PullBack(context.Background(), repoName)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 {
		t.Fatalf("states = %+v", st)
	}
	if st[1].Link.ChildrenTotal != 1 || st[2].Link.State != registry.LinkDone || st[2].ClosedByRisksync {
		t.Fatalf("states = %+v", st)
	}
	// Epics without sub-issues cost no sub-issue request.
	if n := e.srv.Count("GET", "/repos/{owner}/{repo}/issues/{issue_number}/sub_issues"); n != 1 {
		t.Fatalf("sub-issue listings = %d, want 1", n)
	}
}

func TestPostmortemsAndComment(t *testing.T) {
	e := newEnv(t)
	pm := e.srv.CreateIssue("acme/incidents", githubtest.NewIssue{Title: "INC-1: db outage", Labels: []string{"postmortem"},
		Body: "| Risk | Failover stalls |\r\n| Impact | 4 |"})
	e.srv.CreateIssue("acme/incidents", githubtest.NewIssue{Title: "PR with label", Labels: []string{"postmortem"}, PullRequest: true})
	e.srv.CreateIssue("acme/incidents", githubtest.NewIssue{Title: "unrelated"})
	ctx := context.Background()
	got, err := e.c.Postmortems(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "acme/incidents#1" || got[0].Title != "INC-1: db outage" || got[0].Tracker != "github" ||
		got[0].Body != "| Risk | Failover stalls |\n| Impact | 4 |" || got[0].URL == "" || got[0].Closed {
		t.Fatalf("postmortems = %+v", got)
	}
	// Same cursor, nothing changed: a 304 and the same answer.
	again, err := e.c.Postmortems(ctx, time.Time{})
	if err != nil || len(again) != 1 {
		t.Fatalf("again = %+v, %v", again, err)
	}
	reqs := requestTimes(e.srv, "GET", issuesRoute)
	if last := reqs[len(reqs)-1]; last.Status != 304 {
		t.Fatalf("second listing status = %d", last.Status)
	}
	// A later cursor skips it.
	e.clock.Advance(time.Hour)
	if got, err := e.c.Postmortems(ctx, e.clock.Now()); err != nil || len(got) != 0 {
		t.Fatalf("since later = %+v, %v", got, err)
	}
	if err := e.c.Comment(ctx, "acme/incidents#1", "Row Likelihood is missing."); err != nil {
		t.Fatal(err)
	}
	is, _ := e.srv.Issue("acme/incidents", pm)
	if len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, "Likelihood") {
		t.Fatalf("comments = %+v", is.Comments)
	}
	if err := e.c.Comment(ctx, "not-a-key", "x"); registry.ErrorCode(err) != registry.EINVALID {
		t.Fatalf("bad key: %v", err)
	}
}

func TestIdlePassCostsAHandfulOfRequests(t *testing.T) {
	e := newEnv(t)
	var wants []registry.EpicSpec
	for i := 1; i <= 50; i++ {
		wants = append(wants, epicFor(i, "r", i%5+1, 3, 2, "storage-sre"))
	}
	mirrored := false
	pass := func() {
		e.clock.Advance(5 * time.Minute)
		e.pull()
		for _, w := range wants {
			if res := e.ensure(w); len(res.Writes) != 0 && mirrored {
				t.Fatalf("unchanged risk wrote %+v", res.Writes)
			}
		}
		mirrored = true
	}
	pass()
	pass()
	pass()
	e.srv.ResetRequests()
	pass()
	reqs := e.srv.Requests()
	if len(reqs) > 2 {
		t.Fatalf("idle pass over 50 risks sent %d requests: %+v", len(reqs), reqs)
	}
	for _, r := range reqs {
		if r.Status != 304 {
			t.Fatalf("%s %s?%s → %d, want 304", r.Method, r.Route, r.Query.Encode(), r.Status)
		}
	}
}

func TestPersonCloseIsNotHiddenByOwnEditOrEpicWrite(t *testing.T) {
	e := newEnv(t)
	want := epicFor(1, "r", 2, 2, 2, "storage-sre")
	e.ensure(want)
	e.pull()
	// A person closes the epic and adds a sub-issue; then risksync edits the
	// epic (a registry change) before the next pull-back.
	e.clock.Advance(time.Hour)
	child := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "c"})
	e.srv.AddSubIssue(githubtest.Ref{Repo: repoName, Number: 1}, githubtest.Ref{Repo: repoName, Number: child})
	e.clock.Advance(time.Minute)
	e.srv.CloseIssue(repoName, 1, "completed", "dave")
	closed := e.clock.Now()
	e.clock.Advance(time.Hour)
	want.Risk.Title = "renamed"
	e.ensure(want)
	st := only(t, e.pull())
	if st.Link.State != registry.LinkDone || st.ClosedByRisksync || st.Link.ChildrenTotal != 1 || !at(st).Equal(closed) {
		t.Fatalf("state = %+v (ours %v) at %v", st.Link, st.ClosedByRisksync, at(st))
	}
}

func TestFailedPullBackIsRedone(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(1, "a", 2, 2, 2, "storage-sre"))
	e.ensure(epicFor(2, "b", 2, 2, 2, "storage-sre"))
	e.pull()
	e.clock.Advance(time.Hour)
	for _, n := range []int{1, 2} {
		c := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "work"})
		e.srv.AddSubIssue(githubtest.Ref{Repo: repoName, Number: n}, githubtest.Ref{Repo: repoName, Number: c})
	}
	e.srv.Inject(githubtest.Fault{Method: "GET", Route: githubtest.RouteSubIssues, Status: 404, Times: 1})
	if _, err := e.c.PullBack(context.Background(), repoName); err == nil {
		t.Fatal("no error")
	}
	if st := e.pull(); len(st) != 2 || st[0].Link.ChildrenTotal != 1 || st[1].Link.ChildrenTotal != 1 {
		t.Fatalf("after retry = %+v", st)
	}
	// A title edit of a closed epic by a person keeps who closed it.
	e.clock.Advance(time.Hour)
	e.srv.CloseIssue(repoName, 1, "not_planned", "erin")
	if st := e.pull(); len(st) != 1 || st[0].Link.State != registry.LinkNotPlanned || st[0].ClosedByRisksync {
		t.Fatalf("closed = %+v", st)
	}
	e.clock.Advance(time.Hour)
	e.srv.Edit(repoName, 1, "", func(is *githubtest.Issue) { is.Title += "!" })
	if st := e.pull(); len(st) != 0 {
		t.Fatalf("a title edit changed the state: %+v", st)
	}
}

// GitHub's updated_at has one-second precision: a person's close in the same
// second as the last look must still be seen.
func TestPullBackSeesCloseInTheSameSecond(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(1, "Failover stalls", 4, 5, 3, "storage-sre"))
	only(t, e.pull())
	e.srv.CloseIssue(repoName, 1, "completed", "alice") // the clock has not moved
	st := only(t, e.pull())
	if st.Link.State != registry.LinkDone {
		t.Fatalf("close in the same second: %+v", st.Link)
	}
}
