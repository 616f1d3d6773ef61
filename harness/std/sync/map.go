package sync

import (
	stdsync "sync"

	"github.com/heddle-go/heddle/harness/std/internal/det"
)

// Map is sync.Map with a scheduling point before every operation inside a
// deterministic World, so that goroutines sharing a Map interleave there.
// The Map itself is a sync.Map: its operations give the race detector the
// edges the standard one gives (a Store happens before the Load that
// observes it). The zero Map is empty and ready to use; a Map must not be
// copied after first use.
type Map struct {
	m stdsync.Map
}

// Load returns the value stored for key, or nil; ok reports whether there
// was one.
func (m *Map) Load(key any) (value any, ok bool) {
	det.Poll()
	return m.m.Load(key)
}

// Store sets the value for key.
func (m *Map) Store(key, value any) {
	det.Progress()
	m.m.Store(key, value)
}

// Clear deletes every entry.
func (m *Map) Clear() {
	det.Progress()
	m.m.Clear()
}

// LoadOrStore returns the existing value for key if there is one (loaded is
// true); otherwise it stores and returns value.
func (m *Map) LoadOrStore(key, value any) (actual any, loaded bool) {
	det.Progress()
	return m.m.LoadOrStore(key, value)
}

// LoadAndDelete deletes the value for key, returning the previous value if
// any; loaded reports whether the key was present.
func (m *Map) LoadAndDelete(key any) (value any, loaded bool) {
	det.Progress()
	return m.m.LoadAndDelete(key)
}

// Delete deletes the value for key.
func (m *Map) Delete(key any) {
	det.Progress()
	m.m.Delete(key)
}

// Swap stores value for key and returns the previous value, if any; loaded
// reports whether the key was present.
func (m *Map) Swap(key, value any) (previous any, loaded bool) {
	det.Progress()
	return m.m.Swap(key, value)
}

// CompareAndSwap swaps the old and new values for key if the value stored is
// equal to old, and reports whether it did. old must be comparable.
func (m *Map) CompareAndSwap(key, old, new any) (swapped bool) {
	det.Poll()
	return det.Swapped(m.m.CompareAndSwap(key, old, new))
}

// CompareAndDelete deletes the entry for key if its value is equal to old,
// and reports whether it did. old must be comparable.
func (m *Map) CompareAndDelete(key, old any) (deleted bool) {
	det.Poll()
	return det.Swapped(m.m.CompareAndDelete(key, old))
}

// Range calls f for each key and value present in the map, until f returns
// false, with the standard Map's guarantees (no key visited twice; entries
// stored or deleted during Range may or may not be seen). Inside a World
// there is a scheduling point before every call of f, so other goroutines
// may change the map while Range walks it.
func (m *Map) Range(f func(key, value any) bool) {
	det.Poll()
	m.m.Range(func(k, v any) bool {
		det.Poll()
		return f(k, v)
	})
}
