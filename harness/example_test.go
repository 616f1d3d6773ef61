package harness_test

import (
	"context"
	"fmt"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// A two-minute timeout on the virtual clock takes no wall-clock time, and the
// same seed always gives the same run.
func ExampleRun() {
	run := func() *harness.Result {
		return harness.Run(harness.Options{Seed: 1}, func() {
			ctx, cancel := harness.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			reply := harness.NewChan[string](0) // nobody ever answers
			start := harness.Now()
			if harness.Select(reply.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
				fmt.Println("gave up after", harness.Since(start), "with", ctx.Err())
			}
		})
	}
	a, b := run(), run()
	fmt.Println("virtual time:", a.Elapsed, "same trace:", a.TraceHash == b.TraceHash)
	// Output:
	// gave up after 2m0s with context deadline exceeded
	// gave up after 2m0s with context deadline exceeded
	// virtual time: 2m0s same trace: true
}

// A goroutine waiting for a message that never comes is a deadlock, reported
// with the site where it blocked.
func ExampleRun_deadlock() {
	res := harness.Run(harness.Options{}, func() {
		harness.NewChan[int](0).Recv()
	})
	fmt.Println(res.Failures[0].Kind, "-", res.Failures[0].Goroutines[0].State)
	// Output: Deadlock - chan receive
}

// Replay reproduces a run from its recorded schedule: the way a failing seed
// becomes a regression test.
func ExampleReplay() {
	program := func() {
		var wg harness.WaitGroup
		for i := 0; i < 3; i++ {
			wg.Go(func() { harness.Yield() })
		}
		wg.Wait()
	}
	first := harness.Run(harness.Options{Seed: 9}, program)
	again := harness.Run(harness.Options{Seed: 9, Strategy: harness.Replay(9, first.Schedule)}, program)
	fmt.Println(first.TraceHash == again.TraceHash)
	// Output: true
}

// Replay is strict: a schedule the program no longer follows ends the run as
// Diverged, saying where.
func ExampleReplay_diverged() {
	program := func() {
		var wg harness.WaitGroup
		for i := 0; i < 2; i++ {
			wg.Go(func() { harness.Yield() })
		}
		wg.Wait()
	}
	res := harness.Run(harness.Options{Seed: 9, Strategy: harness.Replay(9, []int{99})}, program)
	fmt.Println(res.Failures[0].Kind, "-", res.Failures[0].Message)
	// Output: Diverged - schedule diverged at step 1: wanted g99, runnable g1 g2
}

// Go evaluates a closure's variables when the goroutine runs. To evaluate
// arguments at the call, as a go statement does, pass them through the
// parameters of a function literal that returns the goroutine's function.
func ExampleGo() {
	harness.Run(harness.Options{}, func() {
		var wg harness.WaitGroup
		msg := "hello"
		wg.Add(1)
		harness.Go(func(msg string) func() {
			return func() { fmt.Println(msg); wg.Done() }
		}(msg)) // like go print(msg): msg is evaluated here
		msg = "changed"
		wg.Wait()
	})
	// Output: hello
}

// All ranges over a channel until it is closed, as for range over a chan
// does; RecvOnly and SendOnly are the views a <-chan and a chan<- give.
func ExampleChan_All() {
	harness.Run(harness.Options{}, func() {
		ch := harness.NewChan[int](0)
		out := ch.SendOnly()
		harness.Go(func() {
			for i := 1; i <= 3; i++ {
				out.Send(i)
			}
			out.Close()
		})
		for v := range ch.RecvOnly().All() {
			fmt.Print(v, " ")
		}
		fmt.Println()
	})
	// Output: 1 2 3
}
