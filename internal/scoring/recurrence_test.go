package scoring

import (
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

func TestRecurrenceProposal(t *testing.T) {
	rc := DefaultRecurrence()
	day := 24 * time.Hour
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	src := func(key string, pos int, ago time.Duration) registry.Source {
		return registry.Source{Tracker: "github", Key: key, Position: pos, CreatedAt: now.Add(-ago)}
	}
	three := 3
	r := &registry.Risk{Likelihood: &three, Sources: []registry.Source{src("a#1", 0, 100*day), src("a#2", 0, 10*day)}}
	if p, ok := rc.Propose(r, now); ok || p.Occurrences != 1 {
		t.Fatalf("one occurrence in the window proposes %+v %v", p, ok)
	}
	// The window's lower edge is exclusive: exactly 90 days ago is out, a
	// microsecond later is in.
	r.Sources[0].CreatedAt = now.Add(-90 * day)
	if _, ok := rc.Propose(r, now); ok {
		t.Fatal("an occurrence exactly one window ago counted")
	}
	r.Sources[0].CreatedAt = now.Add(-90*day + time.Microsecond)
	if p, ok := rc.Propose(r, now); !ok || *p.To != 4 || *p.From != 3 || p.Occurrences != 2 {
		t.Fatalf("two occurrences: %+v %v", p, ok)
	}
	// A second table of the same postmortem is the same incident.
	r.Sources = append(r.Sources, src("a#2", 1, 10*day))
	if p, _ := rc.Propose(r, now); p.Occurrences != 2 {
		t.Fatalf("one postmortem counted %d times", p.Occurrences)
	}
	r.Sources = append(r.Sources, src("a#3", 0, day))
	if p, ok := rc.Propose(r, now); !ok || *p.To != 5 {
		t.Fatalf("three occurrences: %+v", p)
	}
	// Never lowered: a likelihood already at 5 stays.
	five := 5
	r.Likelihood = &five
	if _, ok := rc.Propose(r, now); ok {
		t.Fatal("proposed to lower a likelihood")
	}
	// An unrated likelihood is raised to the step's rating.
	r.Likelihood = nil
	if p, ok := rc.Propose(r, now); !ok || p.From != nil || *p.To != 5 {
		t.Fatalf("unrated: %+v", p)
	}
	if occ := Occurrences(r); len(occ) != 3 || occ[0].Source.Key != "a#1" {
		t.Fatalf("occurrences %+v", occ)
	}
}
