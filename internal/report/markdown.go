package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/scoring"
)

// MarkdownRows bounds each list in Markdown: a GitHub issue body holds at
// most 65,536 characters, and a list longer than this is read by nobody.
// The JSON and HTML forms carry every row.
const MarkdownRows = 50

// RenderJSON writes the report in the design's JSON shape.
func RenderJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // not embedded in HTML; titles stay readable
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	return nil
}

// Title is the report's heading, and the weekly issue's title.
func Title(week string) string { return "Risk registry report — " + week }

// RenderMarkdown writes the report as GitHub-flavoured Markdown, for the
// weekly issue and for the terminal.
func RenderMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	title := Title(r.Week)
	if r.OwnerFilter != nil {
		title += " — " + *r.OwnerFilter
	}
	p("# %s\n\n", title)
	p("Generated %s · movement since %s · stagnant = no movement in linked work for %s\n\n",
		r.GeneratedAt.Format("2006-01-02 15:04 UTC"), r.Movement.Since.Format("2006-01-02 15:04 UTC"), days(int(r.StagnationAfterDays)))
	p("**%d open risks · exposure %s (%s) · %d stagnant · %d reviews overdue · %d needing a decision · %d unowned · %d unscored**\n\n",
		r.Totals.Risks, scoring.FormatScore(r.Totals.Exposure), r.Exposure.Unit, len(r.Stagnant), len(r.ReviewOverdue),
		len(r.NeedsDecision), len(r.Unowned), len(r.Unscored))
	if len(r.StuckCritical) > 0 {
		var names []string
		for _, t := range r.StuckCritical {
			names = append(names, fmt.Sprintf("%s %s (%d weeks)", t.Key, md(t.Title), t.WeeksInTop))
		}
		p("> 🚨 **%s in the top 10 for more than %d weeks:** %s. The team should be deciding how quickly to remove these, not whether.\n\n",
			criticalName(r.StuckCritical), StuckWeeks, strings.Join(names, "; "))
	}
	if stuck := stuckTop(r); len(stuck) > 0 {
		var names []string
		for _, t := range stuck {
			names = append(names, fmt.Sprintf("%s (%d weeks)", t.Key, t.WeeksInTop))
		}
		p("> ⚠️ **In the top 10 for more than %d weeks (%d):** %s. If the same risks sit at the top for months, the system is not working.\n\n",
			StuckWeeks, len(stuck), strings.Join(names, ", "))
	}

	p("## Stagnant risks (%d)\n\n", len(r.Stagnant))
	table(bw, r.Stagnant, []string{"Risk", "Title", "Score", "Band", "Owner", "Idle", "Epic", "Children", "Why"}, func(e Entry) []string {
		return []string{e.Key, md(e.Title), scoreText(e.Score), bandText(e.Band), ownerMD(e.Owner), days(e.IdleDays), epicMD(e.Epic), children(e.Epic), md(e.Reason)}
	})
	p("## Reviews overdue (%d)\n\n", len(r.ReviewOverdue))
	table(bw, r.ReviewOverdue, []string{"Risk", "Title", "Score", "Band", "Owner", "Status", "Review due"}, func(e Entry) []string {
		return []string{e.Key, md(e.Title), scoreText(e.Score), bandText(e.Band), ownerMD(e.Owner), string(e.Status), dateText(e.ReviewDueAt)}
	})
	p("## Needs a decision (%d)\n\n", len(r.NeedsDecision))
	table(bw, r.NeedsDecision, []string{"Risk", "Title", "Score", "Band", "Owner", "Epic", "Why"}, func(e Entry) []string {
		return []string{e.Key, md(e.Title), scoreText(e.Score), bandText(e.Band), ownerMD(e.Owner), epicMD(e.Epic), md(e.Reason)}
	})
	p("## Unowned (%d)\n\n", len(r.Unowned))
	table(bw, r.Unowned, []string{"Risk", "Title", "Score", "Band", "Status", "Epic"}, func(e Entry) []string {
		return []string{e.Key, md(e.Title), scoreText(e.Score), bandText(e.Band), string(e.Status), epicMD(e.Epic)}
	})
	p("## Unscored (%d)\n\n", len(r.Unscored))
	table(bw, r.Unscored, []string{"Risk", "Title", "Owner", "Status", "Missing"}, func(e Entry) []string {
		return []string{e.Key, md(e.Title), ownerMD(e.Owner), string(e.Status), md(strings.TrimPrefix(e.Reason, "missing "))}
	})

	p("## Recurring (%d)\n\n", len(r.Recurring))
	table(bw, r.Recurring, []string{"Risk", "Title", "Score", "Band", "Owner", "Status", fmt.Sprintf("In %s", days(int(r.RecurrenceWindowDays))), "All", "Last"}, func(e Recurring) []string {
		return []string{e.Key, md(e.Title), scoreText(e.Score), bandText(e.Band), ownerMD(e.Owner), string(e.Status), fmt.Sprint(e.Occurrences),
			fmt.Sprint(e.TotalOccurrences), linkMD(e.LastSource.Key, e.LastSource.URL) + " " + e.LastAt.Format(time.DateOnly)}
	})
	p("## Acceptance expired (%d)\n\n", len(r.AcceptanceExpired))
	table(bw, r.AcceptanceExpired, []string{"Risk", "Title", "Score", "Band", "Owner", "Accepted until", "Accepted because", "Status now"}, func(e Expired) []string {
		return []string{e.Key, md(e.Title), scoreText(e.Score), bandText(e.Band), ownerMD(e.Owner), orDash(e.AcceptedUntil), md(orDash(e.AcceptReason)), string(e.Status)}
	})
	if r.RecurrenceMode == scoring.RecurrenceSuggest {
		p("## Likelihood suggestions (%d)\n\n", len(r.LikelihoodSuggestions))
		table(bw, r.LikelihoodSuggestions, []string{"Risk", "Title", "Score", "Band", "Owner", "Occurrences", "Likelihood", "Would score", "Apply with"}, func(e Suggestion) []string {
			return []string{e.Key, md(e.Title), scoreText(e.Score), bandText(e.Band), ownerMD(e.Owner), fmt.Sprint(e.Occurrences),
				rating(e.LikelihoodFrom) + " → " + fmt.Sprint(e.LikelihoodTo), scoreBand(e.ScoreTo, e.BandTo),
				fmt.Sprintf("`risksync risk update %s --likelihood %d`", e.Key, e.LikelihoodTo)}
		})
	}

	mv := r.Movement
	p("## Movement since %s\n\n", mv.Since.Format("2006-01-02"))
	if movementEmpty(mv) {
		p("Nothing moved. A registry that does not move is one nobody works on.\n\n")
	}
	bullets(bw, "New", mv.New, func(e Entry) string {
		return fmt.Sprintf("%s %s — %s, %s", e.Key, md(e.Title), scoreBand(e.Score, e.Band), ownerMD(e.Owner))
	})
	for _, s := range []struct {
		name string
		list []Entry
	}{{"Mitigated", mv.Mitigated}, {"Accepted", mv.Accepted}, {"Retired", mv.Retired}} {
		bullets(bw, s.name, s.list, func(e Entry) string {
			return fmt.Sprintf("%s %s — %s, %s", e.Key, md(e.Title), scoreBand(e.Score, e.Band), ownerMD(e.Owner))
		})
	}
	bullets(bw, "Score and band changes", mv.ScoreChanges, func(c ScoreChange) string {
		return fmt.Sprintf("%s %s — %s → %s, %s", c.Key, md(c.Title), scoreBand(c.ScoreFrom, c.BandFrom), scoreBand(c.ScoreTo, c.BandTo), ownerMD(c.Owner))
	})
	bullets(bw, "Recurrences", mv.Recurrences, func(c Recurrence) string {
		return fmt.Sprintf("%s %s — re-confirmed by %s on %s", c.Key, md(c.Title), linkMD(c.Source.Key, c.Source.URL), c.At.Format("2006-01-02"))
	})

	p("## Top %d by score\n\n", TopN)
	table(bw, r.Top, []string{"#", "Risk", "Title", "Score", "Band", "Owner", "Weeks in top 10"}, func(t Top) []string {
		weeks := fmt.Sprint(t.WeeksInTop)
		if t.Stuck {
			weeks = "**" + weeks + " ⚠️**"
		}
		return []string{"", t.Key, md(t.Title), scoreText(t.Score), bandText(t.Band), ownerMD(t.Owner), weeks}
	})

	p("## Totals\n\n")
	p("| Band | Open risks |\n|---|---|\n")
	for _, b := range r.Totals.ByBand {
		p("| %s | %d |\n", b.Band, b.Risks)
	}
	p("\n### By team\n\n")
	table(bw, r.Totals.ByOwner, []string{"Team", "Open risks", "Exposure", "Stagnant", "Reviews overdue", "Needs a decision"}, func(o OwnerTotal) []string {
		return []string{ownerMD(o.Owner), fmt.Sprint(o.Risks), scoring.FormatScore(o.Exposure), keys(o.Stagnant), keys(o.ReviewOverdue), keys(o.NeedsDecision)}
	})

	p("## Exposure, last %d weeks\n\n", ExposureWeeks)
	p("%s\n\n", sparkline(r.Exposure))
	return bw.Flush()
}

func stuckTop(r *Report) []Top {
	var out []Top
	for _, t := range r.Top {
		if t.Stuck {
			out = append(out, t)
		}
	}
	return out
}

func movementEmpty(m Movement) bool {
	return len(m.New)+len(m.Mitigated)+len(m.Accepted)+len(m.Retired)+len(m.ScoreChanges)+len(m.Recurrences) == 0
}

// table writes a Markdown table of at most MarkdownRows rows; a leading ""
// cell is replaced by the row number.
func table[T any](w io.Writer, rows []T, head []string, cells func(T) []string) {
	if len(rows) == 0 {
		fmt.Fprint(w, "None.\n\n")
		return
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for i, row := range rows {
		if i == MarkdownRows {
			fmt.Fprintf(w, "\n… and %d more (all of them: risksync report --format json).\n", len(rows)-MarkdownRows)
			break
		}
		c := cells(row)
		if c[0] == "" {
			c[0] = fmt.Sprint(i + 1)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
	}
	fmt.Fprintln(w)
}

func bullets[T any](w io.Writer, name string, items []T, line func(T) string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "**%s (%d)**\n\n", name, len(items))
	for i, it := range items {
		if i == MarkdownRows {
			fmt.Fprintf(w, "- … and %d more\n", len(items)-MarkdownRows)
			break
		}
		fmt.Fprintf(w, "- %s\n", line(it))
	}
	fmt.Fprintln(w)
}

// mdEscaper keeps titles from people and postmortems from turning into
// markup, links or table cells in the issue.
var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "|", `\|`, "#", `\#`, "\n", " ", "\r", " ")

func md(s string) string { return mdEscaper.Replace(s) }

func ownerMD(o *string) string {
	if o == nil {
		return "**unowned**"
	}
	return md(*o)
}

func linkMD(text, url string) string {
	if url == "" || !safeURL(url) {
		return md(text)
	}
	return "[" + md(text) + "](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(url) + ")"
}

// safeURL admits http(s) links only: a javascript: URL from a tracker
// must not become a link in the report.
func safeURL(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}

func epicMD(l *Link) string {
	if l == nil {
		return "—"
	}
	return linkMD(l.Key, l.URL) + " " + string(l.State)
}

func children(l *Link) string {
	if l == nil || l.ChildrenTotal == 0 {
		return "none"
	}
	return fmt.Sprintf("%d/%d done", l.ChildrenDone, l.ChildrenTotal)
}

func dateText(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.UTC().Format(time.DateOnly)
}

func keys(ks []string) string {
	if len(ks) == 0 {
		return "—"
	}
	if len(ks) > 10 {
		return fmt.Sprintf("%s … (%d)", strings.Join(ks[:10], ", "), len(ks))
	}
	return strings.Join(ks, ", ")
}

// sparkline draws the exposure series in text, for places without SVG
// (GitHub issues strip inline SVG): first week, bars, last week.
func sparkline(e Exposure) string {
	const bars = "▁▂▃▄▅▆▇█"
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range e.Weeks {
		if p.Exposure != nil {
			lo, hi = min(lo, *p.Exposure), max(hi, *p.Exposure)
		}
	}
	if math.IsInf(lo, 1) {
		return "No snapshots yet: the daemon takes one a day."
	}
	var sb strings.Builder
	var first, last *ExposurePoint
	for i := range e.Weeks {
		p := &e.Weeks[i]
		if p.Exposure == nil {
			sb.WriteString(" ")
			continue
		}
		if first == nil {
			first = p
		}
		last = p
		i := 0
		if hi > lo {
			i = int(math.Round((*p.Exposure - lo) / (hi - lo) * 7))
		}
		sb.WriteRune([]rune(bars)[i])
	}
	return fmt.Sprintf("`%s %s %s %s %s` (%s; min %s, max %s)", first.Week, scoring.FormatScore(*first.Exposure), strings.TrimSpace(sb.String()),
		scoring.FormatScore(*last.Exposure), last.Week, e.Unit, scoring.FormatScore(lo), scoring.FormatScore(hi))
}

// scoreBand reads "40 (high)", or "unscored".
func scoreBand(score *float64, band *string) string {
	if score == nil {
		return Unscored
	}
	return scoreText(score) + " (" + bandText(band) + ")"
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "—"
	}
	return *s
}

// criticalName names the top band's risks in the callout ("Critical risks").
func criticalName(stuck []Top) string {
	if b := stuck[0].Band; b != nil && *b != "" {
		return strings.ToUpper((*b)[:1]) + (*b)[1:] + " risks"
	}
	return "Top-band risks"
}
