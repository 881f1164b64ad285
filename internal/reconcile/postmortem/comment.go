package postmortem

import (
	"fmt"
	"strings"
)

// ProblemMarker is the hidden first line of ProblemComment's text, so the
// daemon can find (and edit rather than repeat) its own comment.
const ProblemMarker = "<!-- risksync:intake-problems -->"

// maxTitleQuote keeps table headings in the comment short.
const maxTitleQuote = 100

// ProblemComment renders the one comment the daemon posts on a postmortem
// whose tables have problems: per table, each bad row with its line, the
// cell as written and the accepted forms, then an example table. Author text
// is only ever shown in code spans, so a cell cannot mention people or inject
// Markdown. unknownOwners maps a Table.Position to an Owner that named no
// team; teamNames are the configured teams, listed wherever an owner needs
// fixing. It returns "" when there is nothing to report.
func ProblemComment(tables []Table, unknownOwners map[int]string, teamNames []string) string {
	var b strings.Builder
	sections := 0
	for _, t := range tables {
		owner, unknown := unknownOwners[t.Position]
		if len(t.Problems) == 0 && !unknown {
			continue
		}
		if sections == 0 {
			b.WriteString(ProblemMarker + "\n")
			b.WriteString("**risksync could not read everything in this postmortem's risk tables.**\n\n")
			b.WriteString("Each table with a Risk row still became a risk, but a rating risksync cannot read leaves the risk unscored and an owner it cannot match leaves it unowned. ")
			b.WriteString("Please fix the rows below and edit the issue: risksync reads the tables again on every edit.\n\n")
		}
		sections++

		if t.Title != "" {
			fmt.Fprintf(&b, "**Table %d** (line %d): %s\n", t.Position+1, t.Line, codeSpan(shorten(t.Title, maxTitleQuote)))
		} else {
			fmt.Fprintf(&b, "**Table %d** (line %d), no risk created:\n", t.Position+1, t.Line)
		}
		for _, p := range t.Problems {
			fmt.Fprintf(&b, "- Line %d", p.Line)
			if p.Cell != "" {
				b.WriteString(", " + codeSpan(p.Cell))
			}
			b.WriteString(": " + p.Message)
			if p.Field == FieldOwner {
				b.WriteString(" " + teamsSentence(teamNames))
			}
			b.WriteString("\n")
		}
		if unknown {
			fmt.Fprintf(&b, "- Owner %s names no team, so the risk is unowned. %s\n", codeSpan(shorten(owner, MaxCellQuote)), teamsSentence(teamNames))
		}
		b.WriteString("\n")
	}
	if sections == 0 {
		return ""
	}
	exampleOwner := "your-team"
	if len(teamNames) > 0 {
		exampleOwner = teamNames[0]
	}
	b.WriteString("A risk table looks like this; a header and `|---|` line are optional, and any other line, blank ones included, ends a table:\n\n")
	b.WriteString("```text\n")
	b.WriteString("| Risk | Orphaned snapshot resources accumulate in management clusters |\n")
	b.WriteString("| Impact | 4 — backups miss recovery objectives under load |\n")
	b.WriteString("| Scope | high — all clusters using shared backup infrastructure |\n")
	b.WriteString("| Likelihood | 3 - grows over time without cleanup |\n")
	fmt.Fprintf(&b, "| Owner | %s |\n", strings.ReplaceAll(oneLine(exampleOwner), "|", `\|`))
	b.WriteString("```\n")
	b.WriteString("Ratings are 1 to 5 or negligible, low, medium, high, critical; an explanation may follow after —, – or -.\n")
	return b.String()
}

func teamsSentence(teamNames []string) string {
	if len(teamNames) == 0 {
		return "No teams are configured in risksync yet; ask its operators to add yours."
	}
	quoted := make([]string, len(teamNames))
	for i, n := range teamNames {
		quoted[i] = codeSpan(n)
	}
	return "Teams: " + strings.Join(quoted, ", ") + " (or one of their aliases)."
}

func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return cutUTF8(s, max-len("…")) + "…"
}

// codeSpan renders s as inline code: a fence one backtick longer than any
// run inside, padded when s starts or ends with a backtick (CommonMark).
func codeSpan(s string) string {
	s = oneLine(s)
	if s == "" {
		return "` `"
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if s[0] == '`' || s[len(s)-1] == '`' || (s[0] == ' ' && s[len(s)-1] == ' ') {
		s = " " + s + " "
	}
	return fence + s + fence
}
