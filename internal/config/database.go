package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// DatabaseKind is the technology a database URL selects.
type DatabaseKind string

const (
	SQLite   DatabaseKind = "sqlite"
	Postgres DatabaseKind = "postgres"
)

// DatabaseTarget is a parsed database.url.
type DatabaseTarget struct {
	Kind DatabaseKind
	Path string // SQLite file path
	DSN  string // PostgreSQL connection URL
}

// ParseDatabaseURL accepts sqlite://relative.db, sqlite:///abs/path.db and
// postgres:// (or postgresql://) URLs.
func ParseDatabaseURL(raw string) (DatabaseTarget, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			return DatabaseTarget{}, fmt.Errorf("database url %q: sqlite URLs take no parameters", raw)
		}
		if p == "" || p == "/" {
			return DatabaseTarget{}, fmt.Errorf("database url %q has no file path: use sqlite://risksync.db or sqlite:///abs/path.db", raw)
		}
		return DatabaseTarget{Kind: SQLite, Path: filepath.Clean(p)}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return DatabaseTarget{}, fmt.Errorf("database url %s is not a valid postgres URL: use postgres://user@host:5432/db?sslmode=disable", RedactURL(raw))
		}
		return DatabaseTarget{Kind: Postgres, DSN: raw}, nil
	}
	return DatabaseTarget{}, fmt.Errorf("database url %s: use sqlite://FILE or postgres://user@host:5432/db", RedactURL(raw))
}

// RedactURL hides the password of a URL, for messages and logs.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "@"); i >= 0 {
			return "<url with credentials>"
		}
		return raw
	}
	return u.Redacted()
}
