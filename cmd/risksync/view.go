package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// riskView is the stable JSON shape of a risk (design: "JSON shapes").
type riskView struct {
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
	LastReviewedAt *time.Time        `json:"last_reviewed_at"`
	ReviewDueAt    *time.Time        `json:"review_due_at"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	Version        int64             `json:"version"`
	Links          []linkView        `json:"links"`
	Sources        []sourceView      `json:"sources"`
	History        []historyView     `json:"history,omitempty"`
}

type linkView struct {
	Tracker        string             `json:"tracker"`
	Key            string             `json:"key"`
	URL            string             `json:"url"`
	State          registry.LinkState `json:"state"`
	ChildrenTotal  int                `json:"children_total"`
	ChildrenDone   int                `json:"children_done"`
	LastActivityAt *time.Time         `json:"last_activity_at"`
	Current        bool               `json:"current"`
}

type sourceView struct {
	Tracker    string `json:"tracker"`
	Key        string `json:"key"`
	URL        string `json:"url"`
	Recurrence bool   `json:"recurrence"`
}

type historyView struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Field string    `json:"field"`
	Old   *string   `json:"old"`
	New   *string   `json:"new"`
}

func newRiskView(r *registry.Risk, cfg *config.Config) riskView {
	sc := cfg.ScoringConfig()
	res := sc.Evaluate(scoring.InputsOf(r))
	v := riskView{Key: r.Key, Title: r.Title, Description: r.Description, Impact: r.Impact, Scope: r.Scope,
		Likelihood: r.Likelihood, ETTDMinutes: r.ETTDMinutes, ETTRMinutes: r.ETTRMinutes, ImpactPercent: r.ImpactPercent,
		ETTFDays: r.ETTFDays, Score: r.Score, Explanation: res.Explain(cfg.Trackers()...), Status: r.Status,
		LastReviewedAt: utc(r.LastReviewedAt), ReviewDueAt: utc(r.ReviewDueAt), CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version, Links: []linkView{}, Sources: []sourceView{}}
	if r.Band != "" {
		v.Band = &r.Band
		v.Priority = sc.Band(r.Band).Priority(cfg.Trackers()...)
	}
	if r.Owner != "" {
		v.Owner = &r.Owner
	}
	for _, l := range r.Links {
		v.Links = append(v.Links, linkView{Tracker: l.Tracker, Key: l.Key, URL: l.URL, State: l.State,
			ChildrenTotal: l.ChildrenTotal, ChildrenDone: l.ChildrenDone, LastActivityAt: utc(l.LastActivityAt), Current: l.Current})
	}
	for _, s := range r.Sources {
		v.Sources = append(v.Sources, sourceView{Tracker: s.Tracker, Key: s.Key, URL: s.URL, Recurrence: s.Recurrence})
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func scoreText(r *registry.Risk) string {
	if r.Score == nil {
		return "-"
	}
	return scoring.FormatScore(*r.Score)
}

func bandText(r *registry.Risk) string {
	if r.Band == "" {
		return "unscored"
	}
	return r.Band
}

func ownerText(r *registry.Risk) string {
	if r.Owner == "" {
		return "UNOWNED"
	}
	return r.Owner
}

func date(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02")
}

// writeRiskTable prints the ranked list as an aligned table.
func writeRiskTable(w io.Writer, risks []*registry.Risk, now time.Time) error {
	if len(risks) == 0 {
		_, err := fmt.Fprintln(w, "No risks match. Add one with: risksync risk add --title ... --impact N --scope N --likelihood N")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSCORE\tBAND\tSTATUS\tOWNER\tREVIEW DUE\tEPIC\tTITLE")
	for _, r := range risks {
		due := date(r.ReviewDueAt)
		if r.ReviewDueAt != nil && r.ReviewDueAt.Before(now) {
			due += " (overdue)"
		}
		epic := "-"
		if l := r.CurrentLink(); l != nil {
			epic = l.Key + " " + string(l.State)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Key, scoreText(r), bandText(r), r.Status, ownerText(r), due, epic, oneLine(r.Title, 70))
	}
	return tw.Flush()
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) > max {
		return string([]rune(s)[:max-1]) + "…"
	}
	return s
}

func rating(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func number(p *float64) string {
	if p == nil {
		return "-"
	}
	return scoring.FormatScore(*p)
}

// writeRiskDetail prints one risk for people: fields, score explanation,
// epics, sources and history.
func writeRiskDetail(w io.Writer, v riskView, r *registry.Risk, history []registry.HistoryEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("Risk", r.Key+"  "+r.Title)
	row("Impact", rating(r.Impact))
	row("Scope", rating(r.Scope))
	row("Likelihood", rating(r.Likelihood))
	if r.ETTDMinutes != nil || r.ETTRMinutes != nil || r.ImpactPercent != nil || r.ETTFDays != nil {
		row("Quantitative", fmt.Sprintf("ettd %s min, ettr %s min, impact %s%%, every %s days",
			number(r.ETTDMinutes), number(r.ETTRMinutes), number(r.ImpactPercent), number(r.ETTFDays)))
	}
	row("Score", scoreText(r)+" ("+bandText(r)+")")
	row("Explanation", v.Explanation)
	row("Owner", ownerText(r))
	row("Status", string(r.Status))
	row("Last reviewed", date(r.LastReviewedAt))
	row("Review due", date(r.ReviewDueAt))
	row("Created", r.CreatedAt.UTC().Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Description != "" {
		fmt.Fprintf(w, "\n%s\n", r.Description)
	}
	fmt.Fprintln(w, "\nEpics:")
	if len(r.Links) == 0 {
		fmt.Fprintln(w, "  none yet (the daemon mirrors the risk on its next pass)")
	}
	for _, l := range r.Links {
		cur := ""
		if !l.Current {
			cur = " (superseded)"
		}
		fmt.Fprintf(w, "  %s %s  %s  children %d/%d done  last activity %s%s  %s\n", l.Tracker, l.Key, l.State,
			l.ChildrenDone, l.ChildrenTotal, date(l.LastActivityAt), cur, l.URL)
	}
	if len(r.Sources) > 0 {
		fmt.Fprintln(w, "\nSources:")
		for _, s := range r.Sources {
			kind := "postmortem"
			if s.Recurrence {
				kind = "recurrence"
			}
			fmt.Fprintf(w, "  %s %s %s  %s\n", kind, s.Tracker, s.Key, s.URL)
		}
	}
	fmt.Fprintln(w, "\nHistory:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, h := range history {
		change := deref(h.NewValue)
		if h.OldValue != nil {
			change = deref(h.OldValue) + " → " + change
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", h.At.UTC().Format("2006-01-02 15:04"), h.Actor, h.Field, oneLine(change, 80))
	}
	return tw.Flush()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
