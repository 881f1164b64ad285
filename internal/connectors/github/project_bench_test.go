package github

import (
	"context"
	"math/rand/v2"
	"testing"
)

// BenchmarkProjectWarmPass1000 reports what a pass costs once 1,000 risk
// epics sit in one project in score order: the requests (a page of items
// is 100; the project's ids are cached) and the writes (none).
func BenchmarkProjectWarmPass1000(b *testing.B) {
	e := newProjectEnv(b, true)
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 1; n <= 1000; n++ {
		e.addRisk(n, fp(float64(rng.IntN(126))))
	}
	items := e.backlog()
	ctx := context.Background()
	if _, err := e.c.OrderBacklog(ctx, items, false); err != nil {
		b.Fatal(err)
	}
	e.srv.ResetRequests()
	passes := 0
	for b.Loop() {
		w, err := e.c.OrderBacklog(ctx, items, false)
		if err != nil || len(w) != 0 {
			b.Fatalf("warm pass: %v %+v", err, w)
		}
		passes++
	}
	b.StopTimer()
	pages := float64(e.srv.Count("GET", "/orgs/{org}/projectsV2/{project_number}/items"))
	b.ReportMetric(float64(len(e.srv.Requests()))/float64(passes), "requests/pass")
	b.ReportMetric(pages/float64(passes)/10, "item-requests/100-items")
	b.ReportMetric(float64(e.srv.Writes())/float64(passes), "writes/pass")
}

// BenchmarkProjectMovesRandomPermutation1000 shuffles 1,000 risk items in
// the project and reports the moves the next pass sends, beside n − LIS.
func BenchmarkProjectMovesRandomPermutation1000(b *testing.B) {
	e := newProjectEnv(b, true)
	for n := 1; n <= 1000; n++ {
		e.addRisk(n, fp(float64(n)))
	}
	e.mustOrder()
	rng := rand.New(rand.NewPCG(13, 14))
	var moves, nMinusLIS float64
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		perm := shuffleProject(e, rng)
		e.srv.ResetRequests()
		b.StartTimer()
		e.mustOrder()
		b.StopTimer()
		moves += float64(e.srv.Count("POST", "/graphql"))
		nMinusLIS += float64(1000 - lis(perm))
		rounds++
		b.StartTimer()
	}
	b.ReportMetric(moves/float64(rounds), "moves")
	b.ReportMetric(nMinusLIS/float64(rounds), "n-LIS")
}
