// Package spinflag publishes a value to a goroutine that spins on an atomic
// flag until it is set, and sets the flag before writing the value.
package spinflag

import "sync/atomic"

// Box holds a value and the flag that says it is ready.
type Box struct {
	ready atomic.Bool
	value int
}

// PublishBuggy sets the flag, then writes the value: the reader, whose spin
// ends at the flag, can read the value while it is written (a data race).
func (b *Box) PublishBuggy(v int) {
	b.ready.Store(true)
	b.value = v
}

// PublishFixed writes the value, then sets the flag: the flag's store
// happens before the load that sees it.
func (b *Box) PublishFixed(v int) {
	b.value = v
	b.ready.Store(true)
}

// Await spins on the flag, then reads the value.
func (b *Box) Await() int {
	for !b.ready.Load() {
	}
	return b.value
}

// Run publishes 42 from one goroutine and awaits it in another.
func Run(publish func(*Box, int)) int {
	var b Box
	got := make(chan int)
	go func() { got <- b.Await() }()
	go publish(&b, 42)
	return <-got
}
