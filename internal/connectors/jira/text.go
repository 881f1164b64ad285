package jira

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// risksync writes through API v2, so descriptions are Jira wiki markup.

// RenderDescription renders the epic body: the essay's risk table, the score
// explanation, the risk's own description and the managed-by line.
func RenderDescription(want registry.EpicSpec) string {
	r := want.Risk
	rating := func(p *int) string {
		if p == nil {
			return "unrated"
		}
		return strconv.Itoa(*p)
	}
	score := "unscored"
	if r.Score != nil {
		score = scoring.FormatScore(*r.Score)
		if want.Band != "" {
			score += " (" + want.Band + ")"
		}
	}
	owner := r.Owner
	if owner == "" {
		owner = "unowned"
	}
	reviewed := "never"
	if r.LastReviewedAt != nil {
		reviewed = r.LastReviewedAt.UTC().Format(time.DateOnly)
	}
	status := string(r.Status)
	if status == "" {
		status = string(registry.StatusActive)
	}
	var b strings.Builder
	b.WriteString("||Field||Value||\n")
	for _, row := range [][2]string{{"Risk", r.Title}, {"Impact", rating(r.Impact)}, {"Scope", rating(r.Scope)},
		{"Likelihood", rating(r.Likelihood)}, {"Score", score}, {"Owner", owner}, {"Status", status}, {"Last Reviewed", reviewed}} {
		fmt.Fprintf(&b, "|%s|%s|\n", wikiCell(row[0]), wikiCell(row[1]))
	}
	if want.Explanation != "" {
		fmt.Fprintf(&b, "\n*Score:* %s\n", wikiText(want.Explanation))
	}
	if d := strings.TrimSpace(r.Description); d != "" {
		// {noformat} keeps Markdown literal and stops wiki markup (mentions, macros) in it.
		d = strings.ReplaceAll(d, "{noformat}", "{ noformat}")
		if rs := []rune(d); len(rs) > maxDescriptionRunes {
			// Jira rejects descriptions over 32,767 characters.
			d = string(rs[:maxDescriptionRunes]) + "\n… (truncated: the full text is in the registry)"
		}
		fmt.Fprintf(&b, "\n{noformat}\n%s\n{noformat}\n", d)
	}
	fmt.Fprintf(&b, "\n_Managed by risksync (%s): change the risk in the registry (risksync risk update %s); edits made here are overwritten._\n", r.Key, r.Key)
	return b.String()
}

// wikiCell escapes a table cell: pipes and markup brackets are literal, a
// cell is one line.
func wikiCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return " "
	}
	return wikiText(s)
}

var wikiEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`, `[`, `\[`, `]`, `\]`, `{`, `\{`, `}`, `\}`, `*`, `\*`, `_`, `\_`)

func wikiText(s string) string { return wikiEscaper.Replace(s) }

const maxDescriptionRunes = 30000

// normalizeText makes descriptions comparable. Jira Cloud stores rich text
// as ADF and converts wiki markup on the way in and out, so what API v2 reads
// back is not byte-identical to what was written: line endings, blanks and
// escapes may differ. Compare the text a person reads instead.
func normalizeText(s string) string {
	t := WikiToText(s)
	t = strings.ReplaceAll(t, "\\", "")
	return strings.Join(strings.Fields(t), " ")
}

// maxSummary is Jira's summary limit; longer titles are cut.
const maxSummary = 255

func summaryOf(key, title string) string {
	s := "[" + key + "] " + strings.Join(strings.Fields(title), " ")
	if rs := []rune(s); len(rs) > maxSummary {
		s = string(rs[:maxSummary-1]) + "…"
	}
	return s
}

// DescriptionText renders an issue description as plain text in which tables
// appear as "| a | b |" lines (a header row is followed by "|---|"). It reads
// Atlassian Document Format (JSON, API v3) and wiki markup (API v2).
func DescriptionText(desc string) string {
	t := strings.TrimSpace(desc)
	if strings.HasPrefix(t, "{") {
		var node adfNode
		if json.Unmarshal([]byte(t), &node) == nil && node.Type == "doc" {
			return adfToText(&node)
		}
	}
	return WikiToText(desc)
}

// WikiToText converts wiki markup tables to "| a | b |" lines and keeps other
// lines as they are.
func WikiToText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []string
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "||"):
			cells := splitWikiRow(t, true)
			out = append(out, textRow(cells), textRule(len(cells)))
		case strings.HasPrefix(t, "|"):
			out = append(out, textRow(splitWikiRow(t, false)))
		default:
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// splitWikiRow splits a wiki table row on unescaped pipes outside [links]
// and {macros}; "||" separates header cells.
func splitWikiRow(row string, header bool) []string {
	var cells []string
	var cur strings.Builder
	depthLink, depthMacro := 0, 0
	rs := []rune(row)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs):
			cur.WriteRune(r)
			cur.WriteRune(rs[i+1])
			i++
			continue
		case r == '[':
			depthLink++
		case r == ']' && depthLink > 0:
			depthLink--
		case r == '{':
			depthMacro++
		case r == '}' && depthMacro > 0:
			depthMacro--
		case r == '|' && depthLink == 0 && depthMacro == 0:
			cells = append(cells, cur.String())
			cur.Reset()
			if header && i+1 < len(rs) && rs[i+1] == '|' {
				i++
			}
			continue
		}
		cur.WriteRune(r)
	}
	cells = append(cells, cur.String())
	// Drop the empty pieces before the first and after the last pipe.
	if len(cells) > 0 && strings.TrimSpace(cells[0]) == "" {
		cells = cells[1:]
	}
	if len(cells) > 0 && strings.TrimSpace(cells[len(cells)-1]) == "" {
		cells = cells[:len(cells)-1]
	}
	for i, c := range cells {
		cells[i] = unescapeWiki(stripWikiEmphasis(strings.TrimSpace(c)))
	}
	return cells
}

// stripWikiEmphasis removes *bold* / _italic_ wrapped around a whole cell
// (escaped markers are text).
func stripWikiEmphasis(s string) string {
	for _, m := range []string{"*", "_"} {
		if len(s) >= 2 && strings.HasPrefix(s, m) && strings.HasSuffix(s, m) && !strings.HasSuffix(s, "\\"+m) {
			s = strings.TrimSpace(s[1 : len(s)-1])
		}
	}
	return s
}

func unescapeWiki(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
		}
		b.WriteRune(rs[i])
	}
	return b.String()
}

func textRow(cells []string) string {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cells {
		c = strings.Join(strings.Fields(c), " ")
		b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
	}
	return b.String()
}

func textRule(n int) string { return "|" + strings.Repeat("---|", max(n, 1)) }

type adfNode struct {
	Type    string         `json:"type"`
	Text    string         `json:"text"`
	Attrs   map[string]any `json:"attrs"`
	Content []*adfNode     `json:"content"`
}

// ADFToText renders an Atlassian Document Format document (JSON) as text.
func ADFToText(raw []byte) (string, error) {
	var node adfNode
	if err := json.Unmarshal(raw, &node); err != nil {
		return "", fmt.Errorf("jira: read ADF document: %w", err)
	}
	return adfToText(&node), nil
}

func adfToText(doc *adfNode) string {
	var lines []string
	adfBlocks(doc, &lines, 0)
	return strings.Join(lines, "\n")
}

const adfMaxDepth = 64

func adfBlocks(n *adfNode, lines *[]string, depth int) {
	if n == nil || depth > adfMaxDepth {
		return
	}
	switch n.Type {
	case "table":
		for _, row := range n.Content {
			if row == nil || row.Type != "tableRow" {
				continue
			}
			var cells []string
			header := len(row.Content) > 0
			for _, cell := range row.Content {
				if cell == nil {
					continue
				}
				if cell.Type != "tableHeader" {
					header = false
				}
				cells = append(cells, adfInline(cell, depth+1))
			}
			*lines = append(*lines, textRow(cells))
			if header {
				*lines = append(*lines, textRule(len(cells)))
			}
		}
	case "paragraph", "heading", "codeBlock":
		*lines = append(*lines, strings.Split(adfInlineKeepBreaks(n, depth+1), "\n")...)
	case "bulletList", "orderedList":
		for _, item := range n.Content {
			var sub []string
			adfBlocks(item, &sub, depth+1)
			for i, s := range sub {
				if i == 0 {
					s = "- " + s
				} else {
					s = "  " + s
				}
				*lines = append(*lines, s)
			}
		}
	case "rule":
		*lines = append(*lines, "----")
	case "text":
		*lines = append(*lines, n.Text)
	default: // doc, listItem, blockquote, panel, expand …
		for _, ch := range n.Content {
			adfBlocks(ch, lines, depth+1)
		}
	}
}

// adfInline flattens a node's inline content to one line (table cells).
func adfInline(n *adfNode, depth int) string {
	return strings.Join(strings.Fields(adfInlineKeepBreaks(n, depth)), " ")
}

func adfInlineKeepBreaks(n *adfNode, depth int) string {
	if n == nil || depth > adfMaxDepth {
		return ""
	}
	switch n.Type {
	case "text":
		return n.Text
	case "hardBreak":
		return "\n"
	case "mention", "emoji", "status", "date":
		if s, ok := n.Attrs["text"].(string); ok {
			return s
		}
		if s, ok := n.Attrs["shortName"].(string); ok {
			return s
		}
		return ""
	case "inlineCard":
		if s, ok := n.Attrs["url"].(string); ok {
			return s
		}
		return ""
	}
	var b strings.Builder
	for i, ch := range n.Content {
		if i > 0 && ch != nil && (ch.Type == "paragraph" || ch.Type == "heading") {
			b.WriteString(" ")
		}
		b.WriteString(adfInlineKeepBreaks(ch, depth+1))
	}
	return b.String()
}
