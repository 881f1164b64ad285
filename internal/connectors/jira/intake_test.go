package jira_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/jira"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry"
)

const wikiPostmortem = `h2. Summary
Backups ran late for a week.

||Field||Value||
|Risk|Orphaned snapshot resources accumulate in management clusters|
|Impact|4 — backup operations exceed recovery objectives|
|Owner|*Service Lifecycle SRE*|
|Link|[runbook|https://wiki.example.com/x]|
Some text between tables.
|Risk|Second risk with a \| pipe|
|Likelihood|3|
`

func TestPostmortems(t *testing.T) {
	e := newEnv(t)
	key := e.srv.CreateIssue(jiratest.NewIssue{Project: "INC", Type: "Task", Summary: "Backup delays", Labels: []string{"postmortem"}, Description: wikiPostmortem})
	e.srv.CreateIssue(jiratest.NewIssue{Project: "INC", Type: "Task", Summary: "unlabelled"})
	e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Task", Summary: "other project", Labels: []string{"postmortem"}})
	pms, err := e.c.Postmortems(e.ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pms) != 1 || pms[0].Key != key || pms[0].Title != "Backup delays" || pms[0].Tracker != registry.TrackerJira || pms[0].Closed {
		t.Fatalf("postmortems: %+v", pms)
	}
	want := []string{
		"| Field | Value |", "|---|---|",
		"| Risk | Orphaned snapshot resources accumulate in management clusters |",
		"| Impact | 4 — backup operations exceed recovery objectives |",
		"| Owner | Service Lifecycle SRE |",
		`| Link | [runbook\|https://wiki.example.com/x] |`,
		"Some text between tables.",
		`| Risk | Second risk with a \| pipe |`,
	}
	for _, w := range want {
		if !strings.Contains(pms[0].Body, w+"\n") {
			t.Errorf("body lacks line %q:\n%s", w, pms[0].Body)
		}
	}

	// The cursor: only issues changed since.
	cursor := pms[0].UpdatedAt
	e.srv.Advance(30 * time.Second)
	pms, err = e.c.Postmortems(e.ctx, cursor.Add(time.Second))
	if err != nil || len(pms) != 0 {
		t.Fatalf("unchanged since cursor: %+v %v", pms, err)
	}
	e.srv.Edit(key, "description", wikiPostmortem+"\n|Scope|5|")
	pms, err = e.c.Postmortems(e.ctx, cursor.Add(time.Second))
	if err != nil || len(pms) != 1 || !strings.Contains(pms[0].Body, "| Scope | 5 |") {
		t.Fatalf("edited: %+v %v", pms, err)
	}
	if err := e.c.Comment(e.ctx, key, "Registered RISK-1 from this postmortem."); err != nil {
		t.Fatal(err)
	}
	if c := e.srv.Issue(key).Comments; len(c) != 1 || c[0].Author != jiratest.BotAccountID {
		t.Fatalf("comments %+v", c)
	}
}

func TestDescriptionTextADF(t *testing.T) {
	adf := `{"type":"doc","version":1,"content":[
	 {"type":"paragraph","content":[{"type":"text","text":"Intro "},{"type":"mention","attrs":{"text":"@alice"}}]},
	 {"type":"table","content":[
	  {"type":"tableRow","content":[{"type":"tableHeader","content":[{"type":"paragraph","content":[{"type":"text","text":"Field"}]}]},{"type":"tableHeader","content":[{"type":"paragraph","content":[{"type":"text","text":"Value"}]}]}]},
	  {"type":"tableRow","content":[{"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"Risk"}]}]},{"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"Queue | backlog"},{"type":"hardBreak"},{"type":"text","text":"grows"}]}]}]},
	  {"type":"tableRow","content":[{"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"Impact","marks":[{"type":"strong"}]}]}]},{"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"3"}]}]}]}]},
	 {"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]}]}]}]}`
	got := jira.DescriptionText(adf)
	want := "Intro @alice\n| Field | Value |\n|---|---|\n| Risk | Queue \\| backlog grows |\n| Impact | 3 |\n- one"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebhookHandler(t *testing.T) {
	const secret = "whsec-sentinel"
	if _, err := jira.NewWebhookHandler(config.Secret{}, nil, func(context.Context, registry.Notification) error { return nil }); err == nil {
		t.Fatal("empty secret accepted")
	}
	var got []registry.Notification
	fail := false
	h, err := jira.NewWebhookHandler(config.NewSecret(secret), slog.New(slog.DiscardHandler), func(_ context.Context, n registry.Notification) error {
		if fail {
			return errors.New("db down")
		}
		got = append(got, n)
		return nil
	}, jira.WithPostmortemLabel("postmortem"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte, sig string, id string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/jira", bytes.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Hub-Signature", sig)
		}
		req.Header.Set("X-Atlassian-Webhook-Identifier", id)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	epic := []byte(`{"timestamp":1,"webhookEvent":"jira:issue_updated","user":{"accountId":"5b10"},"issue":{"id":"10001","key":"PAY-7","fields":{"labels":["risk","risksync-RISK-3"]}},"changelog":{"items":[{"field":"status"}]}}`)
	child := []byte(`{"webhookEvent":"jira:issue_created","user":{"accountId":"5b10"},"issue":{"key":"PAY-8","fields":{"labels":[],"parent":{"key":"PAY-7"}}}}`)
	pm := []byte(`{"webhookEvent":"jira:issue_updated","user":{"name":"alice"},"issue":{"key":"INC-1","fields":{"labels":["Postmortem"]}}}`)
	other := []byte(`{"webhookEvent":"comment_created","comment":{}}`)
	unrelated := []byte(`{"webhookEvent":"jira:issue_updated","issue":{"key":"PAY-9","fields":{"labels":[]}}}`)

	for _, c := range []struct {
		name, sig string
		body      []byte
		code      int
	}{
		{"missing signature", "", epic, 401},
		{"wrong signature", sign("other", epic), epic, 401},
		{"malformed signature", "sha256=zz", epic, 401},
		{"sha1 prefix", strings.Replace(sign(secret, epic), "sha256=", "sha1=", 1), epic, 401},
		{"epic", sign(secret, epic), epic, 202},
		{"child", sign(secret, child), child, 202},
		{"postmortem", sign(secret, pm), pm, 202},
		{"other event", sign(secret, other), other, 204},
		{"unrelated issue", sign(secret, unrelated), unrelated, 204},
	} {
		if code := post(c.body, c.sig, "delivery-"+c.name); code != c.code {
			t.Errorf("%s: status %d, want %d", c.name, code, c.code)
		}
	}
	if len(got) != 3 {
		t.Fatalf("notifications %+v", got)
	}
	if n := got[0]; n.Kind != registry.NotifyEpic || n.RiskKey != "RISK-3" || n.IssueKey != "PAY-7" || n.DeliveryID != "delivery-epic" || n.Sender != "5b10" || n.Action != "updated" || n.Tracker != "jira" {
		t.Errorf("epic: %+v", n)
	}
	if n := got[1]; n.Kind != registry.NotifyChild || n.ParentKey != "PAY-7" || n.Action != "created" {
		t.Errorf("child: %+v", n)
	}
	if n := got[2]; n.Kind != registry.NotifyPostmortem || n.Sender != "alice" {
		t.Errorf("postmortem: %+v", n)
	}
	big := bytes.Repeat([]byte("x"), jira.MaxWebhookBody+1)
	if code := post(big, sign(secret, big), "big"); code != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: %d", code)
	}
	fail = true
	if code := post(epic, sign(secret, epic), "x"); code != 500 {
		t.Errorf("store failure: %d", code)
	}
	req := httptest.NewRequest(http.MethodGet, "/webhooks/jira", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t)
	runEverything(t, e)
	e.srv.Fail("", "", 1, 500)
	_, _ = e.c.PullBack(e.ctx, "PAY")
	e.srv.DropAfterCommit(http.MethodPost, routeIssue, 1)
	_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(40, "x", 1, 1, 1), "PAY"), false)
	logs := e.logs.String()
	if logs == "" {
		t.Fatal("no logs captured")
	}
	for _, s := range []string{jiratest.APIToken, jiratest.Email, "Basic ", "Authorization"} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q", s)
		}
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error contains %q: %v", s, err)
		}
	}
	// Data Center token.
	d := newEnv(t, withServer(jiratest.WithDeployment(jiratest.DataCenter)), withOptions(func(o *jira.Options) {
		o.Email, o.APIToken = config.Secret{}, config.Secret{}
		o.PAT = config.NewSecret("sentinel-pat-0815")
	}))
	_, err = d.c.EnsureEpic(d.ctx, epicOf(newRisk(1, "x", 1, 1, 1), "PAY"), false)
	if err == nil || strings.Contains(err.Error(), "sentinel-pat-0815") || strings.Contains(d.logs.String(), "sentinel-pat-0815") {
		t.Fatalf("PAT leaked or accepted: %v", err)
	}
}
