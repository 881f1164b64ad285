package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type importResult struct {
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Unchanged int      `json:"unchanged"`
	Errors    []struct {
		Line    int    `json:"line"`
		Column  string `json:"column"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (c *cli) file(name, content string) string {
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func TestRiskImportExampleFile(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(teamsConfig)
	example := filepath.Join("..", "..", "examples", "risks.csv")

	out := c.ok("risk", "import", example, "--dry-run")
	if !strings.Contains(out, "would create: Orphaned snapshot resources accumulate in management clusters\n") ||
		!strings.HasSuffix(out, "dry run: 10 to create, 0 to update, 0 unchanged; nothing written\n") {
		t.Fatalf("dry run:\n%s", out)
	}
	if got := c.ok("risk", "list", "--json"); strings.TrimSpace(got) != "[]" {
		t.Fatalf("dry run wrote: %s", got)
	}

	res := decode[importResult](t, c.ok("risk", "import", example, "--json"))
	if len(res.Created) != 10 || res.Created[0] != "RISK-1" || res.Created[9] != "RISK-10" || len(res.Updated) != 0 || res.Errors == nil {
		t.Fatalf("import: %+v", res)
	}
	essay := decode[map[string]any](t, c.ok("risk", "show", "RISK-1", "--json"))
	if essay["title"] != "Orphaned snapshot resources accumulate in management clusters" || essay["score"] != 60.0 ||
		essay["band"] != "critical" || essay["owner"] != "storage-sre" || essay["status"] != "active" ||
		!strings.HasPrefix(essay["last_reviewed_at"].(string), "2026-03-02") || essay["ettf_days"] != 60.0 {
		t.Fatalf("the essay's risk: %v", essay)
	}
	if out := c.ok("risk", "import", example); out != "0 created, 0 updated, 10 unchanged\n" {
		t.Fatalf("re-import:\n%s", out)
	}
	for _, format := range []string{"csv", "json"} {
		exported := c.ok("risk", "export", "--format", format)
		p := c.file("export."+format, exported)
		if out := c.ok("risk", "import", p); out != "0 created, 0 updated, 10 unchanged\n" {
			t.Fatalf("export → import (%s):\n%s", format, out)
		}
	}
	csv := c.ok("risk", "export")
	if !strings.HasPrefix(csv, "key,title,description,impact,scope,likelihood,owner,status,status_reason,accepted_until,last_reviewed,ettd_minutes,ettr_minutes,impact_percent,ettf_days\nRISK-1,") ||
		!strings.Contains(csv, ",payments,accepted,Vendor SLA credits cover it; revisit at contract renewal,,2026-08-20,15,120,10,60\n") {
		t.Fatalf("export:\n%s", csv)
	}

	// Edited in a spreadsheet: one rating raised, a formula typed in a title.
	edited := strings.Replace(csv, "RISK-8,Replication lag hides recent writes from the read replica,", "RISK-8,=cmd|' /C calc'!A0,", 1)
	edited = strings.Replace(edited, ",2,3,4,storage-sre,", ",3,3,4,storage-sre,", 1)
	out = c.ok("risk", "import", c.file("edited.csv", edited))
	if out != "updated RISK-8\n0 created, 1 updated, 9 unchanged\n" {
		t.Fatalf("edited import:\n%s", out)
	}
	if again := c.ok("risk", "export"); !strings.Contains(again, ",'=cmd|' /C calc'!A0,") {
		t.Fatalf("the formula is not escaped on export:\n%s", again)
	}
}

func TestRiskImportFailures(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(teamsConfig)
	var b strings.Builder
	b.WriteString("title,impact,scope,likelihood,owner\n")
	for line := 2; line <= 1000; line++ {
		impact := fmt.Sprint(1 + line%5)
		if line == 500 {
			impact = "9"
		}
		fmt.Fprintf(&b, "failure mode %d,%s,3,3,payments\n", line, impact)
	}
	big := c.file("big.csv", b.String())
	c.fail(1, `risk import: 1 bad row, nothing written: line 500: impact: "9" is outside 1 to 5`, "risk", "import", big)

	out, errOut, code := c.run("risk", "import", big, "--json")
	res := decode[importResult](t, out)
	if code != 1 || strings.Count(errOut, "\n") != 1 || len(res.Errors) != 1 || res.Errors[0].Line != 500 || res.Errors[0].Column != "impact" ||
		len(res.Created) != 0 || res.Created == nil {
		t.Fatalf("--json: exit %d, stderr %q, result %+v", code, errOut, res)
	}

	c.fail(1, "risk import: 1 bad row, nothing written: line 1: Severity: unknown column: columns are key, title,",
		"risk", "import", c.file("cols.csv", "title,Severity\na,b\n"))
	c.fail(1, `risk import: 3 bad rows, nothing written: line 2: impact: "0" is outside 1 to 5`,
		"risk", "import", c.file("ratings.csv", "title,impact\na,0\nb,6\nc,x\nd,high — fine\n"))
	c.fail(1, `line 4: impact: "x" is not a rating`, "risk", "import", c.file("ratings2.csv", "title,impact\na,0\nb,6\nc,x\n"))
	c.fail(1, `risk import: 1 bad row, nothing written: line 3: owner: unknown team "nobody": teams are storage-sre, payments`,
		"risk", "import", c.file("owner.csv", "title,owner\na,payments\nb,nobody\n"))
	c.fail(1, `risk import: 1 bad row, nothing written: item 2: impact: "6" is outside 1 to 5`,
		"risk", "import", c.file("bad.json", `[{"title":"a"},{"title":"b","impact":6}]`))
	c.fail(1, `risk import: 1 bad row, nothing written: line 2: likelihood: "often" is not a rating`,
		"risk", "import", c.file("bad.yaml", "- title: a\n- title: b\n  likelihood: often\n"))
	c.fail(1, "risk import: the file cannot be read, nothing written: line 1: the file is empty", "risk", "import", c.file("empty.csv", ""))
	c.fail(1, "risk import: the file cannot be read, nothing written: line 2: not valid JSON", "risk", "import", c.file("syntax.json", "[\n{\"title\": \"a\",}]"))
	if got := c.ok("risk", "list", "--json"); strings.TrimSpace(got) != "[]" {
		t.Fatalf("failed imports wrote: %s", got)
	}

	c.fail(2, "risk import: "+filepath.Join(c.dir, "risks.txt")+": cannot tell the format from .txt: name the file .csv, .json, .yaml or .yml",
		"risk", "import", c.file("risks.txt", "title\na\n"))
	c.fail(2, "risk import: give one file", "risk", "import")
	c.fail(1, "no such file or directory", "risk", "import", filepath.Join(c.dir, "missing.csv"))
	c.fail(2, `risk export: --format "xml": use csv or json`, "risk", "export", "--format", "xml")

	if out := c.ok("risk", "import", c.file("ok.yml", "- {title: From YAML, impact: 2, scope: 2, likelihood: 2, owner: payments}\n")); out != "created RISK-1\n1 created, 0 updated, 0 unchanged\n" {
		t.Fatalf("yaml import:\n%s", out)
	}
}
