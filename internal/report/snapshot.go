package report

import (
	"context"
	"fmt"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// SnapshotStore is what TakeSnapshot needs.
type SnapshotStore interface {
	ListRisks(ctx context.Context, f registry.RiskFilter) ([]*registry.Risk, error)
	SaveSnapshot(ctx context.Context, s registry.Snapshot) error
}

// openStatuses are the risks that count towards exposure and the top 10.
var openStatuses = []registry.Status{registry.StatusActive, registry.StatusMitigating, registry.StatusMitigated}

// TakeSnapshot stores the registry's standing on now's day, replacing one
// taken earlier that day. The daemon calls it at least daily; the report's
// chart and top-10 tenure are built from these rows.
func TakeSnapshot(ctx context.Context, store SnapshotStore, sc scoring.Config, now time.Time) error {
	risks, err := store.ListRisks(ctx, registry.RiskFilter{Status: openStatuses})
	if err != nil {
		return fmt.Errorf("report: snapshot: %w", err)
	}
	if err := store.SaveSnapshot(ctx, NewSnapshot(risks, sc, now)); err != nil {
		return fmt.Errorf("report: snapshot: %w", err)
	}
	return nil
}

// NewSnapshot computes the day's snapshot from risks ranked as ListRisks
// ranks them (highest score first). Accepted and retired risks are left out.
func NewSnapshot(ranked []*registry.Risk, sc scoring.Config, now time.Time) registry.Snapshot {
	s := registry.Snapshot{Day: Day(now), ByBand: map[string]int{Unscored: 0}, Top: []string{}}
	for _, b := range sc.Bands {
		s.ByBand[b.Name] = 0
	}
	for _, r := range ranked {
		if r.Status.Decided() {
			continue
		}
		s.Risks++
		s.ByBand[bandOrUnscored(r)]++
		if r.Score != nil {
			s.Exposure += *r.Score
			if len(s.Top) < TopN {
				s.Top = append(s.Top, r.Key)
			}
		}
	}
	return s
}

// TopTenure returns, per risk key, how many consecutive weeks counted back
// from the newest snapshot the risk was in the top 10 of at least one
// snapshot of the week. Snapshots are oldest first. A week without any
// snapshot (the daemon was down) neither counts nor breaks the run: the
// risk did not leave the top, nobody looked.
func TopTenure(snaps []registry.Snapshot) map[string]int {
	type week struct {
		name string
		top  map[string]bool
	}
	var weeks []*week
	for _, s := range snaps {
		name := ISOWeek(s.Day)
		if len(weeks) == 0 || weeks[len(weeks)-1].name != name {
			weeks = append(weeks, &week{name: name, top: map[string]bool{}})
		}
		for _, k := range s.Top {
			weeks[len(weeks)-1].top[k] = true
		}
	}
	out := map[string]int{}
	if len(weeks) == 0 {
		return out
	}
	for key := range weeks[len(weeks)-1].top {
		n := 0
		for i := len(weeks) - 1; i >= 0 && weeks[i].top[key]; i-- {
			n++
		}
		out[key] = n
	}
	return out
}

// exposureSeries takes the last snapshot of each of the last ExposureWeeks
// weeks up to now's.
func exposureSeries(snaps []registry.Snapshot, sc scoring.Config, now time.Time) Exposure {
	e := Exposure{Unit: ExposureUnit(sc), Scope: "registry-wide", Weeks: make([]ExposurePoint, ExposureWeeks)}
	first := WeekStart(now).AddDate(0, 0, -7*(ExposureWeeks-1))
	for i := range e.Weeks {
		e.Weeks[i].Week = ISOWeek(first.AddDate(0, 0, 7*i))
	}
	for _, s := range snaps {
		if s.Day.Before(first) {
			continue
		}
		i := int(s.Day.Sub(first).Hours() / 24 / 7)
		if i >= ExposureWeeks {
			continue
		}
		day, v := s.Day.UTC(), s.Exposure
		e.Weeks[i].Day, e.Weeks[i].Exposure = &day, &v // oldest first: the last one wins
	}
	return e
}

// ExposureUnit names what exposure measures under the scoring model.
func ExposureUnit(sc scoring.Config) string {
	if sc.Model == scoring.ExpectedMinutes {
		return "expected bad minutes per year"
	}
	return "sum of scores"
}

// Day is the UTC midnight starting t's day.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// WeekStart is the UTC Monday midnight starting t's ISO week.
func WeekStart(t time.Time) time.Time {
	d := Day(t)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// ISOWeek names t's ISO week (UTC), e.g. 2026-W48: the report's identity
// for titles and for publishing at most once a week.
func ISOWeek(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// lookBackWeeks bounds the search for the last delivered report.
const lookBackWeeks = 12

// LastReportTime starts the movement window: the week start of the last
// report delivered on any channel before now's week, else now − 7 days.
func LastReportTime(ctx context.Context, store registry.ReportStore, now time.Time) (time.Time, error) {
	fallback := now.UTC().AddDate(0, 0, -7)
	p, err := store.LastDelivered(ctx, ISOWeek(now))
	if err != nil {
		return time.Time{}, fmt.Errorf("report: last report: %w", err)
	}
	if p == nil {
		return fallback, nil
	}
	start, ok := weekStartOf(p.Week)
	if !ok || start.Before(WeekStart(now).AddDate(0, 0, -7*lookBackWeeks)) {
		return fallback, nil
	}
	return start, nil
}

// weekStartOf returns the Monday 00:00 UTC that starts an ISO week such as "2026-W09".
func weekStartOf(week string) (time.Time, bool) {
	var y, w int
	if _, err := fmt.Sscanf(week, "%4d-W%2d", &y, &w); err != nil || w < 1 || w > 53 {
		return time.Time{}, false
	}
	jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC) // always in ISO week 1
	return WeekStart(jan4).AddDate(0, 0, 7*(w-1)), true
}
