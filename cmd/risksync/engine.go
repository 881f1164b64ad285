package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/risksync/risksync/internal/reconcile"
	"github.com/risksync/risksync/internal/registry"
)

// newEngine wires the reconcile engine for sync and serve alike.
func (m *Main) newEngine(s *openedStore, ts *trackerSet, logger *slog.Logger, onWrite func(registry.Write)) *reconcile.Engine {
	opts := reconcile.Options{Store: s, Routing: m.cfg.Routing(), Scoring: m.cfg.ScoringConfig(), Trackers: ts.trackers, Logger: logger, Now: m.Now,
		// Jira's search lags behind a create; GitHub's listing does not.
		IntentGrace:   map[string]time.Duration{registry.TrackerJira: m.cfg.Sync.CreateSettle.Std()},
		ConfigVersion: m.configVersion(), OnWrite: onWrite}
	if m.cfg.Commands.Enabled {
		opts.Commands = m.newService(s) // commands obey the same rules as the CLI
	}
	return reconcile.New(opts)
}

// configVersion identifies the configuration, so risks backing off after a
// terminal error are tried again as soon as it changes.
func (m *Main) configVersion() string {
	b, err := json.Marshal(m.cfg)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
