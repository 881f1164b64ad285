package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

var _ registry.ReportStore = (*Store)(nil)

const dayLayout = "2006-01-02"

type snapshotRow struct {
	Day      string  `db:"day"`
	Exposure float64 `db:"exposure"`
	Risks    int     `db:"risks"`
	ByBand   string  `db:"by_band"`
	Top      string  `db:"top"`
}

// SaveSnapshot implements registry.ReportStore.
func (s *Store) SaveSnapshot(ctx context.Context, snap registry.Snapshot) error {
	byBand, err := json.Marshal(snap.ByBand)
	if err != nil {
		return err
	}
	top, err := json.Marshal(snap.Top)
	if err != nil {
		return err
	}
	err = s.exec(ctx, s.q(), `INSERT INTO registry_snapshots (day, exposure, risks, by_band, top) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (day) DO UPDATE SET exposure = excluded.exposure, risks = excluded.risks, by_band = excluded.by_band, top = excluded.top`,
		snap.Day.UTC().Format(dayLayout), snap.Exposure, snap.Risks, string(byBand), string(top))
	return s.wrap("save snapshot", err)
}

// Snapshots implements registry.ReportStore.
func (s *Store) Snapshots(ctx context.Context, from time.Time) ([]registry.Snapshot, error) {
	var rows []snapshotRow
	if err := s.selectAll(ctx, s.q(), &rows, `SELECT day, exposure, risks, by_band, top FROM registry_snapshots WHERE day >= ? ORDER BY day`,
		from.UTC().Format(dayLayout)); err != nil {
		return nil, s.wrap("snapshots", err)
	}
	out := make([]registry.Snapshot, len(rows))
	for i, r := range rows {
		day, err := time.Parse(dayLayout, r.Day)
		if err != nil {
			return nil, s.wrap("snapshots", err)
		}
		out[i] = registry.Snapshot{Day: day, Exposure: r.Exposure, Risks: r.Risks}
		if err := json.Unmarshal([]byte(r.ByBand), &out[i].ByBand); err != nil {
			return nil, s.wrap("snapshot "+r.Day, err)
		}
		if err := json.Unmarshal([]byte(r.Top), &out[i].Top); err != nil {
			return nil, s.wrap("snapshot "+r.Day, err)
		}
	}
	return out, nil
}

// HistorySince implements registry.ReportStore.
func (s *Store) HistorySince(ctx context.Context, since time.Time) ([]registry.HistoryEntry, error) {
	var rows []historyRow
	if err := s.selectAll(ctx, s.q(), &rows, `SELECT id, risk_id, at, actor, field, old_value, new_value FROM risk_history WHERE at >= ? ORDER BY id`,
		someTime(since)); err != nil {
		return nil, s.wrap("history since", err)
	}
	out := make([]registry.HistoryEntry, len(rows))
	for i, h := range rows {
		out[i] = registry.HistoryEntry{ID: h.ID, RiskKey: registry.FormatKey(h.RiskID), At: h.At.Time, Actor: h.Actor,
			Field: h.Field, OldValue: nullStr(h.OldValue), NewValue: nullStr(h.NewValue)}
	}
	return out, nil
}

type publicationRow struct {
	Week      string `db:"week"`
	Channel   string `db:"channel"`
	Ref       string `db:"ref"`
	Delivered bool   `db:"delivered"`
	Attempts  int    `db:"attempts"`
	LastError string `db:"last_error"`
	UpdatedAt dbTime `db:"updated_at"`
}

// Publication implements registry.ReportStore.
func (s *Store) Publication(ctx context.Context, week, channel string) (*registry.Publication, error) {
	var r publicationRow
	err := s.get(ctx, s.q(), &r, `SELECT week, channel, ref, delivered, attempts, last_error, updated_at FROM report_publications WHERE week = ? AND channel = ?`, week, channel)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap("publication "+week+" "+channel, err)
	}
	return &registry.Publication{Week: r.Week, Channel: r.Channel, Ref: r.Ref, Delivered: r.Delivered, Attempts: r.Attempts,
		LastError: r.LastError, UpdatedAt: r.UpdatedAt.Time}, nil
}

// LastDelivered implements registry.ReportStore. ISO weeks ("2026-W09")
// sort as text, so one indexed query finds the newest.
func (s *Store) LastDelivered(ctx context.Context, beforeWeek string) (*registry.Publication, error) {
	var r publicationRow
	err := s.get(ctx, s.q(), &r, `SELECT week, channel, ref, delivered, attempts, last_error, updated_at FROM report_publications
		WHERE delivered AND week < ? ORDER BY week DESC, channel LIMIT 1`, beforeWeek)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap("last delivered report", err)
	}
	return &registry.Publication{Week: r.Week, Channel: r.Channel, Ref: r.Ref, Delivered: r.Delivered, Attempts: r.Attempts,
		LastError: r.LastError, UpdatedAt: r.UpdatedAt.Time}, nil
}

// SavePublication implements registry.ReportStore.
func (s *Store) SavePublication(ctx context.Context, p registry.Publication) error {
	err := s.exec(ctx, s.q(), `INSERT INTO report_publications (week, channel, ref, delivered, attempts, last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (week, channel) DO UPDATE SET ref = excluded.ref, delivered = excluded.delivered, attempts = excluded.attempts,
		last_error = excluded.last_error, updated_at = excluded.updated_at`,
		p.Week, p.Channel, p.Ref, p.Delivered, p.Attempts, p.LastError, someTime(s.now()))
	return s.wrap("save publication "+p.Week+" "+p.Channel, err)
}
