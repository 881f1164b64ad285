package ranking

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("K%04d", i)
	}
	return out
}

func TestMovesAreMinimal(t *testing.T) {
	for _, tc := range []struct {
		current, desired []string
		moves            int
	}{
		{[]string{"a", "b", "c"}, []string{"a", "b", "c"}, 0},
		{[]string{"b", "a", "c"}, []string{"a", "b", "c"}, 1},
		{[]string{"c", "a", "b"}, []string{"a", "b", "c"}, 1}, // one score change: one move
		{[]string{"c", "b", "a"}, []string{"a", "b", "c"}, 2},
		{[]string{"a", "x", "b"}, []string{"b", "a"}, 1}, // x is not ours
		{nil, nil, 0},
	} {
		got := Moves(tc.current, tc.desired)
		if len(got) != tc.moves {
			t.Errorf("%v → %v: %d moves %v, want %d", tc.current, tc.desired, len(got), got, tc.moves)
		}
		var ours []string
		for _, k := range Apply(tc.current, got) {
			if slices.Contains(tc.desired, k) {
				ours = append(ours, k)
			}
		}
		if !slices.Equal(ours, tc.desired) && len(tc.desired) > 0 {
			t.Errorf("%v after %v = %v, want %v", tc.current, got, ours, tc.desired)
		}
	}
}

// A random permutation needs exactly n − LIS moves, and they sort it.
func TestRandomPermutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		desired := keys(1 + rng.IntN(300))
		current := slices.Clone(desired)
		rng.Shuffle(len(current), func(i, j int) { current[i], current[j] = current[j], current[i] })
		moves := Moves(current, desired)
		if got := Apply(current, moves); !slices.Equal(got, desired) {
			t.Fatalf("not sorted after %d moves", len(moves))
		}
		if want := len(desired) - lisBrute(current, desired); len(moves) != want {
			t.Fatalf("%d moves, want n − LIS = %d", len(moves), want)
		}
	}
}

// lisBrute is the O(n²) longest increasing subsequence, as a reference.
func lisBrute(current, desired []string) int {
	pos := map[string]int{}
	for i, k := range desired {
		pos[k] = i
	}
	best := make([]int, len(current))
	out := 0
	for i := range current {
		best[i] = 1
		for j := range i {
			if pos[current[j]] < pos[current[i]] {
				best[i] = max(best[i], best[j]+1)
			}
		}
		out = max(out, best[i])
	}
	return out
}

func BenchmarkMoves1000(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	desired := keys(1000)
	current := slices.Clone(desired)
	rng.Shuffle(len(current), func(i, j int) { current[i], current[j] = current[j], current[i] })
	var n int
	for b.Loop() {
		n = len(Moves(current, desired))
	}
	b.ReportMetric(float64(n), "moves")
	b.ReportMetric(float64(len(desired)-lisBrute(current, desired)), "n-LIS")
}
