// Package sqlite is the embedded registry store: one file, no server, the
// zero-setup default (sqlite://risksync.db).
package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the registry store on one SQLite file.
type DB struct {
	*sqlstore.Store
	Path    string
	Applied []int64 // migrations applied by Open
}

// Open opens (creating if needed) the database file, checks it is a
// writable SQLite database, and applies pending migrations.
func Open(ctx context.Context, path string, opts registry.StoreOptions) (*DB, error) {
	path = filepath.Clean(path)
	if err := checkWritable(path); err != nil {
		return nil, err
	}
	// busy_timeout waits for another writer instead of failing; _txlock=immediate
	// takes the write lock at BEGIN so two writers never deadlock on upgrade.
	// temp_store=MEMORY keeps statement journals off disk: a batch (an
	// import) of thousands of statements otherwise spends a fifth of its
	// time writing them.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_txlock=immediate"
	db, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
	d := &DB{Path: path}
	mapErr := func(err error) error { return mapError(path, err) }
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, mapErr(err))
	}
	d.Applied, err = migrate(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, mapErr(err))
	}
	d.Store = sqlstore.New(db, sqlstore.Dialect{
		Name:      "sqlite",
		RankOrder: "score DESC, id", // NULL sorts lowest: unscored last
		MapError:  mapErr,
	}, opts)
	return d, nil
}

func migrate(ctx context.Context, db *sqlx.DB) ([]int64, error) {
	return sqlstore.Migrate(ctx, db.DB, goose.DialectSQLite3, migrations, "migrations")
}

// checkWritable fails early and clearly when the file or its directory (for
// the WAL and journal files) cannot be written.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("sqlite: directory %s of %s: %w", dir, path, pathErr(err))
	} else if !st.IsDir() {
		return fmt.Errorf("sqlite: %s is not a directory", dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("sqlite: %s is a directory, not a database file", path)
	}
	for _, p := range []string{path, dir} {
		if err := unix.Access(p, unix.W_OK); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sqlite: %s is read-only: risksync needs to write the database file and its directory", p)
		}
	}
	return nil
}

func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// mapError turns SQLite result codes into messages a person can act on.
func mapError(path string, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff { // primary result code
	case sqlite3.SQLITE_READONLY:
		return registry.Errorf(registry.EUNAVAILABLE, "sqlite: %s is read-only: risksync needs to write the database file and its directory", path)
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return registry.Errorf(registry.EUNAVAILABLE, "sqlite: %s is not a usable SQLite database (corrupt, or another kind of file): restore it from a backup or point database.url elsewhere", path)
	case sqlite3.SQLITE_CANTOPEN:
		return registry.Errorf(registry.EUNAVAILABLE, "sqlite: cannot open %s: check that the directory exists and is writable", path)
	case sqlite3.SQLITE_BUSY:
		return registry.Errorf(registry.EUNAVAILABLE, "sqlite: %s is locked by another process for too long", path)
	case sqlite3.SQLITE_CONSTRAINT:
		return registry.Errorf(registry.ECONFLICT, "sqlite: %v", err)
	}
	return err
}
