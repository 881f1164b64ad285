package registry

import (
	"errors"
	"fmt"
	"time"
)

// TrackerError is a classified tracker failure. The sync engine retries
// Retryable errors at the next pass (not before RetryAt) and reports terminal
// ones with Fix, which says what a person must change.
type TrackerError struct {
	Tracker   string    // github | jira
	Op        string    // e.g. "create epic acme/rel RISK-3"
	Status    int       // HTTP status, 0 when no response arrived
	Retryable bool      // a later attempt may succeed
	RetryAt   time.Time // earliest moment a retry is allowed; zero means any time
	Fix       string    // for terminal errors: what to change (a permission, a config key)
	Err       error
}

func (e *TrackerError) Error() string {
	msg := fmt.Sprintf("%s: %s: %v", e.Tracker, e.Op, e.Err)
	if e.Fix != "" {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

func (e *TrackerError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a TrackerError worth retrying. Errors
// that are not TrackerErrors (bugs, cancelled contexts) are not.
func IsRetryable(err error) bool {
	var te *TrackerError
	return errors.As(err, &te) && te.Retryable
}

// NotificationKind says what a webhook delivery asks the daemon to look at.
type NotificationKind string

const (
	NotifyEpic       NotificationKind = "epic"       // a risk's epic changed
	NotifyChild      NotificationKind = "child"      // child work of an epic changed
	NotifyPostmortem NotificationKind = "postmortem" // a postmortem issue changed
	NotifyCommand    NotificationKind = "command"    // a `/risk` comment was posted
)

// Notification is what a webhook handler extracts from a delivery. It only
// says where to look; the sync engine reads the tracker to learn what changed.
type Notification struct {
	Tracker    string           `json:"tracker"`
	DeliveryID string           `json:"delivery_id"` // for dropping replays
	Kind       NotificationKind `json:"kind"`
	IssueKey   string           `json:"issue"`            // owner/repo#12 or PROJ-7
	RiskKey    string           `json:"risk,omitempty"`   // when the issue is a risk epic
	ParentKey  string           `json:"parent,omitempty"` // the epic, for child work
	Action     string           `json:"action"`
	Sender     string           `json:"sender,omitempty"` // who acted; lets the daemon ignore its own writes
}

// Postmortem is an issue carrying the postmortem label. Body is text in which
// tables appear as "| Field | Value |" lines, whatever the tracker's own format.
type Postmortem struct {
	Tracker   string    `json:"tracker"`
	Key       string    `json:"key"`
	URL       string    `json:"url"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	UpdatedAt time.Time `json:"updated_at"`
	Closed    bool      `json:"closed"`
}
