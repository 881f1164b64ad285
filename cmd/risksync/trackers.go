package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/github"
	"github.com/risksync/risksync/internal/registry"
)

// trackerSet is every configured tracker: the engine's view, and the
// webhook handlers the daemon serves.
type trackerSet struct {
	github   *github.Client // for the weekly report issue; nil without a github section
	trackers map[string]registry.Tracker
	webhooks map[string]http.Handler // by tracker; only where a webhook secret is configured
}

// requestObserver receives every tracker HTTP attempt (metrics).
type requestObserver func(tracker, method, route string, status int, d time.Duration)

// buildTrackers constructs the connectors the configuration names. A
// missing secret fails here, naming the variable or file.
func (m *Main) buildTrackers(logger *slog.Logger, observe requestObserver, notify func(context.Context, registry.Notification) error) (*trackerSet, error) {
	set := &trackerSet{trackers: map[string]registry.Tracker{}, webhooks: map[string]http.Handler{}}
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
		var projects func(string) *config.GitHubProject
		if len(m.cfg.GitHubProjects()) > 0 {
			projects = m.cfg.GitHubProjectFor
		}
		c, err := github.New(github.Options{Config: g, Token: token, Bands: bands, Logger: logger.With("tracker", "github"), Projects: projects,
			HTTPClient: httpClient, Now: m.Now, Sleep: m.Sleep, MinWriteInterval: m.MinWriteInterval,
			OnRequest: func(method, route string, status int, d time.Duration) { observe("github", method, route, status, d) }})
		if err != nil {
			return nil, err
		}
		set.trackers[registry.TrackerGitHub] = c
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
