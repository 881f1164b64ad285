package postmortem

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestProblemComment(t *testing.T) {
	essay, err := os.ReadFile("testdata/essay.md")
	if err != nil {
		t.Fatal(err)
	}
	body := string(essay) + "\n" +
		"| Risk | Failover is slow |\n| Impact | 4 — writes fail |\n| Scope | 3 |\n| Likelihood | 2 |\n| Owner | payments |\n\n" +
		"| Impact | 3 |\n| Scope | 2 |\n| Owner | payments |\n\n" +
		"| Risk | Cache `stampede` @alice |\n| Impact | `5` |\n| Scope | 2 |\n| Likelihood | 3-4 |\n| Impact | 9 |\n"
	tables := Parse(body)
	if len(tables) != 4 {
		t.Fatalf("got %d tables, want 4", len(tables))
	}
	got := ProblemComment(tables, map[int]string{0: "Service Lifecycle SRE"}, []string{"storage-sre", "payments"})

	const golden = "testdata/problem_comment.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("ProblemComment differs from %s (run with -update to accept):\n%s", golden, got)
	}

	if first, _, _ := strings.Cut(got, "\n"); first != ProblemMarker {
		t.Errorf("first line = %q, want the marker", first)
	}
	if strings.Contains(got, "Failover is slow") {
		t.Error("a table without problems is listed")
	}
	// Author text appears only inside code spans, so it cannot ping anyone.
	if !strings.Contains(got, "`` Cache `stampede` @alice ``") && !strings.Contains(got, "``Cache `stampede` @alice``") {
		t.Errorf("title not rendered as a code span:\n%s", got)
	}
}

func TestProblemCommentNothingToSay(t *testing.T) {
	tables := Parse("| Risk | fine |\n| Impact | 3 |\n| Scope | 2 |\n| Likelihood | 1 |\n| Owner | payments |\n")
	if got := ProblemComment(tables, nil, []string{"payments"}); got != "" {
		t.Errorf("got %q, want \"\"", got)
	}
	if got := ProblemComment(nil, nil, nil); got != "" {
		t.Errorf("no tables: got %q, want \"\"", got)
	}
	// An unknown owner alone is worth a comment, and lists the teams.
	got := ProblemComment(tables, map[int]string{0: "Payment Team"}, nil)
	if !strings.Contains(got, "Owner `Payment Team` names no team") || !strings.Contains(got, "No teams are configured") {
		t.Errorf("unknown owner comment:\n%s", got)
	}
}

func TestCodeSpan(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "`plain`"},
		{"a `b` c", "``a `b` c``"},
		{"`x`", "`` `x` ``"},
		{"a ``` b", "````a ``` b````"},
		{"", "` `"},
		{"line\rbreak", "`line break`"},
	}
	for _, tc := range tests {
		if got := codeSpan(tc.in); got != tc.want {
			t.Errorf("codeSpan(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
