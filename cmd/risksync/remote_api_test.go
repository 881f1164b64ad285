package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
)

type oneToken struct {
	token string
	who   registry.Principal
}

func (o oneToken) Authenticate(r *http.Request) (registry.Principal, error) {
	if r.Header.Get("Authorization") != "Bearer "+o.token {
		return registry.Principal{}, registry.Errorf(registry.EUNAUTHORIZED, "unknown token")
	}
	return o.who, nil
}

var reportTime = regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?( ?UTC|Z)?`)

// TestRemoteModeMatchesDirect runs the same risk commands directly and
// through the daemon's API (--server): same output, same errors, same
// exit codes.
func TestRemoteModeMatchesDirect(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(teamsConfig)
	c.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3", "--owner", "storage-sre")

	m := c.newMain(io.Discard, io.Discard)
	cfg, err := config.Load(config.Locate("", m.getenv), m.getenv)
	if err != nil {
		t.Fatal(err)
	}
	m.cfg = cfg
	s, err := m.openStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := httptest.NewServer(m.apiHandler(s, oneToken{"rsk_test", registry.Principal{Actor: "token:ci", Role: registry.RoleEditor}}, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)

	remote := &cli{t: t, dir: c.dir, env: map[string]string{}}
	for k, v := range c.env {
		remote.env[k] = v
	}
	remote.env["RISKSYNC_SERVER"], remote.env["RISKSYNC_TOKEN"] = srv.URL, "rsk_test"

	good, bad := filepath.Join(t.TempDir(), "good.csv"), filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(good, []byte("title,impact,owner\nQueue backlog,3,payments\nOrphaned snapshots accumulate,5,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("- {title: ok, impact: 9}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"risk", "export"},
		{"report", "--format", "json"},
		{"report"},
		{"report", "--owner", "storage-sre", "--format", "html"},
		{"report", "--owner", "nobody"},
		{"risk", "export", "--format", "json"},
		{"risk", "import", good, "--dry-run"},
		{"risk", "import", good, "--dry-run", "--json"},
		{"risk", "import", bad},
		{"risk", "show", "RISK-1", "--json"},
		{"risk", "list", "--json"},
		{"risk", "list"},
		{"risk", "add", "--title", "x", "--impact", "9"},
		{"risk", "show", "RISK-99"},
		{"risk", "update", "RISK-1", "--owner", "nobody"},
		{"risk", "update", "RISK-1", "--status", "accepted"},
		{"risk", "update", "RISK-1", "--impact", "0"},
	} {
		dOut, dErr, dCode := c.run(args...)
		rOut, rErr, rCode := remote.run(args...)
		if args[0] == "report" { // generated now: the two runs differ by a few milliseconds
			dOut, rOut = reportTime.ReplaceAllString(dOut, "T"), reportTime.ReplaceAllString(rOut, "T")
		}
		if dOut != rOut || dErr != rErr || dCode != rCode {
			t.Errorf("risksync %v:\ndirect exit %d %q %q\nremote exit %d %q %q", args, dCode, dOut, dErr, rCode, rOut, rErr)
		}
	}
	// Changes through the API are recorded with the token's name.
	remote.ok("risk", "update", "RISK-1", "--likelihood", "2")
	remote.ok("risk", "review", "RISK-1", "--note", "checked")
	if h := decode[map[string]any](t, c.ok("risk", "show", "RISK-1", "--json"))["history"].([]any); h[len(h)-1].(map[string]any)["actor"] != "token:ci" {
		t.Fatalf("history %v", h[len(h)-1])
	}
	remote.env["RISKSYNC_TOKEN"] = "rsk_wrong"
	remote.fail(1, "server refused the token (401)", "risk", "list")
}

// The CLI over a real daemon: tokens made with `token create`, roles and
// teams enforced by the server, history recording the token, and the
// commands that need the database refusing --server.
func TestRemoteModeAgainstServe(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1h}\n")
		if u := dbURL(t); u != "" {
			tr.env["RISKSYNC_DATABASE_URL"] = u
		}
		token := func(name, role string, teams ...string) string {
			args := []string{"token", "create", "--name", name, "--role", role, "--json"}
			for _, team := range teams {
				args = append(args, "--team", team)
			}
			return decode[map[string]any](t, tr.ok(args...))["token"].(string)
		}
		editor, reader := token("pay-bot", "editor", "payments"), token("dashboard", "reader")
		addr, stop := tr.serveInBackground(t)
		defer func() {
			if err := stop(); err != nil {
				t.Error(err)
			}
		}()
		remote := &cli{t: t, dir: tr.dir, env: map[string]string{"RISKSYNC_SERVER": "http://" + addr, "RISKSYNC_TOKEN": editor}}
		added := decode[map[string]any](t, remote.ok("risk", "add", "--title", "Checkout latency", "--impact", "2", "--scope", "4", "--likelihood", "5", "--owner", "payments", "--json"))
		key := added["key"].(string)
		remote.fail(1, "server refused (403)", "risk", "add", "--title", "Not ours", "--impact", "1", "--owner", "storage-sre")
		remote.ok("risk", "update", key, "--status", "accepted", "--reason", "absorbed by retries", "--until", "2099-01-01")
		remote.env["RISKSYNC_TOKEN"] = reader
		if got := decode[[]map[string]any](t, remote.ok("risk", "list", "--json")); len(got) != 1 || got[0]["status_reason"] != "absorbed by retries" || got[0]["accepted_until"] != "2099-01-01" {
			t.Fatalf("list through the API: %v", got)
		}
		remote.fail(1, "reader role", "risk", "review", key)
		// The daemon's own pass may add link entries meanwhile: look for the decision.
		decided := false
		for _, e := range decode[map[string]any](t, tr.ok("risk", "show", key, "--json"))["history"].([]any) {
			e := e.(map[string]any)
			decided = decided || (e["field"] == "status_reason" && e["actor"] == "token:pay-bot")
		}
		if !decided {
			t.Fatal("the decision made through the API is not in the history as token:pay-bot")
		}
		for _, args := range [][]string{{"sync", "--once"}, {"migrate"}, {"token", "list"}, {"serve"}} {
			remote.fail(2, "cannot go through --server", args...)
		}
	})
}
