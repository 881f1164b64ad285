package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	gosync "sync"
	"time"

	"golang.org/x/sys/unix"
)

// Leader makes sure exactly one process syncs a registry at a time.
type Leader interface {
	// TryAcquire becomes the leader if no one else is; false means another
	// process leads.
	TryAcquire(ctx context.Context) (bool, error)
	// Check confirms leadership still holds. It is called before every pass:
	// an error means stop writing.
	Check(ctx context.Context) error
	// Release gives leadership up.
	Release()
}

// advisoryLockID is risksync's PostgreSQL advisory lock key ("risksync" in ASCII, truncated).
const advisoryLockID = 0x7269736b73796e63

// PostgresLeader holds a session advisory lock on a dedicated connection: if
// that session dies, PostgreSQL releases the lock and another replica takes
// it, and Check fails here before the next pass.
type PostgresLeader struct {
	DB *sql.DB

	mu   gosync.Mutex
	conn *sql.Conn
}

func (l *PostgresLeader) TryAcquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		return true, nil
	}
	conn, err := l.DB.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: leader connection: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(advisoryLockID)).Scan(&got); err != nil {
		conn.Close()
		return false, fmt.Errorf("postgres: leader lock: %w", err)
	}
	if !got {
		conn.Close()
		return false, nil
	}
	l.conn = conn
	return true, nil
}

func (l *PostgresLeader) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return errors.New("postgres: not the leader")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var held bool
	err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = $1)`, int64(advisoryLockID)).Scan(&held)
	if err == nil && !held {
		err = errors.New("the advisory lock is no longer held")
	}
	if err != nil {
		l.conn.Close() // the session, and with it any lock, is gone
		l.conn = nil
		return fmt.Errorf("postgres: lost leadership: %w", err)
	}
	return nil
}

func (l *PostgresLeader) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		_, _ = l.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(advisoryLockID))
		l.conn.Close()
		l.conn = nil
	}
}

// FileLeader holds an exclusive flock on a file beside the SQLite database:
// a second process on the same file cannot sync, and the lock dies with the
// process however it ends.
type FileLeader struct {
	Path string

	mu gosync.Mutex
	f  *os.File
}

// ErrLocked is returned by FileLeader.Lock when another process holds the lock.
var ErrLocked = errors.New("another risksync process is syncing this database")

// Lock takes the lock or fails at once with ErrLocked.
func (l *FileLeader) Lock() error {
	ok, err := l.TryAcquire(context.Background())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w (lock file %s)", ErrLocked, l.Path)
	}
	return nil
}

func (l *FileLeader) TryAcquire(context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		return true, nil
	}
	f, err := os.OpenFile(l.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("sqlite: lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil
		}
		return false, fmt.Errorf("sqlite: lock %s: %w", l.Path, err)
	}
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	l.f = f
	return true, nil
}

func (l *FileLeader) Check(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("sqlite: not the leader")
	}
	return nil
}

func (l *FileLeader) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}
