package reconcile

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// Store is the part of the registry the engine uses.
type Store interface {
	registry.Store
	registry.SyncStore
}

// Options wire an Engine.
type Options struct {
	Store    Store
	Routing  registry.Routing // teams → tracker and target, postmortem sources
	Scoring  scoring.Config
	Trackers map[string]registry.Tracker // by tracker name; only configured ones
	Logger   *slog.Logger
	Now      func() time.Time
	// IntentGrace is, per tracker, how long an epic create whose outcome was
	// never recorded blocks another create while the tracker's search catches
	// up. Trackers absent here (GitHub: its listing is consistent) need none.
	IntentGrace map[string]time.Duration
	// ConfigVersion identifies the configuration: a risk backing off after
	// a terminal error is tried again at once when it changes.
	ConfigVersion string
	// OnWrite observes every tracker write (metrics); optional.
	OnWrite func(registry.Write)
	// Commands, when set, applies `/risk` commands from tracker comments
	// through the service layer (config commands.enabled).
	Commands CommandService
}

// Engine runs passes. It holds no state between passes beyond the store.
type Engine struct {
	opts    Options
	scoring scoring.Config
	log     *slog.Logger
	perms   permCache // tracker answers about who may edit, for minutes
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
		opts.OnWrite = func(registry.Write) {}
	}
	return &Engine{opts: opts, scoring: opts.Scoring, log: opts.Logger}
}

// Failure is a risk or step that did not converge in a pass.
type Failure struct {
	Risk      string `json:"risk,omitempty"`
	Tracker   string `json:"tracker,omitempty"`
	Step      string `json:"step"` // start | intake | expiry | push | close | pull-back | comment
	Error     string `json:"error"`
	Retryable bool   `json:"retryable"`
	// RetryAt is when the risk is tried again, when that is later than the next pass.
	RetryAt *time.Time `json:"retry_at,omitempty"`
	// Fix is what a person must change, when the tracker error names it.
	Fix string `json:"fix,omitempty"`
}

// BackingOff reports whether the risk is not tried again before RetryAt.
func (f Failure) BackingOff() bool { return f.Risk != "" && f.RetryAt != nil }

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
	DryRun bool             `json:"dry_run"`
	Writes []registry.Write `json:"-"`
	Intake []IntakeAction   `json:"intake"`
	// Expired are the risks whose acceptance ended in this pass (now active).
	Expired  []string      `json:"expired"`
	Failures []Failure     `json:"failures"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"-"`
	// Risks is the registry as the pass left it, ranked (for metrics).
	Risks []*registry.Risk `json:"-"`
}

// Converged reports whether every risk reached its desired state.
func (r *Result) Converged() bool { return len(r.Failures) == 0 }

// Plan groups the writes the way `sync --dry-run --json` prints them.
type Plan struct {
	Creates  []registry.Write `json:"creates"`
	Updates  []registry.Write `json:"updates"`
	Closes   []registry.Write `json:"closes"`
	Comments []registry.Write `json:"comments"`
	Intake   []IntakeAction   `json:"intake"`
	Expired  []string         `json:"expired"`
}

// Plan returns the writes grouped by kind.
func (r *Result) Plan() Plan {
	p := Plan{Creates: []registry.Write{}, Updates: []registry.Write{}, Closes: []registry.Write{}, Comments: []registry.Write{}, Intake: r.Intake}
	if p.Intake == nil {
		p.Intake = []IntakeAction{}
	}
	if p.Expired = r.Expired; p.Expired == nil {
		p.Expired = []string{}
	}
	for _, w := range r.Writes {
		switch w.Kind {
		case registry.WriteCreate:
			p.Creates = append(p.Creates, w)
		case registry.WriteClose:
			p.Closes = append(p.Closes, w)
		case registry.WriteComment:
			p.Comments = append(p.Comments, w)
		default:
			p.Updates = append(p.Updates, w)
		}
	}
	return p
}

func (r *Result) fail(risk, tracker, step string, err error) {
	r.Failures = append(r.Failures, Failure{Risk: risk, Tracker: tracker, Step: step, Error: err.Error(), Retryable: registry.IsRetryable(err),
		RetryAt: retryAtOf(err), Fix: fixOf(err)})
}

// Pass runs intake, expiry, push and pull-back once. It applies what it can and
// reports what did not converge; dryRun makes no tracker and no registry write.
func (e *Engine) Pass(ctx context.Context, dryRun bool) *Result {
	start := e.opts.Now()
	res := &Result{DryRun: dryRun, Started: start}
	defer func() { res.Duration = e.opts.Now().Sub(start) }()
	live := map[string]registry.Tracker{}
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
	// The engine's per-pass facts (intake cursors, backoffs) in one statement.
	facts, err := e.opts.Store.StatesWithPrefix(ctx, intakeCursorPrefix, backoffPrefix, commandCursorPrefix, intentPrefix)
	if err != nil {
		res.fail("", "", "load", err)
		return res
	}
	for _, name := range e.trackerNames() {
		if t := live[name]; t != nil {
			e.intake(ctx, res, ix, name, t, facts[intakeCursorKey(name)], dryRun)
		}
	}
	if ctx.Err() == nil {
		e.expire(ctx, res, ix, dryRun)
	}
	backoffs := backoffsOf(facts)
	for _, key := range ix.order {
		if ctx.Err() != nil {
			res.fail("", "", "push", ctx.Err())
			return res
		}
		r := ix.byKey[key]
		b, had := backoffs[key]
		if e.deferred(res, r, b, had) {
			continue
		}
		first := len(res.Failures)
		e.push(ctx, res, ix, r, live, dryRun)
		if !dryRun && ctx.Err() == nil {
			e.settleBackoff(ctx, res, r, first, b, had)
		}
	}
	pushed := make(map[string]registry.Status, len(ix.order))
	for _, key := range ix.order {
		pushed[key] = ix.byKey[key].Status
	}
	e.pullBack(ctx, res, ix, live, facts, dryRun)
	// A status the pull-back changed shows on the epic (its body carries it):
	// push those risks again, so a pass that converged leaves nothing to write.
	for _, key := range ix.order {
		if r := ix.byKey[key]; !dryRun && ctx.Err() == nil && r.Status != pushed[key] {
			e.push(ctx, res, ix, r, live, dryRun)
		}
	}
	// Commands run after pull-back: the pass's listings have shown which
	// issues changed, so comments are read only where something moved.
	if ctx.Err() == nil {
		e.commands(ctx, res, ix, live, facts, dryRun)
	}
	if ctx.Err() == nil {
		e.orderBacklogs(ctx, res, ix, live, dryRun)
	}
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

func (e *Engine) record(res *Result, risk, tracker string, writes []registry.Write) {
	for _, w := range writes {
		if risk != "" {
			w.Risk = risk // else the connector named it (backlog moves)
		}
		w.Tracker = tracker
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
