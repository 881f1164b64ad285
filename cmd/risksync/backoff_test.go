package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A risk whose repository does not exist fails terminally: serve keeps
// the rest converging and shows the risk, its error and the fix on /readyz
// and in risksync_risks_backing_off.
func TestServeShowsBackingOffRisks(t *testing.T) {
	tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1h}\n")
	cfg := readFile(t, tr.env["RISKSYNC_CONFIG"])
	cfg = strings.Replace(cfg, "teams:\n", "teams:\n  - {name: ghosts, tracker: github, github_repo: acme/missing}\n", 1)
	tr.writeConfig(cfg)
	tr.ok("risk", "add", "--title", "routed nowhere", "--impact", "3", "--scope", "3", "--likelihood", "3", "--owner", "ghosts")
	tr.ok("risk", "add", "--title", "routed fine", "--impact", "2", "--scope", "2", "--likelihood", "2", "--owner", "storage-sre")
	addr, stop := tr.serveInBackground(t)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "RISK-2 to be mirrored", func() bool { return len(tr.linkOfMaybe("RISK-2")) == 1 })
	var ready struct {
		BackingOff []struct {
			Risk, Tracker, Error, Fix string
			RetryAt                   string `json:"retry_at"`
		} `json:"backing_off"`
	}
	waitFor(t, "/readyz to list the failing risk", func() bool {
		_, body := httpGet(t, "http://"+addr+"/readyz")
		_ = json.Unmarshal([]byte(body), &ready)
		return len(ready.BackingOff) == 1
	})
	b := ready.BackingOff[0]
	if b.Risk != "RISK-1" || b.Tracker != "github" || !strings.Contains(b.Fix, "github_repo") || b.RetryAt == "" || !strings.Contains(b.Error, "404") {
		t.Fatalf("backing off: %+v", b)
	}
	if _, metrics := httpGet(t, "http://"+addr+"/metrics"); !strings.Contains(metrics, `risksync_risks_backing_off{tracker="github"} 1`) {
		t.Fatal("risksync_risks_backing_off does not count the risk")
	}
}
