package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/github"
	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/registry/sqlite"
	"github.com/risksync/risksync/internal/webhook"
)

// trackers is a CLI wired to both tracker fakes.
type trackers struct {
	*cli
	gh *githubtest.Server
	jr *jiratest.Server
}

const webhookSecret = "whsec-e2e"

func newTrackers(t testing.TB, extraYAML string) *trackers {
	jr := jiratest.NewServer(t, jiratest.WithStart(time.Now().UTC().Truncate(time.Second)))
	jr.AddProject(jiratest.Project{Key: "PAY", Name: "Payments"})
	jr.AddProject(jiratest.Project{Key: "REL", Name: "Reliability"})
	gh := githubtest.NewServer(t, githubtest.WithClock(jr.Now))
	for _, r := range []string{"acme/rel", "acme/storage", "acme/incidents"} {
		gh.AddRepo(r)
	}
	gh.SetIssueTypes("acme", "Task", "Epic")
	c := newCLI(t)
	c.env["GITHUB_TOKEN"] = gh.Token()
	c.env["JIRA_EMAIL"] = jiratest.Email
	c.env["JIRA_API_TOKEN"] = jiratest.APIToken
	c.env["GITHUB_WEBHOOK_SECRET"] = webhookSecret
	c.writeConfig(fmt.Sprintf(`
teams:
  - {name: storage-sre, tracker: github, github_repo: acme/storage, aliases: ["Service Lifecycle SRE"]}
  - {name: payments, tracker: jira, jira_project: PAY}
default_tracker: github
github:
  base_url: %s
  repo: acme/rel
  webhook_secret_env: GITHUB_WEBHOOK_SECRET
  postmortem: {repos: [acme/incidents]}
jira:
  base_url: %s
  deployment: cloud
  project: REL
%s`, gh.URL(), jr.URL, extraYAML))
	tr := &trackers{cli: c, gh: gh, jr: jr}
	c.main = func(m *Main) {
		m.HTTPClient = gh.HTTPClient()
		m.Now = jr.Now
		m.Sleep = jr.Sleep
		m.MinWriteInterval = time.Millisecond
	}
	return tr
}

func (tr *trackers) writes() (int, int) { return tr.gh.Writes(), tr.jr.Writes() }

func (tr *trackers) linkOf(key string) map[string]any {
	tr.t.Helper()
	r := decode[map[string]any](tr.t, tr.ok("risk", "show", key, "--json"))
	for _, l := range r["links"].([]any) {
		if l := l.(map[string]any); l["current"] == true {
			return l
		}
	}
	tr.t.Fatalf("%s has no current link: %v", key, r["links"])
	return nil
}

func issueNumber(t testing.TB, key string) int {
	n, err := strconv.Atoi(key[strings.LastIndexByte(key, '#')+1:])
	if err != nil {
		t.Fatalf("key %q: %v", key, err)
	}
	return n
}

func eachDatabase(t *testing.T, fn func(t *testing.T, dbURL func(t *testing.T) string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, func(t *testing.T) string { return "" }) })
	if os.Getenv(registrytest.PostgresEnv) != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, func(t *testing.T) string { return registrytest.TempPostgresDSN(t) }) })
	}
}

func TestSyncOnceEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		tr := newTrackers(t, "")
		if u := dbURL(t); u != "" {
			tr.env["RISKSYNC_DATABASE_URL"] = u
		}
		tr.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "storage-sre")
		tr.ok("risk", "add", "--title", "Checkout latency degrades daily", "--impact", "2", "--scope", "4", "--likelihood", "5", "--owner", "payments")
		tr.ok("risk", "add", "--title", "Unrated risk from a hallway chat")

		// Dry run: a plan naming each risk, and no write anywhere.
		plan := decode[map[string]any](t, tr.ok("sync", "--once", "--dry-run", "--json"))
		if n := len(plan["creates"].([]any)); n != 3 {
			t.Fatalf("dry-run creates %d: %v", n, plan)
		}
		for _, k := range []string{"updates", "closes", "comments"} {
			if _, ok := plan[k].([]any); !ok {
				t.Fatalf("plan lacks %q: %v", k, plan)
			}
		}
		first := plan["creates"].([]any)[0].(map[string]any)
		if first["risk"] != "RISK-1" || first["tracker"] != "github" || first["fields"] == nil {
			t.Fatalf("plan entry %v", first)
		}
		if g, j := tr.writes(); g+j != 0 || len(tr.linkOfMaybe("RISK-1")) != 0 {
			t.Fatalf("dry run wrote: github %d jira %d", g, j)
		}
		human := tr.ok("sync", "--once", "--dry-run")
		if !strings.Contains(human, "would create") || !strings.Contains(human, "RISK-2") || !strings.Contains(human, "nothing written") {
			t.Fatalf("dry-run output:\n%s", human)
		}

		// First mirror.
		out := tr.ok("sync", "--once")
		if !strings.Contains(out, "every risk converged") {
			t.Fatalf("sync output:\n%s", out)
		}
		a, b, c := tr.linkOf("RISK-1"), tr.linkOf("RISK-2"), tr.linkOf("RISK-3")
		if !strings.HasPrefix(a["key"].(string), "acme/storage#") || !strings.HasPrefix(b["key"].(string), "PAY-") || !strings.HasPrefix(c["key"].(string), "acme/rel#") {
			t.Fatalf("links %v %v %v", a["key"], b["key"], c["key"])
		}
		epic, _ := tr.gh.Issue("acme/storage", issueNumber(t, a["key"].(string)))
		if !strings.HasPrefix(epic.Title, "[RISK-1] ") || !strings.Contains(epic.Body, "<!-- risksync:RISK-1 -->") {
			t.Fatalf("github epic %q", epic.Title)
		}
		jepic := tr.jr.Issue(b["key"].(string))
		if jepic == nil || !strings.HasPrefix(jepic.Summary, "[RISK-2] ") || jepic.Priority != "High" {
			t.Fatalf("jira epic %+v", jepic)
		}

		// Idempotent: nothing changed, nothing written.
		g0, j0 := tr.writes()
		tr.ok("sync", "--once")
		if g, j := tr.writes(); g != g0 || j != j0 {
			t.Fatalf("idempotent re-run wrote github %d jira %d", g-g0, j-j0)
		}

		// A score change: only that epic, at most 2 writes.
		tr.ok("risk", "update", "RISK-2", "--likelihood", "1")
		tr.ok("sync", "--once")
		if g, j := tr.writes(); g != g0 || j-j0 < 1 || j-j0 > 2 {
			t.Fatalf("score change wrote github %d jira %d", g-g0, j-j0)
		}
		if p := tr.jr.Issue(b["key"].(string)).Priority; p != "Low" {
			t.Fatalf("jira priority %q after the band change", p)
		}

		// Pull-back both ways.
		tr.gh.CloseIssue("acme/storage", issueNumber(t, a["key"].(string)), "completed", "alice")
		tr.jr.Transition(b["key"].(string), jiratest.StatusInProgress, "")
		tr.jr.Advance(time.Minute)
		tr.ok("sync", "--once")
		if r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json")); r["status"] != "mitigated" {
			t.Fatalf("RISK-1 after its epic was completed: %v", r["status"])
		}
		if r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-2", "--json")); r["status"] != "mitigating" {
			t.Fatalf("RISK-2 after its epic went in progress: %v", r["status"])
		}

		// Intake: a postmortem with a risk table becomes a risk and an epic in the same pass.
		tr.gh.CreateIssue("acme/incidents", githubtest.NewIssue{Title: "Postmortem: backup outage", Labels: []string{"postmortem"},
			Body: "| Risk | Restore runbook is stale |\n| Impact | 4 — restores take hours |\n| Scope | 3 |\n| Likelihood | high |\n| Owner | Service Lifecycle SRE |\n"})
		tr.jr.Advance(time.Minute)
		out = tr.ok("sync", "--once")
		if !strings.Contains(out, "intake create") {
			t.Fatalf("intake output:\n%s", out)
		}
		r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-4", "--json"))
		if r["owner"] != "storage-sre" || r["score"] != 48.0 || len(r["sources"].([]any)) != 1 || len(r["links"].([]any)) != 1 {
			t.Fatalf("intake risk %v", r)
		}
		g1, j1 := tr.writes()
		tr.jr.Advance(time.Minute)
		tr.ok("sync", "--once")
		if g, j := tr.writes(); g != g1 || j != j1 {
			t.Fatalf("re-reading the postmortem wrote github %d jira %d", g-g1, j-j1)
		}
	})
}

func (tr *trackers) linkOfMaybe(key string) []any {
	r := decode[map[string]any](tr.t, tr.ok("risk", "show", key, "--json"))
	return r["links"].([]any)
}

func TestSyncFailuresExitNonZero(t *testing.T) {
	tr := newTrackers(t, "")
	tr.ok("risk", "add", "--title", "a", "--impact", "1", "--scope", "1", "--likelihood", "1", "--owner", "payments")
	tr.ok("risk", "add", "--title", "b", "--impact", "1", "--scope", "1", "--likelihood", "1", "--owner", "storage-sre")
	tr.jr.Fail("POST", "/rest/api/2/issue", 5, 400)
	out, errOut, code := tr.run("sync", "--once")
	if code != 1 || !strings.Contains(errOut, "did not converge") || !strings.Contains(errOut, "RISK-1") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	if !strings.Contains(out, "failed") || len(tr.linkOfMaybe("RISK-2")) != 1 {
		t.Fatalf("the healthy risk was not applied:\n%s", out)
	}
	for _, secret := range []string{tr.gh.Token(), jiratest.APIToken} {
		if strings.Contains(out+errOut, secret) {
			t.Fatal("a secret leaked into the output")
		}
	}
}

func TestSyncNeedsSecrets(t *testing.T) {
	tr := newTrackers(t, "")
	delete(tr.env, "JIRA_API_TOKEN")
	tr.fail(1, "jira.api_token_env: environment variable JIRA_API_TOKEN is not set", "sync", "--once")
	tr.fail(2, "add --once", "sync")
}

// serveInBackground starts `risksync serve` in-process and returns its address.
func (tr *trackers) serveInBackground(t testing.TB) (addr string, stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		m := tr.newMain(io.Discard, &stderr)
		m.OnListen = func(a string) { addrCh <- a }
		done <- m.Run(ctx, []string{"serve"})
	}()
	select {
	case addr = <-addrCh:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return addr, func() error {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				return fmt.Errorf("serve exited %d: %s", code, stderr.String())
			}
			return nil
		case <-time.After(15 * time.Second):
			return fmt.Errorf("serve did not stop within 15 s")
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postWebhook(t testing.TB, url, event, delivery string, body []byte, secret string) int {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	if secret != "" {
		req.Header.Set("X-Hub-Signature-256", github.Sign(config.NewSecret(secret), body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func httpGet(t testing.TB, url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeWebhookPullBack(t *testing.T) {
	tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1h}\n")
	tr.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "storage-sre")
	addr, stop := tr.serveInBackground(t)
	base := "http://" + addr
	// The first pass runs at start.
	waitFor(t, "the first pass to mirror RISK-1", func() bool { return len(tr.linkOfMaybe("RISK-1")) == 1 })
	key := tr.linkOf("RISK-1")["key"].(string)
	n := issueNumber(t, key)

	// A second daemon on the same SQLite file refuses to start, and so does a
	// one-off sync; a dry run, which writes nothing, still works.
	_, errOut, code := tr.run("serve")
	if code != 1 || !strings.Contains(errOut, "another risksync is already serving") {
		t.Fatalf("second serve: exit %d %q", code, errOut)
	}
	tr.fail(1, "another risksync process is syncing", "sync", "--once")
	tr.ok("sync", "--once", "--dry-run")

	tr.gh.CloseIssue("acme/storage", n, "completed", "alice") // same second as the mirror: still seen
	body, _ := json.Marshal(map[string]any{"action": "closed",
		"issue":      map[string]any{"number": n, "title": "[RISK-1] Orphaned snapshots accumulate", "state": "closed", "state_reason": "completed", "labels": []any{map[string]any{"name": "risk"}}, "body": "<!-- risksync:RISK-1 -->"},
		"repository": map[string]any{"full_name": "acme/storage", "name": "storage", "owner": map[string]any{"login": "acme"}},
		"sender":     map[string]any{"login": "alice"}})
	// A bad signature is refused and changes nothing.
	if code := postWebhook(t, base+"/webhooks/github", "issues", "d-1", body, "wrong-secret"); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", code)
	}
	if code := postWebhook(t, base+"/webhooks/github", "issues", "d-1", body, ""); code != http.StatusUnauthorized {
		t.Fatalf("missing signature: %d", code)
	}
	time.Sleep(700 * time.Millisecond)
	if r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json")); r["status"] != "active" {
		t.Fatalf("status moved without a valid webhook: %v", r["status"])
	}
	// A valid delivery triggers pull-back within seconds (the interval is an hour).
	if code := postWebhook(t, base+"/webhooks/github", "issues", "d-2", body, webhookSecret); code/100 != 2 {
		t.Fatalf("valid webhook: %d", code)
	}
	waitFor(t, "RISK-1 to become mitigated", func() bool {
		return decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))["status"] == "mitigated"
	})
	if code := postWebhook(t, base+"/webhooks/github", "issues", "d-2", body, webhookSecret); code/100 != 2 {
		t.Fatalf("replayed webhook: %d", code)
	}

	if code, _ := httpGet(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := httpGet(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"leader":true`) {
		t.Fatalf("readyz %d %s", code, body)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{`risksync_risk_score{band="critical",key="RISK-1",owner="storage-sre"} 60`, `risksync_webhook_deliveries_total{result="replay",tracker="github"} 1`,
		`risksync_webhook_deliveries_total{result="unauthorized",tracker="github"} 2`, `risksync_tracker_requests_total{method="POST",status="201",tracker="github"}`, "risksync_pass_duration_seconds_count"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The API is mounted, authenticates before anything else, and serves its document.
	if code, body := httpGet(t, base+"/api/v1/risks/RISK-1"); code != http.StatusUnauthorized || !strings.Contains(body, `"status":401`) {
		t.Fatalf("API without a token: %d %s", code, body)
	}
	if code, body := httpGet(t, base+"/api/v1/openapi.json"); code != 200 || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Fatalf("API document: %d %.200s", code, body)
	}
	if code, _ := httpGet(t, base+"/webhooks/jira"); code != http.StatusNotFound {
		t.Fatalf("jira webhooks without a secret: %d", code)
	}
	// No pass for more than three intervals: the leader is not ready.
	tr.jr.Advance(4 * time.Hour)
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"pass":"stale"`) {
		t.Fatalf("readyz after four idle hours: %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// postJiraWebhook posts body signed as a Jira admin webhook; id "" sends no
// X-Atlassian-Webhook-Identifier, as Jira Data Center does.
func postJiraWebhook(t testing.TB, url string, body []byte, id string) int {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", webhook.Sign([]byte(webhookSecret), body))
	if id != "" {
		req.Header.Set("X-Atlassian-Webhook-Identifier", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Jira Data Center deliveries carry no identifier: the store takes the id
// derived from the body on both databases, the delivery wakes a pass, and a
// replay of the same bytes is stored once.
func TestServeJiraWebhooksWithoutIdentifier(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		// The first line continues the jira: block newTrackers writes.
		tr := newTrackers(t, "  webhook_secret_env: JIRA_WEBHOOK_SECRET\nserver: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1h}\n")
		tr.env["JIRA_WEBHOOK_SECRET"] = webhookSecret
		if u := dbURL(t); u != "" {
			tr.env["RISKSYNC_DATABASE_URL"] = u
		}
		tr.ok("risk", "add", "--title", "Checkout latency degrades daily", "--impact", "2", "--scope", "4", "--likelihood", "5", "--owner", "payments")
		addr, stop := tr.serveInBackground(t)
		hook := "http://" + addr + "/webhooks/jira"
		waitFor(t, "the first pass to mirror RISK-1", func() bool { return len(tr.linkOfMaybe("RISK-1")) == 1 })
		key := tr.linkOf("RISK-1")["key"].(string)

		tr.jr.Transition(key, jiratest.StatusInProgress, "")
		tr.jr.Advance(time.Minute)
		// Shaped like a Data Center delivery: name/key user, no accountId.
		updated := []byte(fmt.Sprintf(`{"timestamp":1718093100221,"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic",`+
			`"user":{"self":"https://jira.example.com/rest/api/2/user?username=bob","name":"bob","key":"JIRAUSER10100","displayName":"Bob Builder","active":true},`+
			`"issue":{"id":"10007","key":%q,"fields":{"labels":["risk","risksync-RISK-1"],"status":{"name":"In Progress","statusCategory":{"key":"indeterminate"}}}},`+
			`"changelog":{"id":"10130","items":[{"field":"status","fieldtype":"jira","from":"10000","fromString":"To Do","to":"3","toString":"In Progress"}]}}`, key))
		if code := postJiraWebhook(t, hook, updated, ""); code != http.StatusAccepted {
			t.Fatalf("Data Center delivery: %d", code)
		}
		waitFor(t, "RISK-1 to become mitigating after the webhook", func() bool {
			return decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))["status"] == "mitigating"
		})
		if code := postJiraWebhook(t, hook, updated, ""); code/100 != 2 {
			t.Fatalf("replay: %d", code)
		}
		fixtures := "../../internal/connectors/jira/testdata/webhooks/"
		for file, want := range map[string]int{"dc-issue-updated-epic-link.json": http.StatusAccepted, "dc-project-created.json": http.StatusNoContent, "cloud-comment-created.json": http.StatusNoContent} {
			body, err := os.ReadFile(fixtures + file)
			if err != nil {
				t.Fatal(err)
			}
			if code := postJiraWebhook(t, hook, body, ""); code != want {
				t.Errorf("%s: %d, want %d", file, code, want)
			}
		}
		if code := postJiraWebhook(t, hook, updated, "cloud-7d4b0a2f"); code != http.StatusAccepted {
			t.Fatalf("with an identifier: %d", code)
		}
		_, metrics := httpGet(t, "http://"+addr+"/metrics")
		for _, want := range []string{`risksync_webhook_deliveries_total{result="stored",tracker="jira"} 3`, `risksync_webhook_deliveries_total{result="replay",tracker="jira"} 1`} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestServeReportOnSchedule(t *testing.T) {
	var posts, accepted atomic.Int64
	var failureSeen atomic.Bool // the receiver refuses until the test saw the failure on /readyz
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		if !failureSeen.Load() {

			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"text"`) {
			http.Error(w, "no text", http.StatusBadRequest)
			return
		}
		accepted.Add(1)
	}))
	defer receiver.Close()
	tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1s}\nreport: {schedule: \"* * * * *\", webhook_url_env: REPORT_HOOK}\n")
	tr.env["REPORT_HOOK"] = receiver.URL
	tr.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "storage-sre")
	secret := decode[map[string]any](t, tr.ok("token", "create", "--name", "weekly-review", "--role", "reader", "--json"))["token"].(string)
	addr, stop := tr.serveInBackground(t)
	waitFor(t, "the first pass", func() bool { return len(tr.linkOfMaybe("RISK-1")) == 1 })
	if posts.Load() != 0 {
		t.Fatal("published at start instead of on schedule")
	}
	// The schedule comes due. The first pass may still be finishing (it starts
	// the schedule's clock), so time moves on until an attempt arrives.
	waitFor(t, "the first publication attempt", func() bool {
		if posts.Load() == 0 {
			tr.jr.Advance(2 * time.Minute)
		}
		return posts.Load() > 0
	})
	// The failure shows on /readyz and in metrics, and the next pass retries.
	waitFor(t, "the failed publication on /readyz", func() bool {
		_, body := httpGet(t, "http://"+addr+"/readyz")
		return strings.Contains(body, `"retrying":true`) && strings.Contains(body, `"last_error"`)
	})
	if _, m := httpGet(t, "http://"+addr+"/metrics"); !strings.Contains(m, "risksync_report_publish_failing 1") {
		t.Fatal("metrics do not show the failing publication")
	}
	failureSeen.Store(true)
	waitFor(t, "the scheduled report", func() bool { return accepted.Load() == 1 })
	time.Sleep(2500 * time.Millisecond) // more passes in the same week
	if accepted.Load() != 1 {
		t.Fatalf("%d accepted deliveries in one week, want 1", accepted.Load())
	}
	if code, _ := httpGet(t, "http://"+addr+"/report"); code != http.StatusUnauthorized {
		t.Fatalf("/report without a token: %d", code)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/report", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	code, html := resp.StatusCode, string(page)
	if code != 200 || !strings.Contains(html, "<svg") || !strings.Contains(html, "RISK-1") {
		t.Fatalf("/report %d: %.200s", code, html)
	}
	if _, body := httpGet(t, "http://"+addr+"/readyz"); !strings.Contains(body, `"webhook":{"attempts"`) || !strings.Contains(body, `"delivered":true`) {
		t.Fatalf("readyz lacks the report status: %s", body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// Through the real connectors: a person's edit is overwritten with one
// explanatory comment, a bad postmortem table becomes an unscored risk with
// one comment and is fixed by an edit, and idle work shows as stagnant.
func TestDriftIntakeAndStagnationEndToEnd(t *testing.T) {
	tr := newTrackers(t, "")
	tr.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "storage-sre")
	tr.ok("sync", "--once")
	n := issueNumber(t, tr.linkOf("RISK-1")["key"].(string))
	for i := 0; i < 2; i++ {
		tr.jr.Advance(time.Minute)
		tr.gh.Edit("acme/storage", n, "alice", func(is *githubtest.Issue) { is.Title = "Renamed by a person" })
		tr.jr.Advance(time.Minute)
		tr.ok("sync", "--once")
		epic, _ := tr.gh.Issue("acme/storage", n)
		if epic.Title != "[RISK-1] Orphaned snapshots accumulate" {
			t.Fatalf("edit %d not overwritten: %q", i, epic.Title)
		}
		if len(epic.Comments) != 1 || !strings.Contains(epic.Comments[0].Body, "risksync risk update RISK-1") {
			t.Fatalf("after edit %d: comments %+v, want exactly one explanation", i, epic.Comments)
		}
	}

	bad := "| Risk | Restore runbook is stale |\n| Impact | severe |\n| Scope | 3 |\n| Likelihood | 2 |\n| Owner | Database Guild |\n"
	pm := tr.gh.CreateIssue("acme/incidents", githubtest.NewIssue{Title: "Postmortem: restore drill", Labels: []string{"postmortem"}, Body: bad})
	tr.jr.Advance(time.Minute)
	tr.ok("sync", "--once")
	r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-2", "--json"))
	if r["score"] != nil || r["owner"] != nil || r["impact"] != nil || len(r["links"].([]any)) != 1 {
		t.Fatalf("bad-table risk %v: want unscored, unowned, and mirrored", r)
	}
	issue, _ := tr.gh.Issue("acme/incidents", pm)
	if len(issue.Comments) != 1 || !strings.Contains(issue.Comments[0].Body, "Database Guild") || !strings.Contains(issue.Comments[0].Body, "storage-sre") {
		t.Fatalf("problem comment %+v", issue.Comments)
	}
	tr.jr.Advance(time.Minute)
	tr.gh.Edit("acme/incidents", pm, "alice", func(is *githubtest.Issue) {
		is.Body = strings.NewReplacer("severe", "4 — restores take hours", "Database Guild", "storage-sre").Replace(bad)
	})
	tr.jr.Advance(time.Minute)
	tr.ok("sync", "--once")
	r = decode[map[string]any](t, tr.ok("risk", "show", "RISK-2", "--json"))
	if r["score"] != 24.0 || r["owner"] != "storage-sre" {
		t.Fatalf("edited table did not update its risk: %v", r)
	}
	if issue, _ = tr.gh.Issue("acme/incidents", pm); len(issue.Comments) != 1 {
		t.Fatalf("the problem comment was repeated: %d comments", len(issue.Comments))
	}
	if list := decode[[]map[string]any](t, tr.ok("risk", "list", "--json")); len(list) != 2 {
		t.Fatalf("%d risks after an edit, want 2", len(list))
	}

	// No child work for longer than stagnation.after (14d): stagnant, from the registry alone.
	tr.jr.Advance(15 * 24 * time.Hour)
	requests := len(tr.gh.Requests()) + len(tr.jr.Requests())
	rep := decode[map[string]any](t, tr.ok("report", "--format", "json"))
	if len(tr.gh.Requests())+len(tr.jr.Requests()) != requests {
		t.Fatal("the report called a tracker")
	}
	stagnant := rep["stagnant"].([]any)
	if len(stagnant) != 2 || stagnant[0].(map[string]any)["key"] != "RISK-1" || stagnant[0].(map[string]any)["idle_days"].(float64) < 15 {
		t.Fatalf("stagnant %v", stagnant)
	}
}

// A dry run writes nothing to the registry either, even when the bands
// changed and stored scores are out of date.
func TestDryRunWritesNoRegistryData(t *testing.T) {
	tr := newTrackers(t, "")
	tr.ok("risk", "add", "--title", "Checkout latency", "--impact", "2", "--scope", "4", "--likelihood", "5", "--owner", "payments")
	tr.ok("sync", "--once")
	cfg := readFile(t, tr.env["RISKSYNC_CONFIG"])
	tr.writeConfig(cfg + "scoring:\n  bands:\n    - {name: urgent, min_score: 35, github_label: p0, jira_priority: Highest}\n    - {name: later, min_score: 0, github_label: p3, jira_priority: Low}\n")
	plan := decode[map[string]any](t, tr.ok("sync", "--once", "--dry-run", "--json"))
	if len(plan["updates"].([]any)) != 1 {
		t.Fatalf("dry-run plan %v: want the epic's priority update", plan)
	}
	db, err := sqlite.Open(context.Background(), strings.TrimPrefix(tr.env["RISKSYNC_DATABASE_URL"], "sqlite://"), registrytest.DefaultOptions(registrytest.NewClock()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h, _ := db.History(context.Background(), "RISK-1", 0)
	for _, e := range h {
		if e.Actor == "config" || e.Actor == "sync" && e.Field != "link" {
			t.Fatalf("the dry run wrote history: %+v", e)
		}
	}
	if r, _ := db.FindRisk(context.Background(), "RISK-1"); r.Band != "high" {
		t.Fatalf("the dry run rescored: band %q", r.Band)
	}
}

// Jira end to end: a postmortem written in wiki markup becomes a risk and an
// epic; a person resolving the epic as Won't Do leaves the status to people
// and puts the risk under "needs a decision".
func TestJiraIntakeAndNotPlannedEndToEnd(t *testing.T) {
	tr := newTrackers(t, "")
	tr.jr.AddProject(jiratest.Project{Key: "INC", Name: "Incidents"})
	cfg := readFile(t, tr.env["RISKSYNC_CONFIG"])
	tr.writeConfig(strings.Replace(cfg, "  project: REL\n", "  project: REL\n  postmortem: {projects: [INC]}\n", 1))
	tr.jr.CreateIssue(jiratest.NewIssue{Project: "INC", Type: "Task", Summary: "Postmortem: payment retries storm", Labels: []string{"postmortem"},
		Description: "h2. Risks\n\n||Field||Value||\n|Risk|Retry storms overload the payment gateway|\n|Impact|4 - checkout fails|\n|Scope|medium|\n|Likelihood|3|\n|Owner|payments|\n"})
	tr.jr.Advance(time.Minute)
	out := tr.ok("sync", "--once")
	if !strings.Contains(out, "intake create") {
		t.Fatalf("no intake from the Jira postmortem:\n%s", out)
	}
	r := decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))
	if r["title"] != "Retry storms overload the payment gateway" || r["score"] != 36.0 || r["owner"] != "payments" {
		t.Fatalf("risk from the wiki table: %v", r)
	}
	src := r["sources"].([]any)[0].(map[string]any)
	link := tr.linkOf("RISK-1")
	if src["tracker"] != "jira" || !strings.HasPrefix(src["key"].(string), "INC-") || !strings.HasPrefix(link["key"].(string), "PAY-") {
		t.Fatalf("source %v, link %v", src, link)
	}

	tr.jr.Advance(time.Minute)
	tr.jr.Transition(link["key"].(string), jiratest.StatusDone, "Won't Do")
	tr.jr.Advance(time.Minute)
	tr.ok("sync", "--once")
	r = decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))
	if r["status"] != "active" || tr.linkOf("RISK-1")["state"] != "not_planned" {
		t.Fatalf("after Won't Do: status %v, link %v", r["status"], tr.linkOf("RISK-1")["state"])
	}
	rep := decode[map[string]any](t, tr.ok("report", "--format", "json"))
	if nd := rep["needs_decision"].([]any); len(nd) != 1 || nd[0].(map[string]any)["key"] != "RISK-1" {
		t.Fatalf("needs_decision %v", rep["needs_decision"])
	}
	// Deciding in the registry settles it; risksync never reopens the person's close.
	tr.ok("risk", "update", "RISK-1", "--status", "accepted", "--reason", "covered by the failover drill", "--owner", "")
	tr.jr.Advance(time.Minute)
	tr.ok("sync", "--once")
	r = decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))
	if r["status"] != "accepted" || r["owner"] != nil {
		t.Fatalf("after the decision: %v %v", r["status"], r["owner"])
	}
	if issue := tr.jr.Issue(link["key"].(string)); issue.Status != jiratest.StatusDone {
		t.Fatalf("the person's close was undone: %q", issue.Status)
	}
	rep = decode[map[string]any](t, tr.ok("report", "--format", "json"))
	if nd := rep["needs_decision"].([]any); len(nd) != 0 {
		t.Fatalf("still needs a decision after it was accepted: %v", nd)
	}
}
