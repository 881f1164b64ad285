package report

import (
	"fmt"
	"strings"

	"github.com/risksync/risksync/internal/scoring"
)

// summaryRows bounds each list in the chat summary: it points to the issue
// for the rest.
const summaryRows = 5

// Summary is the chat form of the report for a Slack-compatible webhook:
// Slack's mrkdwn (*bold*, <url|text> links), counts, the stuck top risks,
// the most urgent stagnant risks with their epics, movement, and a link to
// the full report when there is one.
func Summary(r *Report, reportURL string) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	title := Title(r.Week)
	if safeURL(reportURL) {
		title = "<" + reportURL + "|" + slack(title) + ">"
	} else {
		title = slack(title)
	}
	p("*%s*\n", title)
	p("%d open risks · exposure %s (%s) · %d stagnant · %d reviews overdue · %d needing a decision · %d unowned · %d unscored\n",
		r.Totals.Risks, scoring.FormatScore(r.Totals.Exposure), r.Exposure.Unit, len(r.Stagnant), len(r.ReviewOverdue),
		len(r.NeedsDecision), len(r.Unowned), len(r.Unscored))
	summaryList(&sb, fmt.Sprintf(":warning: *In the top 10 for more than %d weeks", StuckWeeks), stuckTop(r), func(t Top) string {
		return fmt.Sprintf("%s %s — %s, %s, %d weeks", t.Key, slack(t.Title), scoreBand(t.Score, t.Band), slackOwner(t.Owner), t.WeeksInTop)
	})
	summaryList(&sb, "*Stagnant", r.Stagnant, func(e Entry) string {
		epic := "no epic"
		if e.Epic != nil {
			epic = slackLink(e.Epic.Key, e.Epic.URL) + " " + children(e.Epic)
		}
		return fmt.Sprintf("%s %s — %s, %s, idle %s, %s", e.Key, slack(e.Title), scoreBand(e.Score, e.Band), slackOwner(e.Owner), days(e.IdleDays), epic)
	})
	summaryList(&sb, "*Needs a decision", r.NeedsDecision, func(e Entry) string {
		return fmt.Sprintf("%s %s — epic %s closed as not planned", e.Key, slack(e.Title), slackLink(e.Epic.Key, e.Epic.URL))
	})
	summaryList(&sb, "*Acceptance expired", r.AcceptanceExpired, func(e Expired) string {
		return fmt.Sprintf("%s %s — %s, %s, accepted until %s, now %s", e.Key, slack(e.Title), scoreBand(e.Score, e.Band), slackOwner(e.Owner), orDash(e.AcceptedUntil), e.Status)
	})
	summaryList(&sb, "*Recurring", r.Recurring, func(e Recurring) string {
		return fmt.Sprintf("%s %s — %s, %s, %d occurrences in %s", e.Key, slack(e.Title), scoreBand(e.Score, e.Band), slackOwner(e.Owner), e.Occurrences, days(int(r.RecurrenceWindowDays)))
	})
	m := r.Movement
	p("\n*Since %s:* %d new, %d mitigated, %d accepted, %d retired, %d score changes, %d recurrences\n",
		m.Since.Format("2006-01-02"), len(m.New), len(m.Mitigated), len(m.Accepted), len(m.Retired), len(m.ScoreChanges), len(m.Recurrences))
	if safeURL(reportURL) {
		p("Full report: %s\n", reportURL)
	}
	return sb.String()
}

// slack escapes the three characters Slack's mrkdwn reserves.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slack(s string) string { return slackEscaper.Replace(s) }

func slackLink(text, url string) string {
	if !safeURL(url) || strings.ContainsAny(url, "<>| ") {
		return slack(text)
	}
	return "<" + url + "|" + slack(text) + ">"
}

func slackOwner(o *string) string {
	if o == nil {
		return "*unowned*"
	}
	return slack(*o)
}

// summaryList writes a heading ("*Name (n):*") and at most summaryRows
// bullets; nothing when the list is empty.
func summaryList[T any](sb *strings.Builder, heading string, items []T, line func(T) string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(sb, "\n%s (%d):*\n", heading, len(items))
	for i, it := range items {
		if i == summaryRows {
			fmt.Fprintf(sb, "• … and %d more\n", len(items)-summaryRows)
			break
		}
		fmt.Fprintf(sb, "• %s\n", line(it))
	}
}
