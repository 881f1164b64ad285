package reconcile

import (
	"context"
	"log/slog"
	gosync "sync"
	"time"
)

// Daemon runs a pass every interval, and sooner when a webhook asks,
// on the one replica that holds leadership.
type Daemon struct {
	Engine   *Engine
	Store    Store
	Leader   Leader
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	// Debounce gathers a burst of webhooks into one pass.
	Debounce time.Duration
	// FollowerRetry is how often a replica that does not lead tries to take
	// over (default Interval); it costs one lock attempt.
	FollowerRetry time.Duration
	// AfterPass runs after every pass this replica made (metrics, snapshots, reports).
	AfterPass func(ctx context.Context, res *Result)
	// OnLeadership is told whether this replica leads, after every step (metrics).
	OnLeadership func(leading bool)

	wake chan struct{}
	once gosync.Once

	mu      gosync.Mutex
	leading bool
	last    *Result
}

func (d *Daemon) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		if d.Logger == nil {
			d.Logger = slog.New(slog.DiscardHandler)
		}
		if d.Now == nil {
			d.Now = time.Now
		}
		if d.Debounce == 0 {
			d.Debounce = 500 * time.Millisecond
		}
		if d.FollowerRetry == 0 || d.FollowerRetry > d.Interval {
			d.FollowerRetry = d.Interval
		}
	})
}

// Wake asks for a pass soon; it never blocks.
func (d *Daemon) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Status reports whether this replica leads and the last pass it made.
func (d *Daemon) Status() (leading bool, last *Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.leading, d.last
}

// Start runs until ctx ends. A pass interrupted by shutdown leaves at most
// an unconfirmed create behind, which the next pass adopts.
func (d *Daemon) Start(ctx context.Context) error {
	d.init()
	defer d.Leader.Release()
	for {
		d.step(ctx)
		wait := d.Interval
		if leading, _ := d.Status(); !leading {
			wait = d.FollowerRetry
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		case <-d.wake:
			timer.Stop()
			select { // let a burst of deliveries arrive
			case <-ctx.Done():
				return nil
			case <-time.After(d.Debounce):
			}
		}
	}
}

func (d *Daemon) setLeading(v bool) {
	d.mu.Lock()
	was := d.leading
	d.leading = v
	d.mu.Unlock()
	if v != was {
		d.Logger.Info("leadership changed", "leading", v)
	}
	if d.OnLeadership != nil {
		d.OnLeadership(v)
	}
}

func (d *Daemon) step(ctx context.Context) {
	leading, err := d.Leader.TryAcquire(ctx)
	if err != nil {
		d.Logger.Error("leader election", "err", err)
		d.setLeading(false)
		return
	}
	if !leading {
		d.setLeading(false)
		return
	}
	if err := d.Leader.Check(ctx); err != nil {
		d.Logger.Error("stopped writing", "err", err)
		d.setLeading(false)
		return
	}
	d.setLeading(true)
	pending, err := d.Store.Pending(ctx, 1000)
	if err != nil {
		d.Logger.Error("read webhook queue", "err", err)
	}
	res := d.Engine.Pass(ctx, false)
	if ctx.Err() == nil {
		ids := make([]int64, len(pending))
		for i, p := range pending {
			ids[i] = p.ID
		}
		if err := d.Store.MarkProcessed(ctx, ids); err != nil {
			d.Logger.Error("mark webhook deliveries processed", "err", err)
		}
	}
	d.mu.Lock()
	d.last = res
	d.mu.Unlock()
	level := slog.LevelInfo
	if !res.Converged() {
		level = slog.LevelWarn
	}
	d.Logger.Log(ctx, level, "pass", "writes", len(res.Writes), "intake", len(res.Intake), "failures", len(res.Failures),
		"webhooks", len(pending), "duration", res.Duration)
	for _, f := range res.Failures {
		d.Logger.Warn("did not converge", "risk", f.Risk, "tracker", f.Tracker, "step", f.Step, "retryable", f.Retryable, "err", f.Error)
	}
	if d.AfterPass != nil && ctx.Err() == nil {
		d.AfterPass(ctx, res)
	}
}
