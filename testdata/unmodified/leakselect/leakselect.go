// Package leakselect waits for a result or a timeout with a select on
// time.After: when the timeout wins, the worker blocks forever on its send.
package leakselect

import "time"

// FirstBuggy runs work in a goroutine and returns its result, or false
// after timeout. The result channel is unbuffered: after a timeout nobody
// receives, and the worker never returns (a goroutine leak).
func FirstBuggy(work func() int, timeout time.Duration) (int, bool) {
	ch := make(chan int)
	go func() { ch <- work() }()
	select {
	case v := <-ch:
		return v, true
	case <-time.After(timeout):
		return 0, false
	}
}

// FirstFixed is FirstBuggy with room in the channel for the late result.
func FirstFixed(work func() int, timeout time.Duration) (int, bool) {
	ch := make(chan int, 1)
	go func() { ch <- work() }()
	select {
	case v := <-ch:
		return v, true
	case <-time.After(timeout):
		return 0, false
	}
}

// Slow is work that takes about as long as the timeout the tests give.
func Slow() int {
	time.Sleep(10 * time.Millisecond)
	return 42
}
