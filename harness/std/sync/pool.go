package sync

import (
	stdsync "sync"
	"sync/atomic"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/det"
)

// Pool is sync.Pool. Outside a deterministic World it is a sync.Pool. Inside
// one it is a last-in first-out list that the World's seed thins out: Put and
// Get are scheduling points, and a Put is dropped with probability 1/4 drawn
// from the seed (as the race detector's build of sync.Pool drops them), so
// that code relying on getting back what it put is found out. As with
// sync.Pool, a Put of a value happens before the Get that returns it, and
// nothing else is ordered by the Pool. A Pool must not be copied after first
// use.
type Pool struct {
	// New, if set, makes a value when Get finds none, as in sync.Pool.
	New func() any

	real  stdsync.Pool
	items []*poolItem // inside a World; touched only by //go:norace code
}

// poolItem carries a value and the happens-before edge from its Put to the
// Get that returns it.
type poolItem struct {
	v   any
	put atomic.Bool
}

// Put adds x to the pool. A nil x is ignored.
func (p *Pool) Put(x any) {
	if x == nil {
		return
	}
	if !det.Active() {
		p.real.Put(x)
		return
	}
	det.Progress()
	if harness.IntN(4) == 0 {
		return
	}
	it := &poolItem{v: x}
	it.put.Store(true)
	p.push(it)
}

// Get removes a value from the pool and returns it; when there is none it
// returns New(), or nil without New.
func (p *Pool) Get() any {
	if !det.Active() {
		if x := p.real.Get(); x != nil {
			return x
		}
	} else {
		det.Progress()
		if it := p.pop(); it != nil {
			it.put.Load()
			return it.v
		}
	}
	if p.New != nil {
		return p.New()
	}
	return nil
}

// push and pop touch the list only while the World runs one goroutine at a
// time; they are hidden from the race detector, so that the list adds no
// happens-before edge between the goroutines that share the pool (each item
// carries its own).
//
//go:norace
func (p *Pool) push(it *poolItem) { p.items = append(p.items, it) }

//go:norace
func (p *Pool) pop() *poolItem {
	n := len(p.items)
	if n == 0 {
		return nil
	}
	it := p.items[n-1]
	p.items[n-1] = nil
	p.items = p.items[:n-1]
	return it
}
