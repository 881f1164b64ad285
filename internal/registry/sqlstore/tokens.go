package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/risksync/risksync/internal/registry"
)

var _ registry.TokenStore = (*Store)(nil)

type tokenRow struct {
	Name       string `db:"name"`
	Hash       string `db:"hash"`
	Role       string `db:"role"`
	Teams      string `db:"teams"`
	CreatedAt  dbTime `db:"created_at"`
	ExpiresAt  dbTime `db:"expires_at"`
	LastUsedAt dbTime `db:"last_used_at"`
	RevokedAt  dbTime `db:"revoked_at"`
}

const tokenColumns = `name, hash, role, teams, created_at, expires_at, last_used_at, revoked_at`

func (r *tokenRow) token() registry.Token {
	teams := []string{}
	if r.Teams != "" {
		teams = strings.Split(r.Teams, ",")
	}
	return registry.Token{Name: r.Name, Role: registry.Role(r.Role), Teams: teams, CreatedAt: r.CreatedAt.Time,
		ExpiresAt: r.ExpiresAt.ptr(), LastUsedAt: r.LastUsedAt.ptr(), RevokedAt: r.RevokedAt.ptr(), Hash: r.Hash}
}

func tokenConflict(name string) error {
	return registry.Errorf(registry.ECONFLICT, "a token named %q exists; revoke it first or pick another name", name)
}

// CreateToken implements registry.TokenStore. The messages never carry the
// hash: they reach logs and terminals.
func (s *Store) CreateToken(ctx context.Context, t registry.Token) error {
	name := strings.TrimSpace(t.Name)
	if name == "" {
		return registry.Errorf(registry.EINVALID, "a token needs a name")
	}
	if r, err := registry.ParseRole(string(t.Role)); err != nil || r != t.Role {
		return registry.Errorf(registry.EINVALID, "token %q: unknown role %q: use reader, editor or admin", name, t.Role)
	}
	if t.Hash == "" {
		return registry.Errorf(registry.EINVALID, "token %q: no hash to store", name)
	}
	for _, team := range t.Teams {
		if team == "" || strings.Contains(team, ",") {
			return registry.Errorf(registry.EINVALID, "token %q: team %q is not a team name", name, team)
		}
	}
	created := t.CreatedAt
	if created.IsZero() {
		created = s.nowUTC()
	}
	teams := slices.Clone(t.Teams)
	slices.Sort(teams)
	teams = slices.Compact(teams)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		// Checked first for the message; the unique index still decides
		// when two creates race (PostgreSQL), mapped below. (A clash of
		// random hashes would be reported the same way; it does not happen.)
		var n int
		if err := s.get(ctx, tx, &n, `SELECT COUNT(*) FROM api_tokens WHERE name = ? AND revoked_at IS NULL`, name); err != nil {
			return err
		}
		if n > 0 {
			return tokenConflict(name)
		}
		return s.exec(ctx, tx, `INSERT INTO api_tokens (`+tokenColumns+`) VALUES (`+placeholders(8)+`)`,
			name, t.Hash, string(t.Role), strings.Join(teams, ","), someTime(created), optTime(t.ExpiresAt), optTime(t.LastUsedAt), optTime(t.RevokedAt))
	})
	if err != nil && registry.ErrorCode(s.dialect.MapError(err)) == registry.ECONFLICT {
		return tokenConflict(name)
	}
	return s.wrap(fmt.Sprintf("create token %q", name), err)
}

// Tokens implements registry.TokenStore.
func (s *Store) Tokens(ctx context.Context) ([]registry.Token, error) {
	var rows []tokenRow
	if err := s.selectAll(ctx, s.db, &rows, `SELECT `+tokenColumns+` FROM api_tokens WHERE revoked_at IS NULL ORDER BY name`); err != nil {
		return nil, s.wrap("list tokens", err)
	}
	out := make([]registry.Token, len(rows))
	for i := range rows {
		out[i] = rows[i].token()
	}
	return out, nil
}

// TokenByHash implements registry.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*registry.Token, error) {
	var row tokenRow
	err := s.get(ctx, s.db, &row, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ? AND revoked_at IS NULL`, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "no live token has this secret")
	}
	if err != nil {
		return nil, s.wrap("find token by hash", err)
	}
	t := row.token()
	return &t, nil
}

// RevokeToken implements registry.TokenStore. The row stays, for the record.
func (s *Store) RevokeToken(ctx context.Context, name string, at time.Time) error {
	n, err := s.execCount(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL`, someTime(at), name)
	if err != nil {
		return s.wrap(fmt.Sprintf("revoke token %q", name), err)
	}
	if n == 0 {
		return registry.Errorf(registry.ENOTFOUND, "token %q not found: risksync token list shows the live ones", name)
	}
	return nil
}

// TouchToken implements registry.TokenStore. The time only moves forward,
// so replicas touching out of order keep the latest use; a token revoked
// meanwhile is left alone.
func (s *Store) TouchToken(ctx context.Context, name string, at time.Time) error {
	_, err := s.execCount(ctx, `UPDATE api_tokens SET last_used_at = ?
		WHERE name = ? AND revoked_at IS NULL AND (last_used_at IS NULL OR last_used_at < ?)`, someTime(at), name, someTime(at))
	return s.wrap(fmt.Sprintf("touch token %q", name), err)
}

func (s *Store) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	s.statements.Add(1)
	res, err := s.db.ExecContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
