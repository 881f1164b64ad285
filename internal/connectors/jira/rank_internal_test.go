package jira

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// rankBetween keeps a list ordered through any sequence of inserts, as the
// mirror needs after rank calls.
func TestRankBetweenKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	ranks := []string{"0|i0000g:", "0|i0000o:", "0|i0000o:i"}
	for range 3000 {
		i := rng.IntN(len(ranks) + 1)
		lo, hi := "", ""
		if i > 0 {
			lo = ranks[i-1]
		}
		if i < len(ranks) {
			hi = ranks[i]
		}
		s := rankBetween(lo, hi)
		if s <= lo || (hi != "" && s >= hi) {
			t.Fatalf("rankBetween(%q, %q) = %q", lo, hi, s)
		}
		ranks = slices.Insert(ranks, i, s)
	}
	if !sort.StringsAreSorted(ranks) {
		t.Fatal("not sorted")
	}
}

// Runs of moves become calls of at most 50 issues, each anchored on an
// epic that is in place when the call is sent.
func TestBatchMoves(t *testing.T) {
	var desired []string
	for i := range 130 {
		desired = append(desired, string(rune('A'+i/26))+string(rune('a'+i%26)))
	}
	unknown := map[string]bool{}
	for _, k := range desired[:120] {
		unknown[k] = true // a run at the top, longer than 50
	}
	moves := planMoves(desired[120:], desired, unknown, nil)
	calls := batchMoves(moves, desired)
	if len(moves) != 120 || len(calls) != 3 {
		t.Fatalf("%d moves in %d calls", len(moves), len(calls))
	}
	placed := map[string]bool{}
	for _, k := range desired[120:] {
		placed[k] = true
	}
	for _, c := range calls {
		if len(c.issues) > maxRankBatch || !placed[c.anchor] || !c.before {
			t.Fatalf("call %+v: anchor not in place", c)
		}
		for _, k := range c.issues {
			placed[k] = true
		}
	}
}
