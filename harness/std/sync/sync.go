// Package sync stands in for the standard library's package sync in code
// that heddle's rewriter has rewritten: it exports the concurrency API of
// sync (Mutex, RWMutex, WaitGroup, Once, OnceFunc, OnceValue, OnceValues,
// Cond, Map, Pool) and the rewriter points references to those names here,
// leaving the rest (sync.Locker) to the standard library.
//
// Inside a deterministic World (harness.Run) every operation that can
// block or that publishes shared state is a scheduling point of the World,
// with the happens-before edges Go's memory model gives it, so the race
// detector sees what it would see in a real run. Outside a World each type
// behaves as the standard library's (the harness primitives fall back to it).
package sync

import (
	stdsync "sync"

	"github.com/heddle-go/heddle/harness"
)

// Mutex is sync.Mutex on the harness: the World's lock inside a
// deterministic World, a sync.Mutex outside. It is harness.Mutex; unlike
// sync.Mutex, unlocking an unlocked Mutex inside a World panics (a
// recoverable panic, where Go's runtime throws a fatal error).
type Mutex = harness.Mutex

// RWMutex is sync.RWMutex on the harness (harness.RWMutex): Lock, Unlock,
// RLock, RUnlock, TryLock, TryRLock and RLocker. A blocked Lock keeps new
// readers out, an Unlock happens before the next Lock or RLock, an RUnlock
// before the next Lock; a failed TryLock or TryRLock is a poll (see
// harness.Poll).
type RWMutex = harness.RWMutex

// WaitGroup is sync.WaitGroup on the harness (harness.WaitGroup): Add, Done,
// Wait and Go, each Done happening before the Wait it releases returns.
// WaitGroup.Go starts its goroutine in the World, as a go statement does once
// rewritten.
type WaitGroup = harness.WaitGroup

// Once is sync.Once on the harness (harness.Once): the function's return
// happens before every Do returns; a Do that finds the function running
// blocks in the World until it returns.
type Once = harness.Once

// Cond is sync.Cond on the harness (harness.Cond). Its locker L must be a
// *Mutex or *RWMutex of this package (or an RLocker of one) inside a World;
// outside, any sync.Locker works.
type Cond = harness.Cond

// NewCond returns a Cond with locker l, as sync.NewCond does.
func NewCond(l stdsync.Locker) *Cond { return harness.NewCond(l) }

// OnceFunc returns a function that calls f only the first time it is called,
// as sync.OnceFunc does: every call returns after f has returned, and if f
// panicked, every call panics with the same value.
func OnceFunc(f func()) func() {
	var (
		once  Once
		valid bool
		p     any
	)
	call := func() {
		defer func() {
			f = nil // do not keep f alive once it ran
			if !valid {
				p = recover()
				panic(p)
			}
		}()
		f()
		valid = true
	}
	return func() {
		once.Do(call)
		if !valid {
			panic(p)
		}
	}
}

// OnceValue returns a function that calls f only the first time it is
// called and returns its value on every call, as sync.OnceValue does; if f
// panicked, every call panics with the same value.
func OnceValue[T any](f func() T) func() T {
	var (
		once   Once
		valid  bool
		p      any
		result T
	)
	call := func() {
		defer func() {
			f = nil // do not keep f alive once it ran
			if !valid {
				p = recover()
				panic(p)
			}
		}()
		result = f()
		valid = true
	}
	return func() T {
		once.Do(call)
		if !valid {
			panic(p)
		}
		return result
	}
}

// OnceValues is OnceValue for a function of two results, as sync.OnceValues.
func OnceValues[T1, T2 any](f func() (T1, T2)) func() (T1, T2) {
	var (
		once  Once
		valid bool
		p     any
		r1    T1
		r2    T2
	)
	call := func() {
		defer func() {
			f = nil // do not keep f alive once it ran
			if !valid {
				p = recover()
				panic(p)
			}
		}()
		r1, r2 = f()
		valid = true
	}
	return func() (T1, T2) {
		once.Do(call)
		if !valid {
			panic(p)
		}
		return r1, r2
	}
}
