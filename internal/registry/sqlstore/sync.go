package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/risksync/risksync/internal/registry"
)

var _ registry.SyncStore = (*Store)(nil)

// State implements registry.SyncStore.
func (s *Store) State(ctx context.Context, name string) (string, bool, error) {
	var v string
	err := s.get(ctx, s.q(), &v, `SELECT value FROM sync_state WHERE name = ?`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, s.wrap("read state "+name, err)
	}
	return v, true, nil
}

// StatesWithPrefix implements registry.SyncStore.
func (s *Store) StatesWithPrefix(ctx context.Context, prefixes ...string) (map[string]string, error) {
	var rows []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	out := map[string]string{}
	if len(prefixes) == 0 {
		return out, nil
	}
	// Ranges instead of LIKE: no escaping, and both databases use the primary
	// key. Several prefixes still cost one statement.
	var where []string
	var args []any
	for _, p := range prefixes {
		where = append(where, "(name >= ? AND name < ?)")
		args = append(args, p, p+"\U0010FFFF")
	}
	if err := s.selectAll(ctx, s.q(), &rows, `SELECT name, value FROM sync_state WHERE `+strings.Join(where, " OR "), args...); err != nil {
		return nil, s.wrap("read states "+strings.Join(prefixes, ","), err)
	}
	for _, r := range rows {
		for _, p := range prefixes {
			if strings.HasPrefix(r.Name, p) {
				out[r.Name] = r.Value
				break
			}
		}
	}
	return out, nil
}

// SetState implements registry.SyncStore.
func (s *Store) SetState(ctx context.Context, name, value string) error {
	err := s.exec(ctx, s.q(), `INSERT INTO sync_state (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, someTime(s.now()))
	return s.wrap("write state "+name, err)
}

// DeleteState implements registry.SyncStore.
func (s *Store) DeleteState(ctx context.Context, name string) error {
	return s.wrap("delete state "+name, s.exec(ctx, s.q(), `DELETE FROM sync_state WHERE name = ?`, name))
}

// Enqueue implements registry.SyncStore.
func (s *Store) Enqueue(ctx context.Context, n registry.Notification) (bool, error) {
	if n.DeliveryID == "" || n.Tracker == "" {
		return false, registry.Errorf(registry.EINVALID, "a webhook notification needs a tracker and a delivery id")
	}
	body, err := json.Marshal(n)
	if err != nil {
		return false, err
	}
	var ids []int64
	err = s.selectAll(ctx, s.q(), &ids, `INSERT INTO webhook_queue (tracker, delivery_id, notification, received_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tracker, delivery_id) DO NOTHING RETURNING id`, n.Tracker, n.DeliveryID, string(body), someTime(s.now()))
	if err != nil {
		return false, s.wrap("enqueue "+n.Tracker+" delivery "+n.DeliveryID, err)
	}
	if len(ids) == 1 && s.dialect.NotifyQuery != "" {
		// Best effort: the delivery is stored; a lost wake-up only waits for the next interval.
		_ = s.exec(ctx, s.q(), s.dialect.NotifyQuery)
	}
	return len(ids) == 1, nil
}

// Pending implements registry.SyncStore.
func (s *Store) Pending(ctx context.Context, limit int) ([]registry.QueuedNotification, error) {
	var rows []struct {
		ID           int64  `db:"id"`
		Notification string `db:"notification"`
		ReceivedAt   dbTime `db:"received_at"`
	}
	if err := s.selectAll(ctx, s.q(), &rows, `SELECT id, notification, received_at FROM webhook_queue WHERE processed_at IS NULL ORDER BY id LIMIT ?`, limit); err != nil {
		return nil, s.wrap("pending notifications", err)
	}
	out := make([]registry.QueuedNotification, 0, len(rows))
	for _, r := range rows {
		q := registry.QueuedNotification{ID: r.ID, ReceivedAt: r.ReceivedAt.Time}
		if err := json.Unmarshal([]byte(r.Notification), &q.Notification); err != nil {
			return nil, s.wrap("pending notification", err)
		}
		out = append(out, q)
	}
	return out, nil
}

// MarkProcessed implements registry.SyncStore.
func (s *Store) MarkProcessed(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{someTime(s.now())}
	for _, id := range ids {
		args = append(args, id)
	}
	return s.wrap("mark notifications processed", s.exec(ctx, s.q(), `UPDATE webhook_queue SET processed_at = ? WHERE id IN (`+placeholders(len(ids))+`)`, args...))
}
