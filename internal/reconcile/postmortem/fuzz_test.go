package postmortem

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	essay, err := os.ReadFile("testdata/essay.md")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(essay))
	f.Add("# PM\n\n| 10:02 | paged |\n\nprose\n| Risk | one |\n| Impact | 4 — a |\n\n| Risk | two |\n| Likelihood | **low** |\n| Owner | @acme/sre |\n")
	f.Add("| Field | Value |\r\n|---|---|\r\n| Risk | a \\| b |\r\n| Impact | 4 — x |\r\n| Scope | high – y |\r\n| Likelihood | 2 - z |\r\n| Owner | o |\r\n")
	f.Add("```\n| Risk | hidden |\n```\n<!--\n| Risk | hidden |\n-->\n| Impact | 3-4 |\n| Scope | 4.5 |\n| **Owner:** | x |")
	f.Add("| Risk | Mitigation |\n|---|---|\n| a | b |\n\n| 10:02 | paged |\n| Risk | x | y | z |\n| Impact | 9 |\n| Impact | (5) |")
	f.Fuzz(func(t *testing.T, body string) {
		tables := Parse(body)
		if len(tables) > MaxTables {
			t.Fatalf("%d tables, at most %d", len(tables), MaxTables)
		}
		prevLine := 0
		for i, tb := range tables {
			if tb.Position != i {
				t.Fatalf("table %d has position %d", i, tb.Position)
			}
			if tb.Line <= prevLine {
				t.Fatalf("table %d starts on line %d, after a table on line %d", i, tb.Line, prevLine)
			}
			prevLine = tb.Line
			checkOneLine(t, "title", tb.Title, MaxTitleLen)
			checkOneLine(t, "owner", tb.Owner, MaxOwnerLen)
			if tb.Title != strings.TrimSpace(tb.Title) {
				t.Fatalf("title %q is not trimmed", tb.Title)
			}
			for _, r := range []*int{tb.Impact, tb.Scope, tb.Likelihood} {
				if r != nil && (*r < 1 || *r > 5) {
					t.Fatalf("rating %d outside 1..5", *r)
				}
			}
			if len(tb.Problems) > MaxProblems+1 { // +1: the table-limit problem on the last table
				t.Fatalf("%d problems", len(tb.Problems))
			}
			for _, p := range tb.Problems {
				checkOneLine(t, "problem cell", p.Cell, MaxCellQuote)
				if p.Message == "" || strings.ContainsAny(p.Message, "\r\n") || p.Line < 1 {
					t.Fatalf("bad problem %+v", p)
				}
			}
			// A title survives being written back into a table.
			if tb.Title != "" {
				back := Parse("| Risk | " + strings.ReplaceAll(tb.Title, "|", `\|`) + " |")
				if len(back) != 1 || back[0].Title != tb.Title {
					t.Fatalf("title %q re-parses as %+v", tb.Title, back)
				}
			}
		}
		owners := map[int]string{}
		for _, tb := range tables {
			owners[tb.Position] = tb.Owner
		}
		c := ProblemComment(tables, owners, []string{"storage-sre"})
		if len(tables) > 0 && !strings.HasPrefix(c, ProblemMarker+"\n") {
			t.Fatalf("comment does not start with the marker")
		}
	})
}

func checkOneLine(t *testing.T, what, s string, max int) {
	t.Helper()
	if len(s) > max || !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00\u2028\u2029") {
		t.Fatalf("%s %q: want one valid line of at most %d bytes", what, s, max)
	}
}
