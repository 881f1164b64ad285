package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/reconcile/command"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/webhook"
)

// MaxWebhookBody is the largest delivery accepted (GitHub caps payloads at
// 25 MB, but issue events are a few KiB).
const MaxWebhookBody = webhook.MaxBody

// WebhookOption configures NewWebhookHandler.
type WebhookOption func(*webhookHandler)

// WithPostmortemLabel sets the label that marks postmortem issues (default
// "postmortem"; use github.postmortem.label).
func WithPostmortemLabel(label string) WebhookOption {
	return func(h *webhookHandler) {
		if label != "" {
			h.pmLabel = label
		}
	}
}

type webhookHandler struct {
	secret  []byte
	log     *slog.Logger
	notify  func(context.Context, registry.Notification) error
	pmLabel string
}

// NewWebhookHandler serves /webhooks/github. It caps the body (413 over
// MaxWebhookBody), checks X-Hub-Signature-256 in constant time before any
// parsing (401 when missing or wrong), acknowledges and ignores unknown
// events, and turns issues and sub_issues events into notifications for
// notify; it never writes to GitHub. It answers 202 with the delivery id
// (X-GitHub-Delivery, or one derived from the body when it is missing; see
// webhook.DeliveryID) so the caller can drop replays, and 503 when notify
// fails (the delivery can be redelivered). It refuses an empty secret.
func NewWebhookHandler(secret config.Secret, logger *slog.Logger, notify func(context.Context, registry.Notification) error, opts ...WebhookOption) (http.Handler, error) {
	if secret.IsZero() {
		return nil, errors.New("github: webhooks need a secret: set github.webhook_secret_env or github.webhook_secret_file")
	}
	if notify == nil {
		return nil, errors.New("github: webhook handler without a notify function")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &webhookHandler{secret: []byte(secret.Reveal()), log: logger, notify: notify, pmLabel: "postmortem"}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := webhook.ReadSigned(w, r, h.secret, "X-Hub-Signature-256", h.log)
	if !ok {
		return
	}
	// Without X-GitHub-Delivery (a replay by hand, a proxy that strips it)
	// the id is derived from the body: the store needs one to drop replays.
	delivery := webhook.DeliveryID(r.Header.Get("X-GitHub-Delivery"), body)
	event := r.Header.Get("X-GitHub-Event")
	w.Header().Set("X-GitHub-Delivery", delivery)
	notes, err := decodeDelivery(event, delivery, body, h.pmLabel)
	if err != nil {
		h.log.Warn("github: undecodable webhook", "event", event, "delivery", delivery, "error", err)
		http.Error(w, "undecodable payload", http.StatusBadRequest)
		return
	}
	for _, n := range notes {
		if err := h.notify(r.Context(), n); err != nil {
			h.log.Error("github: webhook not stored", "event", event, "delivery", delivery, "error", err)
			http.Error(w, "not stored; redeliver", http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]any{"delivery_id": delivery, "notifications": len(notes)})
}

// validSignature checks "sha256=<hex HMAC-SHA256 of body>" in constant time.
func validSignature(secret, body []byte, header string) bool {
	return webhook.Valid(secret, body, header)
}

// Sign returns the X-Hub-Signature-256 value GitHub would send (for tests
// and for tools that replay deliveries).
func Sign(secret config.Secret, body []byte) string {
	return webhook.Sign([]byte(secret.Reveal()), body)
}

type whIssue struct {
	Number         int             `json:"number"`
	Title          string          `json:"title"`
	Body           *string         `json:"body"`
	URL            string          `json:"url"`
	ParentIssueURL string          `json:"parent_issue_url"`
	PullRequest    json.RawMessage `json:"pull_request"`
	Labels         []struct {
		Name string `json:"name"`
	} `json:"labels"`
}

type whRepo struct {
	FullName string `json:"full_name"`
}

type whPayload struct {
	Action     string   `json:"action"`
	Issue      *whIssue `json:"issue"`
	Repository *whRepo  `json:"repository"`
	Label      *struct {
		Name string `json:"name"`
	} `json:"label"`
	Sender *struct {
		Login string `json:"login"`
	} `json:"sender"`
	ParentIssue     *whIssue `json:"parent_issue"`
	ParentIssueRepo *whRepo  `json:"parent_issue_repo"`
	SubIssue        *whIssue `json:"sub_issue"`
	SubIssueRepo    *whRepo  `json:"sub_issue_repo"`
}

var issueActions = map[string]bool{"opened": true, "edited": true, "labeled": true, "unlabeled": true,
	"closed": true, "reopened": true, "deleted": true, "transferred": true,
	"assigned": true, "unassigned": true} // assignment starts child work (in_progress)

// decodeDelivery turns a verified delivery into notifications; events and
// actions risksync does not follow give none.
func decodeDelivery(event, delivery string, body []byte, pmLabel string) ([]registry.Notification, error) {
	if event == "issue_comment" {
		return commentDelivery(delivery, body)
	}
	if event != "issues" && event != "sub_issues" {
		return nil, nil // ping, projects_v2_item, ...: acknowledged
	}
	var p whPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("decode %s payload: %w", event, err)
	}
	base := registry.Notification{Tracker: registry.TrackerGitHub, DeliveryID: delivery, Action: p.Action}
	if p.Sender != nil {
		base.Sender = p.Sender.Login
	}
	if event == "sub_issues" {
		if p.SubIssue == nil || p.ParentIssue == nil {
			return nil, nil
		}
		n := base
		n.Kind = registry.NotifyChild
		n.IssueKey = issueKeyOf(p.SubIssue, p.SubIssueRepo, p.Repository)
		n.ParentKey = issueKeyOf(p.ParentIssue, p.ParentIssueRepo, p.Repository)
		if n.IssueKey == "" || n.ParentKey == "" {
			return nil, nil
		}
		if p.ParentIssue.Body != nil {
			n.RiskKey = markerKey(*p.ParentIssue.Body)
		}
		return []registry.Notification{n}, nil
	}
	is := p.Issue
	if is == nil || !issueActions[p.Action] || len(is.PullRequest) > 0 && string(is.PullRequest) != "null" {
		return nil, nil
	}
	key := issueKeyOf(is, nil, p.Repository)
	if key == "" {
		return nil, nil
	}
	labels := map[string]bool{}
	for _, l := range is.Labels {
		labels[strings.ToLower(l.Name)] = true
	}
	changed := ""
	if p.Label != nil {
		changed = strings.ToLower(p.Label.Name)
	}
	text := ""
	if is.Body != nil {
		text = *is.Body
	}
	var out []registry.Notification
	riskKey := markerKey(text)
	if riskKey == "" && (labels[labelRisk] || changed == labelRisk) {
		riskKey = riskKeyOf(is.Title, "")
	}
	if riskKey != "" {
		n := base
		n.Kind, n.IssueKey, n.RiskKey = registry.NotifyEpic, key, riskKey
		out = append(out, n)
	}
	if pm := strings.ToLower(pmLabel); labels[pm] || changed == pm {
		n := base
		n.Kind, n.IssueKey = registry.NotifyPostmortem, key
		out = append(out, n)
	}
	if pr, pn, ok := parseIssueURL(is.ParentIssueURL); ok && riskKey == "" {
		n := base
		n.Kind, n.IssueKey, n.ParentKey = registry.NotifyChild, key, registry.GitHubIssueKey(pr, pn)
		out = append(out, n)
	}
	return out, nil
}

func markerKey(body string) string {
	if m := markerRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// issueKeyOf names an issue from its API URL, else its repository.
func issueKeyOf(is *whIssue, repo, fallback *whRepo) string {
	if r, n, ok := parseIssueURL(is.URL); ok {
		return registry.GitHubIssueKey(r, n)
	}
	for _, rp := range []*whRepo{repo, fallback} {
		if rp != nil && rp.FullName != "" && is.Number > 0 {
			return registry.GitHubIssueKey(rp.FullName, is.Number)
		}
	}
	return ""
}

// commentDelivery wakes the daemon for a new `/risk` comment; the pass reads
// it from the repository's comment listing. Other comments, and edits
// (never applied again), give nothing: a pass per comment would be waste.
func commentDelivery(delivery string, body []byte) ([]registry.Notification, error) {
	var p struct {
		whPayload
		Comment *struct {
			Body string `json:"body"`
		} `json:"comment"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("decode issue_comment payload: %w", err)
	}
	if p.Action != "created" || p.Comment == nil || p.Issue == nil {
		return nil, nil
	}
	if _, ok, _ := command.Parse(p.Comment.Body); !ok {
		return nil, nil
	}
	key := issueKeyOf(p.Issue, nil, p.Repository)
	if key == "" {
		return nil, nil
	}
	n := registry.Notification{Tracker: registry.TrackerGitHub, DeliveryID: delivery, Action: p.Action, Kind: registry.NotifyCommand, IssueKey: key}
	if p.Sender != nil {
		n.Sender = p.Sender.Login
	}
	return []registry.Notification{n}, nil
}
