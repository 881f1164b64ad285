package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Two processes in a row within Jira's search lag (a cron job, a deploy
// that restarts serve, a replica taking over) create one epic per risk:
// the second knows each epic from the registry and reads it by key.
func TestRestartsWithinSearchLagCreateNoDuplicate(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1h}\n")
		if u := dbURL(t); u != "" {
			tr.env["RISKSYNC_DATABASE_URL"] = u
		}
		tr.jr.SetSearchLag(time.Hour) // far longer than the test: search never shows a new epic
		const n = 4
		for i := range n {
			tr.ok("risk", "add", "--title", fmt.Sprintf("payments failure mode %d", i), "--impact", "3", "--scope", "3", "--likelihood", "3", "--owner", "payments")
		}
		tr.ok("sync", "--once")
		tr.ok("sync", "--once") // a second process, seconds later
		for range 2 {           // serve restarted twice, each running its first pass
			addr, stop := tr.serveInBackground(t)
			waitFor(t, "serve's first pass", func() bool {
				_, body := httpGet(t, "http://"+addr+"/readyz")
				return strings.Contains(body, `"last_pass"`)
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		}
		out := tr.ok("sync", "--once")
		for key, count := range countEpics(tr) {
			if count != 1 {
				t.Fatalf("%s has %d epics after restarts within the search lag:\n%s", key, count, out)
			}
		}
		if got := len(countEpics(tr)); got != n {
			t.Fatalf("%d risks have epics, want %d", got, n)
		}
	})
}
