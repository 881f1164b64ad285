package main

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
)

// rankCase is a registry of payments risks with jira.rank: by_score.
type rankCase struct {
	*trackers
	scores map[string]int // risk key → score; absent when unscored
	ids    []string
}

func (rc *rankCase) epicOf(key string) string { return rc.linkOf(key)["key"].(string) }

// want is the registry's ranking of the epics: score, highest first, ties
// by key, unscored last.
func (rc *rankCase) want() []string {
	keys := slices.Clone(rc.ids)
	num := func(k string) int { n, _ := strconv.Atoi(strings.TrimPrefix(k, "RISK-")); return n }
	sort.SliceStable(keys, func(i, j int) bool {
		a, aok := rc.scores[keys[i]]
		b, bok := rc.scores[keys[j]]
		switch {
		case aok && bok && a != b:
			return a > b
		case aok != bok:
			return aok
		}
		return num(keys[i]) < num(keys[j])
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = rc.epicOf(k)
	}
	return out
}

func (rc *rankCase) checkOrder(label string) {
	rc.t.Helper()
	if got, want := rc.jr.RankOrder("PAY", "Epic"), rc.want(); !slices.Equal(got, want) {
		rc.t.Fatalf("%s: backlog\n%v\nwant\n%v", label, got, want)
	}
}

func (rc *rankCase) rankCalls() int { return rc.jr.Count("PUT", jiratest.RankRoute) }

// sync runs one pass after a minute of fake time.
func (rc *rankCase) sync() string {
	rc.t.Helper()
	rc.jr.Advance(time.Minute)
	return rc.ok("sync", "--once")
}

func TestJiraRankEndToEnd(t *testing.T) {
	tr := newTrackers(t, "  rank: by_score\n")
	rc := &rankCase{trackers: tr, scores: map[string]int{}}
	for i := 1; i <= 50; i++ {
		im, sc, lk := 1+i%5, 1+(i*3)%5, 1+(i*7)%5
		out := decode[map[string]any](t, tr.ok("risk", "add", "--title", fmt.Sprintf("Failure mode %d", i), "--impact", strconv.Itoa(im),
			"--scope", strconv.Itoa(sc), "--likelihood", strconv.Itoa(lk), "--owner", "payments", "--json"))
		key := out["key"].(string)
		rc.scores[key], rc.ids = im*sc*lk, append(rc.ids, key)
	}
	for i := 1; i <= 2; i++ {
		out := decode[map[string]any](t, tr.ok("risk", "add", "--title", fmt.Sprintf("Unrated %d", i), "--owner", "payments", "--json"))
		rc.ids = append(rc.ids, out["key"].(string))
	}

	// Dry run: the creates are planned, nothing is written.
	tr.ok("sync", "--once", "--dry-run")
	if tr.jr.Writes() != 0 {
		t.Fatalf("dry run wrote %d times", tr.jr.Writes())
	}

	// First placement, in the pass that creates the epics.
	if out := rc.sync(); !strings.Contains(out, "every risk converged") || !strings.Contains(out, "moved") {
		t.Fatalf("first pass:\n%s", out)
	}
	rc.checkOrder("first placement")
	if n := rc.rankCalls(); n < 1 || n > 2 {
		t.Fatalf("first placement took %d rank calls, want at most 2 (50 issues each)", n)
	}

	// Steady: nothing written.
	w0 := tr.jr.Writes()
	rc.sync()
	if w := tr.jr.Writes(); w != w0 {
		t.Fatalf("steady pass wrote %d times", w-w0)
	}

	// A score change: one priority write and at most one move.
	top := rc.want()
	var last string
	for _, k := range rc.ids {
		if rc.epicOf(k) == top[49] {
			last = k
		}
	}
	tr.ok("risk", "update", last, "--impact", "5", "--scope", "5", "--likelihood", "5")
	rc.scores[last] = 125
	r0 := rc.rankCalls()
	rc.sync()
	if w, r := tr.jr.Writes()-w0, rc.rankCalls()-r0; w > 2 || r > 1 {
		t.Fatalf("score change: %d writes, %d rank calls", w, r)
	}
	rc.checkOrder("after a score change")

	// Dry run of a needed move: planned, not written.
	order := rc.want()
	tr.jr.RankBefore(order[40], order[0])
	w1 := tr.jr.Writes()
	if out := tr.ok("sync", "--once", "--dry-run"); !strings.Contains(out, "would move") {
		t.Fatalf("dry run does not plan the move:\n%s", out)
	}
	if tr.jr.Writes() != w1 {
		t.Fatal("dry run wrote")
	}

	// A person's move is undone, with one comment on that epic.
	rc.sync()
	rc.checkOrder("after a person's move")
	moved := tr.jr.Issue(order[40])
	if len(moved.Comments) != 1 || !strings.Contains(moved.Comments[0].Body, "ordered by their score") {
		t.Fatalf("comments on the moved epic: %+v", moved.Comments)
	}
	tr.jr.RankAfter(order[40], order[45])
	rc.sync()
	rc.checkOrder("after a second move")
	if n := len(tr.jr.Issue(order[40]).Comments); n != 1 {
		t.Fatalf("%d comments after a second move, want 1", n)
	}
	w2 := tr.jr.Writes()
	rc.sync()
	if tr.jr.Writes() != w2 {
		t.Fatal("pass after restoring wrote")
	}

	// Unscored after scored.
	final := rc.jr.RankOrder("PAY", "Epic")
	for _, k := range final[len(final)-2:] {
		if !slices.Contains(tr.jr.Issue(k).Labels, "risk-unscored") {
			t.Fatalf("%s is last but scored", k)
		}
	}

	// 207: the epic that failed makes the pass fail; the next one completes.
	tr.jr.RankBefore(order[30], order[1])
	tr.jr.FailRank(order[30])
	tr.jr.Advance(time.Minute)
	out, errOut, code := tr.run("sync", "--once")
	if code != 1 || !strings.Contains(out+errOut, order[30]) {
		t.Fatalf("207: exit %d\n%s%s", code, out, errOut)
	}
	if slices.Equal(tr.jr.RankOrder("PAY", "Epic"), rc.want()) {
		t.Fatal("207: order complete although the move failed")
	}
	rc.sync()
	rc.checkOrder("after the retry")

	// No Schedule Issues permission: a clear terminal error.
	tr.jr.RankBefore(order[20], order[2])
	tr.jr.DenySchedule("PAY")
	tr.jr.Advance(time.Minute)
	out, errOut, code = tr.run("sync", "--once")
	if code != 1 || !strings.Contains(errOut, "the risksync account needs the Schedule Issues permission in project PAY to rank epics") {
		t.Fatalf("403: exit %d\n%s%s", code, out, errOut)
	}
}
