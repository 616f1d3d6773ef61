// Package contexts is a snippet: contexts, their Done channels in receives
// and selects, causes, timers and tickers.
package contexts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

var errStop = errors.New("stop")

func worker(ctx context.Context, jobs <-chan int, results chan<- int) {
	for {
		select {
		case <-ctx.Done():
			close(results)
			return
		case j := <-jobs:
			results <- j * j
		}
	}
}

func Program() string {
	var b strings.Builder
	ctx, cancel := context.WithCancelCause(context.Background())
	jobs, results := make(chan int), make(chan int)
	go worker(ctx, jobs, results)
	jobs <- 3
	fmt.Fprint(&b, <-results, " ")
	cancel(errStop)
	_, ok := <-results
	fmt.Fprint(&b, ok, ctx.Err(), context.Cause(ctx), " ")

	// A timeout, waited for with a plain receive; its cause.
	tctx, tcancel := context.WithTimeoutCause(context.Background(), 5*time.Millisecond, errStop)
	defer tcancel()
	start := time.Now()
	<-tctx.Done()
	fmt.Fprint(&b, tctx.Err(), context.Cause(tctx), time.Since(start) >= 5*time.Millisecond, " ")

	// A child cancelled by its parent has the parent's cause.
	parent, pcancel := context.WithCancelCause(context.Background())
	child, ccancel := context.WithTimeout(parent, time.Hour)
	defer ccancel()
	done := child.Done()
	pcancel(errors.New("parent gone"))
	<-done
	fmt.Fprint(&b, child.Err(), context.Cause(child), " ")

	// time.After in a select that times out, and one that does not.
	never := make(chan int)
	select {
	case <-never:
		fmt.Fprint(&b, "impossible")
	case <-time.After(2 * time.Millisecond):
		fmt.Fprint(&b, "timeout ")
	}

	// context.AfterFunc, and WithoutCancel.
	actx, acancel := context.WithCancel(context.Background())
	ran := make(chan string, 1)
	stop := context.AfterFunc(actx, func() { ran <- "afterfunc" })
	wc := context.WithoutCancel(actx)
	acancel()
	fmt.Fprint(&b, <-ran, stop(), wc.Err(), wc.Done() == nil, " ")

	// Timers: Stop and Reset with Go 1.23 semantics; a ticker.
	t := time.NewTimer(time.Millisecond)
	time.Sleep(3 * time.Millisecond)
	fmt.Fprint(&b, t.Stop(), " ")
	select {
	case <-t.C:
		fmt.Fprint(&b, "stale ")
	default:
		fmt.Fprint(&b, "no stale ")
	}
	t.Reset(time.Millisecond)
	<-t.C
	tk := time.NewTicker(time.Millisecond)
	n := 0
	for range tk.C {
		n++
		if n == 3 {
			tk.Stop()
			break
		}
	}
	fmt.Fprint(&b, "ticks", n, " ")
	if ctx.Done() != nil {
		fmt.Fprint(&b, "has done")
	}
	return b.String()
}
