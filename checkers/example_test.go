package checkers_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
)

// A race case records its clients' operations in a harness.History while
// the World runs, then checks them and the runtime's own failures.
func Example_verdict() {
	var h harness.History
	var kv checkers.KV[string, int]
	res := harness.Run(harness.Options{Seed: 1}, func() {
		var mu harness.Mutex
		store := map[string]int{}
		var wg harness.WaitGroup
		for c := 0; c < 3; c++ {
			wg.Go(func() {
				p := h.Call(c, kv.Put("x", c))
				mu.Lock()
				store["x"] = c
				mu.Unlock()
				p.Return(kv.Done())

				p = h.Call(c, kv.Get("x"))
				mu.Lock()
				v, ok := store["x"]
				mu.Unlock()
				p.Return(kv.Got(v, ok))
			})
		}
		wg.Wait()
	})
	v := checkers.Judge(res, kv.Check(h.Operations(), checkers.LinOptions{Name: "example"}))
	fmt.Println(v)
	// Output: ok
}

func ExampleKV_Check() {
	var kv checkers.KV[string, string]
	// Client 1 reads an old value after client 0's second write returned.
	ops := []harness.Operation{
		{Client: 0, Input: kv.Put("k", "a"), Output: kv.Done(), Call: 1, Return: 2, CallTime: 0, ReturnTime: time.Second},
		{Client: 0, Input: kv.Put("k", "b"), Output: kv.Done(), Call: 3, Return: 4, CallTime: 2 * time.Second, ReturnTime: 3 * time.Second},
		{Client: 1, Input: kv.Get("k"), Output: kv.Got("a", true), Call: 5, Return: 6, CallTime: 4 * time.Second, ReturnTime: 5 * time.Second},
	}
	for _, v := range kv.Check(ops, checkers.LinOptions{NoVisualization: true}) {
		fmt.Println(v.Kind)
		fmt.Println(v.Message)
	}
	// Output:
	// NotLinearizable
	// kv: the history of 3 operations is not linearizable.
	// key "k": 2 of its 3 operations linearize, in order:
	//     client 0: put("k", "a")  [op #0, 0s → 1s]
	//     client 0: put("k", "b")  [op #1, 2s → 3s]
	//   none of these can come next:
	//     client 1: get("k") -> "a"  [op #2, 4s → 5s]
}

func ExampleRegister_Check() {
	reg := checkers.Register[string]{} // monotonic reads of a configuration
	ops := []harness.Operation{
		{Client: 9, Input: reg.Write("table", 2, "primary=n2"), Call: 1, Return: 2},
		{Client: 0, Input: reg.Read("table"), Output: reg.Returned(2, "primary=n2"), Call: 3, Return: 4},
		// A later query answered by a stale meta server: version 1.
		{Client: 1, Input: reg.Read("table"), Output: reg.Returned(1, "primary=n1"), Call: 5, Return: 6},
	}
	vs := reg.Check(ops, checkers.LinOptions{NoVisualization: true})
	fmt.Println(len(vs), vs[0].Kind)
	// Output: 1 NotLinearizable
}

func ExampleQueue_Check() {
	var q checkers.Queue[int]
	ops := []harness.Operation{
		{Client: 0, Input: q.Produce(1), Call: 1, Return: 2},
		{Client: 0, Input: q.Produce(2), Call: 3, Return: 4},
		{Client: 1, Input: q.Consume("g1", 10), Output: q.Consumed(1, 2), Call: 5, Return: 6},
		// A consume that timed out: it may or may not have moved the cursor.
		{Client: 2, Input: q.Consume("g2", 1), Call: 5, Return: 6, Unknown: true},
		{Client: 2, Input: q.Consume("g2", 1), Output: q.Consumed(2), Call: 7, Return: 8},
	}
	fmt.Println(len(q.Check(ops, checkers.LinOptions{})))
	// Output: 0
}

func ExampleSet_Check() {
	var set checkers.Set[string]
	ops := []harness.Operation{
		{Client: 0, Input: set.Add("group1"), Output: set.Changed(true), Call: 1, Return: 2},
		{Client: 0, Input: set.Remove("group1"), Output: set.Changed(true), Call: 3, Return: 4},
		// Destroy returned, yet the group is still there.
		{Client: 1, Input: set.Contains("group1"), Output: set.Present(true), Call: 5, Return: 6},
	}
	fmt.Println(set.Check(ops, checkers.LinOptions{NoVisualization: true})[0].Kind)
	// Output: NotLinearizable
}

func ExampleFromResult() {
	res := harness.Run(harness.Options{Seed: 7}, func() {
		ch := harness.NewChan[int](0)
		harness.Go(func() { ch.Recv() }) // nobody ever sends
	})
	for _, v := range checkers.FromResult(res) {
		fmt.Println(v.Kind)
		fmt.Println(strings.SplitN(v.Message, ":", 2)[0])
	}
	// Output:
	// Leak
	// seed 7 (random)
}

func ExampleParseRaceReports() {
	output := `==================
WARNING: DATA RACE
Read at 0x00c00009a078 by goroutine 9:
  example.com/mq.(*Server).Notify()
      /src/mq/server.go:88 +0xa4

Previous write at 0x00c00009a078 by goroutine 8:
  runtime.slicecopy()
      /usr/local/go/src/runtime/slice.go:392 +0x0
  example.com/mq.(*Server).DestroyConsumerGroup()
      /src/mq/server.go:120 +0x164

Goroutine 9 (running) created at:
  example.com/mq.(*Server).Start()
      /src/mq/server.go:30 +0x25c
==================
`
	for _, v := range checkers.ParseRaceReports(output) {
		fmt.Println(v.Kind)
		fmt.Println(strings.SplitN(v.Message, "\n", 2)[0])
	}
	// Output:
	// DataRace
	// data race: read by goroutine 9 at mq/server.go:88 in example.com/mq.(*Server).Notify vs previous write by goroutine 8 at mq/server.go:120 in example.com/mq.(*Server).DestroyConsumerGroup (via runtime.slicecopy); goroutine 9 created at mq/server.go:30 (example.com/mq.(*Server).Start)
}

func ExampleWithin() {
	crashed := []time.Duration{10 * time.Second}
	recovered := []time.Duration{95 * time.Second}
	for _, v := range checkers.Within("primary crash", crashed, "successful call on the new primary", recovered, 5*time.Second) {
		fmt.Println(v.Kind)
		fmt.Println(v.Message)
	}
	// Output:
	// Timeliness
	// after primary crash, successful call on the new primary must follow within 5s; 1 of 1 times it did not:
	//   after primary crash at 10s: the first successful call on the new primary came at 1m35s, 1m20s late
}

func ExampleDeliveredWithin() {
	committed := []checkers.Stamped[int64]{checkers.Stamp(time.Second, int64(7)), checkers.Stamp(2*time.Second, int64(8))}
	shipped := []checkers.Stamped[int64]{checkers.Stamp(1100*time.Millisecond, int64(7)), checkers.Stamp(102*time.Second, int64(8))}
	for _, v := range checkers.DeliveredWithin(committed, shipped, 500*time.Millisecond) {
		fmt.Println(v.Message)
	}
	// Output:
	// writes stopped at 2s: every committed item must reach the sink by 2.5s (within 500ms); 1 of 2 did not:
	//   8 (committed at 2s): delivered at 1m42s, 1m39.5s late
}

func ExampleConsecutive() {
	shipped := []int64{5, 6, 6, 8}
	fmt.Println(checkers.Consecutive("decrees shipped to the remote cluster", shipped)[0].Message)
	// Output:
	// decrees shipped to the remote cluster must be consecutive (strictly increasing by one, no gaps, no duplicates); 2 violation(s):
	//   #2: 6 again (duplicate)
	//   #3: 8 after 6 (gap: 7 missing)
}

func ExampleLeaks() {
	watch := checkers.WatchLeaks() // before the real-mode run
	stop := make(chan struct{})
	harness.Run(harness.Options{Mode: harness.Real}, func() {
		harness.Go(func() { <-stop })
	})
	fmt.Println(len(watch.Check()) == 1) // after the run: one goroutine left
	close(stop)
	fmt.Println(len(watch.Check()))
	// Output:
	// true
	// 0
}
