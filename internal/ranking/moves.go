// Package ranking computes the fewest moves that put a list in a desired
// order: the items on a longest increasing subsequence (in desired order)
// stay, every other item moves once. A single score change therefore costs
// at most one move, and a list already in order costs none.
package ranking

import "sort"

// Move places Item directly after After ("" for first place).
type Move struct {
	Item  string
	After string
}

// Moves returns the moves that turn current into desired. Both hold the
// same items (items only in one of them are ignored); moves apply in the
// order returned.
func Moves(current, desired []string) []Move {
	pos := make(map[string]int, len(desired))
	for i, k := range desired {
		pos[k] = i
	}
	var seq []int // desired positions of current's items, in current order
	for _, k := range current {
		if p, ok := pos[k]; ok {
			seq = append(seq, p)
		}
	}
	keep := map[int]bool{}
	for _, p := range longestIncreasing(seq) {
		keep[p] = true
	}
	present := map[string]bool{}
	for _, k := range current {
		present[k] = true
	}
	var moves []Move
	prev := ""
	for i, k := range desired {
		if !present[k] {
			continue
		}
		if !keep[i] {
			moves = append(moves, Move{Item: k, After: prev})
		}
		prev = k
	}
	return moves
}

// longestIncreasing returns one longest strictly increasing subsequence of
// seq (patience sorting, O(n log n)).
func longestIncreasing(seq []int) []int {
	tails := []int{} // index into seq of the smallest tail of each length
	parent := make([]int, len(seq))
	for i, v := range seq {
		j := sort.Search(len(tails), func(j int) bool { return seq[tails[j]] >= v })
		if j > 0 {
			parent[i] = tails[j-1]
		} else {
			parent[i] = -1
		}
		if j == len(tails) {
			tails = append(tails, i)
		} else {
			tails[j] = i
		}
	}
	out := make([]int, len(tails))
	for k, i := len(tails)-1, -1; k >= 0; k-- {
		if k == len(tails)-1 {
			i = tails[k]
		}
		out[k] = seq[i]
		i = parent[i]
	}
	return out
}

// Apply returns current after moves, for checking a plan.
func Apply(current []string, moves []Move) []string {
	out := append([]string(nil), current...)
	for _, m := range moves {
		for i, k := range out {
			if k == m.Item {
				out = append(out[:i], out[i+1:]...)
				break
			}
		}
		at := 0
		if m.After != "" {
			for i, k := range out {
				if k == m.After {
					at = i + 1
					break
				}
			}
		}
		out = append(out[:at], append([]string{m.Item}, out[at:]...)...)
	}
	return out
}
