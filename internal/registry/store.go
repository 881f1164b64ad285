package registry

import (
	"context"
	"time"
)

// RiskFilter selects risks for ListRisks. The zero value selects all.
type RiskFilter struct {
	Status  []Status // any of these; empty means all
	Owner   string   // a team name; "" means any owner
	Unowned bool     // only risks without an owner
	Limit   int      // 0 means no limit
	Band    string   // only this band; "unscored" for risks without a score
	// ReviewDueBy keeps risks whose review is due at or before it.
	ReviewDueBy *time.Time
	// Text keeps risks whose key, title or description contains it, ignoring case.
	Text string
	// After continues a ranked listing after this position (cursor pagination).
	After *RankPosition
}

// RankPosition is a place in the ranking: risks rank by score, highest
// first, unscored last, then by key number.
type RankPosition struct {
	Score *float64
	ID    int64
}

// Store is the registry's persistence. Implementations: registry/sqlite (the
// embedded default) and registry/postgres. Every write runs in one transaction
// and appends its history entries in that transaction.
type Store interface {
	// CreateRisk stores a new risk, assigns its key (never reused) and
	// returns it as stored. Status defaults to active.
	CreateRisk(ctx context.Context, r *Risk, actor string) (*Risk, error)

	// FindRisk returns the risk with its links and sources, or an ENOTFOUND
	// error whose message is "risk RISK-9 not found".
	FindRisk(ctx context.Context, key string) (*Risk, error)

	// ListRisks returns risks ranked by score, highest first (unscored
	// last), with their links and sources.
	ListRisks(ctx context.Context, f RiskFilter) ([]*Risk, error)

	// UpdateRisk applies fn to the current risk under a row lock, so two
	// concurrent updates both apply, in some order. fn may change any input
	// field, add or change links and add sources; derived fields are
	// recomputed afterwards. A change that alters nothing writes nothing.
	UpdateRisk(ctx context.Context, key, actor string, fn func(*Risk) error) (*Risk, error)

	// ReviewRisk records a review: last_reviewed_at = now, and a history
	// entry carrying the note.
	ReviewRisk(ctx context.Context, key, actor, note string) (*Risk, error)

	// History returns a risk's history, oldest first; limit > 0 keeps the
	// newest limit entries.
	History(ctx context.Context, key string, limit int) ([]HistoryEntry, error)

	// Rescore recomputes derived fields of every risk and records what moved,
	// unless fingerprint (of the scoring configuration) equals the one stored
	// by the last rescore; "" always rescores. It returns how many risks changed.
	Rescore(ctx context.Context, actor, fingerprint string) (int, error)

	// Batch runs fn in one transaction: every write fn makes through tx
	// commits together, or none does when fn (or any write) fails. Reads
	// through tx see the batch's own writes. tx is valid only inside fn;
	// Batch inside a batch joins it.
	Batch(ctx context.Context, fn func(tx Store) error) error

	Close() error
}

// StoreOptions are what every Store needs from its caller.
type StoreOptions struct {
	Derive Deriver          // nil leaves derived fields unset
	Now    func() time.Time // nil means time.Now
}
