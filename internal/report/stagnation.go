package report

import (
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// Stagnation is the verdict of the stagnation rule on one risk.
type Stagnation struct {
	Stagnant bool
	// NoChildWork is set when the epic has no child work at all although it
	// (or, unmirrored, the risk) is older than the threshold.
	NoChildWork bool
	// LastActivity is the newest movement of the current epic's work, else
	// the epic's creation, else (no epic) the risk's creation.
	LastActivity time.Time
	// Since is when the current epic (else the risk) was created.
	Since    time.Time
	Idle     time.Duration
	IdleDays int // whole days since LastActivity
}

// CheckStagnation applies the stagnation rule shared by the report and the
// daemon, from the registry alone: a risk that is active or mitigating is
// stagnant when its linked work has not moved for longer than after, or
// when it still has no child work at all after that long. Other statuses
// are never stagnant: mitigated waits for a review, accepted and retired
// are decided.
func CheckStagnation(r *registry.Risk, after time.Duration, now time.Time) Stagnation {
	s := Stagnation{LastActivity: r.CreatedAt, Since: r.CreatedAt}
	l := r.CurrentLink()
	if l != nil {
		s.Since = l.CreatedAt
		s.LastActivity = l.CreatedAt
		if l.LastActivityAt != nil {
			s.LastActivity = *l.LastActivityAt
		}
	}
	s.Idle = max(now.Sub(s.LastActivity), 0)
	s.IdleDays = int(s.Idle / (24 * time.Hour))
	if r.Status != registry.StatusActive && r.Status != registry.StatusMitigating {
		return s
	}
	s.NoChildWork = (l == nil || l.ChildrenTotal == 0) && now.Sub(s.Since) > after
	s.Stagnant = s.Idle > after || s.NoChildWork
	return s
}
