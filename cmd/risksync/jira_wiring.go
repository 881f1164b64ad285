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
)

// buildJira wires the Jira connector: a personal access token (Data
// Center) or email + API token (Cloud), from the environment or files.
func (m *Main) buildJira(set *trackerSet, bands []scoring.Band, logger *slog.Logger, httpClient *http.Client, observe requestObserver, notify func(context.Context, registry.Notification) error) error {
	j := m.cfg.Jira
	opts := jira.Options{Config: j, Bands: bands, Logger: logger.With("tracker", "jira"), HTTPClient: httpClient, Now: m.Now, Sleep: m.Sleep,
		OnRequest: func(method, route string, status int, d time.Duration) { observe("jira", method, route, status, d) }}
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
	set.trackers[registry.TrackerJira] = c
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
