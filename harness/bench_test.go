package harness

import (
	"testing"
	"time"
)

// BenchmarkPingPong measures the cost of a switch between two goroutines:
// one op is a round trip (two switches) through two unbuffered channels.
// Compare the sub-benchmarks with and without -race:
//
//	go test -run '^$' -bench PingPong -count 6 ./harness/ | tee norace.txt
//	go test -race -run '^$' -bench PingPong -count 6 ./harness/ | tee race.txt
func BenchmarkPingPong(b *testing.B) {
	b.Run("native", func(b *testing.B) {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ping <- i
			<-pong
		}
		b.StopTimer()
		close(ping)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/switch")
	})
	b.Run("heddle", func(b *testing.B) { pingPong(b, false) })
	// The token handoff, which -race builds always use and builds without
	// -race use only when told to (see handoff_coro.go).
	b.Run("heddle-token", func(b *testing.B) { pingPong(b, true) })
}

// pingPong is BenchmarkPingPong's heddle side, with the token handoff or the
// coroutine handoff (the same under -race: always the token).
func pingPong(b *testing.B, token bool) {
	var elapsed time.Duration
	res := runHandoff(token, Options{MaxSteps: 10 * (b.N + 10)}, pingPongProgram(b.N, &elapsed))
	if res.Failed() {
		b.Fatal(res.Err())
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(2*b.N), "ns/switch")
	b.ReportMetric(float64(res.Steps)/float64(b.N), "steps/op")
}

// smallProgram is four goroutines and about two hundred scheduling points.
func smallProgram() {
	var mu Mutex
	var wg WaitGroup
	ch := NewChan[int](4)
	counter := 0
	for g := 0; g < 3; g++ {
		wg.Go(func() {
			for i := 0; i < 20; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
				ch.Send(i)
			}
		})
	}
	for i := 0; i < 60; i++ {
		ch.Recv()
	}
	wg.Wait()
}

// BenchmarkRunSmallProgram measures whole runs: World creation, about 200
// scheduling points among 4 goroutines, and the end-of-run accounting.
func BenchmarkRunSmallProgram(b *testing.B) { runSmallProgram(b, false) }

// BenchmarkRunSmallProgramToken is BenchmarkRunSmallProgram with the token
// handoff (the same benchmark under -race).
func BenchmarkRunSmallProgramToken(b *testing.B) { runSmallProgram(b, true) }

func runSmallProgram(b *testing.B, token bool) {
	steps := 0
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		res := runHandoff(token, Options{Seed: int64(i)}, smallProgram)
		if res.Failed() {
			b.Fatal(res.Err())
		}
		steps += res.Steps
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(steps), "cpu-ns/step")
	b.ReportMetric(float64(steps)/float64(b.N), "steps/run")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}

// BenchmarkPingPongRatio measures heddle's switch against Go's in one run
// (the figure the target is set on): one op is a round trip over
// unbuffered channels, first between two plain goroutines over Go channels,
// then between two goroutines of a World over Chans (the handoff the build
// uses: the token under -race, coroutines without). It reports both costs
// a switch, their ratio (heddle/native) and the scheduling steps a round
// trip takes (two switches happen in one).
func BenchmarkPingPongRatio(b *testing.B) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		ping <- i
		<-pong
	}
	native := time.Since(start)
	close(ping)
	var heddle time.Duration
	res := Run(Options{MaxSteps: 10 * (b.N + 10)}, pingPongProgram(b.N, &heddle))
	if res.Failed() {
		b.Fatal(res.Err())
	}
	b.ReportMetric(float64(native.Nanoseconds())/float64(2*b.N), "native-ns/switch")
	b.ReportMetric(float64(heddle.Nanoseconds())/float64(2*b.N), "heddle-ns/switch")
	b.ReportMetric(float64(heddle)/float64(native), "ratio")
	b.ReportMetric(float64(res.Steps)/float64(b.N), "steps/roundtrip")
}

// BenchmarkSpawn measures the life of a goroutine of a World: one op is a
// goroutine started with Go that returns at once, its real goroutine kept
// until the run ends and then unwound, as every run does.
func BenchmarkSpawn(b *testing.B) {
	const perRun = 100
	cpu0 := cpuTime()
	runs := 0
	for n := 0; n < b.N; n += perRun {
		res := Run(Options{Seed: int64(n)}, func() {
			var wg WaitGroup
			for i := 0; i < perRun; i++ {
				wg.Go(func() {})
			}
			wg.Wait()
		})
		if res.Failed() {
			b.Fatal(res.Err())
		}
		runs++
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(runs*perRun), "cpu-ns/goroutine")
}

// pingPongProgram is a World's main: n round trips over two unbuffered
// channels with an echoing goroutine; the time they took goes to *elapsed.
func pingPongProgram(n int, elapsed *time.Duration) func() {
	return func() {
		ping, pong := NewChan[int](0), NewChan[int](0)
		Go(func() {
			for {
				v, ok := ping.Recv()
				if !ok {
					return
				}
				pong.Send(v)
			}
		})
		start := time.Now()
		for i := 0; i < n; i++ {
			ping.Send(i)
			pong.Recv()
		}
		*elapsed = time.Since(start)
		ping.Close()
	}
}

// BenchmarkPollThenProgress measures the dearest pattern for spin
// detection: one op is a select that takes its default case (a poll, whose
// key is compared with the polls since the last progress) followed by
// Progress, which forgets them.
func BenchmarkPollThenProgress(b *testing.B) {
	const perRun = 1000
	for n := 0; n < b.N; n += perRun {
		res := Run(Options{Seed: int64(n), MaxSteps: 10 * perRun}, func() {
			c := NewChan[int](0)
			for range perRun {
				Select(c.SendCase(1), Default())
				Progress()
			}
		})
		if res.Failed() {
			b.Fatal(res.Err())
		}
	}
}
