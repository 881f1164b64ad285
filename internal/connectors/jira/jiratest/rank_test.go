package jiratest

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMidRankKeepsOrder(t *testing.T) {
	s := &Server{}
	var ranks []string
	for range 20 {
		ranks = append(ranks, s.nextRank())
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 3000 {
		i := rng.IntN(len(ranks) + 1)
		lo, hi := "", ""
		if i > 0 {
			lo = ranks[i-1]
		}
		if i < len(ranks) {
			hi = ranks[i]
		}
		m := midRank(lo, hi)
		if m <= lo || (hi != "" && m >= hi) || m[len(m)-1] == '0' {
			t.Fatalf("midRank(%q, %q) = %q", lo, hi, m)
		}
		if renderRank(m) <= renderRank(lo) && lo != "" || hi != "" && renderRank(m) >= renderRank(hi) {
			t.Fatalf("rendered %q not between %q and %q", renderRank(m), renderRank(lo), renderRank(hi))
		}
		ranks = slices.Insert(ranks, i, m)
	}
}
