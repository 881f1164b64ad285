package jira_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/ranking"
)

// BenchmarkPass1000Ranked is BenchmarkPass1000 with jira.rank: by_score:
// 1,000 risks in one project, passes in which nothing changed, each with
// the backlog ordered. The order rides on the pass's search, so it should
// cost no request beyond the unranked pass, and no write.
//
//	go test -run '^$' -bench 'Pass1000' -benchtime 20x ./internal/connectors/jira/
func BenchmarkPass1000Ranked(b *testing.B) {
	re := newRankEnv(b, 1000)
	if _, err := re.c.PullBack(re.ctx, "PAY"); err != nil {
		b.Fatal(err)
	}
	re.mustOrder()
	total, writes := 0, 0
	b.ResetTimer()
	for it := -1; it < b.N; it++ { // it == -1: the pass that sees the creates and moves once
		if it == 0 {
			total, writes = 0, 0
		}
		re.srv.Advance(5 * time.Minute)
		re.pass()
		re.srv.ResetRequests()
		for _, r := range re.risks {
			res, err := re.c.EnsureEpic(re.ctx, linkedOf(r, "PAY", re.keys[r.Key]), false)
			if err != nil || len(res.Writes) != 0 {
				b.Fatalf("unchanged risk %s: %+v %v", r.Key, res.Writes, err)
			}
		}
		if _, err := re.c.PullBack(re.ctx, "PAY"); err != nil {
			b.Fatal(err)
		}
		w, err := re.order(false)
		if err != nil || len(w) != 0 {
			b.Fatalf("ordered backlog moved %d epics: %v", len(w), err)
		}
		total += len(re.srv.Requests())
		writes += re.srv.Writes()
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/pass")
	b.ReportMetric(float64(writes)/float64(b.N), "writes/pass")
}

// BenchmarkRankRandomPermutation1000: a backlog of 1,000 risk epics a
// person shuffled is put back with n − LIS moves, ⌈run/50⌉ calls per run.
func BenchmarkRankRandomPermutation1000(b *testing.B) {
	re := newRankEnv(b, 1000)
	re.mustOrder()
	want := re.wantOrder()
	rng := rand.New(rand.NewPCG(9, 10))
	var moves, calls, nlis int
	for b.Loop() {
		b.StopTimer()
		shuffled := slices.Clone(want)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for i := 1; i < len(shuffled); i++ {
			re.srv.RankAfter(shuffled[i], shuffled[i-1])
		}
		re.nextPass()
		nlis = len(want) - lis(re.epicOrder(), want)
		if n := len(ranking.Moves(re.epicOrder(), want)); n != nlis {
			b.Fatalf("ranking.Moves: %d, n − LIS = %d", n, nlis)
		}
		re.srv.ResetRequests()
		b.StartTimer()
		w := re.mustOrder()
		b.StopTimer()
		moves, calls = len(w), re.srv.Count("PUT", routeRank)
		if moves != nlis {
			b.Fatalf("%d moves, n − LIS = %d", moves, nlis)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(moves), "moves")
	b.ReportMetric(float64(nlis), "n-LIS")
	b.ReportMetric(float64(calls), "rank-calls")
}
