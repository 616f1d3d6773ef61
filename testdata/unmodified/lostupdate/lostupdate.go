// Package lostupdate increments a counter in two lock sections, a read and
// a write: two increments can read the same value, and one is lost.
package lostupdate

import "sync"

// Counter is an int under a lock.
type Counter struct {
	mu sync.Mutex
	n  int
}

// Get returns the value.
func (c *Counter) Get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Set sets the value.
func (c *Counter) Set(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = n
}

// IncBuggy reads, then writes, in two lock sections: no data race, and a
// lost update when another increment runs in between.
func (c *Counter) IncBuggy() { c.Set(c.Get() + 1) }

// IncFixed reads and writes in one lock section.
func (c *Counter) IncFixed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
}

// Run increments a counter from n goroutines and returns its value.
func Run(n int, inc func(*Counter)) int {
	var c Counter
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inc(&c)
		}()
	}
	wg.Wait()
	return c.Get()
}
