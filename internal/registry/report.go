package registry

import (
	"context"
	"time"
)

// Snapshot is the registry's standing on one day, taken by the daemon at
// least daily. The weekly report draws its trend chart and top-10 tenure
// from these rows instead of replaying history.
type Snapshot struct {
	Day      time.Time      `json:"day"`      // UTC midnight
	Exposure float64        `json:"exposure"` // sum of scores of risks not accepted or retired
	Risks    int            `json:"risks"`    // risks not accepted or retired
	ByBand   map[string]int `json:"by_band"`  // band → count ("unscored" for none)
	Top      []string       `json:"top"`      // keys of the top 10 by score, highest first
}

// Publication records one delivery channel of one week's report, so a
// retry or a restart never publishes twice.
type Publication struct {
	Week      string    `json:"week"`    // ISO week, e.g. 2026-W48
	Channel   string    `json:"channel"` // github_issue | webhook
	Ref       string    `json:"ref"`     // e.g. the issue key
	Delivered bool      `json:"delivered"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ReportStore is what the weekly report reads and records beyond Store.
type ReportStore interface {
	// SaveSnapshot stores the day's snapshot, replacing one taken earlier that day.
	SaveSnapshot(ctx context.Context, s Snapshot) error
	// Snapshots returns the snapshots from the given day on, oldest first.
	Snapshots(ctx context.Context, from time.Time) ([]Snapshot, error)
	// HistorySince returns every risk's history entries at or after since, oldest first.
	HistorySince(ctx context.Context, since time.Time) ([]HistoryEntry, error)
	// Publication returns the record of a week's channel, or nil when none exists.
	Publication(ctx context.Context, week, channel string) (*Publication, error)
	// SavePublication creates or replaces the record of a week's channel.
	SavePublication(ctx context.Context, p Publication) error
	// LastDelivered returns the newest delivered publication of a week
	// before the given ISO week, or nil when there is none.
	LastDelivered(ctx context.Context, beforeWeek string) (*Publication, error)
}
