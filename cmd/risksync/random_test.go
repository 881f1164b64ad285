package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry/registrytest"
)

// TestRandomizedMixedSequences runs, per seed, a random mix of registry
// edits, owner moves, decisions, people's actions in the trackers, fault
// windows, daemon kills and passes, then checks that risksync converges to
// a state the invariants accept. Everything is replayable from the seed
// except when a SIGKILL lands (real time), which only moves how far the
// killed pass got.
//
// CI runs 3 seeds × 25 steps. Longer: RISKSYNC_RANDOM_SEEDS=20
// RISKSYNC_RANDOM_STEPS=300; one seed: RISKSYNC_RANDOM_SEED=N.
func TestRandomizedMixedSequences(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if n := envInt(t, "RISKSYNC_RANDOM_SEEDS", 0); n > 0 {
		seeds = seeds[:0]
		for i := 1; i <= n; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	if s := os.Getenv("RISKSYNC_RANDOM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RISKSYNC_RANDOM_SEED=%q: %v", s, err)
		}
		seeds = []uint64{n}
	}
	steps := envInt(t, "RISKSYNC_RANDOM_STEPS", 25)
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				start := time.Now()
				w := newRandomWorld(t, seed, dbURL(t))
				defer func() {
					if t.Failed() {
						w.dumpTrace()
						pg := ""
						if os.Getenv(registrytest.PostgresEnv) != "" {
							pg = registrytest.PostgresEnv + "=… "
						}
						t.Logf("replay: %sRISKSYNC_RANDOM_SEED=%d RISKSYNC_RANDOM_STEPS=%d go test -run 'TestRandomizedMixedSequences/%s' ./cmd/risksync/",
							pg, seed, steps, strings.SplitN(t.Name(), "/", 3)[1])
					}
				}()
				for i := 0; i < steps; i++ {
					w.step(i)
				}
				w.converge()
				w.checkInvariants()
				t.Logf("seed %d: %d steps, %d risks, %d passes (%d failed), %d kills, %d fault windows, %v",
					seed, steps, w.risks, w.passes, w.failedPasses, w.kills, w.windows, time.Since(start).Round(time.Millisecond))
			})
		}
	})
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q is not a count", name, s)
	}
	return n
}

// Teams route to two GitHub repositories and two Jira projects; unowned
// risks go to the default, acme/rel.
var randomTeams = map[string][2]string{
	"storage-sre": {"github", "acme/storage"},
	"core-sre":    {"github", "acme/rel"},
	"payments":    {"jira", "PAY"},
	"platform":    {"jira", "REL"},
	"":            {"github", "acme/rel"},
}

var randomOwners = []string{"storage-sre", "core-sre", "payments", "platform", ""}

type randomWorld struct {
	t       *testing.T
	tr      *trackers
	rng     *rand.Rand
	gh, jr  *faultProxy
	risks   int
	trace   []string
	titleNo int

	passes, failedPasses, kills, windows int
}

func newRandomWorld(t *testing.T, seed uint64, dbURL string) *randomWorld {
	tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 1h, create_settle: 30s}\n")
	if dbURL != "" {
		tr.env["RISKSYNC_DATABASE_URL"] = dbURL
	}
	// Every request goes through a fault proxy; a fault window raises its rate.
	w := &randomWorld{t: t, tr: tr, rng: rand.New(rand.NewPCG(seed, 0x5eed)),
		gh: newFaultProxy(t, tr.gh.URL(), 0, tr.jr.Now, seed*2+1), jr: newFaultProxy(t, tr.jr.URL, 0, tr.jr.Now, seed*2+2)}
	cfg := readFile(t, tr.env["RISKSYNC_CONFIG"])
	cfg = strings.Replace(cfg, "  - {name: payments, tracker: jira, jira_project: PAY}\n",
		"  - {name: payments, tracker: jira, jira_project: PAY}\n"+
			"  - {name: core-sre, tracker: github, github_repo: acme/rel}\n"+
			"  - {name: platform, tracker: jira, jira_project: REL}\n", 1)
	cfg = strings.NewReplacer(tr.gh.URL(), w.gh.srv.URL+"/api/v3/", tr.jr.URL, w.jr.srv.URL).Replace(cfg)
	tr.writeConfig(cfg)
	return w
}

func (w *randomWorld) logf(format string, args ...any) {
	w.trace = append(w.trace, fmt.Sprintf(format, args...))
}

func (w *randomWorld) dumpTrace() {
	from := max(0, len(w.trace)-200)
	w.t.Logf("last %d of %d actions:\n  %s", len(w.trace)-from, len(w.trace), strings.Join(w.trace[from:], "\n  "))
}

func (w *randomWorld) setRate(rate float64) {
	for _, p := range []*faultProxy{w.gh, w.jr} {
		p.mu.Lock()
		p.rate = rate
		p.mu.Unlock()
	}
}

func (w *randomWorld) randomKey() string { return fmt.Sprintf("RISK-%d", 1+w.rng.IntN(w.risks)) }

func (w *randomWorld) rating() string { return strconv.Itoa(1 + w.rng.IntN(5)) }

func (w *randomWorld) title() string {
	w.titleNo++
	words := []string{"replica lag", "cert expiry", "disk fills", "retry storm", "DNS outage", "quota exhausted", "clock skew"}
	return fmt.Sprintf("%s %d", words[w.rng.IntN(len(words))], w.titleNo)
}

// step runs one randomly chosen action, then lets a little fake time pass.
func (w *randomWorld) step(i int) {
	w.tr.jr.Advance(time.Duration(10+w.rng.IntN(110)) * time.Second)
	type action struct {
		weight int
		run    func()
	}
	actions := []action{
		{10, w.addRisk},
		{6, w.editTitle},
		{8, w.editRatings},
		{10, w.moveOwner},
		{8, w.decide},
		{22, w.personActs},
		{3, w.faultWindow},
		{2, w.kill},
		{25, func() { w.pass("pass") }},
	}
	if w.risks == 0 {
		w.addRisk()
		return
	}
	total := 0
	for _, a := range actions {
		total += a.weight
	}
	n := w.rng.IntN(total)
	for _, a := range actions {
		if n < a.weight {
			w.logf("step %d:", i)
			a.run()
			return
		}
		n -= a.weight
	}
}

func (w *randomWorld) cli(args ...string) {
	w.logf("  risksync %s", strings.Join(args, " "))
	w.tr.ok(args...)
}

func (w *randomWorld) addRisk() {
	args := []string{"risk", "add", "--title", w.title(), "--owner", randomOwners[w.rng.IntN(len(randomOwners))]}
	if w.rng.IntN(10) > 0 { // some risks stay unscored
		args = append(args, "--impact", w.rating(), "--scope", w.rating(), "--likelihood", w.rating())
	}
	w.cli(args...)
	w.risks++
}

func (w *randomWorld) editTitle() { w.cli("risk", "update", w.randomKey(), "--title", w.title()) }

func (w *randomWorld) editRatings() {
	key := w.randomKey()
	args := []string{"risk", "update", key}
	for _, f := range []string{"--impact", "--scope", "--likelihood"} {
		if w.rng.IntN(2) == 0 {
			args = append(args, f, w.rating())
		}
	}
	if len(args) == 3 {
		args = append(args, "--likelihood", w.rating())
	}
	w.cli(args...)
}

func (w *randomWorld) moveOwner() {
	w.cli("risk", "update", w.randomKey(), "--owner", randomOwners[w.rng.IntN(len(randomOwners))])
}

func (w *randomWorld) decide() {
	status := []string{"accepted", "retired", "active", "active"}[w.rng.IntN(4)]
	args := []string{"risk", "update", w.randomKey(), "--status", status}
	if status != "active" {
		args = append(args, "--reason", "decided in the weekly review")
	}
	w.cli(args...)
}

func (w *randomWorld) pass(what string) bool {
	w.passes++
	_, errOut, code := w.tr.run("sync", "--once")
	w.logf("  %s: exit %d %s", what, code, strings.TrimSpace(errOut))
	if code != 0 {
		w.failedPasses++
	}
	return code == 0
}

func (w *randomWorld) faultWindow() {
	w.windows++
	rate := []float64{0.1, 0.2, 0.35}[w.rng.IntN(3)]
	n := 2 + w.rng.IntN(3)
	w.logf("  fault window: rate %.2f for %d passes", rate, n)
	w.setRate(rate)
	for range n {
		w.pass("pass under faults")
		w.tr.jr.Advance(30 * time.Second)
	}
	w.setRate(0)
}

// kill runs `serve` as a real process and SIGKILLs it, mid-pass when there
// is work: after its first write, at a random moment.
func (w *randomWorld) kill() {
	w.kills++
	delay := time.Duration(w.rng.IntN(120)) * time.Millisecond
	before := w.tr.gh.Writes() + w.tr.jr.Writes()
	cmd := w.tr.subprocess(w.t, "serve")
	// The subprocess reads the fakes' clock, not the machine's.
	cmd.Env = append(cmd.Env, "RISKSYNC_TEST_NOW_OFFSET="+w.tr.jr.Now().Sub(time.Now()).String())
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for w.tr.gh.Writes()+w.tr.jr.Writes() == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	w.logf("  serve SIGKILLed after %d writes", w.tr.gh.Writes()+w.tr.jr.Writes()-before)
	w.tr.jr.Advance(5 * time.Second) // past what the subprocess's clock reached
}

// epicRef is an epic in one of the fakes.
type epicRef struct {
	tracker, key string
}

func (e epicRef) repoNumber() (string, int) {
	i := strings.LastIndexByte(e.key, '#')
	n, _ := strconv.Atoi(e.key[i+1:])
	return e.key[:i], n
}

func (w *randomWorld) epicOpen(e epicRef) bool {
	if e.tracker == "github" {
		repo, n := e.repoNumber()
		is, ok := w.tr.gh.Issue(repo, n)
		return ok && is.State == "open"
	}
	is := w.tr.jr.Issue(e.key)
	return is != nil && is.StatusCategory != "done"
}

// personActs plays a person on one of a risk's epics, current or left behind.
func (w *randomWorld) personActs() {
	key := w.randomKey()
	r := decode[map[string]any](w.t, w.tr.ok("risk", "show", key, "--json"))
	links := r["links"].([]any)
	if len(links) == 0 {
		w.logf("  person: %s has no epic yet", key)
		return
	}
	l := links[w.rng.IntN(len(links))].(map[string]any)
	e := epicRef{l["tracker"].(string), l["key"].(string)}
	open := w.epicOpen(e)
	choice := w.rng.IntN(5)
	switch {
	case open && choice == 0 || !open && choice <= 1:
		w.personCloseOrReopen(e, open)
	case choice <= 2:
		w.logf("  person adds a child to %s (%s)", e.key, key)
		if e.tracker == "github" {
			repo, n := e.repoNumber()
			c := w.tr.gh.CreateIssue(repo, githubtest.NewIssue{Title: "mitigation step " + w.title()})
			w.tr.gh.AddSubIssue(githubtest.Ref{Repo: repo, Number: n}, githubtest.Ref{Repo: repo, Number: c})
		} else {
			w.tr.jr.CreateChild(e.key, "mitigation step "+w.title())
		}
	case choice == 3:
		w.logf("  person retitles %s (%s)", e.key, key)
		if e.tracker == "github" {
			repo, n := e.repoNumber()
			w.tr.gh.Edit(repo, n, "", func(is *githubtest.Issue) { is.Title = "renamed by a person" })
		} else {
			w.tr.jr.Edit(e.key, "summary", "renamed by a person")
		}
	default:
		w.logf("  person relabels %s (%s)", e.key, key)
		if e.tracker == "github" {
			repo, n := e.repoNumber()
			w.tr.gh.Edit(repo, n, "", func(is *githubtest.Issue) { is.Labels = []string{"risk", "needs-triage"} })
		} else if w.rng.IntN(2) == 0 {
			w.tr.jr.Edit(e.key, "labels", "needs-triage")
		} else {
			w.tr.jr.Edit(e.key, "priority", "Lowest")
		}
	}
}

func (w *randomWorld) personCloseOrReopen(e epicRef, open bool) {
	if !open {
		w.logf("  person reopens %s", e.key)
		if e.tracker == "github" {
			repo, n := e.repoNumber()
			w.tr.gh.ReopenIssue(repo, n, "")
		} else {
			w.tr.jr.Transition(e.key, jiratest.StatusToDo, "")
		}
		return
	}
	switch w.rng.IntN(3) {
	case 0:
		w.logf("  person completes %s", e.key)
		if e.tracker == "github" {
			repo, n := e.repoNumber()
			w.tr.gh.CloseIssue(repo, n, "completed", "")
		} else {
			w.tr.jr.Transition(e.key, jiratest.StatusDone, "")
		}
	case 1:
		w.logf("  person closes %s as not planned", e.key)
		if e.tracker == "github" {
			repo, n := e.repoNumber()
			w.tr.gh.CloseIssue(repo, n, "not_planned", "")
		} else {
			w.tr.jr.Transition(e.key, jiratest.StatusDone, "Won't Do")
		}
	default:
		w.logf("  person starts work on %s", e.key)
		if e.tracker == "jira" {
			w.tr.jr.Transition(e.key, jiratest.StatusInProgress, "")
		}
	}
}

// converge removes faults and runs passes until one exits 0.
func (w *randomWorld) converge() {
	w.setRate(0)
	w.logf("converge:")
	for i := 0; i < 10; i++ {
		w.tr.jr.Advance(2 * time.Minute) // past create_settle and any Retry-After
		if w.pass("final pass") {
			return
		}
	}
	w.t.Fatal("no pass exited 0 within 10 passes after the faults stopped")
}

var ghMarker = regexp.MustCompile(`<!-- risksync:(RISK-[1-9][0-9]*) -->`)

func (w *randomWorld) checkInvariants() {
	t, tr := w.t, w.tr
	type fakeEpic struct {
		open     bool
		title    string
		labels   []string
		priority string
	}
	epics := map[epicRef]fakeEpic{}
	owner := map[epicRef]string{} // epic → the risk whose marker it carries
	for _, repo := range []string{"acme/rel", "acme/storage"} {
		for _, is := range tr.gh.Issues(repo) {
			e := epicRef{"github", fmt.Sprintf("%s#%d", repo, is.Number)}
			epics[e] = fakeEpic{open: is.State == "open", title: is.Title, labels: is.Labels}
			if m := ghMarker.FindStringSubmatch(is.Body); m != nil {
				owner[e] = m[1]
			}
			w.checkNoReopenOfPersonsClose(e, ghCloses(is))
		}
	}
	for _, is := range tr.jr.Issues() {
		e := epicRef{"jira", is.Key}
		epics[e] = fakeEpic{open: is.StatusCategory != "done", title: is.Summary, labels: is.Labels, priority: is.Priority}
		for _, l := range is.Labels {
			if k, ok := strings.CutPrefix(l, "risksync-"); ok {
				owner[e] = k
			}
		}
		w.checkNoReopenOfPersonsClose(e, jiraCloses(is))
	}

	linkedTo := map[epicRef]string{}
	for _, r := range decode[[]map[string]any](t, tr.ok("risk", "list", "--json")) {
		key, status := r["key"].(string), r["status"].(string)
		o, _ := r["owner"].(string)
		decided := status == "accepted" || status == "retired"
		var current []epicRef
		for _, x := range r["links"].([]any) {
			l := x.(map[string]any)
			e := epicRef{l["tracker"].(string), l["key"].(string)}
			if prev, dup := linkedTo[e]; dup {
				t.Errorf("%s is linked to both %s and %s", e.key, prev, key)
			}
			linkedTo[e] = key
			fe, ok := epics[e]
			if !ok {
				t.Errorf("%s links %s, which no fake has", key, e.key)
				continue
			}
			state := l["state"].(string)
			if l["current"] != true {
				if fe.open {
					t.Errorf("%s: %s was left behind but is open in the tracker (link state %v, title %q, labels %v)", key, e.key, state, fe.title, fe.labels)
				}
				continue
			}
			current = append(current, e)
			switch {
			case decided && fe.open:
				t.Errorf("%s is %s but its epic %s is open", key, status, e.key)
			case !decided && !fe.open && state != "done" && state != "not_planned":
				t.Errorf("%s: its epic %s is closed but the link says %q", key, e.key, state)
			case !decided && fe.open && state != "open" && state != "in_progress":
				t.Errorf("%s: its epic %s is open but the link says %q", key, e.key, state)
			}
			if decided {
				continue
			}
			want := randomTeams[o]
			if e.tracker != want[0] || targetOfKey(e) != want[1] {
				t.Errorf("%s (owner %q) is mirrored to %s %s, want %s %s", key, o, e.tracker, e.key, want[0], want[1])
			}
			if wantTitle := "[" + key + "] " + r["title"].(string); fe.title != wantTitle {
				t.Errorf("%s: epic %s title %q, want %q", key, e.key, fe.title, wantTitle)
			}
			if p, ok := r["priority"].(map[string]any); ok {
				if e.tracker == "github" && !slices.Contains(fe.labels, p["github"].(string)) {
					t.Errorf("%s: epic %s labels %v lack %v", key, e.key, fe.labels, p["github"])
				}
				if e.tracker == "jira" && fe.priority != p["jira"] {
					t.Errorf("%s: epic %s priority %q, want %v", key, e.key, fe.priority, p["jira"])
				}
			}
			if e.tracker == "jira" && !slices.Contains(fe.labels, "risksync-"+key) {
				t.Errorf("%s: epic %s labels %v lack risksync-%s", key, e.key, fe.labels, key)
			}
		}
		if len(current) > 1 || !decided && len(current) != 1 {
			t.Errorf("%s (%s) has %d current links, want %s", key, status, len(current), map[bool]string{true: "at most 1", false: "1"}[decided])
		}
	}

	openByRisk := map[string][]string{}
	for e, rk := range owner {
		if linkedTo[e] != rk {
			t.Errorf("%s %s carries %s's marker but is not one of its links (linked to %q)", e.tracker, e.key, rk, linkedTo[e])
		}
		if epics[e].open {
			openByRisk[rk] = append(openByRisk[rk], e.key)
		}
	}
	for rk, open := range openByRisk {
		if len(open) > 1 {
			t.Errorf("%s has %d open epics: %v", rk, len(open), open)
		}
	}

	g0, j0 := tr.writes()
	out, _, _ := tr.run("sync", "--once", "--json")
	if g, j := tr.writes(); g != g0 || j != j0 {
		t.Errorf("a pass after convergence wrote: github %d, jira %d:\n%s", g-g0, j-j0, out)
	}
}

func targetOfKey(e epicRef) string {
	if e.tracker == "github" {
		repo, _ := e.repoNumber()
		return repo
	}
	return e.key[:strings.LastIndexByte(e.key, '-')]
}

// stateChange is a close or reopen of an epic, by the bot or a person.
type stateChange struct {
	close, bot bool
}

func ghCloses(is githubtest.Issue) []stateChange {
	var out []stateChange
	for _, ev := range is.Events {
		if ev.Event == "closed" || ev.Event == "reopened" {
			out = append(out, stateChange{close: ev.Event == "closed", bot: ev.Actor == githubtest.DefaultLogin})
		}
	}
	return out
}

func jiraCloses(is *jiratest.IssueView) []stateChange {
	var out []stateChange
	for _, h := range is.History {
		for _, it := range h.Items {
			if it.Field != "status" || (it.From == jiratest.StatusDone) == (it.To == jiratest.StatusDone) {
				continue
			}
			out = append(out, stateChange{close: it.To == jiratest.StatusDone, bot: h.Author == jiratest.BotAccountID})
		}
	}
	return out
}

// checkNoReopenOfPersonsClose: risksync never reopens what a person closed.
func (w *randomWorld) checkNoReopenOfPersonsClose(e epicRef, changes []stateChange) {
	personClosed := false
	for _, c := range changes {
		switch {
		case c.close:
			personClosed = !c.bot
		case c.bot && personClosed:
			w.t.Errorf("risksync reopened %s %s, which a person had closed", e.tracker, e.key)
		default:
			personClosed = false
		}
	}
}
