package jira_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/jira"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/webhook"
)

const hookSecret = "whsec-jira-payloads"

// queue stands in for the store's Enqueue: it drops a second delivery with
// the same (tracker, delivery id), as the UNIQUE constraint does, and refuses
// an empty id, as Enqueue does.
type queue struct {
	mu     sync.Mutex
	seen   map[[2]string]bool
	stored []registry.Notification
	calls  int
}

func (q *queue) notify(_ context.Context, n registry.Notification) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if n.DeliveryID == "" || n.Tracker == "" {
		return registry.Errorf(registry.EINVALID, "a webhook notification needs a tracker and a delivery id")
	}
	k := [2]string{n.Tracker, n.DeliveryID}
	if q.seen[k] {
		return nil // a replay: acknowledged, not stored
	}
	if q.seen == nil {
		q.seen = map[[2]string]bool{}
	}
	q.seen[k] = true
	q.stored = append(q.stored, n)
	return nil
}

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliverJira posts body signed as a Jira admin webhook; id "" sends no
// X-Atlassian-Webhook-Identifier (as Data Center does).
func deliverJira(h http.Handler, body []byte, id string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/jira", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", webhook.Sign([]byte(hookSecret), body))
	if id != "" {
		req.Header.Set("X-Atlassian-Webhook-Identifier", id)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func newJiraHook(t testing.TB, q *queue, epicLink string) http.Handler {
	t.Helper()
	h, err := jira.NewWebhookHandler(config.NewSecret(hookSecret), nil, q.notify,
		jira.WithPostmortemLabel("postmortem"), jira.WithEpicLinkField(func() string { return epicLink }))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Payloads shaped like real Cloud and Data Center deliveries: every one is
// answered 2xx, those about risk epics, child work and postmortems wake a
// pass, the others are acknowledged without a notification.
func TestWebhookRealPayloads(t *testing.T) {
	const dcEpicLink = "customfield_10100"
	child := func(issue, parent, action, sender string) *registry.Notification {
		return &registry.Notification{Tracker: "jira", Kind: registry.NotifyChild, IssueKey: issue, ParentKey: parent, Action: action, Sender: sender}
	}
	for _, tc := range []struct {
		file, id, epicLink string
		want               *registry.Notification // nil: acknowledged (204), nothing stored
	}{
		{"cloud-issue-created.json", "3f1d2c1e-8e5f-4c1e-9a2b-6c1d9e0f1a2b", "", child("PAY-12", "PAY-7", "created", "5b10a2844c20165700ede21g")},
		{"cloud-issue-updated.json", "7d4b0a2f-1c3e-4f5a-8b6c-9d0e1f2a3b4c", "",
			&registry.Notification{Tracker: "jira", Kind: registry.NotifyEpic, IssueKey: "PAY-7", RiskKey: "RISK-3", Action: "updated", Sender: "5b10a2844c20165700ede21g"}},
		{"cloud-issue-updated.json", "", "", // the same event without an identifier
			&registry.Notification{Tracker: "jira", Kind: registry.NotifyEpic, IssueKey: "PAY-7", RiskKey: "RISK-3", Action: "updated", Sender: "5b10a2844c20165700ede21g"}},
		{"cloud-comment-created.json", "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d", "", nil},
		{"cloud-issuelink-created-blocks.json", "", "", nil}, // not the epic link
		{"dc-issue-updated-postmortem.json", "", dcEpicLink,
			&registry.Notification{Tracker: "jira", Kind: registry.NotifyPostmortem, IssueKey: "INC-4", Action: "updated", Sender: "bob"}},
		// The Epic Link field, known from the client, or only the changelog.
		{"dc-issue-updated-epic-link.json", "", dcEpicLink, child("PAY-12", "PAY-7", "updated", "bob")},
		{"dc-issue-updated-epic-link.json", "", "", child("PAY-12", "PAY-7", "updated", "bob")},
		{"dc-issue-updated-epic-link-removed.json", "", dcEpicLink, child("PAY-12", "PAY-7", "updated", "bob")},
		{"dc-issue-created-epic-link.json", "", dcEpicLink, child("PAY-13", "PAY-7", "created", "bob")},
		// Before the field id is known a new child has no changelog; the
		// issuelink_created Data Center sends with it wakes the pass instead.
		{"dc-issue-created-epic-link.json", "", "", nil},
		{"dc-issuelink-created-epic.json", "", "", child("10213", "10207", "linked", "")},
		{"dc-comment-created.json", "", dcEpicLink, nil},
		{"dc-project-created.json", "", dcEpicLink, nil},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".json")+map[bool]string{true: "/with-id", false: "/without-id"}[tc.id != ""]+"/link="+tc.epicLink, func(t *testing.T) {
			q := &queue{}
			body := payload(t, tc.file)
			rec := deliverJira(newJiraHook(t, q, tc.epicLink), body, tc.id)
			if tc.want == nil {
				if rec.Code != http.StatusNoContent || q.calls != 0 {
					t.Fatalf("status %d (%s), notifications %+v; want 204 and none", rec.Code, rec.Body, q.stored)
				}
				return
			}
			if rec.Code != http.StatusAccepted || len(q.stored) != 1 {
				t.Fatalf("status %d (%s), notifications %+v; want 202 and one", rec.Code, rec.Body, q.stored)
			}
			want := *tc.want
			want.DeliveryID = tc.id
			if tc.id == "" {
				want.DeliveryID = webhook.DeliveryID("", body)
			}
			if got := q.stored[0]; got != want {
				t.Errorf("notification\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// Data Center sends no X-Atlassian-Webhook-Identifier: the delivery is stored
// under an id derived from its bytes, so a replay is dropped and a different
// event is not.
func TestWebhookWithoutIdentifierDropsReplays(t *testing.T) {
	q := &queue{}
	h := newJiraHook(t, q, "customfield_10100")
	body := payload(t, "dc-issue-updated-epic-link.json")
	for i := range 3 {
		if rec := deliverJira(h, body, ""); rec.Code != http.StatusAccepted {
			t.Fatalf("delivery %d: status %d (%s)", i, rec.Code, rec.Body)
		}
	}
	if rec := deliverJira(h, payload(t, "dc-issue-updated-epic-link-removed.json"), ""); rec.Code != http.StatusAccepted {
		t.Fatalf("second event: status %d", rec.Code)
	}
	if q.calls != 4 || len(q.stored) != 2 {
		t.Fatalf("calls %d, stored %+v; want the replay stored once and the other event once", q.calls, q.stored)
	}
	if id := q.stored[0].DeliveryID; !strings.HasPrefix(id, "sha256:") || len(id) != len("sha256:")+64 || id == q.stored[1].DeliveryID {
		t.Fatalf("derived ids %q and %q", id, q.stored[1].DeliveryID)
	}
	// Cloud's identifier is kept as it is, and a redelivery under it is dropped.
	cloud := payload(t, "cloud-issue-updated.json")
	for range 2 {
		deliverJira(h, cloud, "7d4b0a2f-1c3e-4f5a-8b6c-9d0e1f2a3b4c")
	}
	if len(q.stored) != 3 || q.stored[2].DeliveryID != "7d4b0a2f-1c3e-4f5a-8b6c-9d0e1f2a3b4c" {
		t.Fatalf("stored %+v", q.stored)
	}
}

// The handler learns the Epic Link field id from the client once a pass has
// discovered it; until then it relies on the changelog.
func TestWebhookEpicLinkFieldFromClient(t *testing.T) {
	e := newEnv(t, withServer(jiratest.WithDeployment(jiratest.DataCenter)), withOptions(func(o *jira.Options) {
		o.Email, o.APIToken = config.Secret{}, config.Secret{}
		o.PAT = config.NewSecret(jiratest.PAT)
	}))
	q := &queue{}
	h, err := jira.NewWebhookHandler(config.NewSecret(hookSecret), nil, q.notify, jira.WithEpicLinkField(e.c.EpicLinkField))
	if err != nil {
		t.Fatal(err)
	}
	// The fake's Epic Link field in place of the payload's.
	created := bytes.ReplaceAll(payload(t, "dc-issue-created-epic-link.json"), []byte("customfield_10100"), []byte(jiratest.EpicLinkField))
	if e.c.EpicLinkField() != "" {
		t.Fatalf("Epic Link field known before any request: %q", e.c.EpicLinkField())
	}
	if rec := deliverJira(h, created, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("before discovery: status %d", rec.Code)
	}
	e.pass()
	if _, err := e.c.PullBack(e.ctx, "PAY"); err != nil {
		t.Fatal(err)
	}
	if got := e.c.EpicLinkField(); got != jiratest.EpicLinkField {
		t.Fatalf("EpicLinkField after a pass = %q, want %q", got, jiratest.EpicLinkField)
	}
	if rec := deliverJira(h, created, ""); rec.Code != http.StatusAccepted || len(q.stored) != 1 ||
		q.stored[0].Kind != registry.NotifyChild || q.stored[0].IssueKey != "PAY-13" || q.stored[0].ParentKey != "PAY-7" {
		t.Fatalf("after discovery: status %d, stored %+v", rec.Code, q.stored)
	}
}

// A `/risk` comment wakes a pass; other comments stay a 204.
func TestWebhookCommandComment(t *testing.T) {
	plain := payload(t, "cloud-comment-created.json")
	cmd := bytes.Replace(plain, []byte(`"body": "Caching landed in staging; latency back under 300 ms."`), []byte(`"body": "/risk rate likelihood=high"`), 1)
	if bytes.Equal(cmd, plain) {
		t.Fatal("payload changed; adjust the test")
	}
	q := &queue{}
	h := newJiraHook(t, q, "")
	if rec := deliverJira(h, plain, "c-1"); rec.Code != http.StatusNoContent {
		t.Fatalf("plain comment: %d", rec.Code)
	}
	if rec := deliverJira(h, cmd, "c-2"); rec.Code != http.StatusAccepted {
		t.Fatalf("command: %d", rec.Code)
	}
	if len(q.stored) != 1 || q.stored[0].Kind != registry.NotifyCommand || q.stored[0].IssueKey != "PAY-7" || q.stored[0].Sender != "5b10a2844c20165700ede21g" {
		t.Fatalf("stored %+v", q.stored)
	}
}
