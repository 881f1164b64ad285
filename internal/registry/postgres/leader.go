package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// advisoryLockID is risksync's PostgreSQL advisory lock key ("risksync" in ASCII, truncated).
const advisoryLockID = 0x7269736b73796e63

// Leader holds a session advisory lock on a dedicated connection: if
// that session dies, PostgreSQL releases the lock and another replica takes
// it, and Check fails here before the next pass.
type Leader struct {
	DB *sql.DB

	mu   sync.Mutex
	conn *sql.Conn
}

func (l *Leader) TryAcquire(ctx context.Context) (bool, error) {
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

func (l *Leader) Check(ctx context.Context) error {
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

func (l *Leader) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		_, _ = l.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(advisoryLockID))
		l.conn.Close()
		l.conn = nil
	}
}
