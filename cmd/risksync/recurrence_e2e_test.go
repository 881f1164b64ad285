package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
)

// newIntakeTrackers wires both fakes with postmortems read from
// acme/incidents (GitHub) and INC (Jira).
func newIntakeTrackers(t *testing.T, dbURL func(t *testing.T) string, extraYAML string) *trackers {
	tr := newTrackers(t, extraYAML)
	if u := dbURL(t); u != "" {
		tr.env["RISKSYNC_DATABASE_URL"] = u
	}
	tr.jr.AddProject(jiratest.Project{Key: "INC", Name: "Incidents"})
	cfg := readFile(t, tr.env["RISKSYNC_CONFIG"])
	tr.writeConfig(strings.Replace(cfg, "  project: REL\n", "  project: REL\n  postmortem: {projects: [INC]}\n", 1))
	return tr
}

func (tr *trackers) ghPostmortem(title, body string) int {
	n := tr.gh.CreateIssue("acme/incidents", githubtest.NewIssue{Title: title, Labels: []string{"postmortem"}, Body: body})
	tr.jr.Advance(time.Minute)
	return n
}

func (tr *trackers) jiraPostmortem(summary, description string) string {
	key := tr.jr.CreateIssue(jiratest.NewIssue{Project: "INC", Type: "Task", Summary: summary, Labels: []string{"postmortem"}, Description: description})
	tr.jr.Advance(time.Minute)
	return key
}

func (tr *trackers) syncConverged() {
	tr.t.Helper()
	if out := tr.ok("sync", "--once"); !strings.Contains(out, "every risk converged") {
		tr.t.Fatalf("sync:\n%s", out)
	}
	tr.jr.Advance(time.Minute)
}

// scoring.recurrence mode raise: a second postmortem within 90 days raises
// the likelihood, and the epics' priorities follow in both trackers.
func TestRecurrenceRaiseEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		tr := newIntakeTrackers(t, dbURL, "scoring:\n  recurrence: {mode: raise}\n")
		tr.ghPostmortem("Postmortem: backups slow", "| Risk | Orphaned snapshots accumulate |\n| Impact | 4 |\n| Scope | 4 |\n| Likelihood | 3 |\n| Owner | storage-sre |")
		tr.jiraPostmortem("Postmortem: retry storm", "|Risk|Retry storms overload the payment gateway|\n|Impact|4|\n|Scope|3|\n|Likelihood|3|\n|Owner|payments|\n")
		tr.syncConverged()
		gh := issueNumber(t, tr.linkOf("RISK-1")["key"].(string))
		jr := tr.linkOf("RISK-2")["key"].(string)
		if is, _ := tr.gh.Issue("acme/storage", gh); !slices.Contains(is.Labels, "priority/P1") {
			t.Fatalf("GitHub epic labels %v, want priority/P1 (48, high)", is.Labels)
		}
		if p := tr.jr.Issue(jr).Priority; p != "High" {
			t.Fatalf("Jira epic priority %q, want High (36)", p)
		}

		// Ten days later: one postmortem names the key, the other the title.
		tr.jr.Advance(10 * 24 * time.Hour)
		pm := tr.ghPostmortem("Postmortem: backups slow again", "| Risk | RISK-1 |\n| Impact | 1 |\n| Likelihood | 1 |")
		jpm := tr.jiraPostmortem("Postmortem: retry storm again", "|Risk|Retry storms overload the payment gateway|\n|Likelihood|2|\n")
		out := tr.ok("sync", "--once")
		if !strings.Contains(out, "intake recurrence") {
			t.Fatalf("sync:\n%s", out)
		}
		tr.jr.Advance(time.Minute)
		r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))
		if r["likelihood"] != 4.0 || r["impact"] != 4.0 || r["score"] != 64.0 || r["band"] != "critical" || r["recurrences_90d"] != 2.0 || len(r["occurrences"].([]any)) != 2 {
			t.Fatalf("RISK-1 after the recurrence: %v", r)
		}
		raised := false
		for _, h := range r["history"].([]any) {
			h := h.(map[string]any)
			raised = raised || (h["actor"] == "recurrence" && h["field"] == "likelihood" && h["old"] == "3" && h["new"] == "4")
		}
		if !raised {
			t.Fatalf("no recurrence history: %v", r["history"])
		}
		if is, _ := tr.gh.Issue("acme/storage", gh); !slices.Contains(is.Labels, "priority/P0") || slices.Contains(is.Labels, "priority/P1") {
			t.Fatalf("GitHub epic labels %v, want priority/P0", is.Labels)
		}
		if r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-2", "--json")); r["likelihood"] != 4.0 || r["score"] != 48.0 {
			t.Fatalf("RISK-2 after the recurrence: %v", r)
		}
		if p := tr.jr.Issue(jr).Priority; p != "High" {
			t.Fatalf("Jira epic priority %q, want High (48)", p)
		}
		if is, _ := tr.gh.Issue("acme/incidents", pm); len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, "re-confirms **RISK-1**") ||
			!strings.Contains(is.Comments[0].Body, "likelihood 3 → 4") {
			t.Fatalf("comment on the GitHub postmortem %+v", is.Comments)
		}
		if c := tr.jr.Issue(jpm).Comments; len(c) != 1 || !strings.Contains(c[0].Body, "RISK-2") {
			t.Fatalf("comment on the Jira postmortem %+v", c)
		}
		// A third Jira occurrence: likelihood 5, 60, critical → Highest.
		tr.jr.Advance(24 * time.Hour)
		tr.jiraPostmortem("Postmortem: retry storm, third", "|Risk|RISK-2|\n")
		tr.syncConverged()
		if p := tr.jr.Issue(jr).Priority; p != "Highest" {
			t.Fatalf("Jira epic priority %q after a third occurrence, want Highest", p)
		}
		if list := decode[[]map[string]any](t, tr.ok("risk", "list", "--json")); len(list) != 2 {
			t.Fatalf("%d risks: a recurrence created one", len(list))
		}

		// Re-running changes nothing.
		g, j := tr.writes()
		tr.syncConverged()
		tr.syncConverged()
		if g2, j2 := tr.writes(); g2 != g || j2 != j {
			t.Fatalf("re-run wrote github %d jira %d", g2-g, j2-j)
		}
	})
}

// The default mode (suggest) changes no rating: the report proposes it.
func TestRecurrenceSuggestEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		tr := newIntakeTrackers(t, dbURL, "")
		tr.ghPostmortem("Postmortem: backups slow", "| Risk | Orphaned snapshots accumulate |\n| Impact | 4 |\n| Scope | 4 |\n| Likelihood | 3 |\n| Owner | storage-sre |")
		tr.syncConverged()
		tr.jr.Advance(3 * 24 * time.Hour)
		tr.ghPostmortem("Postmortem: backups slow again", "| Risk | orphaned snapshots accumulate. |")
		tr.syncConverged()
		if r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json")); r["likelihood"] != 3.0 || r["recurrences_90d"] != 2.0 {
			t.Fatalf("suggest mode: %v", r)
		}
		rep := decode[map[string]any](t, tr.ok("report", "--format", "json"))
		sg := rep["likelihood_suggestions"].([]any)
		if len(sg) != 1 || sg[0].(map[string]any)["key"] != "RISK-1" || sg[0].(map[string]any)["likelihood_to"] != 4.0 || sg[0].(map[string]any)["band_to"] != "critical" {
			t.Fatalf("likelihood_suggestions %v", sg)
		}
		if rc := rep["recurring"].([]any); len(rc) != 1 || rc[0].(map[string]any)["occurrences"] != 2.0 {
			t.Fatalf("recurring %v", rc)
		}
		if md := tr.ok("report"); !strings.Contains(md, "## Likelihood suggestions (1)") || !strings.Contains(md, "risksync risk update RISK-1 --likelihood 4") {
			t.Fatalf("markdown report:\n%s", md)
		}
	})
}

// An acceptance with an end: risksync's own close is reopened when the date
// passes; an epic a person closed stays closed. Both risks are listed in
// the report that week.
func TestAcceptanceExpiryEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		tr := newIntakeTrackers(t, dbURL, "")
		tr.ok("risk", "add", "--title", "Certificate expiry takes down the edge", "--impact", "5", "--scope", "5", "--likelihood", "1", "--owner", "storage-sre")
		tr.ok("risk", "add", "--title", "Batch job misses its window", "--impact", "2", "--scope", "2", "--likelihood", "2", "--owner", "payments")
		tr.syncConverged()
		gh := issueNumber(t, tr.linkOf("RISK-1")["key"].(string))
		jr := tr.linkOf("RISK-2")["key"].(string)

		until := tr.jr.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)
		tr.ok("risk", "update", "RISK-1", "--status", "accepted", "--reason", "cert automation ships this month", "--until", until)
		tr.jr.Transition(jr, jiratest.StatusDone, "Won't Do") // a person's close
		tr.jr.Advance(time.Minute)
		tr.syncConverged()
		tr.ok("risk", "update", "RISK-2", "--status", "accepted", "--reason", "batch moves to streaming", "--until", until)
		tr.syncConverged()
		if is, _ := tr.gh.Issue("acme/storage", gh); is.State != "closed" || is.StateReason != "not_planned" {
			t.Fatalf("accepted risk's epic %s/%s", is.State, is.StateReason)
		}

		tr.jr.Advance(4 * 24 * time.Hour)
		if out := tr.ok("sync", "--once", "--dry-run"); !strings.Contains(out, "would expire   RISK-1") || !strings.Contains(out, "would reopen") {
			t.Fatalf("dry run:\n%s", out)
		}
		if out := tr.ok("sync", "--once"); !strings.Contains(out, "expire   RISK-1") || !strings.Contains(out, "expire   RISK-2") {
			t.Fatalf("sync:\n%s", out)
		}
		tr.jr.Advance(time.Minute)
		for _, key := range []string{"RISK-1", "RISK-2"} {
			r := decode[map[string]any](t, tr.ok("risk", "show", key, "--json"))
			expired := false
			for _, h := range r["history"].([]any) {
				h := h.(map[string]any)
				expired = expired || (h["actor"] == "expiry" && h["field"] == "status" && h["old"] == "accepted" && h["new"] == "active")
			}
			if r["status"] != "active" || r["accepted_until"] != nil || !expired {
				t.Fatalf("%s after its acceptance ended: %v", key, r)
			}
		}
		if is, _ := tr.gh.Issue("acme/storage", gh); is.State != "open" {
			t.Fatalf("risksync's own close was not reopened: %s", is.State)
		}
		if is := tr.jr.Issue(jr); is.Status != jiratest.StatusDone {
			t.Fatalf("risksync reopened a person's close: %s", is.Status)
		}
		rep := decode[map[string]any](t, tr.ok("report", "--format", "json"))
		ex := rep["acceptance_expired"].([]any)
		if len(ex) != 2 || ex[0].(map[string]any)["accepted_until"] != until || ex[0].(map[string]any)["title"] == nil {
			t.Fatalf("acceptance_expired %v", ex)
		}
		g, j := tr.writes()
		tr.syncConverged()
		if g2, j2 := tr.writes(); g2 != g || j2 != j {
			t.Fatalf("re-run wrote github %d jira %d", g2-g, j2-j)
		}
	})
}
