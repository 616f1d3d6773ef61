package checkers

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

func TestLeaksRealMode(t *testing.T) {
	watch := WatchLeaks()
	stop := make(chan struct{})
	defer func() {
		select {
		case <-stop:
		default:
			close(stop) // a failed assertion must not leave it behind for the next test
		}
	}()
	var started harness.WaitGroup
	started.Add(1)
	// The runtime itself reports the goroutine as a Leak once the Real run
	// has drained; goleak then sees it too, with its stack.
	res := harness.Run(harness.Options{Mode: harness.Real, Drain: 10 * time.Millisecond}, func() {
		harness.Go(func() {
			started.Done()
			<-stop // forgotten
		})
		started.Wait()
	})
	require.Len(t, res.Failures, 1)
	require.Equal(t, harness.Leak, res.Failures[0].Kind)
	vs := watch.Check()
	require.Len(t, vs, 1)
	msg := vs[0].Message
	require.Equal(t, harness.Leak, vs[0].Kind)
	require.Contains(t, msg, "chan receive")
	require.Contains(t, msg, "TestLeaksRealMode.func2.1")
	require.Contains(t, msg, "checkers/leaks_races_test.go:") // where it blocks
	require.Contains(t, msg, "created by")

	close(stop)
	require.Empty(t, watch.Check())
}

func TestParseLeaksFallback(t *testing.T) {
	vs := parseLeaks("something goleak did not say before")
	require.Len(t, vs, 1)
	require.Equal(t, harness.Leak, vs[0].Kind)
}

func TestParseRaceReports(t *testing.T) {
	data, err := os.ReadFile("testdata/race_plain.txt")
	require.NoError(t, err)
	reports := ParseRaces(string(data))
	require.Len(t, reports, 3)

	r := reports[0]
	require.Equal(t, RaceAccess{Op: "read", Goroutine: "9", Func: "main.(*registry).notify", Site: "racy/main.go:19",
		CreatedAt: "racy/main.go:30 (main.main)"}, r.Access)
	require.Equal(t, RaceAccess{Op: "write", Previous: true, Goroutine: "8", Func: "main.(*registry).remove", Site: "racy/main.go:14",
		CreatedAt: "racy/main.go:29 (main.main)"}, r.Previous)
	require.True(t, strings.HasPrefix(r.Text, "WARNING: DATA RACE"))
	require.NotContains(t, r.Text, "==================")

	// The in-place copy is attributed to its caller, through the runtime.
	r = reports[1]
	require.Equal(t, "main.(*registry).remove", r.Previous.Func)
	require.Equal(t, "racy/main.go:13", r.Previous.Site)
	require.Equal(t, "runtime.slicecopy", r.Previous.Via)
	require.Equal(t, "racy/main.go:13 vs racy/main.go:19", r.Key())

	vs := ParseRaceReports(string(data))
	require.Len(t, vs, 3)
	require.Equal(t, harness.DataRace, vs[1].Kind)
	first := strings.SplitN(vs[1].Message, "\n", 2)[0]
	require.Equal(t, "data race: read by goroutine 9 at racy/main.go:19 in main.(*registry).notify vs "+
		"previous write by goroutine 8 at racy/main.go:13 in main.(*registry).remove (via runtime.slicecopy); "+
		"goroutine 9 created at racy/main.go:30 (main.main), goroutine 8 created at racy/main.go:29 (main.main)", first)
	require.Contains(t, vs[2].Message, "write by goroutine 11 at racy/main.go:35 in main.main.func4 vs previous write by goroutine 10 at racy/main.go:34")
}

func TestParseRaceReportsHeddle(t *testing.T) {
	// A race found through heddle's scheduler: its frames are skipped, in
	// the accesses and where the goroutines were started.
	data, err := os.ReadFile("testdata/race_heddle.txt")
	require.NoError(t, err)
	vs := ParseRaceReports(string(data))
	require.Len(t, vs, 1)
	first := strings.SplitN(vs[0].Message, "\n", 2)[0]
	require.Equal(t, "data race: write by goroutine 12 at harness/race_test.go:96 in github.com/heddle-go/heddle/harness.init.func7.1 vs "+
		"previous read by goroutine 13 at harness/race_test.go:97 in github.com/heddle-go/heddle/harness.init.func7.2; "+
		"goroutine 12 created at harness/race_test.go:96 (github.com/heddle-go/heddle/harness.init.func7), "+
		"goroutine 13 created at harness/race_test.go:97 (github.com/heddle-go/heddle/harness.init.func7)", first)
}

func TestParseRaceReportsNone(t *testing.T) {
	require.Empty(t, ParseRaceReports("ok  \tgithub.com/x\t0.1s\n"))
	require.Empty(t, ParseRaceReports(""))
	// A block cut short (the process was killed mid-report) still counts.
	vs := ParseRaceReports("==================\nWARNING: DATA RACE\nWrite at 0x00c000 by main goroutine:\n  main.main()\n      /x/main.go:5 +0x1\n")
	require.Len(t, vs, 1)
	require.Contains(t, vs[0].Message, "write by goroutine main at x/main.go:5 in main.main")
}
