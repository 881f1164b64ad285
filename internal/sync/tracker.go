// Package sync is risksync's engine: level-based reconcile of the registry
// into tracker epics, pull-back of work state, postmortem intake, and the
// daemon loop around them.
package sync

import (
	"context"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// Tracker is what the engine needs from a connector. Adapters in the wiring
// map each connector onto it; the engine never imports a connector.
type Tracker interface {
	// StartPass lets a connector refresh per-pass lookups (Jira priorities).
	StartPass(ctx context.Context) error
	// EnsureEpic finds or creates the risk's epic in spec.Target and
	// converges it; with dryRun it returns the planned writes and sends none.
	EnsureEpic(ctx context.Context, spec EpicSpec, dryRun bool) (EpicResult, error)
	// CloseEpic closes an epic as not planned, with a comment.
	CloseEpic(ctx context.Context, key, comment string, dryRun bool) ([]Write, error)
	// ReopenEpic reopens an epic risksync closed, with a comment.
	ReopenEpic(ctx context.Context, key, comment string, dryRun bool) ([]Write, error)
	// PullBack returns the epics of a repo/project whose work state changed.
	PullBack(ctx context.Context, target string) ([]EpicState, error)
	// Postmortems lists postmortem issues changed since the cursor.
	Postmortems(ctx context.Context, since time.Time) ([]registry.Postmortem, error)
	// Comment posts a comment on an issue.
	Comment(ctx context.Context, issueKey, body string) error
}

// EpicSpec is the desired state of one risk's epic.
type EpicSpec struct {
	Target      string // GitHub owner/repo or Jira project key
	Risk        *registry.Risk
	Band        *scoring.Band // nil when unscored
	Explanation string
}

// EpicResult is what EnsureEpic found or did.
type EpicResult struct {
	Link   registry.Link
	Writes []Write
	Drift  []string // registry-owned fields a person changed in the tracker
}

// Write is one tracker write, done or (dry run) planned.
type Write struct {
	Kind    string               `json:"kind"` // create | update | comment | close | reopen | label | property | transition
	Risk    string               `json:"risk"`
	Tracker string               `json:"tracker"`
	Target  string               `json:"target"` // the issue key, or the repo/project for a create
	Fields  map[string][2]string `json:"fields,omitempty"`
}

// EpicState is an epic's work state from pull-back.
type EpicState struct {
	RiskKey string
	Link    registry.Link
}

// targetOf returns the repo or project an epic key lives in.
func targetOf(tracker, key string) string {
	switch tracker {
	case registry.TrackerGitHub:
		if i := strings.LastIndexByte(key, '#'); i > 0 {
			return key[:i]
		}
	case registry.TrackerJira:
		if i := strings.LastIndexByte(key, '-'); i > 0 {
			return key[:i]
		}
	}
	return ""
}
