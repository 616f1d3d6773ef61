package timeline_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/timeline"
)

// busyRun is a large run: four nodes of eight goroutines that lock, send,
// receive and sleep for rounds rounds, while a plan crashes, restarts and
// partitions them. rounds = 530 gives a little over 100,000 events.
func busyRun(rounds int) *harness.Result {
	plan, err := faults.ParsePlan("+40ms crash n1; +90ms restart n1; +120ms partition n2<->n3; +200ms heal; +260ms crash n0")
	if err != nil {
		panic(err)
	}
	node := func(n *harness.Node) {
		var mu harness.Mutex
		ch := harness.NewChan[int](2)
		shared := 0
		var wg harness.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Go(func() {
				for r := 0; r < rounds && n.Context().Err() == nil; r++ {
					mu.Lock()
					shared++
					mu.Unlock()
					if i%2 == 0 {
						ch.Send(r)
					} else {
						harness.Select(ch.RecvCase(nil, nil), harness.After(time.Millisecond).RecvCase(nil, nil))
					}
					harness.Sleep(time.Duration(1+i%3) * time.Millisecond)
				}
			})
		}
		wg.Wait()
	}
	return harness.Run(harness.Options{Seed: 7, Trace: true}, func() {
		var nodes []*harness.Node
		for _, name := range []string{"n0", "n1", "n2", "n3"} {
			nd := harness.NewNode(name, node)
			nodes = append(nodes, nd)
			if err := nd.Start(); err != nil {
				panic(err)
			}
		}
		_ = faults.Run(context.Background(), plan, nil)
		harness.Sleep(time.Duration(rounds) * 4 * time.Millisecond)
		for _, nd := range nodes {
			_ = nd.Crash(harness.CrashReset)
		}
	})
}

func TestBusyRunSize(t *testing.T) {
	if testing.Short() {
		t.Skip("a large run")
	}
	res := busyRun(560)
	if n := len(res.Trace); n < 100_000 || n > 130_000 {
		t.Fatalf("busyRun(560) has %d events, want a little over 100,000", n)
	}
}

// BenchmarkWrite100k writes the page of a run of about 100,000 events:
// the analysis, the source lines and the encoding, on the Go side.
func BenchmarkWrite100k(b *testing.B) {
	res := busyRun(560)
	r := timeline.Run{Test: "busy", Seed: res.Seed, Violations: checkers.FromResult(res), Events: timeline.EventsOf(res.Trace)}
	b.ReportMetric(float64(len(r.Events)), "events")
	b.ResetTimer()
	for b.Loop() {
		if err := timeline.Write(io.Discard, r, nil); err != nil {
			b.Fatal(err)
		}
	}
}
