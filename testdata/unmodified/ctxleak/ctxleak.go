// Package ctxleak looks a key up with a timeout: the lookup's goroutine
// waits on its caller's context instead of the timeout's, and outlives the
// call when the timeout wins.
package ctxleak

import (
	"context"
	"time"
)

// slowLookup takes as long as the timeout the tests give.
func slowLookup(key string) string {
	time.Sleep(20 * time.Millisecond)
	return "value of " + key
}

// LookupBuggy waits at most 20ms for the lookup. The goroutine gives up on
// the parent's context, which a caller's context.Background never ends:
// after a timeout it waits forever to deliver.
func LookupBuggy(parent context.Context, key string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, 20*time.Millisecond)
	defer cancel()
	out := make(chan string)
	go func() {
		v := slowLookup(key)
		select {
		case out <- v:
		case <-parent.Done():
		}
	}()
	select {
	case v := <-out:
		return v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// LookupFixed gives up on the timeout's context, which cancel ends when
// the call returns.
func LookupFixed(parent context.Context, key string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, 20*time.Millisecond)
	defer cancel()
	out := make(chan string)
	go func() {
		v := slowLookup(key)
		select {
		case out <- v:
		case <-ctx.Done():
		}
	}()
	select {
	case v := <-out:
		return v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
