// Package lazyinit loads a table the first time it is needed, checking for
// nil without a lock: two goroutines that look it up at once race on it.
package lazyinit

import "sync"

// Table maps names to numbers, loaded on first use.
type Table struct {
	once sync.Once
	m    map[string]int
}

func load() map[string]int { return map[string]int{"one": 1, "two": 2} }

// LookupBuggy loads the table if it is nil: a data race between two first
// lookups (each reads the field the other writes).
func (t *Table) LookupBuggy(name string) int {
	if t.m == nil {
		t.m = load()
	}
	return t.m[name]
}

// LookupFixed loads the table once, with sync.Once.
func (t *Table) LookupFixed(name string) int {
	t.once.Do(func() { t.m = load() })
	return t.m[name]
}

// Both looks up two names at once and returns the sum.
func Both(lookup func(*Table, string) int) int {
	var t Table
	var wg sync.WaitGroup
	var a, b int
	wg.Add(2)
	go func() {
		defer wg.Done()
		a = lookup(&t, "one")
	}()
	go func() {
		defer wg.Done()
		b = lookup(&t, "two")
	}()
	wg.Wait()
	return a + b
}
