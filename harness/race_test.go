package harness

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The programs below run in deterministic mode inside a child process (the
// test binary itself), so that each one starts with a fresh race detector:
// it reports each distinct race once per process.
var racePrograms = map[string]func(){
	// Two goroutines write x with nothing ordering them: a data race.
	"unsynchronised": func() {
		x := 0
		var wg WaitGroup
		wg.Go(func() { x = 1 })
		wg.Go(func() { x = 2 })
		wg.Wait()
		_ = x
	},
	// The same writes under heddle's Mutex: no race.
	"mutex": func() {
		x := 0
		var mu Mutex
		var wg WaitGroup
		for i := 0; i < 2; i++ {
			wg.Go(func() {
				mu.Lock()
				x = i
				mu.Unlock()
			})
		}
		wg.Wait()
		_ = x
	},
	// Ordered by an unbuffered channel: the send happens before the receive completes.
	"channel": func() {
		x := 0
		ch := NewChan[int](0)
		done := NewChan[int](0)
		Go(func() {
			x = 1
			ch.Send(1)
		})
		Go(func() {
			ch.Recv()
			x = 2
			done.Send(0)
		})
		done.Recv()
		_ = x
	},
	// Ordered by a buffered channel's k-th receive before the (k+C)-th send.
	"buffered": func() {
		x := 0
		ch := NewChan[int](1)
		ch.Send(0)
		Go(func() {
			x = 1
			ch.Recv()
		})
		ch.Send(0) // completes only after the receive above
		x = 2
		_ = x
	},
	// Ordered by WaitGroup: Done happens before Wait returns.
	"waitgroup": func() {
		x := 0
		var wg WaitGroup
		wg.Go(func() { x = 1 })
		wg.Wait()
		x = 2
		_ = x
	},
	// Two readers under RLock, a writer under Lock: no race.
	"rwmutex": func() {
		x := 0
		var rw RWMutex
		var wg WaitGroup
		wg.Go(func() { rw.Lock(); x = 1; rw.Unlock() })
		for i := 0; i < 2; i++ {
			wg.Go(func() { rw.RLock(); _ = x; rw.RUnlock() })
		}
		wg.Wait()
		_ = x
	},
	// A reader without the lock races with the writer.
	"rwmutex-unlocked-read": func() {
		x := 0
		var rw RWMutex
		var wg WaitGroup
		wg.Go(func() { rw.Lock(); x = 1; rw.Unlock() })
		wg.Go(func() { _ = x })
		wg.Wait()
		_ = x
	},
	// A race with a goroutine that has already finished, after hundreds of
	// short-lived goroutines: the race detector recycles the slots of
	// goroutines that exited, which hid this race until finished goroutines
	// stayed alive to the end of the run.
	"race-with-finished-goroutine": func() {
		x := 0
		var wg WaitGroup
		wg.Go(func() { _ = x })                     // reads, and is done at once
		wg.Go(func() { Sleep(time.Second); x = 1 }) // writes a second later, unordered
		var churn WaitGroup
		var mu Mutex
		started := 0
		for i := 0; i < 300; i++ {
			Sleep(time.Millisecond)
			churn.Go(func() { mu.Lock(); started++; mu.Unlock() })
		}
		churn.Wait()
		wg.Wait()
		_ = started
		_ = x
	},
	// Two receivers of one buffered channel are not ordered with each other.
	"receivers-unordered": func() {
		x := 0
		ch := NewChan[int](2)
		ch.Send(1)
		ch.Send(2)
		var wg WaitGroup
		wg.Go(func() { ch.Recv(); x = 1 })
		wg.Go(func() { ch.Recv(); x = 2 })
		wg.Wait()
		_ = x
	},
}

// recorded is a racy program whose two goroutines each report an event to
// a recorder between their writes: with the recorder's lock taken on the
// goroutines themselves (observe false), the lock orders the writes and the
// race goes unreported; through Observe it is reported.
func recorded(observe bool) func() {
	return func() {
		var mu sync.Mutex
		events := 0
		record := func() {
			if observe {
				Observe(func() { mu.Lock(); events++; mu.Unlock() })
				return
			}
			mu.Lock()
			events++
			mu.Unlock()
		}
		x := 0
		var wg WaitGroup
		wg.Go(func() { x = 1; record() })
		wg.Go(func() {
			// The clock orders nothing; an hour away, it fires only once
			// the other goroutine has written and reported.
			Sleep(time.Hour)
			record()
			x = 2
		})
		wg.Wait()
		_ = x
	}
}

func init() {
	racePrograms["recorded-under-lock"] = recorded(false)
	racePrograms["recorded-through-observe"] = recorded(true)
}

// TestRaceChild is the child side of TestRaceDetectorSeesThroughScheduler.
// A racy program's race is also in the Result of the run that showed it,
// with the seed and strategy that replay it.
func TestRaceChild(t *testing.T) {
	name := os.Getenv("HEDDLE_RACE_CHILD")
	if name == "" {
		t.Skip("run by TestRaceDetectorSeesThroughScheduler")
	}
	coroutineUnderRace = os.Getenv("HEDDLE_RACE_CORO") != ""
	for seed := int64(0); seed < 20; seed++ {
		res := Run(Options{Seed: seed}, racePrograms[name])
		for _, f := range res.Failures {
			require.Equal(t, DataRace, f.Kind, "%v", res.Err())
			t.Logf("RESULT: %v", res.Err())
		}
	}
}

func TestRaceDetectorSeesThroughScheduler(t *testing.T) {
	if !raceEnabled || !tokenHidesEdges {
		t.Skip("needs -race on amd64 or arm64")
	}
	cases := []struct {
		program string
		racy    bool
	}{
		{"unsynchronised", true},
		{"mutex", false},
		{"channel", false},
		{"buffered", false},
		{"waitgroup", false},
		{"rwmutex", false},
		{"rwmutex-unlocked-read", true},
		{"receivers-unordered", true},
		{"race-with-finished-goroutine", true},
		// A recorder's lock hides the race (why Observe exists).
		{"recorded-under-lock", false},
		{"recorded-through-observe", true},
	}
	for _, c := range cases {
		t.Run(c.program, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRaceChild$", "-test.count=1", "-test.v")
			// atexit_sleep_ms=0: the race runtime otherwise waits a second at exit.
			cmd.Env = append(os.Environ(), "HEDDLE_RACE_CHILD="+c.program, "GORACE=atexit_sleep_ms=0")
			out, _ := cmd.CombinedOutput()
			reported := strings.Contains(string(out), "WARNING: DATA RACE")
			require.Equal(t, c.racy, reported, "race reported: %v; output:\n%s", reported, out)
			require.Equal(t, c.racy, strings.Contains(string(out), "RESULT: seed "), "the race is in the run's Result, with its seed")
			require.NotContains(t, string(out), "Error Trace")
			if c.racy {
				for _, site := range racingAccessSites(string(out)) {
					require.Contains(t, site, "race_test.go", "both racing accesses are the program's own, never the scheduler's")
				}
			}
		})
	}
}

// TestCoroutineHandoffHidesRaces shows why -race builds hand control over
// with the token and not with the coroutine handoff, several times cheaper
// (the reason a scheduling step under -race costs what a Go channel switch
// under -race costs, issue 17): under the coroutine handoff, the race of
// two unsynchronised writes goes unreported, because iter.Pull orders
// every switch for the race detector. If this test fails, Go no longer
// does, and -race builds could use coroutines.
func TestCoroutineHandoffHidesRaces(t *testing.T) {
	if !raceEnabled || !tokenHidesEdges {
		t.Skip("needs -race on amd64 or arm64")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRaceChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "HEDDLE_RACE_CHILD=unsynchronised", "HEDDLE_RACE_CORO=1", "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestRaceChild")
	require.NotContains(t, string(out), "WARNING: DATA RACE",
		"the race was reported under the coroutine handoff: iter.Pull no longer orders switches, and -race builds may use coroutines")
}

// racingAccessSites returns the file:line of the top frame of each access in
// a race report ("Write at ... by goroutine N:" is followed by the function
// and then its file).
func racingAccessSites(report string) []string {
	lines := strings.Split(report, "\n")
	var sites []string
	for i, l := range lines {
		if (strings.HasPrefix(l, "Write at") || strings.HasPrefix(l, "Read at") ||
			strings.HasPrefix(l, "Previous write at") || strings.HasPrefix(l, "Previous read at")) && i+2 < len(lines) {
			sites = append(sites, strings.TrimSpace(lines[i+2]))
		}
	}
	return sites
}
