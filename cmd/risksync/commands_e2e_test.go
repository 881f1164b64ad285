package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
)

// botReplies returns risksync's comments on an issue.
func botReplies(t *testing.T, gh *githubtest.Server, repo string, n int) []string {
	t.Helper()
	is, ok := gh.Issue(repo, n)
	if !ok {
		t.Fatalf("no issue %s#%d", repo, n)
	}
	var out []string
	for _, c := range is.Comments {
		if c.Author == gh.Login() && strings.Contains(c.Body, "in reply to comment") {
			out = append(out, c.Body)
		}
	}
	return out
}

func TestCommandsGitHubEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		tr := newTrackers(t, "commands: {enabled: true}\n")
		if u := dbURL(t); u != "" {
			tr.env["RISKSYNC_DATABASE_URL"] = u
		}
		tr.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "storage-sre")
		tr.ok("sync", "--once")
		epic := tr.linkOf("RISK-1")["key"].(string)
		n := issueNumber(t, epic)
		tr.gh.SetPermission("acme/storage", "alice", "write")
		step := func() { tr.jr.Advance(5 * time.Second) }

		// An allowed person rates: registry changed, one reply, epic mirrored.
		step()
		tr.gh.AddComment("acme/storage", n, "alice", "/risk rate likelihood=critical")
		step()
		tr.ok("sync", "--once")
		r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))
		if r["likelihood"] != float64(5) {
			t.Fatalf("likelihood %v", r["likelihood"])
		}
		replies := botReplies(t, tr.gh, "acme/storage", n)
		if len(replies) != 1 || !strings.Contains(replies[0], "RISK-1 likelihood 3 → 5, score 60 → 100") {
			t.Fatalf("replies %q", replies)
		}
		if hist := tr.ok("risk", "show", "RISK-1"); !strings.Contains(hist, "github:alice") {
			t.Fatalf("history lacks the actor:\n%s", hist)
		}
		if is, _ := tr.gh.Issue("acme/storage", n); !strings.Contains(is.Body, "100") {
			t.Fatalf("epic not mirrored:\n%s", is.Body)
		}

		// Passes again: no second application, no second reply.
		step()
		tr.ok("sync", "--once")
		step()
		tr.ok("sync", "--once")
		if got := botReplies(t, tr.gh, "acme/storage", n); len(got) != 1 {
			t.Fatalf("replies after replays %q", got)
		}

		// A refused person: polite refusal, nothing changes.
		step()
		tr.gh.AddComment("acme/storage", n, "mallory", "/risk RISK-1 retire not a thing")
		step()
		tr.ok("sync", "--once")
		if r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json")); r["status"] != "active" {
			t.Fatalf("status %v", r["status"])
		}
		replies = botReplies(t, tr.gh, "acme/storage", n)
		if len(replies) != 2 || !strings.Contains(replies[1], "only people who may edit this issue") || strings.Contains(replies[1], "RISK-1") {
			t.Fatalf("refusal %q", replies)
		}

		// An edited command is not applied again.
		is, _ := tr.gh.Issue("acme/storage", n)
		step()
		tr.gh.EditComment(is.Comments[len(is.Comments)-4].ID, "/risk rate likelihood=1")
		tr.gh.AddComment("acme/storage", n, "alice", "/risk rate impact=9") // and bad input gets the service's words
		step()
		tr.ok("sync", "--once")
		r = decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))
		replies = botReplies(t, tr.gh, "acme/storage", n)
		if r["likelihood"] != float64(5) || r["impact"] != float64(4) || len(replies) != 3 || !strings.Contains(replies[2], `impact: "9" is not a rating`) {
			t.Fatalf("likelihood %v impact %v replies %q", r["likelihood"], r["impact"], replies)
		}

		// Stopped between applying and replying: the next run replies once
		// and applies nothing twice.
		step()
		tr.gh.AddComment("acme/storage", n, "alice", "/risk accept until=2099-01-31 cheaper to live with")
		tr.gh.Inject(githubtest.Fault{Method: http.MethodPost, Route: githubtest.RouteComments, Status: http.StatusInternalServerError, AfterCommit: true})
		tr.gh.Inject(githubtest.Fault{Method: http.MethodGet, Route: githubtest.RouteComments, Status: http.StatusBadGateway, Times: 10})
		step()
		tr.run("sync", "--once")
		step()
		tr.ok("sync", "--once")
		step()
		tr.ok("sync", "--once")
		r = decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))
		replies = botReplies(t, tr.gh, "acme/storage", n)
		if r["status"] != "accepted" || len(replies) != 4 || !strings.Contains(replies[3], "status active → accepted") {
			t.Fatalf("status %v replies %q", r["status"], replies)
		}
		if hist := tr.ok("risk", "show", "RISK-1"); strings.Count(hist, "accepted") < 1 {
			t.Fatalf("history:\n%s", hist)
		}
	})
}

func jiraReplies(tr *trackers, key string) []string {
	var out []string
	for _, c := range tr.jr.Issue(key).Comments {
		if c.Author == jiratest.BotAccountID && strings.Contains(c.Body, "in reply to comment") {
			out = append(out, c.Body)
		}
	}
	return out
}

func TestCommandsJiraEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		tr := newTrackers(t, "commands: {enabled: true}\n")
		if u := dbURL(t); u != "" {
			tr.env["RISKSYNC_DATABASE_URL"] = u
		}
		tr.ok("risk", "add", "--title", "Checkout latency degrades daily", "--impact", "2", "--scope", "4", "--likelihood", "5", "--owner", "payments")
		tr.ok("risk", "add", "--title", "Card vault unreachable", "--impact", "5", "--scope", "5", "--likelihood", "1", "--owner", "payments")
		tr.ok("sync", "--once")
		epic := tr.linkOf("RISK-1")["key"].(string)
		person := jiratest.PersonAccountID
		tr.jr.GrantEdit(person, "PAY")
		step := func() { tr.jr.Advance(5 * time.Second) }

		// Allowed: owner changes (unknown team first, then a real one).
		step()
		tr.jr.AddComment(epic, person, "/risk owner nobody")
		step()
		tr.jr.AddComment(epic, person, "/risk accept until=2099-06-30 vendor fix due\n/risk retire x")
		step()
		tr.ok("sync", "--once")
		r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))
		replies := jiraReplies(tr, epic)
		if r["status"] != "accepted" || r["owner"] != "payments" || len(replies) != 2 ||
			!strings.Contains(replies[0], `unknown team "nobody"`) || !strings.Contains(replies[1], "status active → accepted") ||
			!strings.Contains(replies[1], "Only the first line") {
			t.Fatalf("status %v owner %v replies %q", r["status"], r["owner"], replies)
		}
		if hist := tr.ok("risk", "show", "RISK-1"); !strings.Contains(hist, "jira:"+person) {
			t.Fatalf("history:\n%s", hist)
		}
		// The epic mirrors the decision (closed as not planned) in the same pass.
		if cat := tr.jr.Issue(epic).StatusCategory; cat != "done" {
			t.Fatalf("epic status category %q", cat)
		}

		// A command naming another risk, from a refused person: nothing, and
		// nothing said about RISK-2.
		step()
		tr.jr.AddComment(epic, "5b10ac8d82e05b22cc7d0000", "/risk RISK-2 retire not ours")
		step()
		tr.ok("sync", "--once")
		replies = jiraReplies(tr, epic)
		if r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-2", "--json")); r["status"] != "active" || len(replies) != 3 ||
			strings.Contains(replies[2], "RISK-2") {
			t.Fatalf("RISK-2 %v replies %q", r["status"], replies)
		}
		// A key that does not exist, from an allowed person.
		step()
		tr.jr.AddComment(epic, person, "/risk RISK-99 review")
		step()
		tr.ok("sync", "--once")
		step()
		tr.ok("sync", "--once")
		if replies = jiraReplies(tr, epic); len(replies) != 4 || !strings.Contains(replies[3], "there is no risk RISK-99") {
			t.Fatalf("replies %q", replies)
		}
	})
}

// serve: a signed issue_comment delivery wakes the daemon, the command is
// applied once, and a replay of the delivery changes nothing.
func TestCommandsServeWebhook(t *testing.T) {
	tr := newTrackers(t, "commands: {enabled: true}\nserver: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1h}\n")
	tr.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "storage-sre")
	addr, stop := tr.serveInBackground(t)
	defer stop()
	waitFor(t, "the first pass to mirror RISK-1", func() bool { return len(tr.linkOfMaybe("RISK-1")) == 1 })
	n := issueNumber(t, tr.linkOf("RISK-1")["key"].(string))
	tr.gh.SetPermission("acme/storage", "alice", "write")
	tr.jr.Advance(5 * time.Second)
	tr.gh.AddComment("acme/storage", n, "alice", "/risk review checked the cleanup job")
	tr.jr.Advance(5 * time.Second)
	body := []byte(fmt.Sprintf(`{"action":"created","issue":{"number":%d,"url":"https://api.github.com/repos/acme/storage/issues/%d","title":"[RISK-1] Orphaned snapshots accumulate","labels":[{"name":"risk"}]},`+
		`"comment":{"id":1,"body":"/risk review checked the cleanup job","user":{"login":"alice"}},"repository":{"full_name":"acme/storage"},"sender":{"login":"alice"}}`, n, n))
	hook := "http://" + addr + "/webhooks/github"
	if code := postWebhook(t, hook, "issue_comment", "c-1", body, webhookSecret); code != http.StatusAccepted {
		t.Fatalf("webhook: %d", code)
	}
	waitFor(t, "the review to be recorded", func() bool {
		return decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))["last_reviewed_at"] != nil
	})
	waitFor(t, "the reply", func() bool { return len(botReplies(t, tr.gh, "acme/storage", n)) == 1 })
	if code := postWebhook(t, hook, "issue_comment", "c-1", body, webhookSecret); code/100 != 2 {
		t.Fatalf("replay: %d", code)
	}
	if code := postWebhook(t, hook, "issue_comment", "c-2", body, webhookSecret); code/100 != 2 { // redelivered under a new id
		t.Fatalf("redelivery: %d", code)
	}
	time.Sleep(1500 * time.Millisecond) // debounce + a pass
	if got := botReplies(t, tr.gh, "acme/storage", n); len(got) != 1 || !strings.Contains(got[0], "RISK-1 reviewed") {
		t.Fatalf("replies %q", got)
	}
	if hist := tr.ok("risk", "show", "RISK-1"); strings.Count(hist, "checked the cleanup job") != 1 {
		t.Fatalf("review recorded %d times:\n%s", strings.Count(hist, "checked the cleanup job"), hist)
	}
}
