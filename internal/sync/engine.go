package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
	"github.com/risksync/risksync/internal/sync/postmortem"
)

// Store is the part of the registry the engine uses.
type Store interface {
	registry.Store
	registry.SyncStore
}

// Options wire an Engine.
type Options struct {
	Store    Store
	Config   *config.Config
	Trackers map[string]Tracker // by tracker name; only configured ones
	Logger   *slog.Logger
	Now      func() time.Time
	// IntentGrace is, per tracker, how long an epic create whose outcome was
	// never recorded blocks another create while the tracker's search catches
	// up. Trackers absent here (GitHub: its listing is consistent) need none.
	IntentGrace map[string]time.Duration
	// OnWrite observes every tracker write (metrics); optional.
	OnWrite func(Write)
}

// Engine runs passes. It holds no state between passes beyond the store.
type Engine struct {
	opts    Options
	scoring scoring.Config
	log     *slog.Logger
}

// New returns an engine.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IntentGrace == nil {
		opts.IntentGrace = map[string]time.Duration{registry.TrackerJira: 2 * time.Minute}
	}
	if opts.OnWrite == nil {
		opts.OnWrite = func(Write) {}
	}
	return &Engine{opts: opts, scoring: opts.Config.ScoringConfig(), log: opts.Logger}
}

// Failure is a risk or step that did not converge in a pass.
type Failure struct {
	Risk      string `json:"risk,omitempty"`
	Tracker   string `json:"tracker,omitempty"`
	Step      string `json:"step"` // start | intake | push | close | pull-back | comment
	Error     string `json:"error"`
	Retryable bool   `json:"retryable"`
}

// IntakeAction is a registry change from a postmortem table.
type IntakeAction struct {
	Kind       string `json:"kind"` // create | update | recurrence
	Risk       string `json:"risk,omitempty"`
	Postmortem string `json:"postmortem"`
	Table      int    `json:"table"`
	Title      string `json:"title"`
}

// Result is what a pass did, or would do in a dry run.
type Result struct {
	DryRun   bool           `json:"dry_run"`
	Writes   []Write        `json:"-"`
	Intake   []IntakeAction `json:"intake"`
	Failures []Failure      `json:"failures"`
	Started  time.Time      `json:"started"`
	Duration time.Duration  `json:"-"`
	// Risks is the registry as the pass left it, ranked (for metrics).
	Risks []*registry.Risk `json:"-"`
}

// Converged reports whether every risk reached its desired state.
func (r *Result) Converged() bool { return len(r.Failures) == 0 }

// Plan groups the writes the way `sync --dry-run --json` prints them.
type Plan struct {
	Creates  []Write        `json:"creates"`
	Updates  []Write        `json:"updates"`
	Closes   []Write        `json:"closes"`
	Comments []Write        `json:"comments"`
	Intake   []IntakeAction `json:"intake"`
}

// Plan returns the writes grouped by kind.
func (r *Result) Plan() Plan {
	p := Plan{Creates: []Write{}, Updates: []Write{}, Closes: []Write{}, Comments: []Write{}, Intake: r.Intake}
	if p.Intake == nil {
		p.Intake = []IntakeAction{}
	}
	for _, w := range r.Writes {
		switch w.Kind {
		case "create":
			p.Creates = append(p.Creates, w)
		case "close":
			p.Closes = append(p.Closes, w)
		case "comment":
			p.Comments = append(p.Comments, w)
		default:
			p.Updates = append(p.Updates, w)
		}
	}
	return p
}

func (r *Result) fail(risk, tracker, step string, err error) {
	r.Failures = append(r.Failures, Failure{Risk: risk, Tracker: tracker, Step: step, Error: err.Error(), Retryable: registry.IsRetryable(err)})
}

// index holds the pass's view of the registry, kept current as the pass writes.
type index struct {
	byKey    map[string]*registry.Risk
	bySource map[string]*registry.Risk
	byLink   map[string]*registry.Risk
	byTitle  map[string]*registry.Risk
	order    []string // keys, ranked
}

func newIndex(risks []*registry.Risk) *index {
	ix := &index{byKey: map[string]*registry.Risk{}, bySource: map[string]*registry.Risk{}, byLink: map[string]*registry.Risk{}, byTitle: map[string]*registry.Risk{}}
	for _, r := range risks {
		ix.put(r)
	}
	return ix
}

func (ix *index) put(r *registry.Risk) {
	if _, ok := ix.byKey[r.Key]; !ok {
		ix.order = append(ix.order, r.Key)
	}
	ix.byKey[r.Key] = r
	for _, s := range r.Sources {
		ix.bySource[sourceID(s.Tracker, s.Key, s.Position)] = r
	}
	for _, l := range r.Links {
		ix.byLink[l.Tracker+" "+l.Key] = r
	}
	if t := normalizeTitle(r.Title); ix.byTitle[t] == nil {
		ix.byTitle[t] = r
	}
}

func sourceID(tracker, key string, pos int) string { return fmt.Sprintf("%s %s %d", tracker, key, pos) }

// normalizeTitle compares failure modes the way people retype them.
func normalizeTitle(s string) string {
	return strings.TrimRight(strings.ToLower(strings.Join(strings.Fields(s), " ")), ".!;:")
}

// Pass runs intake, push and pull-back once. It applies what it can and
// reports what did not converge; dryRun makes no tracker and no registry write.
func (e *Engine) Pass(ctx context.Context, dryRun bool) *Result {
	start := e.opts.Now()
	res := &Result{DryRun: dryRun, Started: start}
	defer func() { res.Duration = e.opts.Now().Sub(start) }()
	live := map[string]Tracker{}
	for _, name := range e.trackerNames() {
		t := e.opts.Trackers[name]
		if err := t.StartPass(ctx); err != nil {
			res.fail("", name, "start", err)
			continue // its risks wait: pushing with a broken configuration would write wrong values
		}
		live[name] = t
	}
	risks, err := e.opts.Store.ListRisks(ctx, registry.RiskFilter{})
	if err != nil {
		res.fail("", "", "load", err)
		return res
	}
	ix := newIndex(risks)
	for _, name := range e.trackerNames() {
		if t := live[name]; t != nil {
			e.intake(ctx, res, ix, name, t, dryRun)
		}
	}
	for _, key := range ix.order {
		if ctx.Err() != nil {
			res.fail("", "", "push", ctx.Err())
			return res
		}
		e.push(ctx, res, ix, ix.byKey[key], live, dryRun)
	}
	e.pullBack(ctx, res, ix, live, dryRun)
	for _, key := range ix.order {
		res.Risks = append(res.Risks, ix.byKey[key])
	}
	return res
}

func (e *Engine) trackerNames() []string {
	names := make([]string, 0, len(e.opts.Trackers))
	for n := range e.opts.Trackers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (e *Engine) record(res *Result, risk, tracker string, writes []Write) {
	for _, w := range writes {
		w.Risk, w.Tracker = risk, tracker
		res.Writes = append(res.Writes, w)
		if !res.DryRun {
			e.opts.OnWrite(w)
			e.log.Info("tracker write", "kind", w.Kind, "risk", w.Risk, "tracker", w.Tracker, "target", w.Target, "fields", fieldNames(w.Fields))
		}
	}
}

func fieldNames(f map[string][2]string) string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// --- intake ---------------------------------------------------------------

func (e *Engine) hasPostmortemSource(tracker string) bool {
	c := e.opts.Config
	switch tracker {
	case registry.TrackerGitHub:
		return c.GitHub != nil && len(c.GitHub.Postmortem.Repos) > 0
	case registry.TrackerJira:
		return c.Jira != nil && len(c.Jira.Postmortem.Projects) > 0
	}
	return false
}

func (e *Engine) intake(ctx context.Context, res *Result, ix *index, name string, t Tracker, dryRun bool) {
	if !e.hasPostmortemSource(name) {
		return
	}
	cursorName := "cursor:intake:" + name
	var since time.Time
	if v, ok, err := e.opts.Store.State(ctx, cursorName); err != nil {
		res.fail("", name, "intake", err)
		return
	} else if ok {
		since, _ = time.Parse(time.RFC3339Nano, v)
	}
	pms, err := t.Postmortems(ctx, since)
	if err != nil {
		res.fail("", name, "intake", err)
		return
	}
	sort.Slice(pms, func(i, j int) bool { return pms[i].UpdatedAt.Before(pms[j].UpdatedAt) })
	cursor, blocked := since, false
	for _, pm := range pms {
		if err := e.intakeOne(ctx, res, ix, t, pm, dryRun); err != nil {
			res.fail(pm.Key, name, "intake", err)
			blocked = true // the cursor stays before this postmortem, so it is read again
		}
		if !blocked && pm.UpdatedAt.After(cursor) {
			cursor = pm.UpdatedAt
		}
	}
	if !dryRun && cursor.After(since) {
		if err := e.opts.Store.SetState(ctx, cursorName, cursor.UTC().Format(time.RFC3339Nano)); err != nil {
			res.fail("", name, "intake", err)
		}
	}
}

func (e *Engine) intakeOne(ctx context.Context, res *Result, ix *index, t Tracker, pm registry.Postmortem, dryRun bool) error {
	st := e.opts.Store
	tables := postmortem.Parse(pm.Body)
	unknownOwners := map[int]string{}
	problems := false
	for _, tb := range tables {
		problems = problems || len(tb.Problems) > 0
		if tb.Title == "" {
			continue // a table without a Risk row makes no risk; the comment says why
		}
		owner := ""
		if team := postmortem.MatchOwner(tb.Owner, e.opts.Config.MatchTeam); team != nil {
			owner = team.Name
		} else if strings.TrimSpace(tb.Owner) != "" {
			unknownOwners[tb.Position] = tb.Owner
		}
		src := registry.Source{Tracker: pm.Tracker, Key: pm.Key, URL: pm.URL, Position: tb.Position}
		stateName := fmt.Sprintf("intake:%s:%s:%d", pm.Tracker, pm.Key, tb.Position)
		hash := tableHash(tb, owner)
		action := IntakeAction{Postmortem: pm.Key, Table: tb.Position + 1, Title: tb.Title}
		if r := ix.bySource[sourceID(src.Tracker, src.Key, src.Position)]; r != nil {
			prev, _, err := st.State(ctx, stateName)
			if err != nil {
				return err
			}
			if prev == hash {
				continue
			}
			action.Kind, action.Risk = "update", r.Key
			res.Intake = append(res.Intake, action)
			if dryRun {
				continue
			}
			updated, err := st.UpdateRisk(ctx, r.Key, registry.ActorIntake, func(r *registry.Risk) error { applyTable(r, tb, owner); return nil })
			if err != nil {
				return err
			}
			ix.put(updated)
		} else if r := ix.byTitle[normalizeTitle(tb.Title)]; r != nil {
			action.Kind, action.Risk = "recurrence", r.Key
			res.Intake = append(res.Intake, action)
			if dryRun {
				continue
			}
			src.Recurrence = true
			updated, err := st.UpdateRisk(ctx, r.Key, registry.ActorIntake, func(r *registry.Risk) error {
				r.Sources = append(r.Sources, src)
				return nil
			})
			if err != nil {
				return err
			}
			ix.put(updated)
		} else {
			action.Kind = "create"
			if dryRun {
				res.Intake = append(res.Intake, action)
				continue
			}
			r := &registry.Risk{Sources: []registry.Source{src}}
			applyTable(r, tb, owner)
			created, err := st.CreateRisk(ctx, r, registry.ActorIntake)
			if err != nil {
				return err
			}
			action.Risk = created.Key
			res.Intake = append(res.Intake, action)
			ix.put(created)
		}
		if err := st.SetState(ctx, stateName, hash); err != nil {
			return err
		}
	}
	if !problems && len(unknownOwners) == 0 {
		return nil
	}
	return e.commentOnce(ctx, res, t, "", pm.Tracker, pm.Key, "intake-comment:"+pm.Tracker+":"+pm.Key,
		postmortem.ProblemComment(tables, unknownOwners, e.opts.Config.TeamNames()), dryRun)
}

// commentOnce posts body on issueKey unless the marker says it was posted.
// The marker is written first: a crash between the two loses the comment
// rather than posting it twice.
func (e *Engine) commentOnce(ctx context.Context, res *Result, t Tracker, risk, tracker, issueKey, marker, body string, dryRun bool) error {
	if body == "" {
		return nil
	}
	if _, done, err := e.opts.Store.State(ctx, marker); err != nil || done {
		return err
	}
	e.record(res, risk, tracker, []Write{{Kind: "comment", Target: issueKey}})
	if dryRun {
		return nil
	}
	if err := e.opts.Store.SetState(ctx, marker, e.opts.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	if err := t.Comment(ctx, issueKey, body); err != nil {
		_ = e.opts.Store.DeleteState(ctx, marker) // try again next pass
		return err
	}
	return nil
}

func applyTable(r *registry.Risk, tb postmortem.Table, owner string) {
	r.Title = tb.Title
	if tb.Description != "" {
		r.Description = tb.Description
	}
	r.Impact, r.Scope, r.Likelihood = tb.Impact, tb.Scope, tb.Likelihood
	r.Owner = owner
}

func tableHash(tb postmortem.Table, owner string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00%v\x00%v\x00%s", tb.Title, tb.Description, deref(tb.Impact), deref(tb.Scope), deref(tb.Likelihood), owner)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// --- push -----------------------------------------------------------------

func (e *Engine) spec(r *registry.Risk, target string) EpicSpec {
	res := e.scoring.Evaluate(scoring.InputsOf(r))
	return EpicSpec{Target: target, Risk: r, Band: res.Band, Explanation: res.Explain(e.opts.Config.Trackers()...)}
}

func routeName(t config.Target) string {
	if t.Tracker == registry.TrackerJira {
		return t.Project
	}
	return t.Repo
}

func (e *Engine) push(ctx context.Context, res *Result, ix *index, r *registry.Risk, live map[string]Tracker, dryRun bool) {
	route, ok := e.opts.Config.Route(r.Owner)
	if !ok {
		return // no tracker configured for it: the registry keeps it
	}
	// Epics left behind by a move are closed once the new one is recorded.
	for _, l := range r.Links {
		if !l.Current && (l.State == registry.LinkOpen || l.State == registry.LinkInProgress) {
			e.closeSuperseded(ctx, res, ix, r, l, live, dryRun)
		}
	}
	t := live[route.Tracker]
	if t == nil {
		return
	}
	target := routeName(route)
	cur := r.CurrentLink()
	if r.Status.Decided() {
		if cur != nil && (cur.State == registry.LinkOpen || cur.State == registry.LinkInProgress) {
			e.closeDecided(ctx, res, ix, r, *cur, live, dryRun)
		}
		return
	}
	moved := cur != nil && (cur.Tracker != route.Tracker || !strings.EqualFold(targetOf(cur.Tracker, cur.Key), target))
	if cur != nil && !moved && (cur.State == registry.LinkNotPlanned || cur.State == registry.LinkDone) {
		if err := e.reopenIfOurs(ctx, res, r, *cur, t, dryRun); err != nil {
			res.fail(r.Key, cur.Tracker, "push", err)
			return
		}
	}
	er, intent, err := e.ensure(ctx, t, e.spec(r, target), r, route.Tracker, cur == nil || moved, dryRun)
	e.record(res, r.Key, route.Tracker, er.Writes)
	if err != nil {
		res.fail(r.Key, route.Tracker, "push", err)
		return
	}
	if dryRun {
		if len(er.Drift) > 0 {
			e.record(res, r.Key, route.Tracker, []Write{{Kind: "comment", Target: er.Link.Key}})
		}
		return
	}
	if cur == nil || moved || cur.Key != er.Link.Key || cur.URL != er.Link.URL {
		updated, err := e.opts.Store.UpdateRisk(ctx, r.Key, registry.ActorSync, func(x *registry.Risk) error {
			for i := range x.Links {
				x.Links[i].Current = false
			}
			for i := range x.Links {
				if x.Links[i].Tracker == er.Link.Tracker && x.Links[i].Key == er.Link.Key {
					x.Links[i].Current, x.Links[i].URL = true, er.Link.URL
					return nil
				}
			}
			l := er.Link
			l.Current = true
			if !l.State.Valid() {
				l.State = registry.LinkOpen
			}
			x.Links = append(x.Links, l)
			return nil
		})
		if err != nil {
			res.fail(r.Key, route.Tracker, "push", err)
			return
		}
		ix.put(updated)
		r = updated
		if moved {
			e.closeSuperseded(ctx, res, ix, r, *cur, live, dryRun)
		}
	}
	if intent != "" {
		if err := e.opts.Store.DeleteState(ctx, intent); err != nil {
			res.fail(r.Key, route.Tracker, "push", err)
		}
	}
	if len(er.Drift) > 0 {
		body := fmt.Sprintf("risksync overwrote %s on this epic: %s comes from the risk registry, which is the source of truth for %s. "+
			"To change it, run `risksync risk update %s` (or edit the postmortem's risk table); the next pass mirrors it here. "+
			"This comment is posted once per epic; later overwrites are silent.",
			strings.Join(er.Drift, ", "), strings.Join(er.Drift, ", "), r.Key, r.Key)
		if err := e.commentOnce(ctx, res, t, r.Key, route.Tracker, er.Link.Key, "drift-comment:"+er.Link.Tracker+":"+er.Link.Key, body, false); err != nil {
			res.fail(r.Key, route.Tracker, "comment", err)
		}
	}
}

// errCreatePending defers a create whose earlier attempt has no recorded outcome.
var errCreatePending = errors.New("an earlier create of this epic has no recorded outcome; waiting for the tracker's search to show it before creating again")

// ensure calls EnsureEpic; when it may create, it first records an intent,
// and an intent younger than IntentGrace allows adoption only: one empty
// search right after an unconfirmed create proves nothing.
func (e *Engine) ensure(ctx context.Context, t Tracker, spec EpicSpec, r *registry.Risk, tracker string, mayCreate, dryRun bool) (EpicResult, string, error) {
	if !mayCreate || dryRun {
		er, err := t.EnsureEpic(ctx, spec, dryRun)
		return er, "", err
	}
	name := "intent:" + r.Key + ":" + tracker + ":" + spec.Target
	v, ok, err := e.opts.Store.State(ctx, name)
	if err != nil {
		return EpicResult{}, "", err
	}
	grace := e.opts.IntentGrace[tracker]
	if started, perr := time.Parse(time.RFC3339Nano, v); ok && perr == nil && e.opts.Now().Sub(started) < grace {
		plan, err := t.EnsureEpic(ctx, spec, true)
		if err != nil {
			return EpicResult{}, "", err
		}
		for _, w := range plan.Writes {
			if w.Kind == "create" {
				return EpicResult{}, "", &registry.TrackerError{Tracker: tracker, Op: "create epic " + spec.Target + " " + r.Key,
					Retryable: true, RetryAt: started.Add(grace), Err: errCreatePending}
			}
		}
	} else if !ok {
		if err := e.opts.Store.SetState(ctx, name, e.opts.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return EpicResult{}, "", err
		}
	}
	er, err := t.EnsureEpic(ctx, spec, false)
	return er, name, err
}

func (e *Engine) closeDecided(ctx context.Context, res *Result, ix *index, r *registry.Risk, l registry.Link, live map[string]Tracker, dryRun bool) {
	t := live[l.Tracker]
	if t == nil {
		return
	}
	comment := fmt.Sprintf("Closed by risksync: %s was marked **%s** in the risk registry. Run `risksync risk show %s` for the decision and its history.", r.Key, r.Status, r.Key)
	writes, err := t.CloseEpic(ctx, l.Key, comment, dryRun)
	e.record(res, r.Key, l.Tracker, writes)
	if err != nil {
		res.fail(r.Key, l.Tracker, "close", err)
		return
	}
	if dryRun {
		return
	}
	// Remember that risksync closed it: only such epics are ever reopened.
	if err := e.opts.Store.SetState(ctx, "closed-by-risksync:"+l.Tracker+":"+l.Key, string(r.Status)); err != nil {
		res.fail(r.Key, l.Tracker, "close", err)
		return
	}
	e.setLinkState(ctx, res, ix, r, l, registry.LinkNotPlanned)
}

func (e *Engine) closeSuperseded(ctx context.Context, res *Result, ix *index, r *registry.Risk, old registry.Link, live map[string]Tracker, dryRun bool) {
	t := live[old.Tracker]
	if t == nil {
		return
	}
	next := r.CurrentLink()
	where := "the registry"
	if next != nil {
		where = next.Key
		if next.URL != "" {
			where = fmt.Sprintf("[%s](%s)", next.Key, next.URL)
		}
	}
	comment := fmt.Sprintf("risksync: %s moved to a new owner, and its epic is now %s. This epic is closed and no longer updated.", r.Key, where)
	writes, err := t.CloseEpic(ctx, old.Key, comment, dryRun)
	e.record(res, r.Key, old.Tracker, writes)
	if err != nil {
		res.fail(r.Key, old.Tracker, "close", err)
		return
	}
	if !dryRun {
		e.setLinkState(ctx, res, ix, r, old, registry.LinkNotPlanned)
	}
}

func (e *Engine) reopenIfOurs(ctx context.Context, res *Result, r *registry.Risk, l registry.Link, t Tracker, dryRun bool) error {
	marker := "closed-by-risksync:" + l.Tracker + ":" + l.Key
	if _, ours, err := e.opts.Store.State(ctx, marker); err != nil || !ours {
		return err // never reopen what a person closed
	}
	comment := fmt.Sprintf("Reopened by risksync: %s is %s again in the risk registry.", r.Key, r.Status)
	writes, err := t.ReopenEpic(ctx, l.Key, comment, dryRun)
	e.record(res, r.Key, l.Tracker, writes)
	if err != nil || dryRun {
		return err
	}
	return e.opts.Store.DeleteState(ctx, marker)
}

func (e *Engine) setLinkState(ctx context.Context, res *Result, ix *index, r *registry.Risk, l registry.Link, state registry.LinkState) {
	updated, err := e.opts.Store.UpdateRisk(ctx, r.Key, registry.ActorSync, func(x *registry.Risk) error {
		for i := range x.Links {
			if x.Links[i].Tracker == l.Tracker && x.Links[i].Key == l.Key {
				x.Links[i].State = state
			}
		}
		return nil
	})
	if err != nil {
		res.fail(r.Key, l.Tracker, "close", err)
		return
	}
	ix.put(updated)
}

// --- pull-back ------------------------------------------------------------

// StatusFor maps an epic's work state onto a risk's status: people's
// decisions (accepted, retired) stand, and an epic a person closed as not
// planned leaves the status for a person to decide.
func StatusFor(current registry.Status, epic registry.LinkState) registry.Status {
	if current.Decided() {
		return current
	}
	switch epic {
	case registry.LinkDone:
		return registry.StatusMitigated
	case registry.LinkInProgress:
		return registry.StatusMitigating
	case registry.LinkOpen:
		return registry.StatusActive
	}
	return current
}

func (e *Engine) pullBack(ctx context.Context, res *Result, ix *index, live map[string]Tracker, dryRun bool) {
	type target struct{ tracker, name string }
	seen := map[target]bool{}
	var targets []target
	for _, key := range ix.order {
		if l := ix.byKey[key].CurrentLink(); l != nil {
			tg := target{l.Tracker, targetOf(l.Tracker, l.Key)}
			if !seen[tg] && live[tg.tracker] != nil {
				seen[tg] = true
				targets = append(targets, tg)
			}
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].tracker+targets[i].name < targets[j].tracker+targets[j].name })
	for _, tg := range targets {
		states, err := live[tg.tracker].PullBack(ctx, tg.name)
		if err != nil {
			res.fail("", tg.tracker, "pull-back", err)
			continue
		}
		for _, st := range states {
			r := ix.byLink[tg.tracker+" "+st.Link.Key]
			if r == nil || dryRun {
				continue // an epic not yet recorded is adopted by the next push
			}
			if err := e.applyPulled(ctx, ix, r, tg.tracker, st.Link); err != nil {
				res.fail(r.Key, tg.tracker, "pull-back", err)
			}
		}
	}
}

func (e *Engine) applyPulled(ctx context.Context, ix *index, r *registry.Risk, tracker string, pulled registry.Link) error {
	apply := func(x *registry.Risk) bool {
		changed := false
		for i := range x.Links {
			l := &x.Links[i]
			if l.Tracker != tracker || l.Key != pulled.Key {
				continue
			}
			before := *l
			l.State, l.ChildrenTotal, l.ChildrenDone, l.LastActivityAt = pulled.State, pulled.ChildrenTotal, pulled.ChildrenDone, pulled.LastActivityAt
			if pulled.URL != "" {
				l.URL = pulled.URL
			}
			changed = changed || before.State != l.State || before.ChildrenTotal != l.ChildrenTotal || before.ChildrenDone != l.ChildrenDone ||
				before.URL != l.URL || !registry.SameTime(before.LastActivityAt, l.LastActivityAt)
			if l.Current {
				if s := StatusFor(x.Status, l.State); s != x.Status {
					x.Status, changed = s, true
				}
			}
		}
		return changed
	}
	// Compare in memory first: an unchanged epic costs no SQL.
	if !apply(r.Clone()) {
		return nil
	}
	updated, err := e.opts.Store.UpdateRisk(ctx, r.Key, registry.ActorSync, func(x *registry.Risk) error { apply(x); return nil })
	if err != nil {
		return err
	}
	ix.put(updated)
	return nil
}
