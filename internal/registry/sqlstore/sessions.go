package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

var _ registry.SessionStore = (*Store)(nil)

type sessionRow struct {
	Hash           string `db:"hash"`
	TokenHash      string `db:"token_hash"`
	TokenName      string `db:"token_name"`
	Role           string `db:"role"`
	Teams          string `db:"teams"`
	CreatedAt      dbTime `db:"created_at"`
	LastSeenAt     dbTime `db:"last_seen_at"`
	TokenExpiresAt dbTime `db:"expires_at"`
}

// CreateSession implements registry.SessionStore.
func (s *Store) CreateSession(ctx context.Context, in registry.Session) error {
	if in.Hash == "" || in.TokenHash == "" {
		return registry.Errorf(registry.EINVALID, "a session needs its hash and its token's")
	}
	if r, err := registry.ParseRole(string(in.Role)); err != nil || r != in.Role {
		return registry.Errorf(registry.EINVALID, "session: unknown role %q", in.Role)
	}
	teams := slices.Clone(in.Teams)
	slices.Sort(teams)
	err := s.exec(ctx, s.db, `INSERT INTO web_sessions (hash, token_hash, token_name, role, teams, created_at, last_seen_at)
		VALUES (`+placeholders(7)+`)`, in.Hash, in.TokenHash, in.TokenName, string(in.Role), strings.Join(slices.Compact(teams), ","),
		someTime(in.CreatedAt), someTime(in.LastSeenAt))
	return s.wrap("create session", err)
}

// SessionByHash implements registry.SessionStore: the join drops sessions
// whose token was revoked.
func (s *Store) SessionByHash(ctx context.Context, hash string) (*registry.Session, error) {
	var row sessionRow
	err := s.get(ctx, s.db, &row, `SELECT w.hash, w.token_hash, w.token_name, w.role, w.teams, w.created_at, w.last_seen_at, t.expires_at
		FROM web_sessions w JOIN api_tokens t ON t.hash = w.token_hash AND t.revoked_at IS NULL WHERE w.hash = ?`, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "no live session has this id")
	}
	if err != nil {
		return nil, s.wrap("find session", err)
	}
	teams := []string{}
	if row.Teams != "" {
		teams = strings.Split(row.Teams, ",")
	}
	return &registry.Session{Hash: row.Hash, TokenHash: row.TokenHash, TokenName: row.TokenName, Role: registry.Role(row.Role),
		Teams: teams, CreatedAt: row.CreatedAt.Time, LastSeenAt: row.LastSeenAt.Time, TokenExpiresAt: row.TokenExpiresAt.ptr()}, nil
}

// TouchSession implements registry.SessionStore; the time only moves forward.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time) error {
	_, err := s.execCount(ctx, `UPDATE web_sessions SET last_seen_at = ? WHERE hash = ? AND last_seen_at < ?`, someTime(at), hash, someTime(at))
	return s.wrap("touch session", err)
}

// DeleteSession implements registry.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.execCount(ctx, `DELETE FROM web_sessions WHERE hash = ?`, hash)
	return s.wrap("delete session", err)
}

// DeleteSessionsBefore implements registry.SessionStore.
func (s *Store) DeleteSessionsBefore(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	n, err := s.execCount(ctx, `DELETE FROM web_sessions WHERE last_seen_at < ? OR created_at < ?`, someTime(idleBefore), someTime(createdBefore))
	return n, s.wrap("delete expired sessions", err)
}
