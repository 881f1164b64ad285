// Package report builds the weekly report of the risk registry from the
// registry alone (no tracker calls): stagnant risks, overdue reviews, risks
// that need a decision, unowned and unscored risks, movement since the last
// report, the top 10 with their tenure, totals, and exposure over 26 weeks.
// It renders Markdown, JSON and a self-contained HTML page, and publishes
// the report as a weekly GitHub issue and a Slack-compatible webhook post.
package report

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// Store is what the report reads: the risks and the report's own records.
// Both SQL stores implement it.
type Store interface {
	ListRisks(ctx context.Context, f registry.RiskFilter) ([]*registry.Risk, error)
	registry.ReportStore
}

// Deps are the report's collaborators and the configuration it depends on.
type Deps struct {
	Store           Store
	Scoring         scoring.Config
	StagnationAfter time.Duration // config stagnation.after
	Logger          *slog.Logger  // nil discards
}

// Options narrow a report.
type Options struct {
	Owner   string // only this team's risks ("" for all)
	Unowned bool   // only risks without an owner
	// Since starts the movement window. Zero means the week start of the
	// last delivered report, else seven days before now.
	Since time.Time
}

// Report is the weekly report. Its JSON form is a stable interface (design:
// "JSON shapes"): fields may be added, never renamed.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	Week        string    `json:"week"` // ISO week of GeneratedAt, e.g. 2026-W22
	// OwnerFilter is the team of a per-team view ("unowned" for risks
	// without an owner); null for the whole registry.
	OwnerFilter         *string `json:"owner_filter"`
	Model               string  `json:"model"` // ordinal | expected_minutes
	StagnationAfterDays float64 `json:"stagnation_after_days"`
	Stagnant            []Entry `json:"stagnant"`
	ReviewOverdue       []Entry `json:"review_overdue"`
	NeedsDecision       []Entry `json:"needs_decision"`
	Unowned             []Entry `json:"unowned"`
	Unscored            []Entry `json:"unscored"`
	Top                 []Top   `json:"top"`
	// StuckCritical are the top band's risks among the top 10 for more than
	// StuckWeeks weeks: the report opens with them.
	StuckCritical []Top `json:"stuck_critical"`
	// Recurring lists risks with at least two occurrences in the
	// recurrence window; RecurrenceWindowDays is that window.
	RecurrenceWindowDays float64     `json:"recurrence_window_days"`
	RecurrenceMode       string      `json:"recurrence_mode"` // raise | suggest | off
	Recurring            []Recurring `json:"recurring"`
	// AcceptanceExpired lists accepted risks whose accepted_until passed in
	// the movement window: they are active again.
	AcceptanceExpired []Expired `json:"acceptance_expired"`
	// LikelihoodSuggestions are the raises scoring.recurrence proposes
	// (mode suggest); empty in the other modes.
	LikelihoodSuggestions []Suggestion `json:"likelihood_suggestions"`
	Movement              Movement     `json:"movement"`
	Totals                Totals       `json:"totals"`
	Exposure              Exposure     `json:"exposure"`
}

// Entry is one risk in one of the report's lists.
type Entry struct {
	Key            string          `json:"key"`
	Title          string          `json:"title"`
	Score          *float64        `json:"score"` // null when unscored
	Band           *string         `json:"band"`  // null when unscored
	Owner          *string         `json:"owner"` // null when unowned
	Status         registry.Status `json:"status"`
	IdleDays       int             `json:"idle_days"`
	LastActivityAt time.Time       `json:"last_activity_at"`
	ReviewDueAt    *time.Time      `json:"review_due_at"`
	Epic           *Link           `json:"epic"` // the current epic, null when not mirrored
	Links          []Link          `json:"links"`
	// Reason says, for people, why the risk is in this list.
	Reason string `json:"reason"`
}

// Link is a mirrored epic, as in the design's Risk shape.
type Link struct {
	Tracker        string             `json:"tracker"`
	Key            string             `json:"key"`
	URL            string             `json:"url"`
	State          registry.LinkState `json:"state"`
	ChildrenTotal  int                `json:"children_total"`
	ChildrenDone   int                `json:"children_done"`
	LastActivityAt *time.Time         `json:"last_activity_at"`
	Current        bool               `json:"current"`
}

// Top is one of the ten highest-scored open risks.
type Top struct {
	Key        string   `json:"key"`
	Title      string   `json:"title"`
	Score      *float64 `json:"score"`
	Band       *string  `json:"band"`
	Owner      *string  `json:"owner"`
	WeeksInTop int      `json:"weeks_in_top"`
	// Stuck flags more than StuckWeeks weeks in the top 10: "if the same
	// risks sit at the top for months, the system is not working".
	Stuck bool `json:"stuck"`
}

// StuckWeeks is how long a risk may sit in the top 10 before it is flagged.
const StuckWeeks = 8

// TopN is how many risks the top list and the snapshots keep.
const TopN = 10

// Recurring is a risk whose failure mode happened again recently.
type Recurring struct {
	Entry
	Occurrences      int       `json:"occurrences"`       // in the recurrence window
	TotalOccurrences int       `json:"total_occurrences"` // since the risk was recorded
	LastAt           time.Time `json:"last_at"`
	LastSource       Source    `json:"last_source"`
}

// Expired is a risk whose acceptance ended in the movement window.
type Expired struct {
	Entry
	AcceptedUntil *string   `json:"accepted_until"` // the date that passed
	AcceptReason  *string   `json:"accept_reason"`  // why it had been accepted
	ExpiredAt     time.Time `json:"expired_at"`
}

// Suggestion is a likelihood the risk's recurrences call for.
type Suggestion struct {
	Entry
	Occurrences    int      `json:"occurrences"` // in the recurrence window
	LikelihoodFrom *int     `json:"likelihood_from"`
	LikelihoodTo   int      `json:"likelihood_to"`
	ScoreTo        *float64 `json:"score_to"`
	BandTo         *string  `json:"band_to"`
}

// Movement is what changed since the last report.
type Movement struct {
	Since        time.Time     `json:"since"`
	New          []Entry       `json:"new"`
	Mitigated    []Entry       `json:"mitigated"`
	Accepted     []Entry       `json:"accepted"`
	Retired      []Entry       `json:"retired"`
	ScoreChanges []ScoreChange `json:"score_changes"`
	Recurrences  []Recurrence  `json:"recurrences"`
}

// ScoreChange is a risk whose score or band moved in the window: the first
// old value and the last new one when it moved several times.
type ScoreChange struct {
	Entry
	ScoreFrom *float64 `json:"score_from"`
	ScoreTo   *float64 `json:"score_to"`
	BandFrom  *string  `json:"band_from"`
	BandTo    *string  `json:"band_to"`
}

// Recurrence is a postmortem that re-confirmed an existing risk.
type Recurrence struct {
	Entry
	Source Source    `json:"source"`
	At     time.Time `json:"at"`
}

// Source is a postmortem issue.
type Source struct {
	Tracker string `json:"tracker"`
	Key     string `json:"key"`
	URL     string `json:"url"`
}

// Totals count the open risks (neither accepted nor retired).
type Totals struct {
	Risks    int          `json:"risks"`
	Exposure float64      `json:"exposure"`
	ByBand   []BandTotal  `json:"by_band"`  // configured bands in order, then "unscored"
	ByOwner  []OwnerTotal `json:"by_owner"` // highest exposure first, unowned last
}

// BandTotal counts the open risks of one band.
type BandTotal struct {
	Band  string `json:"band"`
	Risks int    `json:"risks"`
}

// OwnerTotal is the per-team section: each owner sees their own stuck risks.
type OwnerTotal struct {
	Owner         *string  `json:"owner"` // null for unowned risks
	Risks         int      `json:"risks"`
	Exposure      float64  `json:"exposure"`
	Stagnant      []string `json:"stagnant"` // keys, highest score first
	ReviewOverdue []string `json:"review_overdue"`
	NeedsDecision []string `json:"needs_decision"`
}

// Exposure is the registry's total exposure over the last ExposureWeeks
// weeks, one point per week from the last snapshot of that week.
type Exposure struct {
	Unit    string          `json:"unit"` // what the numbers are (sum of scores, or bad minutes a year)
	Current float64         `json:"current"`
	Weeks   []ExposurePoint `json:"weeks"` // oldest first, always ExposureWeeks long
	// Scope says the chart is registry-wide even in a per-team view:
	// snapshots are not kept per team.
	Scope string `json:"scope"`
}

// ExposurePoint is one week of the chart; Exposure is null for a week
// without any snapshot (the daemon was not running).
type ExposurePoint struct {
	Week     string     `json:"week"`
	Day      *time.Time `json:"day"`
	Exposure *float64   `json:"exposure"`
}

// ExposureWeeks is the span of the exposure chart.
const ExposureWeeks = 26

// tenureWeeks bounds how far back top-10 tenure is counted.
const tenureWeeks = 104

// Generate computes the report at now. It reads every risk once, the
// snapshots of the last two years, the history of the movement window and
// (to find the window) up to 24 publication records (12 weeks, 2 channels).
func Generate(ctx context.Context, d Deps, now time.Time, opts Options) (*Report, error) {
	now = now.UTC()
	all, err := d.Store.ListRisks(ctx, registry.RiskFilter{})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	since := opts.Since.UTC()
	if since.IsZero() {
		if since, err = LastReportTime(ctx, d.Store, now); err != nil {
			return nil, err
		}
	}
	snaps, err := d.Store.Snapshots(ctx, WeekStart(now).AddDate(0, 0, -7*tenureWeeks))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	// Today's standing comes from the risks themselves, so the report is
	// current even before (or without) the daemon's snapshot of the day.
	today := NewSnapshot(all, d.Scoring, now)
	snaps = slices.DeleteFunc(snaps, func(s registry.Snapshot) bool { return !s.Day.Before(today.Day) })
	snaps = append(snaps, today)
	history, err := d.Store.HistorySince(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}

	rep := &Report{
		GeneratedAt: now, Week: ISOWeek(now), Model: modelName(d.Scoring),
		StagnationAfterDays: d.StagnationAfter.Hours() / 24,
		Stagnant:            []Entry{}, ReviewOverdue: []Entry{}, NeedsDecision: []Entry{}, Unowned: []Entry{}, Unscored: []Entry{},
		Top: []Top{}, StuckCritical: []Top{}, Recurring: []Recurring{}, AcceptanceExpired: []Expired{}, LikelihoodSuggestions: []Suggestion{},
	}
	match := func(r *registry.Risk) bool { return true }
	switch {
	case opts.Unowned:
		rep.OwnerFilter = ptr("unowned")
		match = func(r *registry.Risk) bool { return r.Owner == "" }
	case opts.Owner != "":
		rep.OwnerFilter = ptr(opts.Owner)
		match = func(r *registry.Risk) bool { return r.Owner == opts.Owner }
	}

	b := builder{d: d, now: now, rank: map[string]int{}, byKey: map[string]*registry.Risk{}}
	var risks []*registry.Risk
	for _, r := range all {
		if match(r) {
			b.rank[r.Key] = len(risks)
			b.byKey[r.Key] = r
			risks = append(risks, r)
		}
	}
	owners := map[string]*OwnerTotal{}
	owner := func(r *registry.Risk) *OwnerTotal {
		o := owners[r.Owner]
		if o == nil {
			o = &OwnerTotal{Owner: optional(r.Owner), Stagnant: []string{}, ReviewOverdue: []string{}, NeedsDecision: []string{}}
			owners[r.Owner] = o
		}
		return o
	}
	byBand := map[string]int{}
	for _, r := range risks {
		if r.Status.Decided() {
			continue
		}
		o := owner(r)
		o.Risks++
		rep.Totals.Risks++
		byBand[bandOrUnscored(r)]++
		if r.Score != nil {
			o.Exposure += *r.Score
			rep.Totals.Exposure += *r.Score
		}
		st := CheckStagnation(r, d.StagnationAfter, now)
		if st.Stagnant {
			var reason string
			switch {
			case r.CurrentLink() == nil:
				reason = fmt.Sprintf("no epic and no linked work for %s", days(st.IdleDays))
			case st.Idle > d.StagnationAfter:
				reason = fmt.Sprintf("no movement in linked work for %s", days(st.IdleDays))
			default:
				reason = fmt.Sprintf("no child work after %s", days(int(now.Sub(st.Since).Hours()/24)))
			}
			rep.Stagnant = append(rep.Stagnant, b.entry(r, reason))
			o.Stagnant = append(o.Stagnant, r.Key)
		}
		if l := r.CurrentLink(); l != nil && l.State == registry.LinkNotPlanned {
			rep.NeedsDecision = append(rep.NeedsDecision, b.entry(r, fmt.Sprintf("epic %s was closed as not planned: accept the risk in the registry or re-plan the work", l.Key)))
			o.NeedsDecision = append(o.NeedsDecision, r.Key)
		}
		if r.Owner == "" {
			rep.Unowned = append(rep.Unowned, b.entry(r, "no owning team: assign one with risksync risk update "+r.Key+" --owner TEAM"))
		}
		if r.Score == nil {
			res := d.Scoring.Evaluate(scoring.InputsOf(r))
			rep.Unscored = append(rep.Unscored, b.entry(r, "missing "+strings.Join(res.Missing, ", ")))
		}
	}
	// Accepted risks still come up for review; retired ones never do.
	for _, r := range risks {
		if r.ReviewDueAt != nil && r.ReviewDueAt.Before(now) {
			overdue := int(now.Sub(*r.ReviewDueAt).Hours() / 24)
			rep.ReviewOverdue = append(rep.ReviewOverdue, b.entry(r, fmt.Sprintf("review was due %s (%s ago)", r.ReviewDueAt.UTC().Format(time.DateOnly), days(overdue))))
			if !r.Status.Decided() {
				owner(r).ReviewOverdue = append(owner(r).ReviewOverdue, r.Key)
			}
		}
	}

	b.recurrences(rep, risks)

	for _, band := range d.Scoring.Bands {
		rep.Totals.ByBand = append(rep.Totals.ByBand, BandTotal{Band: band.Name, Risks: byBand[band.Name]})
	}
	rep.Totals.ByBand = append(rep.Totals.ByBand, BandTotal{Band: Unscored, Risks: byBand[Unscored]})
	rep.Totals.ByOwner = []OwnerTotal{}
	for _, o := range owners {
		rep.Totals.ByOwner = append(rep.Totals.ByOwner, *o)
	}
	slices.SortFunc(rep.Totals.ByOwner, func(a, b OwnerTotal) int {
		switch {
		case (a.Owner == nil) != (b.Owner == nil):
			if a.Owner == nil {
				return 1
			}
			return -1
		case a.Exposure != b.Exposure:
			if a.Exposure > b.Exposure {
				return -1
			}
			return 1
		case a.Owner == nil:
			return 0
		}
		return strings.Compare(*a.Owner, *b.Owner)
	})

	tenure := TopTenure(snaps)
	for _, key := range today.Top {
		r := b.byKey[key]
		if r == nil { // another team's risk in a per-team view
			continue
		}
		w := tenure[key]
		rep.Top = append(rep.Top, Top{Key: r.Key, Title: r.Title, Score: r.Score, Band: optional(r.Band), Owner: optional(r.Owner),
			WeeksInTop: w, Stuck: w > StuckWeeks})
		if t := rep.Top[len(rep.Top)-1]; t.Stuck && len(d.Scoring.Bands) > 0 && r.Band == d.Scoring.Bands[0].Name {
			rep.StuckCritical = append(rep.StuckCritical, t)
		}
	}
	rep.Exposure = exposureSeries(snaps, d.Scoring, now)
	rep.Exposure.Current = today.Exposure
	if rep.OwnerFilter != nil {
		rep.Exposure.Scope = "registry-wide (snapshots are not kept per team)"
	}
	rep.Movement = b.movement(history, since)
	rep.AcceptanceExpired = b.expired(history)
	if d.Logger != nil {
		d.Logger.Debug("report generated", "week", rep.Week, "risks", len(risks), "stagnant", len(rep.Stagnant), "history", len(history), "snapshots", len(snaps))
	}
	return rep, nil
}

// Unscored names the band of risks without a score, in totals and snapshots.
const Unscored = "unscored"

func bandOrUnscored(r *registry.Risk) string {
	if r.Band == "" {
		return Unscored
	}
	return r.Band
}

func modelName(sc scoring.Config) string {
	if sc.Model == "" {
		return scoring.Ordinal
	}
	return sc.Model
}

type builder struct {
	d     Deps
	now   time.Time
	rank  map[string]int // position in the ranking (score desc, unscored last)
	byKey map[string]*registry.Risk
}

func (b *builder) entry(r *registry.Risk, reason string) Entry {
	st := CheckStagnation(r, b.d.StagnationAfter, b.now)
	e := Entry{Key: r.Key, Title: r.Title, Score: r.Score, Band: optional(r.Band), Owner: optional(r.Owner), Status: r.Status,
		IdleDays: st.IdleDays, LastActivityAt: st.LastActivity.UTC(), ReviewDueAt: utc(r.ReviewDueAt), Links: []Link{}, Reason: reason}
	for _, l := range r.Links {
		v := Link{Tracker: l.Tracker, Key: l.Key, URL: l.URL, State: l.State, ChildrenTotal: l.ChildrenTotal,
			ChildrenDone: l.ChildrenDone, LastActivityAt: utc(l.LastActivityAt), Current: l.Current}
		e.Links = append(e.Links, v)
		if l.Current {
			e.Epic = &v
		}
	}
	return e
}

// movement folds the window's history into what people ask about: several
// changes of one risk collapse into the first old value and the last new one.
func (b *builder) movement(history []registry.HistoryEntry, since time.Time) Movement {
	m := Movement{Since: since, New: []Entry{}, Mitigated: []Entry{}, Accepted: []Entry{}, Retired: []Entry{},
		ScoreChanges: []ScoreChange{}, Recurrences: []Recurrence{}}
	type span struct{ from, to *string }
	created := map[string]bool{}
	status, score, band := map[string]*span{}, map[string]*span{}, map[string]*span{}
	track := func(spans map[string]*span, h registry.HistoryEntry) {
		if s := spans[h.RiskKey]; s != nil {
			s.to = h.NewValue
		} else {
			spans[h.RiskKey] = &span{from: h.OldValue, to: h.NewValue}
		}
	}
	for _, h := range history {
		r := b.byKey[h.RiskKey]
		if r == nil {
			continue
		}
		switch h.Field {
		case "created":
			created[h.RiskKey] = true
		case "status":
			track(status, h)
		case "score":
			track(score, h)
		case "band":
			track(band, h)
		case "recurrence":
			m.Recurrences = append(m.Recurrences, Recurrence{Entry: b.entry(r, "re-confirmed by a new postmortem"),
				Source: sourceOf(r, deref(h.NewValue)), At: h.At.UTC()})
		}
	}
	for key := range created {
		m.New = append(m.New, b.entry(b.byKey[key], "new since the last report"))
	}
	for key, s := range status {
		r := b.byKey[key]
		if created[key] || deref(s.from) == deref(s.to) {
			continue
		}
		reason := "status " + orNone(s.from) + " → " + orNone(s.to)
		switch r.Status {
		case registry.StatusMitigated:
			m.Mitigated = append(m.Mitigated, b.entry(r, reason))
		case registry.StatusAccepted:
			m.Accepted = append(m.Accepted, b.entry(r, reason))
		case registry.StatusRetired:
			m.Retired = append(m.Retired, b.entry(r, reason))
		}
	}
	for key := range union(score, band) {
		if created[key] {
			continue
		}
		sc := ScoreChange{Entry: b.entry(b.byKey[key], "")}
		if s := score[key]; s != nil && deref(s.from) != deref(s.to) {
			sc.ScoreFrom, sc.ScoreTo = parseScore(s.from), parseScore(s.to)
		} else {
			sc.ScoreFrom, sc.ScoreTo = sc.Score, sc.Score
		}
		if s := band[key]; s != nil && deref(s.from) != deref(s.to) {
			sc.BandFrom, sc.BandTo = s.from, s.to
		} else {
			sc.BandFrom, sc.BandTo = sc.Band, sc.Band
		}
		if equalScore(sc.ScoreFrom, sc.ScoreTo) && deref(sc.BandFrom) == deref(sc.BandTo) {
			continue // moved and came back
		}
		sc.Reason = scoreText(sc.ScoreFrom) + " (" + bandText(sc.BandFrom) + ") → " + scoreText(sc.ScoreTo) + " (" + bandText(sc.BandTo) + ")"
		m.ScoreChanges = append(m.ScoreChanges, sc)
	}
	for _, list := range [][]Entry{m.New, m.Mitigated, m.Accepted, m.Retired} {
		sortByRank(b.rank, list, func(e Entry) string { return e.Key })
	}
	sortByRank(b.rank, m.ScoreChanges, func(e ScoreChange) string { return e.Key })
	// Recurrences stay in the order they happened within one risk.
	slices.SortStableFunc(m.Recurrences, func(x, y Recurrence) int { return b.rank[x.Key] - b.rank[y.Key] })
	return m
}

// sortByRank orders a list the way the registry ranks risks: highest score
// first, unscored last; map iteration above left it in random order.
func sortByRank[T any](rank map[string]int, list []T, key func(T) string) {
	slices.SortFunc(list, func(x, y T) int { return rank[key(x)] - rank[key(y)] })
}

// sourceOf finds the postmortem named in a recurrence history entry
// ("github acme/incidents#9 table 1") among the risk's sources.
func sourceOf(r *registry.Risk, v string) Source {
	f := strings.Fields(v)
	if len(f) < 2 {
		return Source{Key: v}
	}
	s := Source{Tracker: f[0], Key: f[1]}
	for _, src := range r.Sources {
		if src.Tracker == s.Tracker && src.Key == s.Key {
			s.URL = src.URL
		}
	}
	return s
}

func union[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func parseScore(s *string) *float64 {
	if s == nil {
		return nil
	}
	v, err := strconv.ParseFloat(*s, 64)
	if err != nil {
		return nil
	}
	return &v
}

func equalScore(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func scoreText(s *float64) string {
	if s == nil {
		return "unscored"
	}
	return scoring.FormatScore(*s)
}

func bandText(b *string) string {
	if b == nil || *b == "" {
		return Unscored
	}
	return *b
}

func orNone(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

func ptr[T any](v T) *T { return &v }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
