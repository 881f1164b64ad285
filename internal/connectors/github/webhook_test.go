package github

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
)

var hookSecret = config.NewSecret("It's a Secret to Everybody")

func examplesDir() string {
	return filepath.Join("..", "..", "..", "..", "shared", "specs", "github-webhook-examples")
}

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir(), name))
	if err != nil {
		if os.Getenv("RISKSYNC_REQUIRE_SPECS") != "" { // CI: the check is not optional
			t.Fatalf("webhook examples not available: %v", err)
		}
		t.Skipf("webhook examples not available: %v", err)
	}
	return b
}

type collector struct {
	mu    sync.Mutex
	notes []registry.Notification
	err   error
}

func (c *collector) notify(_ context.Context, n registry.Notification) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.notes = append(c.notes, n)
	return nil
}

func deliver(t testing.TB, h http.Handler, event string, body []byte, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func newHook(t testing.TB, col *collector) http.Handler {
	h, err := NewWebhookHandler(hookSecret, nil, col.notify, WithPostmortemLabel("postmortem"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestWebhookSignatures(t *testing.T) {
	body := []byte(`{"action":"opened"}`)
	valid := Sign(hookSecret, body)
	sha1mac := hmac.New(sha1.New, []byte(hookSecret.Reveal()))
	sha1mac.Write(body)
	cases := []struct {
		name string
		sig  string
		want int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"no prefix", strings.TrimPrefix(valid, "sha256="), http.StatusUnauthorized},
		{"wrong length", valid[:len(valid)-2], http.StatusUnauthorized},
		{"too long", valid + "00", http.StatusUnauthorized},
		{"not hex", "sha256=" + strings.Repeat("zz", 32), http.StatusUnauthorized},
		{"sha1 only", "sha1=" + hex.EncodeToString(sha1mac.Sum(nil)), http.StatusUnauthorized},
		{"wrong secret", Sign(config.NewSecret("other"), body), http.StatusUnauthorized},
		{"valid", valid, http.StatusAccepted},
		{"valid, upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(valid, "sha256=")), http.StatusAccepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := deliver(t, newHook(t, &collector{}), "issues", body, tc.sig)
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

func TestWebhookRealPayloads(t *testing.T) {
	cases := []struct {
		file, event string
		kinds       []registry.NotificationKind
		key         string
	}{
		{"issues-opened.json", "issues", nil, ""}, // an unrelated issue: acknowledged, nothing to look at
		{"issues-opened.with-empty-body.json", "issues", nil, ""},
		{"issues-edited.json", "issues", nil, ""},
		{"issues-labeled.json", "issues", nil, ""},
		{"issues-unlabeled.json", "issues", nil, ""},
		{"issues-reopened.json", "issues", nil, ""},
		{"issues-deleted.json", "issues", nil, ""},
		{"issues-transferred.json", "issues", nil, ""},
		{"issue_comment-created.json", "issue_comment", nil, ""},
		{"ping.json", "ping", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			body := readExample(t, tc.file)
			col := &collector{}
			rec := deliver(t, newHook(t, col), tc.event, body, Sign(hookSecret, body))
			if rec.Code != http.StatusAccepted || rec.Header().Get("X-GitHub-Delivery") == "" ||
				!strings.Contains(rec.Body.String(), "72d3162e-cc78-11e3-81ab-4c9367dc0958") {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			if len(col.notes) != len(tc.kinds) {
				t.Fatalf("notes = %+v", col.notes)
			}
		})
	}
}

// The real payloads, made into risksync's own issues by their labels and
// body, exercise the translation (same bytes otherwise).
func TestWebhookTranslatesEpicPostmortemAndChild(t *testing.T) {
	labeled := readExample(t, "issues-labeled.json")
	col := &collector{}
	h := newHook(t, col)

	epic := bytes.Replace(labeled, []byte(`"body": "It looks like you accidently spelled 'commit' with two 't's."`),
		[]byte(`"body": "table\n<!-- risksync:RISK-12 -->"`), 1)
	if bytes.Equal(epic, labeled) {
		t.Fatal("example body changed upstream; adjust the test")
	}
	deliver(t, h, "issues", epic, Sign(hookSecret, epic))

	pm := bytes.Replace(labeled, []byte(`"name": "bug"`), []byte(`"name": "postmortem"`), -1)
	deliver(t, h, "issues", pm, Sign(hookSecret, pm))

	child := bytes.Replace(labeled, []byte(`"url": "https://api.github.com/repos/Codertocat/Hello-World/issues/1",`),
		[]byte(`"url": "https://api.github.com/repos/Codertocat/Hello-World/issues/1", "parent_issue_url": "https://api.github.com/repos/Codertocat/Hello-World/issues/7",`), 1)
	deliver(t, h, "issues", child, Sign(hookSecret, child))

	sub := []byte(`{"action":"sub_issue_added","parent_issue_id":1,"parent_issue":{"number":7,"url":"https://api.github.com/repos/acme/rel/issues/7","body":"<!-- risksync:RISK-3 -->"},"parent_issue_repo":{"full_name":"acme/rel"},"sub_issue_id":2,"sub_issue":{"number":9,"url":"https://api.github.com/repos/acme/svc/issues/9"},"sub_issue_repo":{"full_name":"acme/svc"},"sender":{"login":"alice"}}`)
	deliver(t, h, "sub_issues", sub, Sign(hookSecret, sub))

	want := []registry.Notification{
		{Tracker: "github", Kind: registry.NotifyEpic, IssueKey: "Codertocat/Hello-World#1", RiskKey: "RISK-12", Action: "labeled", Sender: "Codertocat"},
		{Tracker: "github", Kind: registry.NotifyPostmortem, IssueKey: "Codertocat/Hello-World#1", Action: "labeled", Sender: "Codertocat"},
		{Tracker: "github", Kind: registry.NotifyChild, IssueKey: "Codertocat/Hello-World#1", ParentKey: "Codertocat/Hello-World#7", Action: "labeled", Sender: "Codertocat"},
		{Tracker: "github", Kind: registry.NotifyChild, IssueKey: "acme/svc#9", ParentKey: "acme/rel#7", RiskKey: "RISK-3", Action: "sub_issue_added", Sender: "alice"},
	}
	if len(col.notes) != len(want) {
		t.Fatalf("notes = %+v", col.notes)
	}
	for i, w := range want {
		w.DeliveryID = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
		if col.notes[i] != w {
			t.Errorf("note %d = %+v\nwant %+v", i, col.notes[i], w)
		}
	}
}

func TestWebhookLimitsAndFailures(t *testing.T) {
	if _, err := NewWebhookHandler(config.Secret{}, nil, (&collector{}).notify); err == nil {
		t.Fatal("started without a secret")
	}
	big := bytes.Repeat([]byte("a"), MaxWebhookBody+1)
	if rec := deliver(t, newHook(t, &collector{}), "issues", big, Sign(hookSecret, big)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", rec.Code)
	}
	bad := []byte(`{"action":`)
	if rec := deliver(t, newHook(t, &collector{}), "issues", bad, Sign(hookSecret, bad)); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad json: %d", rec.Code)
	}
	unknown := []byte(`{"zen":"x"}`)
	if rec := deliver(t, newHook(t, &collector{}), "star", unknown, Sign(hookSecret, unknown)); rec.Code != http.StatusAccepted {
		t.Fatalf("unknown event: %d", rec.Code)
	}
	body := []byte(`{"action":"closed","issue":{"number":1,"url":"https://x/api/v3/repos/a/b/issues/1","body":"<!-- risksync:RISK-1 -->"}}`)
	col := &collector{err: errors.New("database down")}
	if rec := deliver(t, newHook(t, col), "issues", body, Sign(hookSecret, body)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("notify failure: %d", rec.Code)
	}
	req := httptest.NewRequest(http.MethodGet, "/webhooks/github", nil)
	rec := httptest.NewRecorder()
	newHook(t, &collector{}).ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", rec.Code)
	}
}

// A delivery without X-GitHub-Delivery is stored under an id derived from
// its bytes instead of failing in the store.
func TestWebhookWithoutDeliveryID(t *testing.T) {
	body := []byte(`{"action":"closed","issue":{"number":1,"url":"https://x/api/v3/repos/a/b/issues/1","body":"<!-- risksync:RISK-1 -->"}}`)
	col := &collector{}
	h := newHook(t, col)
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "issues")
		req.Header.Set("X-Hub-Signature-256", Sign(hookSecret, body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
		if got := rec.Header().Get("X-GitHub-Delivery"); !strings.HasPrefix(got, "sha256:") {
			t.Fatalf("echoed delivery id %q", got)
		}
	}
	if len(col.notes) != 2 || col.notes[0].DeliveryID == "" || col.notes[0].DeliveryID != col.notes[1].DeliveryID {
		t.Fatalf("the same bytes must give the same id: %+v", col.notes)
	}
}

func FuzzValidSignature(f *testing.F) {
	f.Add([]byte("secret"), []byte(`{"a":1}`), "")
	f.Add([]byte("secret"), []byte(`{"a":1}`), "sha256=00")
	f.Add([]byte("s"), []byte{}, "sha1=abcd")
	f.Fuzz(func(t *testing.T, secret, body []byte, sig string) {
		_ = validSignature(secret, body, sig)
		good := Sign(config.NewSecret(string(secret)), body)
		if !validSignature(secret, body, good) {
			t.Fatalf("own signature rejected")
		}
		if sig != good && strings.ToLower(sig) != good && validSignature(secret, body, sig) {
			t.Fatalf("accepted %q, want %q", sig, good)
		}
	})
}

func FuzzDecodeDelivery(f *testing.F) {
	for _, name := range []string{"issues-opened.json", "issues-labeled.json", "issues-transferred.json", "issue_comment-created.json", "ping.json"} {
		if b, err := os.ReadFile(filepath.Join(examplesDir(), name)); err == nil {
			f.Add("issues", b)
		}
	}
	f.Add("sub_issues", []byte(`{"action":"sub_issue_added","parent_issue":{"number":1},"sub_issue":{"number":2},"repository":{"full_name":"a/b"}}`))
	f.Add("issues", []byte(`{"action":"opened","issue":{"number":3,"pull_request":{}}}`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		notes, err := decodeDelivery(event, "d", body, "postmortem")
		if err != nil && notes != nil {
			t.Fatal("notes with an error")
		}
		for _, n := range notes {
			if n.IssueKey == "" || n.Tracker != registry.TrackerGitHub || n.Kind == "" {
				t.Fatalf("incomplete notification %+v", n)
			}
		}
	})
}

// A new `/risk` comment wakes the daemon; other comments and edits do not.
func TestWebhookCommandComment(t *testing.T) {
	created := readExample(t, "issue_comment-created.json")
	cmd := bytes.Replace(created, []byte(`"body": "You are totally right! I'll get this fixed right away."`), []byte(`"body": "/risk review looked fine"`), 1)
	if bytes.Equal(cmd, created) {
		t.Fatal("example body changed upstream; adjust the test")
	}
	col := &collector{}
	h := newHook(t, col)
	deliver(t, h, "issue_comment", cmd, Sign(hookSecret, cmd))
	if len(col.notes) != 1 || col.notes[0].Kind != registry.NotifyCommand || col.notes[0].IssueKey != "Codertocat/Hello-World#1" || col.notes[0].Sender != "Codertocat" {
		t.Fatalf("notes = %+v", col.notes)
	}
	edited := readExample(t, "issue_comment-edited.json")
	edited = bytes.Replace(edited, []byte(`"body": "You are totally right! I'll get this fixed right away."`), []byte(`"body": "/risk review looked fine"`), 1)
	deliver(t, h, "issue_comment", edited, Sign(hookSecret, edited))
	if len(col.notes) != 1 {
		t.Fatalf("an edit woke the daemon: %+v", col.notes)
	}
}
