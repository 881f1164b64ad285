package report_test

import (
	"context"

	"io"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/report"
)

// BenchmarkReport: 10,000 risks, a year of daily snapshots, a week of
// changes. The bound is one second per report.
//
//	go test -run '^$' -bench Report -benchtime 5x ./internal/report/
func BenchmarkReport(b *testing.B) {
	for name, open := range registrytest.Backends() {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			clock := registrytest.NewClock()
			s := open(b, registrytest.DefaultOptions(clock))
			registrytest.SeedRisks(b, s, 10_000)
			for day := now.AddDate(-1, 0, 0); day.Before(now); day = day.AddDate(0, 0, 1) {
				top := make([]string, 10)
				for i := range top {
					top[i] = registry.FormatKey(int64(1 + (i+day.YearDay()/30)%40))
				}
				if err := s.SaveSnapshot(ctx, registry.Snapshot{Day: day, Exposure: float64(day.YearDay() * 100), Risks: 10_000,
					ByBand: map[string]int{"high": 5000}, Top: top}); err != nil {
					b.Fatal(err)
				}
			}
			clock.Advance(now.Add(-3 * 24 * time.Hour).Sub(clock.Now()))
			for i := 1; i <= 200; i++ {
				if _, err := s.UpdateRisk(ctx, registry.FormatKey(int64(i*37)), "bench", func(r *registry.Risk) error {
					r.Likelihood = registrytest.Ptr(1 + i%5)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			d := deps(b, s)
			for _, c := range []struct {
				name   string
				render func(io.Writer, *report.Report) error
			}{
				{"Generate", nil},
				{"GenerateMarkdown", report.RenderMarkdown},
				{"GenerateJSON", report.RenderJSON},
				{"GenerateHTML", report.RenderHTML},
			} {
				b.Run(c.name, func(b *testing.B) {
					start := time.Now()
					for i := 0; i < b.N; i++ {
						rep, err := report.Generate(ctx, d, now, report.Options{})
						if err != nil || len(rep.Stagnant) < 9000 || len(rep.Movement.ScoreChanges) == 0 {
							b.Fatalf("%v, %d stagnant", err, len(rep.Stagnant))
						}
						if c.render != nil {
							if err := c.render(io.Discard, rep); err != nil {
								b.Fatal(err)
							}
						}
					}
					per := time.Since(start) / time.Duration(b.N)
					b.ReportMetric(float64(per.Microseconds())/1000, "ms/report")
					if per > time.Second {
						b.Errorf("%s per report, over the 1 s bound", per)
					}
				})
			}
		})
	}
}
