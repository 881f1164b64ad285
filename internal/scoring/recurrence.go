package scoring

import (
	"sort"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// Recurrence modes: what a risk's repeated occurrences do to its likelihood.
const (
	RecurrenceRaise   = "raise"   // likelihood is raised, never lowered
	RecurrenceSuggest = "suggest" // the weekly report proposes the raise
	RecurrenceOff     = "off"
)

// RecurrenceStep maps a number of occurrences in the window to a likelihood.
type RecurrenceStep struct {
	Min    int // occurrences in the window, inclusive
	Rating int // 1..5
}

// Recurrence is scoring.recurrence of the configuration.
type Recurrence struct {
	Window time.Duration
	Mode   string
	Steps  []RecurrenceStep // ascending Min
}

// DefaultRecurrence is what an unconfigured registry does: 2 occurrences in
// 90 days suggest likelihood 4, 3 suggest 5.
func DefaultRecurrence() Recurrence {
	return Recurrence{Window: 90 * 24 * time.Hour, Mode: RecurrenceSuggest,
		Steps: []RecurrenceStep{{Min: 2, Rating: 4}, {Min: 3, Rating: 5}}}
}

// Likelihood returns the highest rating whose step the count reaches.
func (rc Recurrence) Likelihood(occurrences int) (int, bool) {
	best, ok := 0, false
	for _, s := range rc.Steps {
		if occurrences >= s.Min && s.Rating > best {
			best, ok = s.Rating, true
		}
	}
	return best, ok
}

// Occurrence is one postmortem that produced or re-confirmed a risk.
type Occurrence struct {
	At     time.Time
	Source registry.Source
}

// Occurrences lists a risk's incidents, oldest first: one per postmortem
// (two tables of one postmortem are one incident), at the time risksync
// first read it. The original postmortem is the first.
func Occurrences(r *registry.Risk) []Occurrence {
	srcs := append([]registry.Source(nil), r.Sources...)
	sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].CreatedAt.Before(srcs[j].CreatedAt) })
	seen := map[string]bool{}
	var out []Occurrence
	for _, s := range srcs {
		id := s.Tracker + " " + s.Key
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, Occurrence{At: s.CreatedAt.UTC(), Source: s})
	}
	return out
}

// InWindow counts the occurrences after now − window. One stamped a little
// after now (the store's clock read after the caller's) counts too.
func (rc Recurrence) InWindow(occ []Occurrence, now time.Time) int {
	from := now.Add(-rc.Window)
	n := 0
	for _, o := range occ {
		if o.At.After(from) {
			n++
		}
	}
	return n
}

// Proposal is the likelihood a risk's recurrences call for, when it is
// higher than the risk's own.
type Proposal struct {
	Occurrences int // in the window
	From, To    *int
}

// Propose returns the raise the recurrence steps call for at now; ok is
// false when the risk's likelihood already reaches it (it is never lowered).
func (rc Recurrence) Propose(r *registry.Risk, now time.Time) (Proposal, bool) {
	n := rc.InWindow(Occurrences(r), now)
	to, ok := rc.Likelihood(n)
	if !ok || (r.Likelihood != nil && *r.Likelihood >= to) {
		return Proposal{Occurrences: n}, false
	}
	return Proposal{Occurrences: n, From: r.Likelihood, To: &to}, true
}
