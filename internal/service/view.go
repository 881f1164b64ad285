package service

import (
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// RiskView is the stable JSON shape of a risk (design: "JSON shapes"),
// printed by the CLI and served by the API alike.
type RiskView struct {
	Key            string            `json:"key"`
	Title          string            `json:"title"`
	Description    string            `json:"description"`
	Impact         *int              `json:"impact"`
	Scope          *int              `json:"scope"`
	Likelihood     *int              `json:"likelihood"`
	ETTDMinutes    *float64          `json:"ettd_minutes"`
	ETTRMinutes    *float64          `json:"ettr_minutes"`
	ImpactPercent  *float64          `json:"impact_percent"`
	ETTFDays       *float64          `json:"ettf_days"`
	Score          *float64          `json:"score"`
	Band           *string           `json:"band"`
	Priority       map[string]string `json:"priority"`
	Explanation    string            `json:"explanation"`
	Owner          *string           `json:"owner"`
	Status         registry.Status   `json:"status"`
	StatusReason   *string           `json:"status_reason"`
	AcceptedUntil  *string           `json:"accepted_until"` // a date, YYYY-MM-DD
	LastReviewedAt *time.Time        `json:"last_reviewed_at"`
	ReviewDueAt    *time.Time        `json:"review_due_at"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	Version        int64             `json:"version"`
	Links          []LinkView        `json:"links"`
	Sources        []SourceView      `json:"sources"`
	// Occurrences are the postmortems of the risk, one per incident, oldest
	// first; Recurrences90d counts those in scoring.recurrence.window
	// (90 days unless configured otherwise).
	Occurrences    []OccurrenceView `json:"occurrences"`
	Recurrences90d int              `json:"recurrences_90d"`
	History        []HistoryView    `json:"history,omitempty"`
}

// OccurrenceView is one incident of a risk: when risksync read its postmortem.
type OccurrenceView struct {
	At     time.Time  `json:"at"`
	Source SourceView `json:"source"`
}

// LinkView is a mirrored epic in RiskView.
type LinkView struct {
	Tracker        string             `json:"tracker"`
	Key            string             `json:"key"`
	URL            string             `json:"url"`
	State          registry.LinkState `json:"state"`
	ChildrenTotal  int                `json:"children_total"`
	ChildrenDone   int                `json:"children_done"`
	LastActivityAt *time.Time         `json:"last_activity_at"`
	Current        bool               `json:"current"`
}

// SourceView is a postmortem in RiskView.
type SourceView struct {
	Tracker    string `json:"tracker"`
	Key        string `json:"key"`
	URL        string `json:"url"`
	Recurrence bool   `json:"recurrence"`
}

// HistoryView is one history entry in RiskView.
type HistoryView struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Field string    `json:"field"`
	Old   *string   `json:"old"`
	New   *string   `json:"new"`
}

// View renders r for people and programs; history is added when given.
func (s *Service) View(r *registry.Risk, history []registry.HistoryEntry) RiskView {
	sc := s.scoring
	res := sc.Evaluate(scoring.InputsOf(r))
	v := RiskView{Key: r.Key, Title: r.Title, Description: r.Description, Impact: r.Impact, Scope: r.Scope,
		Likelihood: r.Likelihood, ETTDMinutes: r.ETTDMinutes, ETTRMinutes: r.ETTRMinutes, ImpactPercent: r.ImpactPercent,
		ETTFDays: r.ETTFDays, Score: r.Score, Explanation: res.Explain(s.routing.Trackers...), Status: r.Status,
		LastReviewedAt: utc(r.LastReviewedAt), ReviewDueAt: utc(r.ReviewDueAt), CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version, Links: []LinkView{}, Sources: []SourceView{}}
	if r.Band != "" {
		v.Band = &r.Band
		v.Priority = sc.Band(r.Band).Priority(s.routing.Trackers...)
	}
	if r.Owner != "" {
		v.Owner = &r.Owner
	}
	if r.StatusReason != "" {
		v.StatusReason = &r.StatusReason
	}
	if r.AcceptedUntil != nil {
		d := r.AcceptedUntil.UTC().Format(time.DateOnly)
		v.AcceptedUntil = &d
	}
	for _, l := range r.Links {
		v.Links = append(v.Links, LinkView{Tracker: l.Tracker, Key: l.Key, URL: l.URL, State: l.State,
			ChildrenTotal: l.ChildrenTotal, ChildrenDone: l.ChildrenDone, LastActivityAt: utc(l.LastActivityAt), Current: l.Current})
	}
	for _, src := range r.Sources {
		v.Sources = append(v.Sources, SourceView{Tracker: src.Tracker, Key: src.Key, URL: src.URL, Recurrence: src.Recurrence})
	}
	occ := scoring.Occurrences(r)
	v.Occurrences = make([]OccurrenceView, 0, len(occ))
	for _, o := range occ {
		v.Occurrences = append(v.Occurrences, OccurrenceView{At: o.At, Source: SourceView{Tracker: o.Source.Tracker, Key: o.Source.Key,
			URL: o.Source.URL, Recurrence: o.Source.Recurrence}})
	}
	v.Recurrences90d = sc.Recurrence.InWindow(occ, s.now())
	for _, e := range history {
		v.History = append(v.History, HistoryView{At: e.At.UTC(), Actor: e.Actor, Field: e.Field, Old: e.OldValue, New: e.NewValue})
	}
	return v
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
