package jira_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry"
)

func pullBack(t *testing.T, e *env) []registry.EpicState {
	t.Helper()
	states, err := e.c.PullBack(e.ctx, "PAY")
	if err != nil {
		t.Fatalf("PullBack: %v", err)
	}
	return states
}

func stateByKey(states []registry.EpicState, key string) *registry.EpicState {
	for i := range states {
		if states[i].Link.Key == key {
			return &states[i]
		}
	}
	return nil
}

// A restart loses the connector's caches; /search/jql still lags behind the
// create. The epic the registry links is read by key, never created again.
func TestRestartUnderSearchLagCreatesNoDuplicate(t *testing.T) {
	e := newEnv(t)
	e.srv.SetSearchLag(5 * time.Minute)
	r := newRisk(21, "Replica lag", 3, 3, 3)
	first := e.ensure(r)
	key := first.Link.Key
	if !first.Created || key == "" {
		t.Fatalf("first client: %+v", first)
	}

	e.srv.Advance(10 * time.Second)
	b := e.restart()
	b.pass()
	e.srv.ResetRequests()
	writes := e.srv.Writes()
	res, err := b.c.EnsureEpic(b.ctx, linkedOf(r, "PAY", key), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Link.Key != key || res.Created || res.Gone != "" || len(res.Writes) != 0 || res.Link.State != registry.LinkOpen {
		t.Fatalf("restarted client, linked epic: %+v", res)
	}
	if n := e.srv.Count(http.MethodPost, routeIssue); n != 0 || e.srv.Writes() != writes || len(e.srv.Issues()) != 1 {
		t.Fatalf("%d creates, %d writes, %d issues; want no write, 1 issue", n, e.srv.Writes()-writes, len(e.srv.Issues()))
	}
	if e.srv.Count(http.MethodGet, routeIssueKey) == 0 {
		t.Error("the linked epic was not read by key")
	}

	// Without a link, a young create intent withholds the create.
	c := e.restart()
	c.pass()
	spec := epicOf(r, "PAY")
	spec.MayCreate = false
	if _, err := c.c.EnsureEpic(c.ctx, spec, false); !errors.Is(err, registry.ErrCreateWithheld) {
		t.Fatalf("no link, MayCreate false, under lag: want ErrCreateWithheld, got %v", err)
	}
	if e.srv.Writes() != writes {
		t.Fatalf("withheld create wrote %d times", e.srv.Writes()-writes)
	}

	// A linked epic deleted in Jira is Gone, and nothing is created.
	e.srv.DeleteIssue(key)
	d := e.restart()
	d.pass()
	res, err = d.c.EnsureEpic(d.ctx, linkedOf(r, "PAY", key), false)
	if err != nil || res.Gone != key || res.Created || len(res.Writes) != 0 {
		t.Fatalf("deleted linked epic: %+v %v", res, err)
	}
	// The client that still mirrors it learns it at its next write.
	r.Title = "Replica lag grows"
	b.pass()
	res, err = b.c.EnsureEpic(b.ctx, linkedOf(r, "PAY", key), false)
	if err != nil || res.Gone != key || res.Created {
		t.Fatalf("deleted linked epic, mirrored: %+v %v", res, err)
	}
	if n := e.srv.Count(http.MethodPost, routeIssue); n != 0 || len(e.srv.Issues()) != 0 {
		t.Fatalf("%d creates after the restart, want none", n)
	}
}

func TestExcludedEpicIsNotAdopted(t *testing.T) {
	e := newEnv(t)
	old := e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Epic", Summary: "[RISK-22] closed by a person", Labels: []string{"risk", "risksync-RISK-22"}})
	e.srv.SetProperty(old, "risksync", map[string]string{"key": "RISK-22"})
	r := newRisk(22, "Excluded", 1, 1, 1)
	spec := epicOf(r, "PAY")
	spec.Exclude, spec.MayCreate = []string{old}, false
	if _, err := e.c.EnsureEpic(e.ctx, spec, false); !errors.Is(err, registry.ErrCreateWithheld) {
		t.Fatalf("excluded only: want ErrCreateWithheld, got %v", err)
	}
	if e.srv.Writes() != 0 {
		t.Fatalf("wrote %d times", e.srv.Writes())
	}
	spec.MayCreate = true
	res, err := e.c.EnsureEpic(e.ctx, spec, false)
	if err != nil || !res.Created || res.Link.Key == old {
		t.Fatalf("want a new epic: %+v %v", res, err)
	}
}

func TestUnknownBandIsAnError(t *testing.T) {
	e := newEnv(t)
	spec := epicOf(newRisk(23, "x", 1, 1, 1), "PAY")
	spec.Band = "catastrophic"
	if _, err := e.c.EnsureEpic(e.ctx, spec, false); err == nil || e.srv.Writes() != 0 {
		t.Fatalf("unknown band: %v, %d writes", err, e.srv.Writes())
	}
}

// The mirror read at the start of a pass must not undo the pass's own
// transitions when PullBack reads it later in the same pass.
func TestPassSeesItsOwnTransitions(t *testing.T) {
	e := newEnv(t)
	r := newRisk(24, "Accepted risk", 2, 2, 2)
	key := e.ensure(r).Link.Key
	pullBack(t, e)

	e.srv.Advance(time.Minute)
	e.pass()
	e.ensure(r)
	if _, err := e.c.CloseEpic(e.ctx, key, "Risk accepted in the registry.", false); err != nil {
		t.Fatal(err)
	}
	searches := e.srv.Count("", routeSearchJQL)
	s := stateByKey(pullBack(t, e), key)
	if s == nil || s.Link.State != registry.LinkNotPlanned || !s.ClosedByRisksync {
		t.Fatalf("after our close, same pass: %+v", s)
	}
	if _, err := e.c.ReopenEpic(e.ctx, key, "Risk reopened.", false); err != nil {
		t.Fatal(err)
	}
	s = stateByKey(pullBack(t, e), key)
	if s == nil || s.Link.State != registry.LinkOpen || s.ClosedByRisksync {
		t.Fatalf("after our reopen, same pass: %+v", s)
	}
	if n := e.srv.Count("", routeSearchJQL); n != searches {
		t.Fatalf("PullBack searched again within the pass (%d searches)", n-searches)
	}
	// What the pass recorded is what Jira shows: the next pass reports nothing.
	e.srv.Advance(time.Minute)
	e.pass()
	if states := pullBack(t, e); len(states) != 0 {
		t.Fatalf("next pass: %+v", states)
	}

	// A person closed it; risksync reopens it in the pass that saw that.
	e.srv.Transition(key, jiratest.StatusDone, "")
	e.srv.Advance(time.Minute)
	e.pass()
	if s := stateByKey(pullBack(t, e), key); s == nil || s.Link.State != registry.LinkDone {
		t.Fatalf("closed by a person: %+v", s)
	}
	if _, err := e.c.ReopenEpic(e.ctx, key, "Risk reopened.", false); err != nil {
		t.Fatal(err)
	}
	if s := stateByKey(pullBack(t, e), key); s == nil || s.Link.State != registry.LinkOpen {
		t.Fatalf("after our reopen of a person's close: %+v", s)
	}
}

func TestClosedByRisksyncComesFromTheChangelog(t *testing.T) {
	e := newEnv(t)
	byPerson := e.ensure(newRisk(25, "Closed by a person", 2, 2, 2)).Link.Key
	byUs := e.ensure(newRisk(26, "Closed by risksync", 2, 2, 2)).Link.Key
	pullBack(t, e)

	e.srv.Transition(byPerson, jiratest.StatusDone, "")
	e.srv.Advance(time.Minute)
	e.pass()
	states := pullBack(t, e)
	if s := stateByKey(states, byPerson); s == nil || s.Link.State != registry.LinkDone || s.ClosedByRisksync {
		t.Fatalf("person closed: %+v", s)
	}
	// The pass's mirror shows it closed: CloseEpic sends nothing.
	e.srv.ResetRequests()
	ws, err := e.c.CloseEpic(e.ctx, byPerson, "Risk accepted.", false)
	if err != nil || len(ws) != 0 || len(e.srv.Requests()) != 0 {
		t.Fatalf("close of a closed epic: writes %+v, %d requests, %v", ws, len(e.srv.Requests()), err)
	}

	if ws, err := e.c.CloseEpic(e.ctx, byUs, "Risk accepted.", false); err != nil || len(ws) != 1 || ws[0].Kind != registry.WriteClose || ws[0].Risk != "RISK-26" {
		t.Fatalf("our close: %+v %v", ws, err)
	}
	if s := stateByKey(pullBack(t, e), byUs); s == nil || !s.ClosedByRisksync {
		t.Fatalf("risksync closed, same pass: %+v", s)
	}
	e.srv.Advance(time.Minute)
	e.pass()
	if states := pullBack(t, e); len(states) != 0 {
		t.Fatalf("next pass, from Jira's changelog: %+v", states)
	}

	// A restarted client reads the same from the changelog.
	f := e.restart()
	f.pass()
	states = pullBack(t, f)
	if s := stateByKey(states, byPerson); s == nil || s.Link.State != registry.LinkDone || s.ClosedByRisksync {
		t.Fatalf("restart, person closed: %+v", s)
	}
	if s := stateByKey(states, byUs); s == nil || s.Link.State != registry.LinkNotPlanned || !s.ClosedByRisksync {
		t.Fatalf("restart, risksync closed: %+v", s)
	}

	// A person reopens and closes what risksync closed: now it is theirs.
	e.srv.Transition(byUs, jiratest.StatusToDo, "")
	e.srv.Advance(time.Second)
	e.srv.Transition(byUs, jiratest.StatusDone, "Won't Do")
	e.srv.Advance(time.Minute)
	f.pass()
	if s := stateByKey(pullBack(t, f), byUs); s == nil || s.Link.State != registry.LinkNotPlanned || s.ClosedByRisksync {
		t.Fatalf("closed again by a person: %+v", s)
	}
}

// Each epic of a risk is reported under its own key: the engine matches
// pulled states by link key, so hiding a duplicate hides its state.
func TestPullBackReportsEveryEpicOfARisk(t *testing.T) {
	e := newEnv(t)
	r := newRisk(27, "Two epics", 2, 2, 2)
	kept := e.ensure(r).Link.Key
	e.srv.Advance(time.Second)
	dup := e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Epic", Summary: "[RISK-27] a copy", Labels: []string{"risk", "risksync-RISK-27"}})
	e.srv.Advance(time.Minute)
	e.pass()
	states := pullBack(t, e)
	if a, b := stateByKey(states, kept), stateByKey(states, dup); a == nil || b == nil || a.RiskKey != "RISK-27" || b.RiskKey != "RISK-27" {
		t.Fatalf("want both epics: %+v", states)
	}
	e.srv.Transition(dup, jiratest.StatusInProgress, "")
	e.srv.Advance(time.Minute)
	e.pass()
	states = pullBack(t, e)
	if len(states) != 1 || states[0].Link.Key != dup || states[0].Link.State != registry.LinkInProgress {
		t.Fatalf("the duplicate's change: %+v", states)
	}
	// Adoption still prefers the oldest.
	if res := e.ensure(r); res.Link.Key != kept {
		t.Fatalf("adopted %s, want %s", res.Link.Key, kept)
	}
}
