// Package registrytest opens real databases for tests and holds the Store
// conformance suite that every implementation passes.
package registrytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/postgres"
	"github.com/risksync/risksync/internal/registry/sqlite"
	"github.com/risksync/risksync/internal/registry/sqlstore"
)

// PostgresEnv names the variable that enables the PostgreSQL tests. When it
// is set, a database that cannot be reached fails the tests: never a skip.
const PostgresEnv = "RISKSYNC_TEST_POSTGRES_DSN"

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at a fixed, readable moment.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// DefaultOptions derives with the built-in scoring bands and reads clock.
func DefaultOptions(clock *Clock) registry.StoreOptions {
	cfg, err := config.Parse(nil)
	if err != nil {
		panic(err)
	}
	return registry.StoreOptions{Derive: cfg.ScoringConfig().Derive, Now: clock.Now}
}

// Opener opens a fresh, empty, migrated store for one test.
type Opener func(tb testing.TB, opts registry.StoreOptions) *sqlstore.Store

// Backends returns the databases to test against: SQLite always, PostgreSQL
// when PostgresEnv is set.
func Backends() map[string]Opener {
	out := map[string]Opener{"sqlite": func(tb testing.TB, opts registry.StoreOptions) *sqlstore.Store {
		return MustOpenSQLite(tb, opts).Store
	}}
	if os.Getenv(PostgresEnv) != "" {
		out["postgres"] = func(tb testing.TB, opts registry.StoreOptions) *sqlstore.Store {
			return MustOpenPostgres(tb, opts).Store
		}
	}
	return out
}

// MustOpenSQLite opens a new database file in a temporary directory.
func MustOpenSQLite(tb testing.TB, opts registry.StoreOptions) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "risksync.db"), opts)
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustOpenPostgres creates a new database on the server named by
// PostgresEnv, opens it, and drops it when the test ends.
func MustOpenPostgres(tb testing.TB, opts registry.StoreOptions) *postgres.DB {
	tb.Helper()
	dsn := TempPostgresDSN(tb)
	db, err := postgres.Open(context.Background(), dsn, opts)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// TempPostgresDSN creates an empty database and returns its URL; it is
// dropped when the test ends.
func TempPostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Fatalf("%s is not set", PostgresEnv)
	}
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		tb.Fatalf("%s: %v", PostgresEnv, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "risksync_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		admin.Close()
		tb.Fatalf("postgres from %s: create database: %v", PostgresEnv, err)
	}
	tb.Cleanup(func() {
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}
