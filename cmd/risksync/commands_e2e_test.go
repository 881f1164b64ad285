package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
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
