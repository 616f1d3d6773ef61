// Package tiny is a fake system for the tests of heddle mutate and heddle
// run --cover: a counter behind a lock (the Buggy variant adds without it)
// and a producer goroutine that stops with its context.
package tiny

import (
	"context"

	"github.com/heddle-go/heddle/harness"
)

// Variant selects the counter's implementation.
type Variant int

const (
	// Buggy adds without the lock.
	Buggy Variant = iota
	// Fixed adds under the lock.
	Fixed
)

// Counter counts; the Fixed variant is safe for concurrent use.
type Counter struct {
	v  Variant
	mu harness.Mutex
	n  int
}

// New returns a counter of the variant.
func New(v Variant) *Counter { return &Counter{v: v} }

// Add adds d.
func (c *Counter) Add(d int) {
	if c.v == Buggy {
		// BUG: read, hand over, write: an update can be lost, and it races.
		n := c.n
		handover := harness.NewChan[struct{}](1)
		handover.Send(struct{}{})
		c.n = n + d
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
}

// Get returns the count.
func (c *Counter) Get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Reset sets the count to zero. The case never calls it.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.n = 0
	c.mu.Unlock()
}

// Pump sends 1, 2, ..., n on the channel it returns, from a goroutine of
// its own, and closes the channel when done; it stops early once ctx is
// done.
func Pump(ctx context.Context, n int) *harness.Chan[int] {
	capacity := 1
	out := harness.NewChan[int](capacity)
	harness.Go(func() {
		defer out.Close()
		for i := 1; i <= n; i++ {
			if harness.Select(out.SendCase(i), harness.Done(ctx)) == 1 {
				return
			}
		}
	})
	return out
}
