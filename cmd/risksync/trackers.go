package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/risksync/risksync/internal/connectors/github"
	"github.com/risksync/risksync/internal/reconcile"
	"github.com/risksync/risksync/internal/registry"
)

// trackerSet is every configured tracker: the engine's view, and the
// webhook handlers the daemon serves.
type trackerSet struct {
	github   *github.Client // for the weekly report issue; nil without a github section
	trackers map[string]reconcile.Tracker
	webhooks map[string]http.Handler // by tracker; only where a webhook secret is configured
}

// requestObserver receives every tracker HTTP attempt (metrics).
type requestObserver func(tracker, method, route string, status int, d time.Duration)

// buildTrackers constructs the connectors the configuration names. A
// missing secret fails here, naming the variable or file.
func (m *Main) buildTrackers(logger *slog.Logger, observe requestObserver, notify func(context.Context, registry.Notification) error) (*trackerSet, error) {
	set := &trackerSet{trackers: map[string]reconcile.Tracker{}, webhooks: map[string]http.Handler{}}
	bands := m.cfg.ScoringConfig().Bands
	httpClient := m.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 60 * time.Second}
	}
	if g := m.cfg.GitHub; g != nil {
		token, err := g.Token().Resolve(m.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", m.cfg.Source, err)
		}
		c, err := github.New(github.Options{Config: g, Token: token, Bands: bands, Logger: logger.With("tracker", "github"),
			HTTPClient: httpClient, Now: m.Now, Sleep: m.Sleep, MinWriteInterval: m.MinWriteInterval,
			OnRequest: func(method, route string, status int, d time.Duration) { observe("github", method, route, status, d) }})
		if err != nil {
			return nil, err
		}
		set.trackers[registry.TrackerGitHub] = githubTracker{c}
		set.github = c
		if g.WebhookSecret().Set() && notify != nil {
			secret, err := g.WebhookSecret().Resolve(m.LookupEnv)
			if err != nil {
				return nil, fmt.Errorf("config %s: %w", m.cfg.Source, err)
			}
			h, err := github.NewWebhookHandler(secret, logger.With("webhook", "github"), notify, github.WithPostmortemLabel(g.Postmortem.Label))
			if err != nil {
				return nil, err
			}
			set.webhooks[registry.TrackerGitHub] = h
		}
	}
	if m.cfg.Jira != nil {
		if err := m.buildJira(set, bands, logger, httpClient, observe, notify); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// githubTracker adapts the GitHub connector to the engine.
type githubTracker struct{ c *github.Client }

func (g githubTracker) StartPass(context.Context) error { return nil }

func (g githubTracker) EnsureEpic(ctx context.Context, spec reconcile.EpicSpec, dryRun bool) (reconcile.EpicResult, error) {
	res, err := g.c.EnsureEpic(ctx, github.Epic{Repo: spec.Target, Risk: spec.Risk, Band: spec.Band, Explanation: spec.Explanation}, dryRun)
	return reconcile.EpicResult{Link: res.Link, Writes: githubWrites(res.Writes), Drift: res.Drift}, err
}

func (g githubTracker) CloseEpic(ctx context.Context, key, comment string, dryRun bool) ([]reconcile.Write, error) {
	w, err := g.c.CloseEpic(ctx, key, "not_planned", comment, dryRun)
	return githubWrites(w), err
}

func (g githubTracker) ReopenEpic(ctx context.Context, key, comment string, dryRun bool) ([]reconcile.Write, error) {
	w, err := g.c.ReopenEpic(ctx, key, comment, dryRun)
	return githubWrites(w), err
}

func (g githubTracker) PullBack(ctx context.Context, repo string) ([]reconcile.EpicState, error) {
	states, err := g.c.PullBack(ctx, repo)
	out := make([]reconcile.EpicState, len(states))
	for i, s := range states {
		out[i] = reconcile.EpicState{RiskKey: s.RiskKey, Link: s.Link}
	}
	return out, err
}

func (g githubTracker) Postmortems(ctx context.Context, since time.Time) ([]registry.Postmortem, error) {
	return g.c.Postmortems(ctx, since)
}

func (g githubTracker) Comment(ctx context.Context, key, body string) error {
	return g.c.Comment(ctx, key, body)
}

func githubWrites(ws []github.Write) []reconcile.Write {
	out := make([]reconcile.Write, len(ws))
	for i, w := range ws {
		out[i] = reconcile.Write{Kind: w.Kind, Target: w.Target, Fields: w.Fields}
	}
	return out
}
