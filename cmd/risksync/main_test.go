package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry/registrytest"
)

// cli runs risksync in-process against its own database and config.
type cli struct {
	t    testing.TB
	dir  string
	env  map[string]string
	main func(*Main) // adjusts each Main, e.g. to point at tracker fakes
}

func newCLI(t testing.TB) *cli {
	dir := t.TempDir()
	return &cli{t: t, dir: dir, env: map[string]string{
		"RISKSYNC_DATABASE_URL": "sqlite://" + filepath.Join(dir, "risksync.db"),
		"RISKSYNC_ACTOR":        "tester",
	}}
}

func (c *cli) writeConfig(yaml string) string {
	p := filepath.Join(c.dir, "risksync.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.env["RISKSYNC_CONFIG"] = p
	return p
}

func (c *cli) newMain(stdout, stderr io.Writer) *Main {
	m := &Main{Stdout: stdout, Stderr: stderr, Now: time.Now,
		LookupEnv: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }}
	if c.main != nil {
		c.main(m)
	}
	return m
}

func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = c.newMain(&out, &errb).Run(context.Background(), args)
	return out.String(), errb.String(), code
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("risksync %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// fail runs a command that must fail with exactly one line on stderr containing want.
func (c *cli) fail(wantCode int, want string, args ...string) {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != wantCode {
		c.t.Fatalf("risksync %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), code, wantCode, errOut)
	}
	if !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
		c.t.Fatalf("risksync %s: stderr %q, want one line containing %q", strings.Join(args, " "), errOut, want)
	}
	if out != "" {
		c.t.Fatalf("risksync %s failed but printed %q on stdout", strings.Join(args, " "), out)
	}
}

func decode[T any](t testing.TB, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

const teamsConfig = `
teams:
  - {name: storage-sre, tracker: github, github_repo: acme/storage-reliability, aliases: ["Service Lifecycle SRE"]}
  - {name: payments, tracker: jira, jira_project: PAY}
github: {repo: acme/reliability}
jira: {base_url: "https://acme.atlassian.net", project: REL}
`

func TestRiskLifecycleJSON(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(teamsConfig)
	added := decode[map[string]any](t, c.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "service lifecycle sre", "--json"))
	for _, k := range []string{"key", "title", "description", "impact", "scope", "likelihood", "score", "band", "priority", "owner", "status", "last_reviewed_at", "review_due_at", "created_at", "updated_at", "links", "sources"} {
		if _, ok := added[k]; !ok {
			t.Errorf("risk JSON lacks %q", k)
		}
	}
	if added["key"] != "RISK-1" || added["score"] != 60.0 || added["band"] != "critical" || added["owner"] != "storage-sre" || added["status"] != "active" || added["last_reviewed_at"] != nil {
		t.Fatalf("added %v", added)
	}
	if p := added["priority"].(map[string]any); p["github"] != "priority/P0" || p["jira"] != "Highest" {
		t.Fatalf("priority %v", p)
	}
	if _, err := time.Parse(time.RFC3339, added["created_at"].(string)); err != nil || !strings.HasSuffix(added["created_at"].(string), "Z") {
		t.Fatalf("created_at %v is not RFC 3339 UTC", added["created_at"])
	}
	// The raw text keeps the integer score integral.
	raw := c.ok("risk", "show", "RISK-1", "--json")
	if !strings.Contains(raw, `"score": 60,`) {
		t.Fatalf("score not an integer in %s", raw)
	}

	unscored := decode[map[string]any](t, c.ok("risk", "add", "--title", "Intake without ratings", "--impact", "3", "--json"))
	if unscored["score"] != nil || unscored["band"] != nil || unscored["priority"] != nil || unscored["owner"] != nil || unscored["scope"] != nil {
		t.Fatalf("unscored %v", unscored)
	}
	c.ok("risk", "add", "--title", "Daily degradation", "--impact", "2", "--scope", "4", "--likelihood", "5", "--owner", "payments")

	list := decode[[]map[string]any](t, c.ok("risk", "list", "--json"))
	var order []string
	for _, r := range list {
		order = append(order, r["key"].(string))
	}
	if strings.Join(order, ",") != "RISK-1,RISK-3,RISK-2" {
		t.Fatalf("ranking %v", order)
	}
	mine := decode[[]map[string]any](t, c.ok("risk", "list", "--owner", "payments", "--json"))
	if len(mine) != 1 || mine[0]["key"] != "RISK-3" {
		t.Fatalf("owner filter %v", mine)
	}

	// Flags after or before the key; status decided by a person.
	upd := decode[map[string]any](t, c.ok("risk", "update", "RISK-3", "--likelihood", "1", "--status", "accepted", "--reason", "cheaper to live with", "--json"))
	if upd["score"] != 8.0 || upd["band"] != "low" || upd["status"] != "accepted" {
		t.Fatalf("updated %v", upd)
	}
	c.ok("risk", "update", "--title", "Daily degradation of checkout", "RISK-3")
	out := c.ok("risk", "review", "RISK-3", "--note", "accepted until Q3")
	if !strings.Contains(out, "RISK-3 reviewed; next review due") {
		t.Fatalf("review output %q", out)
	}
	shown := decode[map[string]any](t, c.ok("risk", "show", "RISK-3", "--json"))
	hist := shown["history"].([]any)
	last := hist[len(hist)-1].(map[string]any)
	if last["field"] != "review" || last["new"] != "accepted until Q3" || last["actor"] != "tester" || shown["last_reviewed_at"] == nil {
		t.Fatalf("history tail %v", last)
	}
	accepted := decode[[]map[string]any](t, c.ok("risk", "list", "--status", "accepted", "--json"))
	if len(accepted) != 1 {
		t.Fatalf("status filter %v", accepted)
	}
}

func TestHumanOutput(t *testing.T) {
	c := newCLI(t)
	c.ok("risk", "add", "--title", "Rare full outage", "--impact", "5", "--scope", "5", "--likelihood", "1")
	c.ok("risk", "add", "--title", "Daily degradation", "--impact", "2", "--scope", "4", "--likelihood", "5")
	out := c.ok("risk", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "KEY") || !strings.HasPrefix(lines[1], "RISK-2  40") || !strings.Contains(lines[2], "UNOWNED") {
		t.Fatalf("list:\n%s", out)
	}
	if strings.Index(lines[0], "TITLE") != strings.Index(lines[1], "Daily") {
		t.Fatalf("columns not aligned:\n%s", out)
	}
	show := c.ok("risk", "show", "RISK-1")
	for _, want := range []string{"impact 5 × scope 5 × likelihood 1 = 25 → medium", "History:", "created", "Epics:"} {
		if !strings.Contains(show, want) {
			t.Fatalf("show lacks %q:\n%s", want, show)
		}
	}
}

func TestBadInput(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(teamsConfig)
	c.ok("risk", "add", "--title", "exists", "--impact", "1", "--scope", "1", "--likelihood", "1")
	c.fail(1, "risk RISK-9 not found", "risk", "show", "RISK-9")
	c.fail(1, "risk RISK-9 not found", "risk", "update", "RISK-9", "--impact", "2")
	c.fail(1, `invalid risk key "BUG-1"`, "risk", "show", "BUG-1")
	c.fail(2, `--impact: "0" is not a rating: use a whole number from 1 to 5`, "risk", "add", "--title", "t", "--impact", "0")
	c.fail(2, `--scope: "6" is not a rating`, "risk", "add", "--title", "t", "--scope", "6")
	c.fail(2, `--likelihood: "x" is not a rating`, "risk", "update", "RISK-1", "--likelihood", "x")
	c.fail(2, `--owner: unknown team "bob": teams are storage-sre, payments`, "risk", "add", "--title", "t", "--owner", "bob")
	c.fail(2, "--title: required", "risk", "add", "--impact", "1")
	c.fail(2, "nothing to change", "risk", "update", "RISK-1")
	c.fail(2, `--status: status "mitigated" is set by the sync engine`, "risk", "update", "RISK-1", "--status", "mitigated")
	c.fail(2, "unknown flag: --colour", "risk", "list", "--colour")
	c.fail(2, "give one risk key", "risk", "show")
	c.fail(2, `--ettf-days: "-3" is not a number`, "risk", "add", "--title", "t", "--ettf-days", "-3")
	// Nothing half-written: still one risk, unchanged.
	list := decode[[]map[string]any](t, c.ok("risk", "list", "--json"))
	if len(list) != 1 || list[0]["impact"] != 1.0 {
		t.Fatalf("bad input changed the registry: %v", list)
	}
}

func TestBadConfig(t *testing.T) {
	c := newCLI(t)
	p := c.writeConfig("database:\n  url: sqlite://x.db\n  pool: 3\n")
	c.fail(1, "config "+p+`: line 3: unknown key "pool"`, "risk", "list")
	c.writeConfig("teams: [\n")
	c.fail(1, "config "+p+": line 1: did not find expected node content", "risk", "list")
	c.fail(1, "config /nonexistent.yaml: no such file or directory", "--config", "/nonexistent.yaml", "risk", "list")
}

func TestDatabaseFailures(t *testing.T) {
	c := newCLI(t)
	c.env["RISKSYNC_DATABASE_URL"] = "postgres://risk:hunter2@127.0.0.1:1/registry?sslmode=disable"
	start := time.Now()
	_, errOut, code := c.run("risk", "list")
	if code != 1 || !strings.Contains(errOut, "postgres: cannot reach 127.0.0.1:1/registry") || strings.Contains(errOut, "hunter2") {
		t.Fatalf("exit %d: %q", code, errOut)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	corrupt := filepath.Join(c.dir, "corrupt.db")
	os.WriteFile(corrupt, bytes.Repeat([]byte("not sqlite "), 100), 0o600)
	c.env["RISKSYNC_DATABASE_URL"] = "sqlite://" + corrupt
	c.fail(1, "is not a usable SQLite database", "risk", "list")
}

func TestPostgresBackend(t *testing.T) {
	if os.Getenv(registrytest.PostgresEnv) == "" {
		t.Skipf("%s is not set", registrytest.PostgresEnv)
	}
	c := newCLI(t)
	c.env["RISKSYNC_DATABASE_URL"] = registrytest.TempPostgresDSN(t)
	out := c.ok("migrate")
	if !strings.Contains(out, "migration(s), now at version") {
		t.Fatalf("migrate: %q", out)
	}
	if out := c.ok("migrate"); !strings.Contains(out, "schema is up to date") {
		t.Fatalf("second migrate: %q", out)
	}
	c.ok("risk", "add", "--title", "on postgres", "--impact", "3", "--scope", "3", "--likelihood", "3")
	if r := decode[map[string]any](t, c.ok("risk", "show", "RISK-1", "--json")); r["score"] != 27.0 {
		t.Fatalf("%v", r)
	}
}

func TestConfigCheck(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(teamsConfig)
	c.env["GITHUB_TOKEN"] = "ghp_sentinel"
	c.env["JIRA_EMAIL"] = "bot@example.com"
	// The summary is printed; the missing variable is the one line on stderr.
	_, errOut, code := c.run("config", "check")
	if code != 1 || errOut != "config "+c.env["RISKSYNC_CONFIG"]+": jira.api_token_env: environment variable JIRA_API_TOKEN is not set\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	c.env["JIRA_API_TOKEN"] = "jira_sentinel"
	out := c.ok("config", "check")
	for _, want := range []string{"team storage-sre", "github acme/storage-reliability", "team payments", "jira PAY", "unowned", "configuration OK"} {
		if !strings.Contains(out, want) {
			t.Fatalf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sentinel") {
		t.Fatalf("summary shows a secret:\n%s", out)
	}
}

func TestRescoreWhenBandsChange(t *testing.T) {
	c := newCLI(t)
	c.ok("risk", "add", "--title", "t", "--impact", "2", "--scope", "4", "--likelihood", "5") // 40: high
	c.writeConfig("scoring:\n  bands:\n    - {name: urgent, min_score: 35}\n    - {name: later, min_score: 0}\n")
	r := decode[map[string]any](t, c.ok("risk", "show", "RISK-1", "--json"))
	if r["band"] != "urgent" {
		t.Fatalf("band %v after the bands changed", r["band"])
	}
	h := r["history"].([]any)
	if last := h[len(h)-1].(map[string]any); last["actor"] != "config" || last["field"] != "band" {
		t.Fatalf("rescore history %v", last)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
