// Package reconcile is risksync's engine: level-based reconcile of the registry
// into tracker epics, pull-back of work state, postmortem intake, and the
// daemon loop around them.
package reconcile

import (
	"strings"

	"github.com/risksync/risksync/internal/registry"
)

// targetOf returns the repo or project an epic key lives in.
func targetOf(tracker, key string) string {
	switch tracker {
	case registry.TrackerGitHub:
		if i := strings.LastIndexByte(key, '#'); i > 0 {
			return key[:i]
		}
	case registry.TrackerJira:
		if i := strings.LastIndexByte(key, '-'); i > 0 {
			return key[:i]
		}
	}
	return ""
}
