package registrytest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/sqlstore"
)

// SeedRisks inserts n scored risks with multi-row statements, bypassing the
// per-risk path, so benchmarks can start from a large registry quickly.
func SeedRisks(tb testing.TB, s *sqlstore.Store, n int) {
	tb.Helper()
	cfg, _ := config.Parse(nil)
	sc := cfg.ScoringConfig()
	rng := rand.New(rand.NewPCG(1, 2))
	owners := []string{"storage-sre", "payments", "edge", ""}
	const batch = 500
	tx := s.DB().MustBegin()
	for start := 0; start < n; start += batch {
		var rows []string
		var args []any
		for i := start; i < min(start+batch, n); i++ {
			im, sp, lk := 1+rng.IntN(5), 1+rng.IntN(5), 1+rng.IntN(5)
			score := float64(im * sp * lk)
			var owner any
			if o := owners[i%len(owners)]; o != "" {
				owner = o
			}
			rows = append(rows, "(?, '', ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, 1)")
			ts := "2026-03-02T09:00:00.000000Z"
			args = append(args, fmt.Sprintf("seeded failure mode %d", i), im, sp, lk, score, sc.BandFor(score).Name, ts, owner, ts, ts)
		}
		q := `INSERT INTO risks (title, description, impact, scope, likelihood, score, band, review_due_at, status, owner, created_at, updated_at, version) VALUES ` + strings.Join(rows, ", ")
		if _, err := tx.Exec(s.DB().Rebind(q), args...); err != nil {
			tb.Fatalf("seed: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// RunBenchmarks measures the registry's costs: time and SQL statements per
// operation.
func RunBenchmarks(b *testing.B, open Opener) {
	ctx := context.Background()
	b.Run("AddRisk", func(b *testing.B) {
		s := open(b, DefaultOptions(NewClock()))
		before := s.Statements()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.CreateRisk(ctx, NewRisk(fmt.Sprint("risk ", i), 1+i%5, 1+(i/5)%5, 1+(i/25)%5), "bench"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(s.Statements()-before)/float64(b.N), "stmts/op")
	})
	b.Run("ListTop50Of100k", func(b *testing.B) {
		s := open(b, DefaultOptions(NewClock()))
		SeedRisks(b, s, 100_000)
		before := s.Statements()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			list, err := s.ListRisks(ctx, registry.RiskFilter{Limit: 50})
			if err != nil || len(list) != 50 || *list[0].Score != 125 {
				b.Fatalf("%d risks, %v", len(list), err)
			}
		}
		b.ReportMetric(float64(s.Statements()-before)/float64(b.N), "stmts/op")
	})
	b.Run("ListOwnerTop50Of100k", func(b *testing.B) {
		s := open(b, DefaultOptions(NewClock()))
		SeedRisks(b, s, 100_000)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if list, err := s.ListRisks(ctx, registry.RiskFilter{Owner: "payments", Limit: 50}); err != nil || len(list) != 50 {
				b.Fatalf("%d risks, %v", len(list), err)
			}
		}
	})
	b.Run("ShowWith1000History", func(b *testing.B) {
		s := open(b, DefaultOptions(NewClock()))
		r, err := s.CreateRisk(ctx, NewRisk("busy risk", 3, 3, 3), "bench")
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; len(mustHistory(b, s, r.Key)) < 1000; i++ {
			if _, err := s.UpdateRisk(ctx, r.Key, "bench", func(r *registry.Risk) error { r.Description = fmt.Sprint("revision ", i); return nil }); err != nil {
				b.Fatal(err)
			}
		}
		before := s.Statements()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.FindRisk(ctx, r.Key); err != nil {
				b.Fatal(err)
			}
			if h, err := s.History(ctx, r.Key, 0); err != nil || len(h) < 1000 {
				b.Fatalf("%d entries, %v", len(h), err)
			}
		}
		b.ReportMetric(float64(s.Statements()-before)/float64(b.N), "stmts/op")
	})
}

func mustHistory(b *testing.B, s *sqlstore.Store, key string) []registry.HistoryEntry {
	h, err := s.History(context.Background(), key, 0)
	if err != nil {
		b.Fatal(err)
	}
	return h
}
