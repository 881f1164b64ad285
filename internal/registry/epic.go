package registry

import (
	"context"
	"errors"
	"time"
)

// Tracker is the one contract between the reconcile engine and a tracker
// connector (GitHub, Jira). Each connector implements it directly.
//
// Connectors hold caches only: the facts that prevent a duplicate or decide
// an action (which epic a risk has, a create whose outcome is unknown, who
// closed an epic) live in the store, owned by the engine, and reach the
// connector through EpicSpec.
type Tracker interface {
	// StartPass begins a pass: per-pass lookups (priorities, listings) are
	// refreshed on their next use.
	StartPass(ctx context.Context) error
	// EnsureEpic finds the risk's epic in spec.Target, or creates it when
	// spec allows, and converges its registry-owned fields. With dryRun it
	// returns the planned writes and sends none.
	EnsureEpic(ctx context.Context, spec EpicSpec, dryRun bool) (EpicResult, error)
	// CloseEpic closes an epic as not planned, with a comment, unless the
	// tracker shows it closed already (then it writes nothing).
	CloseEpic(ctx context.Context, key, comment string, dryRun bool) ([]Write, error)
	// ReopenEpic reopens a closed epic, with a comment; an open one is left alone.
	ReopenEpic(ctx context.Context, key, comment string, dryRun bool) ([]Write, error)
	// PullBack returns the work state of the epics in target (a repository
	// or project) that changed since the last call, all of them at first.
	PullBack(ctx context.Context, target string) ([]EpicState, error)
	// Postmortems lists postmortem issues changed since the cursor.
	Postmortems(ctx context.Context, since time.Time) ([]Postmortem, error)
	// Comment posts a comment on an issue.
	Comment(ctx context.Context, issueKey, body string) error
}

// EpicSpec is the desired state of one risk's epic.
type EpicSpec struct {
	Target      string // GitHub owner/repo or Jira project key
	Risk        *Risk
	Band        string // the band's name; "" when unscored
	Explanation string
	// Linked is the epic the registry records for this risk in Target. While
	// it exists the connector never creates another: when a listing or search
	// does not show it, the connector reads it by key, and only a tracker
	// answer that it is gone (404, deleted) allows a create (EpicResult.Gone).
	Linked *Link
	// Exclude names epics of this risk that must not be adopted again (a
	// person closed them, or they were found gone).
	Exclude []string
	// MayCreate is false while an earlier create's outcome is unknown: the
	// connector may adopt the epic it finds, but must not create one.
	MayCreate bool
}

// EpicResult is what EnsureEpic found or did.
type EpicResult struct {
	Link   Link
	Writes []Write
	Drift  []string // registry-owned fields a person changed in the tracker
	// Gone is the key of spec.Linked when the tracker said it no longer exists.
	Gone string
	// Created is true when the epic was created by this call (or would be, in a dry run).
	Created bool
}

// WriteKind names a kind of tracker write.
type WriteKind string

// Write kinds.
const (
	WriteCreate     WriteKind = "create"
	WriteUpdate     WriteKind = "update"
	WriteComment    WriteKind = "comment"
	WriteClose      WriteKind = "close"
	WriteReopen     WriteKind = "reopen"
	WriteLabel      WriteKind = "label"
	WriteProperty   WriteKind = "property"
	WriteTransition WriteKind = "transition"
)

// Write is one tracker write, done or (dry run) planned.
type Write struct {
	Kind    WriteKind            `json:"kind"`
	Risk    string               `json:"risk"`
	Tracker string               `json:"tracker"`
	Target  string               `json:"target"` // the issue key, or the repo/project for a create
	Fields  map[string][2]string `json:"fields,omitempty"`
	// Drift is set on a backlog write that undoes a person's change (they
	// moved a risk epic): the engine explains it once per epic.
	Drift bool `json:"drift,omitempty"`
}

// EpicState is an epic's work state from pull-back.
type EpicState struct {
	RiskKey string
	Link    Link
	// ClosedByRisksync says, from the tracker's own record (event actor,
	// changelog author), that risksync made the epic's closed state.
	ClosedByRisksync bool
}

// ErrCreateWithheld is what a connector returns from EnsureEpic when it
// finds no epic and EpicSpec.MayCreate is false.
var ErrCreateWithheld = errors.New("an earlier create of this epic has no recorded outcome, or the registry links an epic; waiting for the tracker to show it before creating again")
