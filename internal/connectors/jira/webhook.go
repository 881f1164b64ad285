package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/reconcile/command"
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

// WithEpicLinkField gives the handler the Data Center Epic Link field id
// (customfield_NNNNN) once the client has discovered it, e.g.
// Client.EpicLinkField. It is called per delivery and must not block; ""
// means unknown, and then only the changelog names an Epic Link change.
func WithEpicLinkField(id func() string) WebhookOption {
	return func(h *webhookHandler) {
		if id != nil {
			h.epicLink = id
		}
	}
}

type webhookHandler struct {
	secret     []byte
	log        *slog.Logger
	notify     func(context.Context, registry.Notification) error
	postmortem string
	epicLink   func() string
}

// NewWebhookHandler serves /webhooks/jira: admin webhooks signed with a
// secret (X-Hub-Signature: sha256=<hex HMAC of the body>). The signature is
// checked in constant time before the body is parsed. jira:issue_created and
// jira:issue_updated about risk epics, postmortems and child work, and
// issuelink_created for an Epic-Story link, become notifications; other
// events are acknowledged with 204. A delivery without
// X-Atlassian-Webhook-Identifier (Data Center) is stored under an id derived
// from its body (webhook.DeliveryID).
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
	h := &webhookHandler{secret: []byte(secret.Reveal()), log: logger, notify: notify, postmortem: "postmortem",
		epicLink: func() string { return "" }}
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
		AccountID string `json:"accountId"` // Cloud
		Name      string `json:"name"`      // Data Center
	} `json:"user"`
	Issue *struct {
		Key    string          `json:"key"`
		Fields json.RawMessage `json:"fields"` // decoded lazily: the Epic Link id is only known at run time
	} `json:"issue"`
	Changelog *struct {
		Items []changeItem `json:"items"`
	} `json:"changelog"`
	Comment *struct {
		Body   string `json:"body"`
		Author *struct {
			AccountID string `json:"accountId"`
			Name      string `json:"name"`
		} `json:"author"`
	} `json:"comment"`
	IssueLink *struct {
		SourceIssueID      json.Number `json:"sourceIssueId"`
		DestinationIssueID json.Number `json:"destinationIssueId"`
		IssueLinkType      struct {
			Name  string `json:"name"`
			Style string `json:"style"`
		} `json:"issueLinkType"`
	} `json:"issueLink"`
}

type issueFields struct {
	Labels []string `json:"labels"`
	Parent *struct {
		Key string `json:"key"`
	} `json:"parent"`
}

type changeItem struct {
	Field      string `json:"field"`
	FieldID    string `json:"fieldId"` // Cloud only
	From       string `json:"from"`
	FromString string `json:"fromString"`
	To         string `json:"to"`
	ToString   string `json:"toString"`
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
	n, ok, err := h.translate(&ev)
	if err != nil {
		h.log.Warn("jira webhook: undecodable event", "event", ev.WebhookEvent, "err", err)
		http.Error(w, "body is not a Jira webhook event", http.StatusBadRequest)
		return
	}
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// Data Center sends no identifier; the store needs one to drop replays.
	n.DeliveryID = webhook.DeliveryID(r.Header.Get("X-Atlassian-Webhook-Identifier"), body)
	if err := h.notify(r.Context(), n); err != nil {
		h.log.Error("jira webhook: cannot store the delivery", "delivery", n.DeliveryID, "issue", n.IssueKey, "err", err)
		http.Error(w, "cannot store the delivery", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// translate says where a delivery asks the daemon to look; false means
// nothing risksync follows (comments, projects, unrelated issues).
func (h *webhookHandler) translate(ev *webhookEvent) (registry.Notification, bool, error) {
	var action string
	switch ev.WebhookEvent {
	case "jira:issue_created":
		action = "created"
	case "jira:issue_updated":
		action = "updated"
	case "issuelink_created":
		n, ok := epicStoryLink(ev)
		return n, ok, nil
	case "comment_created":
		// Only a `/risk` command wakes a pass (which reads it from the
		// issue's comments); any other comment is acknowledged with 204.
		if ev.Comment == nil || ev.Issue == nil || ev.Issue.Key == "" {
			return registry.Notification{}, false, nil
		}
		if _, ok, _ := command.Parse(ev.Comment.Body); !ok {
			return registry.Notification{}, false, nil
		}
		n := registry.Notification{Tracker: registry.TrackerJira, Kind: registry.NotifyCommand, IssueKey: ev.Issue.Key, Action: "commented"}
		if a := ev.Comment.Author; a != nil {
			n.Sender = a.AccountID
			if n.Sender == "" {
				n.Sender = a.Name
			}
		}
		return n, true, nil
	default:
		return registry.Notification{}, false, nil
	}
	if ev.Issue == nil || ev.Issue.Key == "" {
		return registry.Notification{}, false, nil
	}
	var f issueFields
	if len(ev.Issue.Fields) > 0 {
		if err := json.Unmarshal(ev.Issue.Fields, &f); err != nil {
			return registry.Notification{}, false, fmt.Errorf("jira webhook: issue %s fields: %w", ev.Issue.Key, err)
		}
	}
	n := registry.Notification{Tracker: registry.TrackerJira, IssueKey: ev.Issue.Key, Action: action}
	if ev.User != nil {
		n.Sender = ev.User.AccountID
		if n.Sender == "" {
			n.Sender = ev.User.Name
		}
	}
	for _, l := range f.Labels {
		if rest, ok := cutPrefixFold(l, "risksync-"); ok {
			if id, err := registry.ParseKey(rest); err == nil {
				n.Kind, n.RiskKey = registry.NotifyEpic, registry.FormatKey(id)
				return n, true, nil
			}
		}
	}
	for _, l := range f.Labels {
		if strings.EqualFold(l, h.postmortem) {
			n.Kind = registry.NotifyPostmortem
			return n, true, nil
		}
	}
	link := h.epicLink()
	if f.Parent != nil && f.Parent.Key != "" {
		n.Kind, n.ParentKey = registry.NotifyChild, f.Parent.Key
		return n, true, nil
	}
	if epic := epicLinkValue(ev.Issue.Fields, link); epic != "" {
		n.Kind, n.ParentKey = registry.NotifyChild, epic
		return n, true, nil
	}
	if ev.Changelog != nil {
		if epic, moved := movedEpic(ev.Changelog.Items, link); moved {
			n.Kind, n.ParentKey = registry.NotifyChild, epic
			return n, true, nil
		}
	}
	return registry.Notification{}, false, nil
}

// epicLinkValue reads the Epic Link custom field (Data Center: the epic's
// key as a string), as parentOf does for search results.
func epicLinkValue(fields json.RawMessage, link string) string {
	if link == "" || len(fields) == 0 {
		return ""
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(fields, &all) != nil {
		return ""
	}
	var v string
	if json.Unmarshal(all[link], &v) != nil {
		return "" // null, or not the key string Data Center sends
	}
	return v
}

// movedEpic finds a changelog item that moves the issue into or out of an
// epic: Data Center's "Epic Link" (fieldtype custom), or Cloud's parent. It
// names the new epic, else the one left; moved without an epic when neither
// value is a key.
func movedEpic(items []changeItem, link string) (string, bool) {
	for _, it := range items {
		if !strings.EqualFold(it.Field, "Epic Link") && (link == "" || it.FieldID != link) &&
			it.Field != "IssueParentAssociation" && it.FieldID != "parent" {
			continue
		}
		for _, v := range []string{it.ToString, it.To, it.FromString, it.From} {
			if issueKeyRe.MatchString(v) {
				return v, true
			}
		}
		return "", true
	}
	return "", false
}

var issueKeyRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]*-[1-9][0-9]*$`)

// epicStoryLink turns a new Epic-Story link (how Data Center stores an Epic
// Link, also sent for company-managed projects on Cloud) into a child
// notification. The event carries issue ids, not keys; Jira accepts either.
func epicStoryLink(ev *webhookEvent) (registry.Notification, bool) {
	l := ev.IssueLink
	if l == nil || l.DestinationIssueID == "" ||
		l.IssueLinkType.Style != "jira_gh_epic_story" && !strings.EqualFold(l.IssueLinkType.Name, "Epic-Story Link") {
		return registry.Notification{}, false
	}
	return registry.Notification{Tracker: registry.TrackerJira, Kind: registry.NotifyChild, Action: "linked",
		IssueKey: l.DestinationIssueID.String(), ParentKey: l.SourceIssueID.String()}, true
}
