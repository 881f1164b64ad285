package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Leader holds an exclusive flock on a file beside the SQLite database:
// a second process on the same file cannot sync, and the lock dies with the
// process however it ends.
type Leader struct {
	Path string

	mu sync.Mutex
	f  *os.File
}

// ErrLocked is returned by Leader.Lock when another process holds the lock.
var ErrLocked = errors.New("another risksync process is syncing this database")

// Lock takes the lock or fails at once with ErrLocked.
func (l *Leader) Lock() error {
	ok, err := l.TryAcquire(context.Background())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w (lock file %s)", ErrLocked, l.Path)
	}
	return nil
}

func (l *Leader) TryAcquire(context.Context) (bool, error) {
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

func (l *Leader) Check(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("sqlite: not the leader")
	}
	return nil
}

func (l *Leader) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}
