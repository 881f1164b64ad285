package jira_test

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPass1000 mirrors 1,000 risks into one project, then measures
// passes in which nothing changed: every risk ensured and pulled back.
//
//	go test -run '^$' -bench Pass1000 -benchtime 20x ./internal/connectors/jira/
func BenchmarkPass1000(b *testing.B) {
	e := newEnv(b)
	const n = 1000
	ctx := e.ctx
	before := len(e.srv.Requests())
	writes0 := e.srv.Writes()
	keys := make([]string, n+1) // the links the engine records
	for i := 1; i <= n; i++ {
		r := newRisk(int64(i), fmt.Sprintf("Failure mode %d", i), 1+i%5, 1+(i/5)%5, 1+(i/25)%5)
		res, err := e.c.EnsureEpic(ctx, epicOf(r, "PAY"), false)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = res.Link.Key
	}
	if _, err := e.c.PullBack(ctx, "PAY"); err != nil {
		b.Fatal(err)
	}
	firstWrites := float64(e.srv.Writes()-writes0) / n
	firstReqs := float64(len(e.srv.Requests())-before) / n

	total := 0
	b.ResetTimer()
	for it := -1; it < b.N; it++ { // it == -1: the pass that sees the creates once
		if it == 0 {
			total = 0
		}
		e.srv.Advance(5 * time.Minute)
		e.pass()
		e.srv.ResetRequests()
		for i := 1; i <= n; i++ {
			r := newRisk(int64(i), fmt.Sprintf("Failure mode %d", i), 1+i%5, 1+(i/5)%5, 1+(i/25)%5)
			res, err := e.c.EnsureEpic(ctx, linkedOf(r, "PAY", keys[i]), false)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Writes) != 0 || res.Link.Key != keys[i] {
				b.Fatalf("unchanged risk %s wrote %+v", r.Key, res.Writes)
			}
		}
		states, err := e.c.PullBack(ctx, "PAY")
		if err != nil {
			b.Fatal(err)
		}
		if len(states) != 0 {
			b.Fatalf("nothing changed, %d states reported", len(states))
		}
		total += len(e.srv.Requests())
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/pass")
	b.ReportMetric(firstWrites, "writes/risk")
	b.ReportMetric(firstReqs, "first-requests/risk")
}
