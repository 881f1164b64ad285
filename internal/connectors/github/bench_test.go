package github

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// BenchmarkMirror1000 reports the cost of mirroring 1,000 risks in one
// repository: writes per risk on first mirroring, and requests per pass
// (pull-back plus an EnsureEpic per risk) once nothing changes.
func BenchmarkMirror1000(b *testing.B) {
	const risks = 1000
	e := newEnv(b)
	ctx := context.Background()
	owners := []string{"storage-sre", "payments", "edge"}
	wants := make([]registry.EpicSpec, risks)
	for i := range wants {
		wants[i] = epicFor(i+1, fmt.Sprintf("failure mode %d", i+1), i%5+1, (i/5)%5+1, (i/25)%5+1, owners[i%len(owners)])
	}
	for _, w := range wants {
		if _, err := e.c.EnsureEpic(ctx, w, false); err != nil {
			b.Fatal(err)
		}
	}
	creates := e.srv.Count("POST", issuesRoute)
	firstWrites := e.srv.Writes()
	if creates != risks {
		b.Fatalf("creates = %d", creates)
	}
	// A pass in the engine's order: start, push every risk, pull back.
	pass := func() {
		e.clock.Advance(5 * time.Minute) // sync.interval
		if err := e.c.StartPass(ctx); err != nil {
			b.Fatal(err)
		}
		for _, w := range wants {
			res, err := e.c.EnsureEpic(ctx, w, false)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Writes) != 0 {
				b.Fatalf("unchanged risk wrote %+v", res.Writes)
			}
		}
		if _, err := e.c.PullBack(ctx, repoName); err != nil {
			b.Fatal(err)
		}
	}
	pass() // first pull-back reads everything once
	pass() // the cursor moved: one fresh listing
	e.srv.ResetRequests()
	b.ResetTimer()
	passes := 0
	for b.Loop() {
		pass()
		passes++
	}
	b.StopTimer()
	reqs := e.srv.Requests()
	not304 := 0
	for _, r := range reqs {
		if r.Status != 304 {
			not304++
		}
	}
	b.ReportMetric(float64(len(reqs))/float64(passes), "requests/pass")
	b.ReportMetric(float64(not304)/float64(passes), "rate-limited-requests/pass")
	b.ReportMetric(float64(firstWrites)/risks, "writes/risk")
	b.ReportMetric(float64(creates)/risks, "creates/risk")
	b.ReportMetric(float64(firstWrites-creates), "label-creations")
}
