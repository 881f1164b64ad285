package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// buildJira wires the Jira connector. Until it lands, a configured jira
// section fails here rather than being silently ignored.
func (m *Main) buildJira(_ *trackerSet, _ []scoring.Band, _ *slog.Logger, _ *http.Client, _ requestObserver, _ func(context.Context, registry.Notification) error) error {
	return errors.New("jira: the Jira connector is not wired into this build yet")
}
