// Package registry holds the domain of risksync: risks, their links to tracker
// epics, their sources (postmortems), their history, and the Store interface
// that each database implements.
package registry

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Status is where a risk stands. People set accepted/retired/active; the sync
// engine sets active/mitigating/mitigated from the tracker's work state.
type Status string

const (
	StatusActive     Status = "active"     // no work moving
	StatusMitigating Status = "mitigating" // linked work in progress
	StatusMitigated  Status = "mitigated"  // epic done: awaiting review to re-score or retire
	StatusAccepted   Status = "accepted"   // consciously accepted
	StatusRetired    Status = "retired"    // no longer applies
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusActive, StatusMitigating, StatusMitigated, StatusAccepted, StatusRetired}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Decided reports whether people closed the question (accepted or retired):
// such risks' epics are closed and pull-back no longer moves their status.
func (s Status) Decided() bool { return s == StatusAccepted || s == StatusRetired }

// ParseUserStatus parses a status a person may set from the CLI.
func ParseUserStatus(s string) (Status, error) {
	switch st := Status(strings.ToLower(strings.TrimSpace(s))); st {
	case StatusActive, StatusAccepted, StatusRetired:
		return st, nil
	case StatusMitigating, StatusMitigated:
		return "", Errorf(EINVALID, "status %q is set by the sync engine from the tracker; people may set active, accepted or retired", s)
	default:
		return "", Errorf(EINVALID, "unknown status %q: use active, accepted or retired", s)
	}
}

// Tracker names.
const (
	TrackerGitHub = "github"
	TrackerJira   = "jira"
)

// LinkState is the state of a mirrored epic as seen in its tracker.
type LinkState string

const (
	LinkOpen       LinkState = "open"
	LinkInProgress LinkState = "in_progress"
	LinkDone       LinkState = "done"
	LinkNotPlanned LinkState = "not_planned" // closed by a person as not planned, or superseded by a move
)

// Valid reports whether s is a known link state.
func (s LinkState) Valid() bool {
	switch s {
	case LinkOpen, LinkInProgress, LinkDone, LinkNotPlanned:
		return true
	}
	return false
}

// Link is a tracker epic that mirrors a risk.
type Link struct {
	Tracker        string     `json:"tracker"` // github | jira
	Key            string     `json:"key"`     // owner/repo#12 | REL-7
	URL            string     `json:"url"`
	State          LinkState  `json:"state"`
	ChildrenTotal  int        `json:"children_total"`
	ChildrenDone   int        `json:"children_done"`
	LastActivityAt *time.Time `json:"last_activity_at"`
	// Current is false for an epic left behind when the risk moved to another
	// team's tracker: it is kept for the record, never written to again.
	Current   bool      `json:"current"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Source is a postmortem issue that produced or re-confirmed a risk.
type Source struct {
	Tracker string `json:"tracker"`
	Key     string `json:"key"`
	URL     string `json:"url"`
	// Position is the index of the risk table within the postmortem body
	// (0-based), so an edited table updates its own risk.
	Position int `json:"position"`
	// Recurrence is true when this postmortem re-confirmed an existing risk.
	Recurrence bool      `json:"recurrence"`
	CreatedAt  time.Time `json:"created_at"`
}

// HistoryEntry records one change to one field. History is append-only.
type HistoryEntry struct {
	ID       int64     `json:"id"`
	RiskKey  string    `json:"risk"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Field    string    `json:"field"`
	OldValue *string   `json:"old"`
	NewValue *string   `json:"new"`
}

// Risk is a failure mode in the registry.
type Risk struct {
	ID          int64  `json:"-"`
	Key         string `json:"key"`
	Title       string `json:"title"`
	Description string `json:"description"`

	// Ordinal ratings 1..5; nil when not yet rated (the risk is then unscored).
	Impact     *int `json:"impact"`
	Scope      *int `json:"scope"`
	Likelihood *int `json:"likelihood"`

	// Optional quantitative inputs (Google CRE risk catalog).
	ETTDMinutes   *float64 `json:"ettd_minutes"`
	ETTRMinutes   *float64 `json:"ettr_minutes"`
	ImpactPercent *float64 `json:"impact_percent"`
	ETTFDays      *float64 `json:"ettf_days"`

	// Derived by the scoring configuration (see Deriver); nil/"" when unscored.
	Score       *float64   `json:"score"`
	Band        string     `json:"band"`
	ReviewDueAt *time.Time `json:"review_due_at"`

	Owner          string     `json:"owner"` // a team name; "" when unowned
	Status         Status     `json:"status"`
	LastReviewedAt *time.Time `json:"last_reviewed_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// Version increases with every stored change (optimistic concurrency).
	Version int64 `json:"version"`
	// StatusReason says why a person accepted or retired the risk.
	StatusReason string `json:"status_reason"`
	// AcceptedUntil ends an acceptance: the risk returns to active after it.
	AcceptedUntil *time.Time `json:"accepted_until"`

	Links   []Link   `json:"links"`
	Sources []Source `json:"sources"`
}

// Scored reports whether the risk has a score.
func (r *Risk) Scored() bool { return r.Score != nil }

// CurrentLink returns the epic the risk is mirrored to now, if any.
func (r *Risk) CurrentLink() *Link {
	for i := range r.Links {
		if r.Links[i].Current {
			return &r.Links[i]
		}
	}
	return nil
}

// Clone returns a deep copy, so a mutation can be compared with the original.
func (r *Risk) Clone() *Risk {
	c := *r
	c.Impact, c.Scope, c.Likelihood = cloneP(r.Impact), cloneP(r.Scope), cloneP(r.Likelihood)
	c.ETTDMinutes, c.ETTRMinutes = cloneP(r.ETTDMinutes), cloneP(r.ETTRMinutes)
	c.ImpactPercent, c.ETTFDays = cloneP(r.ImpactPercent), cloneP(r.ETTFDays)
	c.Score = cloneP(r.Score)
	c.ReviewDueAt, c.LastReviewedAt, c.AcceptedUntil = cloneP(r.ReviewDueAt), cloneP(r.LastReviewedAt), cloneP(r.AcceptedUntil)
	c.Links = append([]Link(nil), r.Links...)
	for i := range c.Links {
		c.Links[i].LastActivityAt = cloneP(c.Links[i].LastActivityAt)
	}
	c.Sources = append([]Source(nil), r.Sources...)
	return &c
}

func cloneP[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

var keyPattern = regexp.MustCompile(`^RISK-([1-9][0-9]{0,17})$`)

// FormatKey returns the key of the risk with the given id.
func FormatKey(id int64) string { return "RISK-" + strconv.FormatInt(id, 10) }

// ParseKey returns the id in a key such as "RISK-12" (case-insensitive).
func ParseKey(key string) (int64, error) {
	m := keyPattern.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(key)))
	if m == nil {
		return 0, Errorf(EINVALID, "invalid risk key %q: keys look like RISK-12", key)
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, Errorf(EINVALID, "invalid risk key %q: number out of range", key)
	}
	return id, nil
}

// Limits on free text, so one bad postmortem cannot fill the database.
const (
	MaxTitleLen       = 300
	MaxDescriptionLen = 64 << 10
)

// Validate checks the fields people and intake set. It names the field and
// the accepted values in its message.
func (r *Risk) Validate() error {
	title := strings.TrimSpace(r.Title)
	switch {
	case title == "":
		return Errorf(EINVALID, "title is required: one line naming the failure mode")
	case strings.ContainsAny(title, "\r\n"):
		return Errorf(EINVALID, "title must be one line")
	case len(title) > MaxTitleLen:
		return Errorf(EINVALID, "title is %d bytes long; at most %d", len(title), MaxTitleLen)
	case len(r.Description) > MaxDescriptionLen:
		return Errorf(EINVALID, "description is %d bytes long; at most %d", len(r.Description), MaxDescriptionLen)
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"impact", r.Impact}, {"scope", r.Scope}, {"likelihood", r.Likelihood}} {
		if f.v != nil && (*f.v < 1 || *f.v > 5) {
			return Errorf(EINVALID, "%s must be an integer from 1 to 5, got %d", f.name, *f.v)
		}
	}
	for _, f := range []struct {
		name     string
		v        *float64
		positive bool
	}{{"ettd_minutes", r.ETTDMinutes, false}, {"ettr_minutes", r.ETTRMinutes, false}, {"impact_percent", r.ImpactPercent, true}, {"ettf_days", r.ETTFDays, true}} {
		if f.v == nil {
			continue
		}
		v := *f.v
		if v != v || v < 0 || v > 1e9 || (f.positive && v == 0) {
			bound := "zero or more"
			if f.positive {
				bound = "greater than zero"
			}
			return Errorf(EINVALID, "%s must be a number %s, got %v", f.name, bound, v)
		}
	}
	if r.ImpactPercent != nil && *r.ImpactPercent > 100 {
		return Errorf(EINVALID, "impact_percent must be at most 100, got %v", *r.ImpactPercent)
	}
	if r.Status != "" && !r.Status.Valid() {
		return Errorf(EINVALID, "unknown status %q", r.Status)
	}
	for _, l := range r.Links {
		if l.Tracker != TrackerGitHub && l.Tracker != TrackerJira {
			return Errorf(EINVALID, "link %s: unknown tracker %q", l.Key, l.Tracker)
		}
		if l.Key == "" {
			return Errorf(EINVALID, "link on %s has no key", l.Tracker)
		}
		if !l.State.Valid() {
			return Errorf(EINVALID, "link %s: unknown state %q", l.Key, l.State)
		}
	}
	return nil
}

// Deriver fills a risk's derived fields (Score, Band, ReviewDueAt) from its
// inputs. Stores call it inside the transaction of every write, so derived
// values and their history never disagree with the inputs.
type Deriver func(r *Risk)

// Actor names who made a change, for history.
const (
	ActorSync   = "sync"
	ActorIntake = "intake"
	ActorConfig = "config" // rescoring after a change of the scoring configuration
)

// Change is one field whose value differs between two versions of a risk.
type Change struct {
	Field    string
	OldValue *string
	NewValue *string
}

// Diff lists the changed fields between before and after, in a stable order.
// Links and sources are recorded by their own operations, not here.
func Diff(before, after *Risk) []Change {
	var out []Change
	add := func(field string, o, n *string) {
		if (o == nil) != (n == nil) || (o != nil && *o != *n) {
			out = append(out, Change{Field: field, OldValue: o, NewValue: n})
		}
	}
	add("title", str(before.Title), str(after.Title))
	add("description", str(before.Description), str(after.Description))
	add("impact", intStr(before.Impact), intStr(after.Impact))
	add("scope", intStr(before.Scope), intStr(after.Scope))
	add("likelihood", intStr(before.Likelihood), intStr(after.Likelihood))
	add("ettd_minutes", floatStr(before.ETTDMinutes), floatStr(after.ETTDMinutes))
	add("ettr_minutes", floatStr(before.ETTRMinutes), floatStr(after.ETTRMinutes))
	add("impact_percent", floatStr(before.ImpactPercent), floatStr(after.ImpactPercent))
	add("ettf_days", floatStr(before.ETTFDays), floatStr(after.ETTFDays))
	add("score", floatStr(before.Score), floatStr(after.Score))
	add("band", optStr(before.Band), optStr(after.Band))
	add("owner", optStr(before.Owner), optStr(after.Owner))
	add("status", optStr(string(before.Status)), optStr(string(after.Status)))
	add("last_reviewed_at", timeStr(before.LastReviewedAt), timeStr(after.LastReviewedAt))
	add("status_reason", optStr(before.StatusReason), optStr(after.StatusReason))
	add("accepted_until", timeStr(before.AcceptedUntil), timeStr(after.AcceptedUntil))
	return out
}

func str(s string) *string { return &s }

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intStr(p *int) *string {
	if p == nil {
		return nil
	}
	return str(strconv.Itoa(*p))
}

func floatStr(p *float64) *string {
	if p == nil {
		return nil
	}
	return str(strconv.FormatFloat(*p, 'f', -1, 64))
}

func timeStr(p *time.Time) *string {
	if p == nil {
		return nil
	}
	return str(p.UTC().Format(time.RFC3339))
}

// Truncate normalises a time the way both databases store it: UTC,
// microsecond precision. Stores apply it so values round-trip exactly.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// GitHubIssueKey formats a GitHub issue key as the design spells it: owner/repo#12.
func GitHubIssueKey(repo string, number int) string { return fmt.Sprintf("%s#%d", repo, number) }

// SameTime reports whether two optional times are both unset, or equal at
// the microsecond precision the stores keep.
func SameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || Truncate(*a).Equal(Truncate(*b)))
}

// NormalizeTitle is how titles are compared when a postmortem or an import
// names a risk by title: the way people retype them (case, spacing, a
// trailing full stop).
func NormalizeTitle(s string) string {
	return strings.TrimRight(strings.ToLower(strings.Join(strings.Fields(s), " ")), ".!;:")
}

// Field is an optional input to a change: Set says it was given; a nil
// Value then clears it. service.Field is this type.
type Field[T any] struct {
	Set   bool
	Value *T
}
