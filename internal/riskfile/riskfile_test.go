package riskfile

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

func mustParse(t *testing.T, format, in string) []Row {
	t.Helper()
	rows, err := Parse(strings.NewReader(in), format)
	if err != nil {
		t.Fatalf("parse %s: %v", format, err)
	}
	return rows
}

// problemsOf returns the "location: message" of every problem Parse reports.
func problemsOf(t *testing.T, format, in string) []string {
	t.Helper()
	_, err := Parse(strings.NewReader(in), format)
	e, ok := err.(*registry.Error)
	if !ok || e.Code != registry.EINVALID {
		t.Fatalf("parse %s: error %v (%T), want an EINVALID *registry.Error", format, err, err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Location+": "+f.Message)
	}
	if len(out) == 0 {
		out = []string{e.Message}
	}
	return out
}

func wantProblems(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("problem %d is %q, want it to start with %q\nall:\n%s", i+1, got[i], want[i], strings.Join(got, "\n"))
		}
	}
}

func TestParseCSVColumnsAndValues(t *testing.T) {
	in := "\ufeffKEY,Risk,Description,Impact,SCOPE,likelihood,Owner,Status,Status Reason,Accepted-Until,Last Reviewed,ETTD Minutes,ettr_minutes,Impact-Percent,ettf days\n" +
		"risk-7,  Orphaned snapshots accumulate ,\"Backups slow down,\nthen miss the RTO\",4 — every cluster,High: shared,2 - grows,Storage SRE,accepted,budget next quarter,2026-09-30,2026-03-01,30,240,2.5,90\n" +
		",,,,,,,,,,,,,,\n" + // a spreadsheet's empty row
		",Unrated,,,,,,,,,,,,,\n"
	rows := mustParse(t, CSV, in)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	r := rows[0]
	date := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	if r.Line != 2 || r.Key != "RISK-7" || *r.Title.Value != "Orphaned snapshots accumulate" ||
		*r.Description.Value != "Backups slow down,\nthen miss the RTO" || *r.Impact.Value != 4 || *r.Scope.Value != 4 ||
		*r.Likelihood.Value != 2 || *r.Owner.Value != "Storage SRE" || *r.Status.Value != registry.StatusAccepted ||
		*r.StatusReason.Value != "budget next quarter" || !r.AcceptedUntil.Value.Equal(date("2026-09-30")) ||
		!r.LastReviewed.Value.Equal(date("2026-03-01")) || *r.ETTDMinutes.Value != 30 || *r.ETTRMinutes.Value != 240 ||
		*r.ImpactPercent.Value != 2.5 || *r.ETTFDays.Value != 90 {
		t.Fatalf("row %+v", r)
	}
	// The quoted cell spans lines 2-3, the empty row is line 4: the next row is line 5.
	u := rows[1]
	if u.Line != 5 || u.Key != "" || *u.Title.Value != "Unrated" || u.Impact.Set || u.Description.Set || u.Owner.Set || u.Status.Set {
		t.Fatalf("row %+v: empty cells must be not given", u)
	}
}

func TestParseListsEveryProblem(t *testing.T) {
	got := problemsOf(t, CSV, "title,impact,Severity,scope,Scope,\n"+
		"a,1,x,2,2,\n")
	wantProblems(t, got,
		"line 1: Severity: unknown column: columns are key, title,",
		"line 1: Scope: scope is given twice",
		"line 1: column 6: has no name")

	in := "key,title,impact,scope,likelihood,ettd_minutes,status,last_reviewed\n" +
		"RISK-1,ok,1,2,3,4,active,2026-01-01\n" +
		"RISK-x,bad key,0,6,x,ten,mitigating,2026-02-30\n" +
		",\"multi\nline\",5,5,5,,done,\n" +
		",,3,3,3,,,\n" +
		"too,few\n" +
		",ok,3.5,3-4,high-level,NaN,,March 2026\n"
	wantProblems(t, problemsOf(t, CSV, in),
		`line 3: key: "RISK-x" is not a risk key`,
		`line 3: impact: "0" is outside 1 to 5: use 1 to 5 or negligible`,
		`line 3: scope: "6" is outside 1 to 5`,
		`line 3: likelihood: "x" is not a rating`,
		`line 3: ettd_minutes: "ten" is not a number`,
		`line 3: last_reviewed: "2026-02-30" is not a date: use YYYY-MM-DD`,
		`line 4: status: unknown status "done": use active, accepted or retired`,
		`line 6: title: required`,
		`line 7: has 2 cells, the header has 8`,
		`line 8: impact: "3.5" is not a whole number`,
		`line 8: scope: "3-4" is a range, not one rating`,
		`line 8: likelihood: "high-level" is not a rating`,
		`line 8: ettd_minutes: "NaN" is not a number`,
		`line 8: last_reviewed: "March 2026" is not a date`)
	wantProblems(t, problemsOf(t, CSV, "key,impact\nRISK-1,2\n"), "line 1: title: required column")
	wantProblems(t, problemsOf(t, CSV, ""), "line 1: the file is empty")
	wantProblems(t, problemsOf(t, CSV, "title,impact\n\"a,1\n"), "line 2: extraneous or missing \" in quoted-field")
}

func TestParseErrorIsRegistryErrorWithFields(t *testing.T) {
	var b strings.Builder
	b.WriteString("title,impact\n")
	for i := 2; i <= 1000; i++ {
		fmt.Fprintf(&b, "risk %d,%d\n", i, 1+i%5)
	}
	rows := mustParse(t, CSV, b.String())
	if len(rows) != 999 || rows[498].Line != 500 {
		t.Fatalf("%d rows; row 499 on line %d", len(rows), rows[498].Line)
	}
	bad := strings.Replace(b.String(), "risk 500,1\n", "risk 500,7\n", 1)
	_, err := Parse(strings.NewReader(bad), CSV)
	e := err.(*registry.Error)
	if len(e.Fields) != 1 || e.Fields[0].Location != "line 500: impact" || !strings.Contains(e.Error(), "line 500: impact: \"7\" is outside 1 to 5") {
		t.Fatalf("error %v %+v", err, e.Fields)
	}
	if n, col := Location(e.Fields[0].Location); n != 500 || col != "impact" {
		t.Fatalf("Location: %d %q", n, col)
	}
}

func TestParseJSONAndYAML(t *testing.T) {
	rows := mustParse(t, JSON, `[
  {"Risk": "Orphaned snapshots", "impact": 4, "scope": "high — all clusters", "likelihood": null, "ETTF days": 7.5, "owner": "payments"},
  {"key": "RISK-3", "title": "=cmd", "status": "retired", "status_reason": "decommissioned"}
]`)
	if len(rows) != 2 || rows[0].Line != 1 || *rows[0].Impact.Value != 4 || *rows[0].Scope.Value != 4 || rows[0].Likelihood.Set ||
		*rows[0].ETTFDays.Value != 7.5 || rows[1].Line != 2 || rows[1].Key != "RISK-3" || *rows[1].Title.Value != "=cmd" {
		t.Fatalf("rows %+v", rows)
	}
	wantProblems(t, problemsOf(t, JSON, `[{"title": "a", "impact": 6, "colour": "red"}, 7, {"title": "b", "scope": true, "owner": {"x": 1}}, {"impact": 2}]`),
		"item 1: colour: unknown column",
		`item 1: impact: "6" is outside 1 to 5`,
		"item 2: is not an object",
		"item 3: owner: must be text or a number",
		"item 3: scope: must be text or a number",
		"item 4: title: required")
	wantProblems(t, problemsOf(t, JSON, "[\n{\"title\": \"a\"},\n{\"title\": \"b\",}\n]"), "line 3: not valid JSON")
	wantProblems(t, problemsOf(t, JSON, `{"title": "a"}`), "the file must be a JSON array of objects")

	yamlIn := `# risks
- title: Orphaned snapshots
  impact: 4 — data protection
  scope: 5
  likelihood: medium
  last_reviewed: 2026-03-01
  description: |
    Backups slow down.
- &base
  title: Second
  owner: ~
- title: Bad
  impact: 9
  extra: 1
  scope: [1, 2]
`
	wantProblems(t, problemsOf(t, YAML, yamlIn),
		"line 12: extra: unknown column",
		"line 12: scope: must be text or a number",
		`line 12: impact: "9" is outside 1 to 5`)
	rows = mustParse(t, YAML, strings.Join(strings.Split(yamlIn, "\n")[:11], "\n"))
	if len(rows) != 2 || rows[0].Line != 2 || *rows[0].Impact.Value != 4 || *rows[0].Likelihood.Value != 3 ||
		*rows[0].Description.Value != "Backups slow down.\n" || rows[1].Line != 9 || rows[1].Owner.Set {
		t.Fatalf("yaml rows %+v", rows)
	}
	wantProblems(t, problemsOf(t, YAML, "title: a\n"), "line 1: the file must be a YAML list")
	wantProblems(t, problemsOf(t, "xlsx", "x"), `unknown format "xlsx"`)
}

func TestFormulaCellsAreEscapedAndRoundTrip(t *testing.T) {
	for _, s := range []string{"=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'=x", "''+x", "'", "''", "'plain", "plain", "", "-", "=", "a=b"} {
		e := escapeCell(s)
		if e != "" && strings.IndexByte(formulaStart, e[0]) >= 0 {
			t.Errorf("escape(%q) = %q still starts a formula", s, e)
		}
		if got := unescapeCell(e); got != s {
			t.Errorf("unescape(escape(%q)) = %q", s, got)
		}
	}
	if escapeCell("plain") != "plain" || escapeCell("'plain") != "'plain" || escapeCell("=1") != "'=1" {
		t.Fatal("only formula cells are escaped")
	}
	r := &registry.Risk{Key: "RISK-1", Title: "=HYPERLINK(\"http://evil\",\"click\")", Description: "- a list\n- b", Owner: "@team", Status: registry.StatusActive}
	var b bytes.Buffer
	if err := Write(&b, CSV, []*registry.Risk{r}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `RISK-1,"'=HYPERLINK(""http://evil"",""click"")","'- a list`) || !strings.Contains(b.String(), ",'@team,") {
		t.Fatalf("csv %s", b.String())
	}
	rows := mustParse(t, CSV, b.String())
	if *rows[0].Title.Value != r.Title || *rows[0].Description.Value != r.Description || *rows[0].Owner.Value != r.Owner {
		t.Fatalf("round trip %+v", rows[0])
	}
}

func TestWriteThenParseGivesTheSameValues(t *testing.T) {
	day := func(s string) *time.Time { d, _ := time.Parse(time.DateOnly, s); return &d }
	i, f := func(v int) *int { return &v }, func(v float64) *float64 { return &v }
	reviewed := time.Date(2026, 3, 1, 15, 4, 5, 0, time.UTC)
	risks := []*registry.Risk{
		{Key: "RISK-2", Title: "Orphaned snapshots accumulate", Description: "Backups, then \"RTO\"", Impact: i(4), Scope: i(5), Likelihood: i(3),
			Owner: "storage-sre", Status: registry.StatusAccepted, StatusReason: "until the migration", AcceptedUntil: day("2026-09-30"),
			LastReviewedAt: &reviewed, ETTDMinutes: f(30), ETTRMinutes: f(0.5), ImpactPercent: f(100), ETTFDays: f(365.25)},
		{Key: "RISK-1", Title: "Unrated", Status: registry.StatusMitigating},
	}
	for _, format := range []string{CSV, JSON} {
		var b bytes.Buffer
		if err := Write(&b, format, risks); err != nil {
			t.Fatal(err)
		}
		rows := mustParse(t, format, b.String())
		if len(rows) != 2 {
			t.Fatalf("%s: %d rows", format, len(rows))
		}
		for k, r := range risks {
			if got := rowRisk(rows[k]); fmt.Sprint(cells(got)) != fmt.Sprint(cells(r)) {
				t.Errorf("%s row %d:\n got %q\nwant %q", format, k, cells(got), cells(r))
			}
		}
	}
	if err := Write(&bytes.Buffer{}, "yaml", risks); err == nil {
		t.Fatal("yaml export is not offered")
	}
}

// rowRisk puts a row's values on a risk, as an import of a new risk would.
func rowRisk(r Row) *registry.Risk {
	out := &registry.Risk{Key: r.Key, Impact: r.Impact.Value, Scope: r.Scope.Value, Likelihood: r.Likelihood.Value,
		ETTDMinutes: r.ETTDMinutes.Value, ETTRMinutes: r.ETTRMinutes.Value, ImpactPercent: r.ImpactPercent.Value,
		ETTFDays: r.ETTFDays.Value, AcceptedUntil: r.AcceptedUntil.Value, LastReviewedAt: r.LastReviewed.Value}
	val := func(f registry.Field[string]) string {
		if f.Value == nil {
			return ""
		}
		return *f.Value
	}
	out.Title, out.Description, out.Owner, out.StatusReason = val(r.Title), val(r.Description), val(r.Owner), val(r.StatusReason)
	if r.Status.Value != nil {
		out.Status = *r.Status.Value
	}
	return out
}
