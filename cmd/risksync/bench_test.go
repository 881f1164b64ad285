package main

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/reconcile"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/registry/sqlite"
)

// benchDaemon is the daemon's engine with long-lived connectors (their caches
// warm, as in serve) over a registry of n seeded risks, mirrored once.
func benchDaemon(b *testing.B, n int) (*trackers, *openedStore, *reconcile.Engine) {
	return benchDaemonWith(b, n, "")
}

func benchDaemonWith(b *testing.B, n int, extraYAML string) (*trackers, *openedStore, *reconcile.Engine) {
	b.Helper()
	tr := newTrackers(b, extraYAML)
	path := strings.TrimPrefix(tr.env["RISKSYNC_DATABASE_URL"], "sqlite://")
	db, err := sqlite.Open(context.Background(), path, registrytest.DefaultOptions(registrytest.NewClock()))
	if err != nil {
		b.Fatal(err)
	}
	registrytest.SeedRisks(b, db.Store, n)
	db.Close()
	m := tr.newMain(nil, nil)
	cfg, err := config.Load(tr.env["RISKSYNC_CONFIG"], func(k string) string { return tr.env[k] })
	if err != nil {
		b.Fatal(err)
	}
	m.cfg = cfg
	s, err := m.openStore(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ts, err := m.buildTrackers(slog.New(slog.DiscardHandler), func(string, string, string, int, time.Duration) {}, nil)
	if err != nil {
		b.Fatal(err)
	}
	engine := m.newEngine(s, ts, nil, nil)
	// Mirroring thousands of epics at once exceeds GitHub's 5,000 requests an
	// hour (the fake enforces it, and the daemon defers); lift it for seeding.
	tr.gh.SetRateLimit(1<<30, tr.jr.Now().Add(time.Hour))
	if res := engine.Pass(context.Background(), false); !res.Converged() {
		b.Fatalf("first mirror: %+v", res.Failures[:1])
	}
	tr.jr.Advance(time.Minute)
	if res := engine.Pass(context.Background(), false); !res.Converged() || len(res.Writes) != 0 {
		b.Fatalf("second pass: %d writes, %+v", len(res.Writes), res.Failures)
	}
	return tr, s, engine
}

func BenchmarkSyncPass1000Unchanged(b *testing.B) { benchUnchanged(b, "") }

// With tracker commands on, a quiet pass reads no comments: the listings
// above already say nothing moved.
func BenchmarkSyncPass1000UnchangedCommands(b *testing.B) {
	benchUnchanged(b, "commands: {enabled: true}\n")
}

func benchUnchanged(b *testing.B, extraYAML string) {
	tr, s, engine := benchDaemonWith(b, 1000, extraYAML)
	gh0, jr0, sql0 := len(tr.gh.Requests()), len(tr.jr.Requests()), s.Statements()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.jr.Advance(time.Minute)
		if res := engine.Pass(context.Background(), false); !res.Converged() || len(res.Writes) != 0 {
			b.Fatalf("unchanged pass: %d writes, %+v", len(res.Writes), res.Failures)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	// Repositories: acme/rel and acme/storage; projects: PAY.
	b.ReportMetric(float64(len(tr.gh.Requests())-gh0)/n, "github-requests/pass")
	b.ReportMetric(float64(len(tr.jr.Requests())-jr0)/n, "jira-requests/pass")
	b.ReportMetric(float64(s.Statements()-sql0)/n, "sql-statements/pass")
}

func BenchmarkServeMemory10000(b *testing.B) {
	if testing.Short() {
		b.Skip("mirrors 10,000 risks")
	}
	tr, _, engine := benchDaemon(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.jr.Advance(time.Minute)
		engine.Pass(context.Background(), false)
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The fakes live in this process too: this bounds the daemon's heap from above.
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB(incl.fakes)")
}
