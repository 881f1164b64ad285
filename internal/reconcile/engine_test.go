package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/registry/sqlstore"
)

const testConfig = `
teams:
  - {name: storage-sre, tracker: github, github_repo: acme/storage, aliases: ["Service Lifecycle SRE"]}
  - {name: payments, tracker: jira, jira_project: PAY}
  - {name: web, tracker: github, github_repo: acme/web}
  - {name: ops, tracker: jira, jira_project: OPS}
github: {repo: acme/rel, postmortem: {repos: [acme/incidents]}}
jira: {base_url: "https://acme.atlassian.net", project: REL}
`

type harness struct {
	t      *testing.T
	ctx    context.Context
	store  *sqlstore.Store
	clock  *registrytest.Clock
	gh, jr *memTracker
	engine *Engine
}

func eachBackend(t *testing.T, fn func(t *testing.T, h *harness)) {
	eachBackendConfig(t, testConfig, fn)
}

// eachBackendConfig runs fn on each database with the given configuration.
func eachBackendConfig(t *testing.T, yaml string, fn func(t *testing.T, h *harness)) {
	for name, open := range registrytest.Backends() {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			clock := registrytest.NewClock()
			opts := registrytest.DefaultOptions(clock)
			opts.Derive = cfg.ScoringConfig().Derive
			h := &harness{t: t, ctx: context.Background(), store: open(t, opts), clock: clock,
				gh: newMemTracker(registry.TrackerGitHub), jr: newMemTracker(registry.TrackerJira)}
			h.engine = New(Options{Store: h.store, Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(), Now: clock.Now, IntentGrace: map[string]time.Duration{registry.TrackerJira: 5 * time.Minute},
				Trackers: map[string]registry.Tracker{registry.TrackerGitHub: h.gh, registry.TrackerJira: h.jr}})
			fn(t, h)
		})
	}
}

func (h *harness) add(title string, i, s, l int, owner string) *registry.Risk {
	h.t.Helper()
	r := registrytest.NewRisk(title, i, s, l)
	r.Owner = owner
	out, err := h.store.CreateRisk(h.ctx, r, "alice")
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) pass() *Result {
	h.t.Helper()
	res := h.engine.Pass(h.ctx, false)
	if !res.Converged() {
		h.t.Fatalf("pass did not converge: %+v", res.Failures)
	}
	return res
}

func (h *harness) risk(key string) *registry.Risk {
	h.t.Helper()
	r, err := h.store.FindRisk(h.ctx, key)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func TestMirrorIsIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("backups degrade", 4, 5, 3, "storage-sre")
		b := h.add("checkout latency", 2, 4, 5, "payments")
		c := h.add("unowned intake", 0, 0, 0, "")
		res := h.pass()
		if p := res.Plan(); len(p.Creates) != 3 {
			t.Fatalf("first pass creates %d", len(p.Creates))
		}
		for key, want := range map[string]string{a.Key: "github acme/storage#", b.Key: "jira PAY-", c.Key: "github acme/rel#"} {
			l := h.risk(key).CurrentLink()
			if l == nil || !strings.HasPrefix(l.Tracker+" "+l.Key, want) || l.State != registry.LinkOpen || l.URL == "" {
				t.Fatalf("%s link %+v, want %s…", key, l, want)
			}
		}
		writes, stmts := h.gh.writes+h.jr.writes, h.store.Statements()
		res = h.pass()
		if len(res.Writes) != 0 || h.gh.writes+h.jr.writes != writes {
			t.Fatalf("idempotent re-run wrote %v", res.Writes)
		}
		if n := h.store.Statements() - stmts; n > 5 {
			t.Fatalf("an unchanged pass took %d SQL statements; want a constant few", n)
		}
		// A score change touches only that epic, with one write.
		if _, err := h.store.UpdateRisk(h.ctx, b.Key, "bob", func(r *registry.Risk) error { r.Likelihood = registrytest.Ptr(1); return nil }); err != nil {
			t.Fatal(err)
		}
		res = h.pass()
		if len(res.Writes) != 1 || res.Writes[0].Risk != b.Key || res.Writes[0].Fields["band"] != [2]string{"high", "low"} {
			t.Fatalf("score change writes %+v", res.Writes)
		}
	})
}

func TestDryRunWritesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("backups degrade", 4, 5, 3, "storage-sre")
		stmtsBefore := h.store.Statements()
		res := h.engine.Pass(h.ctx, true)
		p := res.Plan()
		if len(p.Creates) != 1 || p.Creates[0].Risk != a.Key || p.Creates[0].Tracker != "github" || h.gh.writes != 0 {
			t.Fatalf("plan %+v, writes %d", p, h.gh.writes)
		}
		if len(h.risk(a.Key).Links) != 0 {
			t.Fatal("dry run recorded a link")
		}
		_ = stmtsBefore
		h.pass()
		if _, err := h.store.UpdateRisk(h.ctx, a.Key, "bob", func(r *registry.Risk) error { r.Status = registry.StatusRetired; return nil }); err != nil {
			t.Fatal(err)
		}
		p = h.engine.Pass(h.ctx, true).Plan()
		if len(p.Closes) != 1 || len(p.Comments) != 1 || h.risk(a.Key).CurrentLink().State != registry.LinkOpen {
			t.Fatalf("dry-run close plan %+v", p)
		}
	})
}

func TestPullBackMapsWorkState(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("backups degrade", 4, 5, 3, "storage-sre")
		h.pass()
		key := h.risk(a.Key).CurrentLink().Key
		step := func(state registry.LinkState, children, done int, want registry.Status) {
			t.Helper()
			h.gh.person(key, func(e *memEpic) { e.state, e.children, e.done = state, children, done })
			h.pass()
			r := h.risk(a.Key)
			if r.Status != want || r.CurrentLink().State != state || r.CurrentLink().ChildrenTotal != children {
				t.Fatalf("after %s: status %s link %+v; want %s", state, r.Status, r.CurrentLink(), want)
			}
		}
		step(registry.LinkInProgress, 3, 1, registry.StatusMitigating)
		step(registry.LinkDone, 3, 3, registry.StatusMitigated)
		step(registry.LinkOpen, 3, 2, registry.StatusActive) // reopened
		h.risk(a.Key)
		hist, _ := h.store.History(h.ctx, a.Key, 0)
		syncEntries := 0
		for _, e := range hist {
			if e.Actor == registry.ActorSync && e.Field == "status" {
				syncEntries++
			}
		}
		if syncEntries != 3 {
			t.Fatalf("%d status changes by sync in history, want 3", syncEntries)
		}
		// A person closes the epic as not planned: the status stays, nothing reopens it.
		h.gh.person(key, func(e *memEpic) { e.state, e.closedByPerson = registry.LinkNotPlanned, true })
		h.pass()
		r := h.risk(a.Key)
		if r.Status != registry.StatusActive || r.CurrentLink().State != registry.LinkNotPlanned {
			t.Fatalf("after a person's not-planned close: %s %s", r.Status, r.CurrentLink().State)
		}
		res := h.pass()
		for _, w := range res.Writes {
			if w.Kind == "reopen" {
				t.Fatal("risksync reopened an epic a person closed")
			}
		}
	})
}

func TestDecisionsCloseAndReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("rare outage", 5, 5, 1, "storage-sre")
		h.pass()
		key := h.risk(a.Key).CurrentLink().Key
		h.store.UpdateRisk(h.ctx, a.Key, "bob", func(r *registry.Risk) error { r.Status = registry.StatusAccepted; return nil })
		res := h.pass()
		if p := res.Plan(); len(p.Closes) != 1 {
			t.Fatalf("accept plan %+v", p)
		}
		if c := h.gh.comments[key]; len(c) != 1 || !strings.Contains(c[0], "accepted") {
			t.Fatalf("close comment %q", c)
		}
		if r := h.risk(a.Key); r.Status != registry.StatusAccepted || r.CurrentLink().State != registry.LinkNotPlanned {
			t.Fatalf("after accept: %s %s", r.Status, r.CurrentLink().State)
		}
		if res := h.pass(); len(res.Writes) != 0 {
			t.Fatalf("closed twice: %+v", res.Writes)
		}
		h.store.UpdateRisk(h.ctx, a.Key, "bob", func(r *registry.Risk) error { r.Status = registry.StatusActive; return nil })
		h.pass()
		if e := h.gh.epics[key]; e.state != registry.LinkOpen {
			t.Fatalf("risksync's own close was not reopened: %s", e.state)
		}
		if r := h.risk(a.Key); r.Status != registry.StatusActive || r.CurrentLink().State != registry.LinkOpen {
			t.Fatalf("after reactivation: %s %s", r.Status, r.CurrentLink().State)
		}
	})
}

func TestOwnerMoveCreatesNewEpicAndClosesOld(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("shared cache stampede", 3, 4, 3, "storage-sre")
		h.pass()
		old := h.risk(a.Key).CurrentLink().Key
		h.store.UpdateRisk(h.ctx, a.Key, "bob", func(r *registry.Risk) error { r.Owner = "payments"; return nil })
		h.pass()
		r := h.risk(a.Key)
		cur := r.CurrentLink()
		if cur == nil || cur.Tracker != "jira" || !strings.HasPrefix(cur.Key, "PAY-") || len(r.Links) != 2 {
			t.Fatalf("after move: %+v", r.Links)
		}
		for _, l := range r.Links {
			if l.Key == old && (l.Current || l.State != registry.LinkNotPlanned) {
				t.Fatalf("old link %+v", l)
			}
		}
		if c := h.gh.comments[old]; len(c) != 1 || !strings.Contains(c[0], cur.Key) {
			t.Fatalf("old epic comment %q should name %s", c, cur.Key)
		}
		if res := h.pass(); len(res.Writes) != 0 {
			t.Fatalf("after the move settled: %+v", res.Writes)
		}
	})
}

func TestLostCreateResponseIsAdoptedNotDuplicated(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("checkout latency", 2, 4, 5, "payments")
		h.jr.failCreate, h.jr.searchLag = 1, 2
		res := h.engine.Pass(h.ctx, false)
		if res.Converged() || !res.Failures[0].Retryable {
			t.Fatalf("first pass %+v", res.Failures)
		}
		// The search has not caught up: the engine must wait, not create again.
		res = h.engine.Pass(h.ctx, false)
		if res.Converged() || !strings.Contains(res.Failures[0].Error, "no recorded outcome") {
			t.Fatalf("second pass %+v", res.Failures)
		}
		h.jr.searchLag = 0
		h.pass()
		if n := len(h.jr.epicsOf(a.Key)); n != 1 {
			t.Fatalf("%d epics for %s", n, a.Key)
		}
		if l := h.risk(a.Key).CurrentLink(); l == nil {
			t.Fatal("adopted epic not linked")
		}
		if m, _ := h.store.StatesWithPrefix(h.ctx, "intent:"); len(m) != 0 {
			t.Fatalf("intents left: %v", m)
		}
	})
}

func TestOneFailureDoesNotStopOthers(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("a", 4, 5, 3, "storage-sre")
		b := h.add("b", 2, 2, 2, "storage-sre")
		h.gh.failEnsure[a.Key] = &registry.TrackerError{Tracker: "github", Op: "update", Status: 422, Err: errors.New("validation failed"), Fix: "check the labels"}
		res := h.engine.Pass(h.ctx, false)
		if len(res.Failures) != 1 || res.Failures[0].Risk != a.Key || res.Failures[0].Retryable {
			t.Fatalf("failures %+v", res.Failures)
		}
		if h.risk(b.Key).CurrentLink() == nil {
			t.Fatal("b was not mirrored")
		}
	})
}

const postmortemBody = `## What happened
Backups slowed down until recovery objectives were missed.

| Risk | Orphaned snapshot resources accumulate in management clusters |
| Impact | 4 — backups miss recovery objectives under load |
| Scope | high — all clusters using shared backup infrastructure |
| Likelihood | 3 - grows over time without cleanup |
| Owner | Service Lifecycle SRE |

Timeline:

| 10:02 | paged |
| 10:30 | mitigated |

| Risk | Restore runbook is out of date |
| Impact | severe |
| Owner | Database Guild |
`

func TestIntake(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		pm := registry.Postmortem{Tracker: "github", Key: "acme/incidents#7", URL: "https://github.com/acme/incidents/issues/7",
			Body: postmortemBody, UpdatedAt: h.clock.Now()}
		h.gh.postmortems = []registry.Postmortem{pm}
		res := h.pass()
		if len(res.Intake) != 2 || res.Intake[0].Kind != "create" {
			t.Fatalf("intake %+v", res.Intake)
		}
		list, _ := h.store.ListRisks(h.ctx, registry.RiskFilter{})
		if len(list) != 2 {
			t.Fatalf("%d risks", len(list))
		}
		good, bad := list[0], list[1] // scored first
		if *good.Score != 48 || good.Owner != "storage-sre" || good.Sources[0].Key != pm.Key || good.CurrentLink() == nil {
			t.Fatalf("good table risk %+v", good)
		}
		if bad.Score != nil || bad.Owner != "" || bad.CurrentLink() == nil {
			t.Fatalf("bad table risk: score %v owner %q link %v (unscored risks are mirrored too)", bad.Score, bad.Owner, bad.CurrentLink())
		}
		c := h.gh.comments[pm.Key]
		if len(c) != 1 || !strings.Contains(c[0], "Database Guild") || !strings.Contains(c[0], "Impact") {
			t.Fatalf("problem comment %q", c)
		}
		// Re-reading the same postmortem changes nothing and comments no more.
		pm.UpdatedAt = h.clock.Now().Add(time.Minute)
		h.gh.postmortems = []registry.Postmortem{pm}
		if res := h.pass(); len(res.Intake) != 0 || len(res.Writes) != 0 {
			t.Fatalf("re-run: %+v %+v", res.Intake, res.Writes)
		}
		// An edited table updates its own risk.
		pm.Body = strings.Replace(postmortemBody, "| Impact | severe |", "| Impact | 5 |\n| Scope | 2 |\n| Likelihood | 2 |", 1)
		pm.UpdatedAt = pm.UpdatedAt.Add(time.Minute)
		h.gh.postmortems = []registry.Postmortem{pm}
		res = h.pass()
		if len(res.Intake) != 1 || res.Intake[0].Kind != "update" || res.Intake[0].Risk != bad.Key {
			t.Fatalf("edit: %+v", res.Intake)
		}
		if r := h.risk(bad.Key); r.Score == nil || *r.Score != 20 {
			t.Fatalf("edited risk score %v", r.Score)
		}
		if len(h.gh.comments[pm.Key]) != 1 {
			t.Fatal("the problem comment was repeated")
		}
		// Another postmortem naming the same failure mode is a recurrence.
		again := registry.Postmortem{Tracker: "github", Key: "acme/incidents#9", Body: "| Risk | orphaned snapshot resources accumulate in management clusters. |\n| Impact | 4 |\n| Scope | 4 |\n| Likelihood | 4 |\n| Owner | storage-sre |",
			UpdatedAt: pm.UpdatedAt.Add(time.Minute)}
		h.gh.postmortems = append(h.gh.postmortems, again)
		res = h.pass()
		if len(res.Intake) != 1 || res.Intake[0].Kind != "recurrence" || res.Intake[0].Risk != good.Key {
			t.Fatalf("recurrence: %+v", res.Intake)
		}
		if r := h.risk(good.Key); len(r.Sources) != 2 || !r.Sources[1].Recurrence {
			t.Fatalf("sources %+v", r.Sources)
		}
		list, _ = h.store.ListRisks(h.ctx, registry.RiskFilter{})
		if len(list) != 2 {
			t.Fatalf("%d risks after re-runs, edits and a recurrence", len(list))
		}
	})
}

func TestDriftCommentOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("backups degrade", 4, 5, 3, "storage-sre")
		h.pass()
		key := h.risk(a.Key).CurrentLink().Key
		for i := 0; i < 2; i++ {
			h.gh.person(key, func(e *memEpic) { e.title = "EDITED by a person" })
			h.pass()
			if h.gh.epics[key].title != "["+a.Key+"] backups degrade" {
				t.Fatalf("manual edit not overwritten: %q", h.gh.epics[key].title)
			}
		}
		if c := h.gh.comments[key]; len(c) != 1 || !strings.Contains(c[0], "risksync risk update "+a.Key) {
			t.Fatalf("drift comments %q", c)
		}
	})
}

// A postmortem whose intake fails is read again at the next pass (the cursor
// stays before it), and the retry duplicates nothing.
func TestFailedIntakeIsReadAgain(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		pm := registry.Postmortem{Tracker: "github", Key: "acme/incidents#7", Body: postmortemBody, UpdatedAt: h.clock.Now()}
		later := registry.Postmortem{Tracker: "github", Key: "acme/incidents#8", UpdatedAt: h.clock.Now().Add(time.Minute),
			Body: "| Risk | DNS cache poisoning |\n| Impact | 3 |\n| Scope | 3 |\n| Likelihood | 1 |\n| Owner | storage-sre |"}
		h.gh.postmortems = []registry.Postmortem{pm, later}
		h.gh.failComment = 1 // the problem comment on #7 fails once
		res := h.engine.Pass(h.ctx, false)
		if res.Converged() || res.Failures[0].Step != "intake" || res.Failures[0].Risk != pm.Key {
			t.Fatalf("first pass failures %+v", res.Failures)
		}
		cursor, _, _ := h.store.State(h.ctx, "cursor:intake:github")
		if got, _ := time.Parse(time.RFC3339Nano, cursor); !got.IsZero() && !got.Before(pm.UpdatedAt) {
			t.Fatalf("cursor %s moved past the failed postmortem", cursor)
		}
		h.pass()
		if c := h.gh.comments[pm.Key]; len(c) != 1 {
			t.Fatalf("%d problem comments after the retry, want 1", len(c))
		}
		if list, _ := h.store.ListRisks(h.ctx, registry.RiskFilter{}); len(list) != 3 {
			t.Fatalf("%d risks after the retry, want 3 (two tables of #7, one of #8)", len(list))
		}
		cursor, _, _ = h.store.State(h.ctx, "cursor:intake:github")
		if got, _ := time.Parse(time.RFC3339Nano, cursor); !got.Equal(later.UpdatedAt) {
			t.Fatalf("cursor %s after the retry, want %s", cursor, later.UpdatedAt)
		}
	})
}
