package githubtest

import (
	"context"
	"sync"
	"time"
)

// Clock is a manual clock shared by a test, the fake and the connector, so
// rate-limit waits are checked without real sleeping: Sleep advances it.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// NewClock returns a clock set to start.
func NewClock(start time.Time) *Clock { return &Clock{now: start.UTC()} }

// Now returns the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep advances the clock by d at once (it honours a cancelled ctx). It has
// the signature of the connector's Options.Sleep.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	return nil
}

// Slept returns every wait requested through Sleep, in order.
func (c *Clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
