package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/risksync/risksync/internal/scoring"
	"github.com/risksync/risksync/internal/service"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func scoreText(r service.RiskView) string {
	if r.Score == nil {
		return "-"
	}
	return scoring.FormatScore(*r.Score)
}

func bandText(r service.RiskView) string {
	if r.Band == nil {
		return "unscored"
	}
	return *r.Band
}

func ownerText(r service.RiskView) string {
	if r.Owner == nil {
		return "UNOWNED"
	}
	return *r.Owner
}

func currentLink(r service.RiskView) *service.LinkView {
	for i := range r.Links {
		if r.Links[i].Current {
			return &r.Links[i]
		}
	}
	return nil
}

func date(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02")
}

// writeRiskTable prints the ranked list as an aligned table.
func writeRiskTable(w io.Writer, risks []service.RiskView, now time.Time) error {
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
		if l := currentLink(r); l != nil {
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
func writeRiskDetail(w io.Writer, r service.RiskView) error {
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
	row("Explanation", r.Explanation)
	row("Owner", ownerText(r))
	status := string(r.Status)
	if r.StatusReason != nil {
		status += ": " + *r.StatusReason
	}
	if r.AcceptedUntil != nil {
		status += " (until " + *r.AcceptedUntil + ")"
	}
	row("Status", status)
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
	if len(r.Occurrences) > 0 {
		fmt.Fprintf(w, "\nOccurrences: %d, %d in the recurrence window\n", len(r.Occurrences), r.Recurrences90d)
		for _, o := range r.Occurrences {
			fmt.Fprintf(w, "  %s  %s %s\n", o.At.UTC().Format(time.DateOnly), o.Source.Tracker, o.Source.Key)
		}
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
	for _, h := range r.History {
		change := deref(h.New)
		if h.Old != nil {
			change = deref(h.Old) + " → " + change
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
