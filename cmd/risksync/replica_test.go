package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry/registrytest"
)

// countingTransport counts the tracker writes one replica sends.
type countingTransport struct {
	writes atomic.Int64
	base   http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.writes.Add(1)
	}
	return c.base.RoundTrip(r)
}

func readyz(t testing.TB, addr string) map[string]any {
	_, body := httpGet(t, "http://"+addr+"/readyz")
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("readyz %q: %v", body, err)
	}
	return v
}

func TestReplicasOnPostgres(t *testing.T) {
	if os.Getenv(registrytest.PostgresEnv) == "" {
		t.Skipf("%s is not set", registrytest.PostgresEnv)
	}
	tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1s}\n")
	dsn := registrytest.TempPostgresDSN(t)
	tr.env["RISKSYNC_DATABASE_URL"] = dsn
	tr.ok("risk", "add", "--title", "first", "--impact", "3", "--scope", "3", "--likelihood", "3", "--owner", "storage-sre")

	replica := func() (*countingTransport, string, func() error) {
		ct := &countingTransport{base: http.DefaultTransport}
		prev := tr.main
		tr.main = func(m *Main) {
			prev(m)
			m.HTTPClient = &http.Client{Transport: ct}
		}
		addr, stop := tr.serveInBackground(t)
		tr.main = prev
		return ct, addr, stop
	}
	a, addrA, stopA := replica()
	waitFor(t, "replica A to lead and mirror", func() bool { return readyz(t, addrA)["leader"] == true && len(tr.linkOfMaybe("RISK-1")) == 1 })
	b, addrB, stopB := replica()
	time.Sleep(2500 * time.Millisecond) // two of B's steps
	if readyz(t, addrB)["leader"] != false || b.writes.Load() != 0 {
		t.Fatalf("B leads or wrote while A leads: %v, %d writes", readyz(t, addrB), b.writes.Load())
	}

	// Kill A's leader session: A must stop writing, B must take over within two intervals.
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var killed int
	if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d sessions: %v", killed, err)
	}
	start := time.Now()
	waitFor(t, "replica B to take over", func() bool { return readyz(t, addrB)["leader"] == true })
	if d := time.Since(start); d > 4*time.Second { // two 1s intervals, plus slack for a loaded machine
		t.Fatalf("takeover took %v, want within two intervals", d)
	}
	// The leadership gauge follows the daemon, not /readyz polling.
	for addr, want := range map[string]string{addrB: "risksync_leader 1", addrA: "risksync_leader 0"} {
		waitFor(t, want+" on "+addr, func() bool { _, m := httpGet(t, "http://"+addr+"/metrics"); return strings.Contains(m, want+"\n") })
	}
	aWrites := a.writes.Load()
	tr.ok("risk", "add", "--title", "second", "--impact", "2", "--scope", "2", "--likelihood", "2", "--owner", "storage-sre")
	waitFor(t, "the new leader to mirror RISK-2", func() bool { return len(tr.linkOfMaybe("RISK-2")) == 1 })
	if a.writes.Load() != aWrites {
		t.Fatalf("the old leader wrote after losing its session: %d writes", a.writes.Load()-aWrites)
	}
	if b.writes.Load() == 0 {
		t.Fatal("the new leader made no write")
	}
	if readyz(t, addrA)["leader"] != false {
		t.Fatalf("A still claims leadership: %v", readyz(t, addrA))
	}
	for _, stop := range []func() error{stopA, stopB} {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// A webhook that reaches a follower wakes the leader through PostgreSQL
// NOTIFY: with an hour-long interval, only that explains a fast pull-back.
func TestWebhookToFollowerWakesLeader(t *testing.T) {
	if os.Getenv(registrytest.PostgresEnv) == "" {
		t.Skipf("%s is not set", registrytest.PostgresEnv)
	}
	tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1h}\n")
	tr.env["RISKSYNC_DATABASE_URL"] = registrytest.TempPostgresDSN(t)
	tr.ok("risk", "add", "--title", "first", "--impact", "3", "--scope", "3", "--likelihood", "3", "--owner", "storage-sre")
	addrA, stopA := tr.serveInBackground(t)
	waitFor(t, "replica A to lead and mirror", func() bool { return readyz(t, addrA)["leader"] == true && len(tr.linkOfMaybe("RISK-1")) == 1 })
	addrB, stopB := tr.serveInBackground(t)
	if readyz(t, addrB)["leader"] != false {
		t.Fatal("B leads")
	}
	n := issueNumber(t, tr.linkOf("RISK-1")["key"].(string))
	tr.gh.CloseIssue("acme/storage", n, "completed", "alice")
	body := []byte(fmt.Sprintf(`{"action":"closed","issue":{"number":%d,"title":"[RISK-1] first","state":"closed","labels":[{"name":"risk"}],"body":"<!-- risksync:RISK-1 -->"},"repository":{"full_name":"acme/storage"},"sender":{"login":"alice"}}`, n))
	if code := postWebhook(t, "http://"+addrB+"/webhooks/github", "issues", "to-follower", body, webhookSecret); code/100 != 2 {
		t.Fatalf("webhook to the follower: %d", code)
	}
	waitFor(t, "the leader to pull back after a webhook to the follower", func() bool {
		return decode[map[string]any](t, tr.ok("risk", "show", "RISK-1", "--json"))["status"] == "mitigated"
	})
	for _, stop := range []func() error{stopB, stopA} {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
