package registry

import (
	"context"
	"time"
)

// TrackerComment is a comment on an issue risksync reads (a risk's epic or
// a postmortem), as a connector lists it.
type TrackerComment struct {
	Tracker  string `json:"tracker"`
	ID       string `json:"id"`    // the tracker's comment id: stable across edits
	IssueKey string `json:"issue"` // owner/repo#12 or PROJ-7
	// Author is the login (GitHub) or account id (Jira Cloud; the user name on
	// Data Center): what CanEdit is asked about and history records.
	Author string `json:"author"`
	// Own is true when risksync's own account wrote it.
	Own       bool      `json:"own"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CommentSource is implemented by trackers that take commands in comments
// (`/risk …`). It is optional: the engine uses it when commands are enabled.
type CommentSource interface {
	// Comments returns comments on the epics and postmortems of target (a
	// repository or project) created or edited since, and the cursor to pass
	// next time. It reads only what the pass's listings showed changed: a
	// target where nothing moved costs no request.
	Comments(ctx context.Context, target string, since time.Time) (comments []TrackerComment, next time.Time, err error)
	// CanEdit asks the tracker whether author may edit the issue (GitHub:
	// write permission on the repository; Jira: Edit Issues on the issue).
	CanEdit(ctx context.Context, issueKey, author string) (bool, error)
	// PostmortemTargets lists where postmortems are read from: commands
	// naming a risk may be posted there.
	PostmortemTargets() []string
}
