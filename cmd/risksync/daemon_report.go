package main

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/risksync/risksync/internal/reconcile"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
)

// State names of the report schedule.
const (
	reportLastRunState = "report:last_run" // when the schedule last fired
	reportRetryState   = "report:retry"    // set while a publication is failing
)

// reportJob is the daemon's part of the weekly report: a snapshot after every
// pass, publication when report.schedule comes due, retried each pass until
// it succeeds.
type reportJob struct {
	m         *Main
	store     *openedStore
	schedule  cron.Schedule
	publisher *report.Publisher // nil when no channel is configured
	metrics   *reconcile.Metrics
	logger    *slog.Logger
}

func (m *Main) newReportJob(s *openedStore, publisher *report.Publisher, metrics *reconcile.Metrics, logger *slog.Logger) (*reportJob, error) {
	sched, err := cron.ParseStandard(m.cfg.Report.Schedule) // validated with the config
	if err != nil {
		return nil, err
	}
	return &reportJob{m: m, store: s, schedule: sched, publisher: publisher, metrics: metrics, logger: logger}, nil
}

func (j *reportJob) deps() report.Deps { return j.m.reportDeps(j.store) }

// reportDeps is what report.Generate needs from this configuration.
func (m *Main) reportDeps(store report.Store) report.Deps {
	return report.Deps{Store: store, Scoring: m.cfg.ScoringConfig(), StagnationAfter: m.cfg.Stagnation.After.Std(), Logger: m.logger()}
}

// afterPass runs after each pass this replica made.
func (j *reportJob) afterPass(ctx context.Context, res *reconcile.Result) {
	now := j.m.Now().UTC()
	for _, f := range res.Failures {
		if f.Step == "load" {
			return // the pass saw no registry: a snapshot now would be empty
		}
	}
	ranked := append([]*registry.Risk(nil), res.Risks...)
	sort.SliceStable(ranked, func(a, b int) bool { return scoreOf(ranked[a]) > scoreOf(ranked[b]) })
	if err := j.store.SaveSnapshot(ctx, report.NewSnapshot(ranked, j.m.cfg.ScoringConfig(), now)); err != nil {
		j.logger.Error("save daily snapshot", "err", err)
	}
	if j.publisher == nil {
		return
	}
	last, seen, err := j.store.State(ctx, reportLastRunState)
	if err != nil {
		j.logger.Error("read report schedule", "err", err)
		return
	}
	if !seen { // first start: the schedule counts from now, nothing is published at once
		_ = j.store.SetState(ctx, reportLastRunState, now.Format(time.RFC3339))
		return
	}
	lastRun, _ := time.Parse(time.RFC3339, last)
	_, retry, _ := j.store.State(ctx, reportRetryState)
	if !retry && now.Before(j.schedule.Next(lastRun)) {
		return
	}
	rep, err := report.Generate(ctx, j.deps(), now, report.Options{})
	if err == nil {
		_, err = j.publisher.Publish(ctx, rep)
	}
	if err != nil {
		j.logger.Error("publish weekly report; retrying at the next pass", "err", err)
		_ = j.store.SetState(ctx, reportRetryState, now.Format(time.RFC3339))
		j.metrics.SetReportFailing(true)
		return
	}
	j.logger.Info("published weekly report", "week", rep.Week)
	_ = j.store.DeleteState(ctx, reportRetryState)
	_ = j.store.SetState(ctx, reportLastRunState, now.Format(time.RFC3339))
	j.metrics.SetReportFailing(false)
}

func scoreOf(r *registry.Risk) float64 {
	if r.Score == nil {
		return -1
	}
	return *r.Score
}

// status adds the week's publication records to /readyz detail.
func (j *reportJob) status(ctx context.Context, detail map[string]any) {
	if j.publisher == nil {
		return
	}
	pubs, err := report.Status(ctx, j.store, report.ISOWeek(j.m.Now()))
	if err != nil {
		return
	}
	out := map[string]any{}
	for _, p := range pubs {
		v := map[string]any{"delivered": p.Delivered, "attempts": p.Attempts}
		if p.LastError != "" {
			v["last_error"] = p.LastError
		}
		out[p.Channel] = v
	}
	if _, retry, _ := j.store.State(ctx, reportRetryState); retry {
		out["retrying"] = true
	}
	detail["report"] = out
}
