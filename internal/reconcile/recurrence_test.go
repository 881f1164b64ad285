package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

const raiseConfig = testConfig + `
scoring:
  recurrence: {window: 90d, mode: raise, likelihood: [{min: 2, rating: 4}, {min: 3, rating: 5}]}
`

const day = 24 * time.Hour

// postmortem publishes a postmortem on the GitHub memTracker, updated now.
func (h *harness) postmortem(key, body string) registry.Postmortem {
	pm := registry.Postmortem{Tracker: "github", Key: key, URL: "https://github.com/" + strings.Replace(key, "#", "/issues/", 1), Body: body, UpdatedAt: h.clock.Now()}
	for i := range h.gh.postmortems {
		if h.gh.postmortems[i].Key == key {
			h.gh.postmortems[i] = pm
			return pm
		}
	}
	h.gh.postmortems = append(h.gh.postmortems, pm)
	return pm
}

func (h *harness) historyOf(key, field string) []registry.HistoryEntry {
	h.t.Helper()
	all, err := h.store.History(h.ctx, key, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []registry.HistoryEntry
	for _, e := range all {
		if e.Field == field {
			out = append(out, e)
		}
	}
	return out
}

func TestRecurrenceRaisesLikelihood(t *testing.T) {
	eachBackendConfig(t, raiseConfig, func(t *testing.T, h *harness) {
		h.postmortem("acme/incidents#7", postmortemBody)
		h.pass()
		r := h.risk("RISK-1")
		if *r.Score != 48 || r.Band != "high" {
			t.Fatalf("original risk %v %s", *r.Score, r.Band)
		}
		epic := r.CurrentLink().Key

		// Ten days later a postmortem names the risk by key, with ratings of
		// its own: they do not overwrite the registry's.
		h.clock.Advance(10 * day)
		h.postmortem("acme/incidents#9", "| Risk | RISK-1 — snapshots again |\n| Impact | 1 |\n| Scope | 1 |\n| Likelihood | 1 |\n| Owner | payments |")
		res := h.pass()
		if len(res.Intake) != 1 || res.Intake[0].Kind != "recurrence" || res.Intake[0].Risk != "RISK-1" {
			t.Fatalf("intake %+v", res.Intake)
		}
		r = h.risk("RISK-1")
		if *r.Impact != 4 || *r.Scope != 4 || *r.Likelihood != 4 || *r.Score != 64 || r.Band != "critical" || r.Owner != "storage-sre" {
			t.Fatalf("after the recurrence: impact %d scope %d likelihood %d score %v band %s owner %s", *r.Impact, *r.Scope, *r.Likelihood, *r.Score, r.Band, r.Owner)
		}
		if len(r.Sources) != 2 || !r.Sources[1].Recurrence || r.Sources[1].Key != "acme/incidents#9" {
			t.Fatalf("sources %+v", r.Sources)
		}
		if hl := h.historyOf("RISK-1", "likelihood"); len(hl) != 2 || hl[1].Actor != registry.ActorRecurrence || *hl[1].OldValue != "3" || *hl[1].NewValue != "4" {
			t.Fatalf("likelihood history %+v", hl)
		}
		if b := h.gh.epics[epic].band; b != "critical" {
			t.Fatalf("epic band %s after the raise", b)
		}
		c := h.gh.comments["acme/incidents#9"]
		if len(c) != 1 || !strings.Contains(c[0], "re-confirms **RISK-1**") || !strings.Contains(c[0], "likelihood 3 → 4") ||
			!strings.Contains(c[0], "high → critical") || !strings.Contains(c[0], "2 in the last 90 days") {
			t.Fatalf("recurrence comment %q", c)
		}
		if list, _ := h.store.ListRisks(h.ctx, registry.RiskFilter{}); len(list) != 2 {
			t.Fatalf("%d risks: a recurrence created one", len(list))
		}

		// Re-reading and editing the recurrence table change nothing.
		h.clock.Advance(time.Minute)
		h.postmortem("acme/incidents#9", "| Risk | RISK-1 |\n| Impact | 2 |")
		if res := h.pass(); len(res.Intake) != 0 || len(res.Writes) != 0 {
			t.Fatalf("re-run: %+v %+v", res.Intake, res.Writes)
		}
		if r := h.risk("RISK-1"); *r.Impact != 4 || len(h.gh.comments["acme/incidents#9"]) != 1 {
			t.Fatalf("edit of a recurrence table: impact %d, comments %d", *r.Impact, len(h.gh.comments["acme/incidents#9"]))
		}

		// A person lowers the likelihood: it stands until the next recurrence.
		if _, err := h.store.UpdateRisk(h.ctx, "RISK-1", "alice", func(r *registry.Risk) error { r.Likelihood = ptr(2); return nil }); err != nil {
			t.Fatal(err)
		}
		h.pass()
		if l := *h.risk("RISK-1").Likelihood; l != 2 {
			t.Fatalf("a person's likelihood was overridden: %d", l)
		}

		// 95 days after the first: #7 left the window, #9 and #11 are in it.
		h.clock.Advance(85 * day)
		h.postmortem("acme/incidents#11", "| Risk | orphaned snapshot resources accumulate in MANAGEMENT clusters |")
		h.pass()
		if l := *h.risk("RISK-1").Likelihood; l != 4 {
			t.Fatalf("likelihood %d after two occurrences in the window", l)
		}
		if c := h.gh.comments["acme/incidents#11"]; len(c) != 1 || !strings.Contains(c[0], "2 in the last 90 days, 3 in all") {
			t.Fatalf("comment on #11 %q (a recurrence table needs no ratings, so no problem comment)", c)
		}
	})
}

func TestRecurrenceOnDecidedRisks(t *testing.T) {
	eachBackendConfig(t, raiseConfig, func(t *testing.T, h *harness) {
		a := h.add("queue backlog", 3, 3, 2, "payments")
		b := h.add("stale runbook", 2, 2, 2, "storage-sre")
		h.setStatus(a.Key, registry.StatusAccepted)
		h.setStatus(b.Key, registry.StatusRetired)
		h.pass()
		h.postmortem("acme/incidents#20", "| Risk | "+a.Key+" |\n\n| Risk | Stale runbook |")
		h.pass()
		for key, word := range map[string]string{a.Key: "**accepted** and stays so", b.Key: "**retired** and stays so"} {
			r := h.risk(key)
			// Created by hand, so this postmortem is the first occurrence:
			// nothing to raise yet, and the decision stands.
			if len(r.Sources) != 1 || !r.Sources[0].Recurrence || !r.Status.Decided() || *r.Likelihood != 2 {
				t.Fatalf("%s: %+v", key, r)
			}
			found := false
			for _, c := range h.gh.comments["acme/incidents#20"] {
				found = found || (strings.Contains(c, key) && strings.Contains(c, word))
			}
			if !found {
				t.Fatalf("no comment saying %s is %s: %q", key, word, h.gh.comments["acme/incidents#20"])
			}
		}
		h.clock.Advance(day)
		h.postmortem("acme/incidents#21", "| Risk | "+a.Key+" |")
		h.pass()
		if r := h.risk(a.Key); r.Status != registry.StatusAccepted || *r.Likelihood != 4 {
			t.Fatalf("accepted risk after a second occurrence: %s likelihood %d", r.Status, *r.Likelihood)
		}
	})
}

func TestRecurrenceSuggestChangesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.postmortem("acme/incidents#7", postmortemBody)
		h.pass()
		h.clock.Advance(day)
		h.postmortem("acme/incidents#9", "| Risk | Orphaned snapshot resources accumulate in management clusters |\n| Likelihood | 5 |")
		h.pass()
		if r := h.risk("RISK-1"); *r.Likelihood != 3 || len(r.Sources) != 2 {
			t.Fatalf("suggest mode changed the risk: likelihood %d, %d sources", *r.Likelihood, len(r.Sources))
		}
		if c := h.gh.comments["acme/incidents#9"]; len(c) != 1 || !strings.Contains(c[0], "proposes likelihood 3 → 4") {
			t.Fatalf("comment %q", c)
		}
	})
}

func TestTableNamingAnUnknownKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.postmortem("acme/incidents#30", "| Risk | RISK-99 |\n| Impact | 5 |")
		res := h.pass()
		if list, _ := h.store.ListRisks(h.ctx, registry.RiskFilter{}); len(list) != 0 || len(res.Intake) != 0 {
			t.Fatalf("an unknown key created %d risks: %+v", len(list), res.Intake)
		}
		c := h.gh.comments["acme/incidents#30"]
		if len(c) != 1 || !strings.Contains(c[0], "**RISK-99**, which is not in the risk registry") {
			t.Fatalf("comments %q", c)
		}
		h.clock.Advance(time.Minute)
		h.postmortem("acme/incidents#30", "| Risk | RISK-99 |\n| Impact | 4 |")
		h.pass()
		if n := len(h.gh.comments["acme/incidents#30"]); n != 1 {
			t.Fatalf("%d comments after an edit", n)
		}
	})
}

// The comment fails after the source and the raise are stored (or the
// process dies there): the next pass finishes the table once, and never
// raises twice.
func TestRecurrenceInterruptedBeforeComment(t *testing.T) {
	eachBackendConfig(t, raiseConfig, func(t *testing.T, h *harness) {
		h.postmortem("acme/incidents#7", postmortemBody)
		h.pass()
		h.clock.Advance(day)
		h.postmortem("acme/incidents#9", "| Risk | RISK-1 |")
		h.gh.failComment = 1
		if res := h.engine.Pass(h.ctx, false); res.Converged() {
			t.Fatal("the failed comment went unnoticed")
		}
		New(h.engine.opts).Pass(h.ctx, false)
		h.pass()
		if c := h.gh.comments["acme/incidents#9"]; len(c) != 1 || !strings.Contains(c[0], "RISK-1") {
			t.Fatalf("comments %q", c)
		}
		r := h.risk("RISK-1")
		if len(r.Sources) != 2 || *r.Likelihood != 4 || len(h.historyOf("RISK-1", "likelihood")) != 2 {
			t.Fatalf("sources %d likelihood %d history %+v", len(r.Sources), *r.Likelihood, h.historyOf("RISK-1", "likelihood"))
		}
	})
}

func ptr[T any](v T) *T { return &v }
