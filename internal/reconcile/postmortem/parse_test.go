package postmortem

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// want is the part of a Table a case checks. Ratings use 0 for nil;
// problems are "field@line" ("@line" for table-level ones), in order.
type want struct {
	line                      int
	title, desc, owner        string
	impact, scope, likelihood int
	expl                      map[string]string
	problems                  []string
}

func TestParse(t *testing.T) {
	essay, err := os.ReadFile("testdata/essay.md")
	if err != nil {
		t.Fatal(err)
	}
	// good is a complete table with no problems, for cases about layout.
	good := func(title string) string {
		return "| Risk | " + title + " |\n| Impact | 3 |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | storage-sre |\n"
	}
	goodWant := func(line int, title string) want {
		return want{line: line, title: title, owner: "storage-sre", impact: 3, scope: 2, likelihood: 1}
	}
	fifty := strings.Repeat(good("x")+"\n", MaxTables)

	tests := []struct {
		name string
		body string
		want []want
	}{
		{
			name: "essay's exact table: prose ratings are problems, the risk still parses",
			body: string(essay),
			want: []want{{
				line:  3,
				title: "Orphaned snapshot resources accumulate in management clusters",
				owner: "Service Lifecycle SRE",
				expl: map[string]string{
					"impact":     "Backup operations exceed recovery objectives under load",
					"scope":      "All clusters using shared backup infrastructure",
					"likelihood": "Increases over time without cleanup mechanisms",
				},
				problems: []string{"impact@4", "scope@5", "likelihood@6"},
			}},
		},
		{
			name: "numbers, words and each dash kind",
			body: "| Risk | Disk fills on the primary |\n" +
				"| Description | WAL archiving stalls and the volume fills. |\n" +
				"| Impact | 4 — writes fail |\n" +
				"| Scope | high – every tenant |\n" +
				"| Likelihood | 2 - twice a year |\n" +
				"| Owner | storage-sre |\n",
			want: []want{{
				line: 1, title: "Disk fills on the primary", desc: "WAL archiving stalls and the volume fills.",
				owner: "storage-sre", impact: 4, scope: 4, likelihood: 2,
				expl: map[string]string{"impact": "writes fail", "scope": "every tenant", "likelihood": "twice a year"},
			}},
		},
		{
			name: "colon, parentheses, emphasis, n/5, and field names in any case and emphasis",
			body: "| **Risk** | Queue backs up |\n" +
				"| *impact*: | Critical: data loss |\n" +
				"| SCOPE | 3 (one region) |\n" +
				"| __Likelihood__ | **low** |\n" +
				"| Owner: | payments |\n" +
				"| Score | High |\n| Status | Active |\n| Last Reviewed | March 2026 |\n",
			want: []want{{
				line: 1, title: "Queue backs up", owner: "payments", impact: 5, scope: 3, likelihood: 2,
				expl: map[string]string{"impact": "data loss", "scope": "one region"},
			}},
		},
		{
			name: "header and separator lines are skipped",
			body: "| Field | Value |\n|:---|---:|\n" + good("With header"),
			want: []want{goodWant(1, "With header")},
		},
		{
			name: "a Risk row may be the header",
			body: "| Risk | Risk as header |\n| --- | --- |\n| Impact | 3 |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | storage-sre |\n",
			want: []want{goodWant(1, "Risk as header")},
		},
		{
			name: "a Risk column header over other things is not a risk table",
			body: "| Risk | Mitigation |\n|---|---|\n| Failover is slow | add a replica |\n| Backups lag | prune snapshots |\n",
		},
		{
			name: "several tables with prose between, positions in order",
			body: "# Postmortem\n\nWe found three risks.\n\n" + good("first") + "\nSome prose.\n" + good("second") + "More prose\n\n" + good("third"),
			want: []want{goodWant(5, "first"), goodWant(12, "second"), goodWant(19, "third")},
		},
		{
			name: "timeline and other two-column tables are ignored and take no position",
			body: "## Timeline\n| 10:02 | paged |\n| 10:05 | acked |\n\n| Impact | Mitigation |\n|---|---|\n| 10% errors | rollback |\n\n" + good("after timeline"),
			want: []want{goodWant(9, "after timeline")},
		},
		{
			name: "fenced code and HTML comments hide tables",
			body: "```\n" + good("in backticks") + "```\n" +
				"~~~markdown\n" + good("in tildes") + "~~~\n" +
				"````\n```\n" + good("in a longer fence") + "````\n" +
				"<!-- template example:\n" + good("in a comment") + "-->\n" +
				good("real"),
			want: []want{goodWant(30, "real")},
		},
		{
			name: "an unclosed fence hides the rest",
			body: good("before") + "\n```go\n" + good("after"),
			want: []want{goodWant(1, "before")},
		},
		{
			name: "backticks with more backticks in the info string are not a fence",
			body: "```not a fence```\n\n" + good("visible"),
			want: []want{goodWant(3, "visible")},
		},
		{
			name: "missing Risk row with known fields is reported and keeps its position",
			body: "| Impact | 3 |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | storage-sre |\n\n" + good("second"),
			want: []want{
				{line: 1, owner: "storage-sre", impact: 3, scope: 2, likelihood: 1, problems: []string{"risk@1"}},
				goodWant(6, "second"),
			},
		},
		{
			name: "a single known field without Risk is not a risk table",
			body: "| Owner | storage-sre |\n| Pager | yes |\n",
		},
		{
			name: "CRLF line endings",
			body: strings.ReplaceAll("intro\n\n"+good("crlf"), "\n", "\r\n"),
			want: []want{goodWant(3, "crlf")},
		},
		{
			name: "escaped pipes are literal; unescaped ones join cells with a problem",
			body: "| Risk | Reads \\| writes stall |\n| Impact | 3 — a \\| b |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | storage-sre | |\n\n" +
				"| Risk | cache | db |\n| Impact | 3 |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | storage-sre |\n",
			want: []want{
				{line: 1, title: "Reads | writes stall", owner: "storage-sre", impact: 3, scope: 2, likelihood: 1, expl: map[string]string{"impact": "a | b"}},
				{line: 7, title: "cache | db", owner: "storage-sre", impact: 3, scope: 2, likelihood: 1, problems: []string{"risk@7"}},
			},
		},
		{
			name: "duplicate rows: the last wins, with a problem",
			body: "| Risk | old title |\n| Impact | 2 |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | storage-sre |\n| Impact | 5 |\n| Risk | new title |\n",
			want: []want{{line: 1, title: "new title", owner: "storage-sre", impact: 5, scope: 2, likelihood: 1, problems: []string{"impact@6", "risk@7"}}},
		},
		{
			name: "tables without a line between them are one table",
			body: good("a") + good("b"),
			want: []want{{line: 1, title: "b", owner: "storage-sre", impact: 3, scope: 2, likelihood: 1,
				problems: []string{"risk@6", "impact@7", "scope@8", "likelihood@9", "owner@10"}}},
		},
		{
			name: "ratings 0, 6, x, fractions and ranges are problems",
			body: "| Risk | bad ratings |\n| Impact | 0 |\n| Scope | 6 — too wide |\n| Likelihood | x |\n| Owner | storage-sre |\n\n" +
				"| Risk | more bad ratings |\n| Impact | 4.5 |\n| Scope | 3-4 |\n| Likelihood | high-ish |\n| Owner | storage-sre |\n",
			want: []want{
				{line: 1, title: "bad ratings", owner: "storage-sre", problems: []string{"impact@2", "scope@3", "likelihood@4"},
					expl: map[string]string{"impact": "0", "scope": "6 — too wide", "likelihood": "x"}},
				{line: 7, title: "more bad ratings", owner: "storage-sre", problems: []string{"impact@8", "scope@9", "likelihood@10"},
					expl: map[string]string{"impact": "4.5", "scope": "3-4", "likelihood": "high-ish"}},
			},
		},
		{
			name: "missing and empty rows",
			body: "| Risk | sparse |\n| Impact | |\n| Owner | |\n",
			want: []want{{line: 1, title: "sparse", problems: []string{"scope@1", "likelihood@1", "impact@2", "owner@3"}}},
		},
		{
			name: "only a Risk row: unscored and unowned",
			body: "| Risk | bare |",
			want: []want{{line: 1, title: "bare", problems: []string{"impact@1", "scope@1", "likelihood@1", "owner@1"}}},
		},
		{
			name: "a Risk row of only emphasis is empty",
			body: "| Risk | **  ** |\n| Impact | 3 |\n| Owner | x |\n",
			want: []want{{line: 1, owner: "x", impact: 3, problems: []string{"risk@1", "scope@1", "likelihood@1"}}},
		},
		{
			name: "blank Risk cell",
			body: "| Risk |   |\n| Impact | 3 |\n| Owner | x |\n",
			want: []want{{line: 1, owner: "x", impact: 3, problems: []string{"risk@1", "scope@1", "likelihood@1"}}},
		},
		{
			name: "indented tables and tables without a trailing pipe",
			body: "- risks:\n  | Risk | indented\n  | Impact | 3\n  | Scope | 2 |\n  | Likelihood | 1 |\n  | Owner | storage-sre |\n",
			want: []want{goodWant(2, "indented")},
		},
		{
			name: "a long title is cut to MaxTitleLen bytes on a rune boundary",
			body: "| Risk | " + strings.Repeat("é", 200) + " |\n| Impact | 3 |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | storage-sre |\n",
			want: []want{{line: 1, title: strings.Repeat("é", 150), owner: "storage-sre", impact: 3, scope: 2, likelihood: 1, problems: []string{"risk@1"}}},
		},
		{
			name: "control characters in a title become spaces",
			body: "| Risk | a\rb\x00c |\n| Impact | 3 |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | storage-sre |\n",
			want: []want{goodWant(1, "a b c")},
		},
		{
			name: "no tables",
			body: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse(tc.body)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d tables, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				checkTable(t, got[i], i, w)
			}
		})
	}

	t.Run("more than MaxTables tables", func(t *testing.T) {
		got := Parse(fifty + good("51st") + "\n" + good("52nd"))
		if len(got) != MaxTables {
			t.Fatalf("got %d tables, want %d", len(got), MaxTables)
		}
		last := got[MaxTables-1]
		if len(last.Problems) != 1 || last.Problems[0].Line != 6*MaxTables+1 || !strings.Contains(last.Problems[0].Message, "more than 50 risk tables") {
			t.Errorf("last table problems = %v, want one about the table limit on line %d", last.Problems, 6*MaxTables+1)
		}
		if got := Parse(fifty); len(got[MaxTables-1].Problems) != 0 {
			t.Errorf("exactly %d tables: problems %v", MaxTables, got[MaxTables-1].Problems)
		}
	})

	t.Run("problems are capped per table", func(t *testing.T) {
		body := good("dupes") + strings.Repeat("| Impact | 9 |\n", 10000)
		got := Parse(body)
		if len(got) != 1 {
			t.Fatalf("got %d tables", len(got))
		}
		probs := got[0].Problems
		if len(probs) != MaxProblems {
			t.Fatalf("got %d problems, want %d", len(probs), MaxProblems)
		}
		// 10000 duplicate rows and the unreadable last one; 19 shown.
		if last := probs[MaxProblems-1].Message; !strings.Contains(last, "9982 more problems") {
			t.Errorf("last problem = %q", last)
		}
	})
}

func checkTable(t *testing.T, got Table, pos int, w want) {
	t.Helper()
	if got.Position != pos || got.Line != w.line {
		t.Errorf("table %d: position, line = %d, %d; want %d, %d", pos, got.Position, got.Line, pos, w.line)
	}
	if got.Title != w.title || got.Description != w.desc || got.Owner != w.owner {
		t.Errorf("table %d: title, description, owner = %q, %q, %q; want %q, %q, %q", pos, got.Title, got.Description, got.Owner, w.title, w.desc, w.owner)
	}
	for _, r := range []struct {
		name string
		got  *int
		want int
	}{{"impact", got.Impact, w.impact}, {"scope", got.Scope, w.scope}, {"likelihood", got.Likelihood, w.likelihood}} {
		if (r.got == nil) != (r.want == 0) || (r.got != nil && *r.got != r.want) {
			t.Errorf("table %d: %s = %s, want %d (0 = nil)", pos, r.name, intp(r.got), r.want)
		}
	}
	if !maps.Equal(got.Explanations, w.expl) {
		t.Errorf("table %d: explanations = %q, want %q", pos, got.Explanations, w.expl)
	}
	var probs []string
	for _, p := range got.Problems {
		probs = append(probs, fmt.Sprintf("%s@%d", p.Field, p.Line))
		if p.Message == "" || strings.Contains(p.Message, "\n") {
			t.Errorf("table %d: problem %v: message must be one non-empty line", pos, p)
		}
	}
	if !slices.Equal(probs, w.problems) {
		t.Errorf("table %d: problems = %q, want %q\n%v", pos, probs, w.problems, got.Problems)
	}
}

func intp(p *int) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// TestProblemMessages pins the wording authors see for the common faults.
func TestProblemMessages(t *testing.T) {
	body := "| Risk | r |\n| Impact | Backup operations exceed recovery objectives |\n| Scope | 7 |\n| Owner | x |\n"
	got := Parse(body)[0].Problems
	want := []Problem{
		{Field: "likelihood", Line: 1, Message: "The table has no Likelihood row, so the risk stays unscored; add a row `| Likelihood | rating |` where the rating is " + AcceptedRatings + "."},
		{Field: "impact", Line: 2, Cell: "Backup operations exceed recovery objectives", Message: "Impact is not a rating, so the risk stays unscored; write " + AcceptedRatings + "."},
		{Field: "scope", Line: 3, Cell: "7", Message: "Scope is outside 1 to 5, so the risk stays unscored; write " + AcceptedRatings + "."},
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	if s := got[1].String(); s != `line 2: "Backup operations exceed recovery objectives": `+got[1].Message {
		t.Errorf("String() = %q", s)
	}
}

func TestSplitCells(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"| a | b |", []string{"a", "b"}},
		{"| a | b", []string{"a", "b"}},
		{"|a|b|c|", []string{"a", "b", "c"}},
		{`| a \| b | c |`, []string{"a | b", "c"}},
		{`| a \\| b |`, []string{`a \\`, "b"}},
		{`| a \\\| b |`, []string{`a \\| b`}},
		{"| Impact | |", []string{"Impact"}},
		{"|", nil},
		{"| |", nil},
		{`| a \`, []string{`a \`}},
		{strings.Repeat("|x", 40), append(slices.Repeat([]string{"x"}, maxCells-1), strings.Repeat("x|", 40-maxCells)+"x")},
	}
	for _, tc := range tests {
		if got := splitCells(nil, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitCells(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// body50 is a postmortem at the table limit, with prose between tables.
func body50() string {
	var b strings.Builder
	b.WriteString("# Postmortem: backups\n\n## Timeline\n| 10:02 | paged |\n| 10:05 | acked |\n\n")
	for i := range MaxTables {
		fmt.Fprintf(&b, "Risk %d, found while replaying the incident.\n\n", i)
		fmt.Fprintf(&b, "| Field | Value |\n|---|---|\n| Risk | Orphaned snapshot resources accumulate in cluster %d |\n", i)
		b.WriteString("| Description | Each backup job processes more data than necessary; recovery objectives are missed at peak. |\n")
		b.WriteString("| Impact | 4 — backups miss recovery objectives under load |\n| Scope | high – all clusters |\n")
		b.WriteString("| Likelihood | 3 - grows without cleanup |\n| Owner | Service Lifecycle SRE |\n| Status | Active |\n\n")
	}
	return b.String()
}

func BenchmarkParse50Tables(b *testing.B) {
	body := body50()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if got := Parse(body); len(got) != MaxTables {
			b.Fatalf("got %d tables", len(got))
		}
	}
}

// TestParseHostileBodies checks that 1 MiB bodies built to hurt give bounded
// results (and, by the test's speed, linear time).
func TestParseHostileBodies(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name   string
		body   string
		tables int
	}{
		{"one line of pipes", strings.Repeat("|", mb), 0},
		{"escaped pipes", "| Risk | " + strings.Repeat(`\|`, mb/2) + " |", 1},
		{"a million rows", strings.Repeat("| Risk | x |\n", mb/13), 1},
		{"many tables", strings.Repeat("| Risk | x |\n\n", mb/14), MaxTables},
		{"unclosed fences", strings.Repeat("```\n", mb/4), 0},
		{"huge description", "| Risk | x |\n| Description | " + strings.Repeat("é", mb/2) + " |", 1},
		{"huge explanation", "| Risk | x |\n| Impact | 3 — " + strings.Repeat("y", mb) + " |", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse(tc.body)
			if len(got) != tc.tables {
				t.Fatalf("got %d tables, want %d", len(got), tc.tables)
			}
			for _, tb := range got {
				size := len(tb.Title) + len(tb.Description) + len(tb.Owner)
				for _, e := range tb.Explanations {
					size += len(e)
				}
				for _, p := range tb.Problems {
					size += len(p.Cell) + len(p.Message)
				}
				if len(tb.Title) > MaxTitleLen || len(tb.Problems) > MaxProblems+1 || size > 80<<10 {
					t.Errorf("table %d: title %d bytes, %d problems, %d bytes in all", tb.Position, len(tb.Title), len(tb.Problems), size)
				}
			}
		})
	}
}
