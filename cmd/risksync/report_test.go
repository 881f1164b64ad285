package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/risksync/risksync/internal/report"
)

func TestReportCommand(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(teamsConfig)
	c.ok("risk", "add", "--title", "Orphaned snapshots slow backups", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "storage-sre")
	c.ok("risk", "add", "--title", "Daily checkout degradation", "--impact", "2", "--scope", "4", "--likelihood", "5", "--owner", "payments")
	c.ok("risk", "add", "--title", "Unrated intake", "--impact", "3")

	md := c.ok("report")
	for _, want := range []string{"# Risk registry report — ", "## Stagnant risks", "## Unowned (1)", "## Unscored (1)", "## Movement since", "**New (3)**", "## Top 10 by score", "### By team", "## Exposure, last 26 weeks"} {
		if !strings.Contains(md, want) {
			t.Fatalf("markdown lacks %q:\n%s", want, md)
		}
	}

	rep := decode[map[string]any](t, c.ok("report", "--format", "json"))
	for _, k := range []string{"generated_at", "stagnant", "review_overdue", "needs_decision", "unowned", "unscored", "top", "movement"} {
		if _, ok := rep[k]; !ok {
			t.Fatalf("report JSON lacks %q", k)
		}
	}
	top := rep["top"].([]any)
	if len(top) != 2 || top[0].(map[string]any)["key"] != "RISK-1" || top[0].(map[string]any)["weeks_in_top"] != 1.0 {
		t.Fatalf("top %v", top)
	}
	un := rep["unscored"].([]any)[0].(map[string]any)
	for _, k := range []string{"key", "title", "score", "band", "owner"} {
		if _, ok := un[k]; !ok {
			t.Fatalf("entry lacks %q: %v", k, un)
		}
	}
	if un["score"] != nil || un["band"] != nil || un["owner"] != nil {
		t.Fatalf("unscored, unowned entry %v", un)
	}

	if page := c.ok("report", "--format", "html"); !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "<svg") || strings.Contains(page, "<script") {
		t.Fatalf("html:\n%.300s", page)
	}
	team := decode[map[string]any](t, c.ok("report", "--format", "json", "--owner", "Payments"))
	if team["owner_filter"] != "payments" || len(team["top"].([]any)) != 1 {
		t.Fatalf("team view %v", team)
	}
	if un := decode[map[string]any](t, c.ok("report", "--format", "json", "--owner", "unowned")); len(un["unowned"].([]any)) != 1 {
		t.Fatalf("unowned view %v", un)
	}

	c.fail(2, `--format: unknown format "pdf"`, "report", "--format", "pdf")
	c.fail(2, `--owner: unknown team "bob"`, "report", "--owner", "bob")
	c.fail(2, "use one or the other", "report", "--owner", "payments", "--publish")
	c.fail(1, "nothing to publish to", "report", "--publish")
}

func TestReportPublish(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	c := newTrackers(t, "report:\n  github_issue: true\n  webhook_url_env: RISKSYNC_REPORT_WEBHOOK\n")
	c.ok("risk", "add", "--title", "Orphaned snapshots slow backups", "--impact", "4", "--scope", "5", "--likelihood", "3")

	c.fail(1, "report.webhook_url_env: environment variable RISKSYNC_REPORT_WEBHOOK is not set", "report", "--publish")
	c.env["RISKSYNC_REPORT_WEBHOOK"] = srv.URL + "/hooks/SECRET"

	// The issue goes to github.repo through the GitHub connector; the webhook URL never shows.
	_, errOut, code := c.run("report", "--publish", "--format", "json")
	if code != 0 || !strings.Contains(errOut, "github_issue created acme/rel#") || !strings.Contains(errOut, "webhook delivered") || strings.Contains(errOut, "SECRET") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = c.run("report", "--publish")
	if code != 0 || !strings.Contains(errOut, "webhook already delivered") {
		t.Fatalf("second publish: exit %d, stderr %q", code, errOut)
	}
	reports := 0
	for _, is := range c.gh.Issues("acme/rel") {
		for _, l := range is.Labels {
			if l == report.IssueLabel {
				reports++
			}
		}
	}
	if reports != 1 {
		t.Fatalf("%d report issues after two publishes in one week, want 1", reports)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 || !strings.Contains(posts[0], "Risk registry report — ") || !strings.Contains(posts[0], "/acme/rel/issues/1|") {
		t.Fatalf("webhook posts %q", posts)
	}
	// --publish took today's snapshot.
	rep := decode[map[string]any](t, c.ok("report", "--format", "json"))
	weeks := rep["exposure"].(map[string]any)["weeks"].([]any)
	if last := weeks[len(weeks)-1].(map[string]any); last["exposure"] != 60.0 {
		t.Fatalf("exposure %v", last)
	}
}
