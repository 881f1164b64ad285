package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/jira"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
	"github.com/risksync/risksync/internal/sync"
)

// buildJira wires the Jira connector: a personal access token (Data
// Center) or email + API token (Cloud), from the environment or files.
func (m *Main) buildJira(set *trackerSet, bands []scoring.Band, logger *slog.Logger, httpClient *http.Client, observe requestObserver, notify func(context.Context, registry.Notification) error) error {
	j := m.cfg.Jira
	opts := jira.Options{Config: j, Bands: bands, Logger: logger.With("tracker", "jira"), HTTPClient: httpClient, Now: m.Now, Sleep: m.Sleep,
		OnRequest:    func(method, route string, status int, d time.Duration) { observe("jira", method, route, status, d) },
		SearchSettle: m.cfg.Sync.CreateSettle.Std()}
	resolve := func(ref config.SecretRef) (config.Secret, error) {
		s, err := ref.Resolve(m.LookupEnv)
		if err != nil {
			return s, fmt.Errorf("config %s: %w", m.cfg.Source, err)
		}
		return s, nil
	}
	var err error
	if j.UsesPAT() {
		if opts.PAT, err = resolve(j.PAT()); err != nil {
			return err
		}
	} else {
		if opts.Email, err = resolve(j.Email()); err != nil {
			return err
		}
		if opts.APIToken, err = resolve(j.APIToken()); err != nil {
			return err
		}
	}
	c, err := jira.New(opts)
	if err != nil {
		return err
	}
	set.trackers[registry.TrackerJira] = jiraTracker{c}
	if j.WebhookSecret().Set() && notify != nil {
		secret, err := resolve(j.WebhookSecret())
		if err != nil {
			return err
		}
		h, err := jira.NewWebhookHandler(secret, logger.With("webhook", "jira"), notify, jira.WithPostmortemLabel(j.Postmortem.Label), jira.WithEpicLinkField(c.EpicLinkField))
		if err != nil {
			return err
		}
		set.webhooks[registry.TrackerJira] = h
	}
	return nil
}

// jiraTracker adapts the Jira connector to the engine.
type jiraTracker struct{ c *jira.Client }

func (j jiraTracker) StartPass(context.Context) error { j.c.StartPass(); return nil }

func (j jiraTracker) EnsureEpic(ctx context.Context, spec sync.EpicSpec, dryRun bool) (sync.EpicResult, error) {
	res, err := j.c.EnsureEpic(ctx, jira.Epic{Project: spec.Target, Risk: spec.Risk, Band: spec.Band, Explanation: spec.Explanation}, dryRun)
	return sync.EpicResult{Link: res.Link, Writes: jiraWrites(res.Writes), Drift: res.Drift}, err
}

func (j jiraTracker) CloseEpic(ctx context.Context, key, comment string, dryRun bool) ([]sync.Write, error) {
	w, err := j.c.CloseEpic(ctx, key, comment, dryRun)
	return jiraWrites(w), err
}

func (j jiraTracker) ReopenEpic(ctx context.Context, key, comment string, dryRun bool) ([]sync.Write, error) {
	w, err := j.c.ReopenEpic(ctx, key, comment, dryRun)
	return jiraWrites(w), err
}

func (j jiraTracker) PullBack(ctx context.Context, project string) ([]sync.EpicState, error) {
	states, err := j.c.PullBack(ctx, project)
	out := make([]sync.EpicState, len(states))
	for i, s := range states {
		out[i] = sync.EpicState{RiskKey: s.RiskKey, Link: s.Link}
	}
	return out, err
}

func (j jiraTracker) Postmortems(ctx context.Context, since time.Time) ([]registry.Postmortem, error) {
	return j.c.Postmortems(ctx, since)
}

func (j jiraTracker) Comment(ctx context.Context, key, body string) error {
	return j.c.Comment(ctx, key, body)
}

func jiraWrites(ws []jira.Write) []sync.Write {
	out := make([]sync.Write, len(ws))
	for i, w := range ws {
		out[i] = sync.Write{Kind: w.Kind, Target: w.Target, Fields: w.Fields}
	}
	return out
}

// intentGrace is how long the engine waits on an unconfirmed create, per
// tracker: Jira's search lags, GitHub's listing does not.
func (m *Main) intentGrace() map[string]time.Duration {
	return map[string]time.Duration{registry.TrackerJira: m.cfg.Sync.CreateSettle.Std()}
}
