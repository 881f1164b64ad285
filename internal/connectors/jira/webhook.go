package jira

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/webhook"
)

// MaxWebhookBody is the largest delivery accepted; larger ones get 413.
const MaxWebhookBody = webhook.MaxBody

// WebhookOption tunes NewWebhookHandler.
type WebhookOption func(*webhookHandler)

// WithPostmortemLabel sets the label that marks postmortem issues (default "postmortem").
func WithPostmortemLabel(label string) WebhookOption {
	return func(h *webhookHandler) {
		if label != "" {
			h.postmortem = label
		}
	}
}

type webhookHandler struct {
	secret     []byte
	log        *slog.Logger
	notify     func(context.Context, registry.Notification) error
	postmortem string
}

// NewWebhookHandler serves /webhooks/jira: admin webhooks signed with a
// secret (X-Hub-Signature: sha256=<hex HMAC of the body>). The signature is
// checked in constant time before the body is parsed; jira:issue_created and
// jira:issue_updated become notifications, other events are acknowledged.
func NewWebhookHandler(secret config.Secret, logger *slog.Logger, notify func(context.Context, registry.Notification) error, opts ...WebhookOption) (http.Handler, error) {
	if secret.IsZero() {
		return nil, errors.New("jira: webhook secret is empty: set jira.webhook_secret_env or jira.webhook_secret_file")
	}
	if notify == nil {
		return nil, errors.New("jira: webhook handler needs a notify function")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &webhookHandler{secret: []byte(secret.Reveal()), log: logger, notify: notify, postmortem: "postmortem"}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// CheckSignature reports whether header is "sha256=<hex HMAC-SHA256 of body>".
func CheckSignature(secret, body []byte, header string) bool {
	return webhook.Valid(secret, body, header)
}

type webhookEvent struct {
	WebhookEvent string `json:"webhookEvent"`
	User         *struct {
		AccountID string `json:"accountId"`
		Name      string `json:"name"`
	} `json:"user"`
	Issue *struct {
		Key    string `json:"key"`
		Fields struct {
			Labels []string `json:"labels"`
			Parent *struct {
				Key string `json:"key"`
			} `json:"parent"`
		} `json:"fields"`
	} `json:"issue"`
}

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := webhook.ReadSigned(w, r, h.secret, "X-Hub-Signature", h.log)
	if !ok {
		return
	}
	var ev webhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "body is not a Jira webhook event", http.StatusBadRequest)
		return
	}
	n, ok := h.translate(&ev)
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	n.DeliveryID = r.Header.Get("X-Atlassian-Webhook-Identifier")
	if err := h.notify(r.Context(), n); err != nil {
		h.log.Error("jira webhook: cannot store the delivery", "delivery", n.DeliveryID, "issue", n.IssueKey, "err", err)
		http.Error(w, "cannot store the delivery", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (h *webhookHandler) translate(ev *webhookEvent) (registry.Notification, bool) {
	var action string
	switch ev.WebhookEvent {
	case "jira:issue_created":
		action = "created"
	case "jira:issue_updated":
		action = "updated"
	default:
		return registry.Notification{}, false
	}
	if ev.Issue == nil || ev.Issue.Key == "" {
		return registry.Notification{}, false
	}
	n := registry.Notification{Tracker: registry.TrackerJira, IssueKey: ev.Issue.Key, Action: action}
	if ev.User != nil {
		n.Sender = ev.User.AccountID
		if n.Sender == "" {
			n.Sender = ev.User.Name
		}
	}
	for _, l := range ev.Issue.Fields.Labels {
		if rest, ok := cutPrefixFold(l, "risksync-"); ok {
			if id, err := registry.ParseKey(rest); err == nil {
				n.Kind, n.RiskKey = registry.NotifyEpic, registry.FormatKey(id)
				return n, true
			}
		}
	}
	for _, l := range ev.Issue.Fields.Labels {
		if strings.EqualFold(l, h.postmortem) {
			n.Kind = registry.NotifyPostmortem
			return n, true
		}
	}
	if ev.Issue.Fields.Parent != nil && ev.Issue.Fields.Parent.Key != "" {
		n.Kind, n.ParentKey = registry.NotifyChild, ev.Issue.Fields.Parent.Key
		return n, true
	}
	return registry.Notification{}, false
}
