package scenarios

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/systems/mq"
	"github.com/stretchr/testify/require"
)

func TestMQRegistered(t *testing.T) {
	c, err := Lookup("mq")
	require.NoError(t, err)
	require.Contains(t, c.Bug, "#40481")
	buggy, ok := c.Variant("buggy")
	require.True(t, ok)
	require.ElementsMatch(t, []string{"DataRace", "Panic"}, buggy.Expect)
	fixed, ok := c.Variant("fixed")
	require.True(t, ok)
	require.Empty(t, fixed.Expect)
	require.GreaterOrEqual(t, fixed.Seeds, 2000)
}

// mqSeeds is how many seeds of the fixed variant the default test run
// passes: all 2,000 of the budget (a few seconds under -race).
const mqSeeds = 2000

// TestMQFixed runs the fixed variant's budget in this process with every
// check on: panics, deadlocks and leaks (the runtime's), the registry as a
// linearizable set, Destroy's postconditions and the consumer's exit
// bound, no lost wake-up, each message once and in order. Under -race a
// data race fails the subtest of the seed that caused it.
func TestMQFixed(t *testing.T) {
	c, _ := Lookup("mq")
	fixed, _ := c.Variant("fixed")
	start := time.Now()
	steps := 0
	for seed := int64(0); seed < mqSeeds; seed++ {
		t.Run(strconv.FormatInt(seed, 10), func(t *testing.T) {
			res, vs := fixed.Check(harness.Options{Seed: seed})
			require.Empty(t, vs, "seed %d:\n%v", seed, checkers.Verdict{Violations: vs})
			steps += res.Steps
		})
	}
	t.Logf("fixed: %d seeds passed in %v (race detector on: %v), %d scheduling points per run on average",
		mqSeeds, time.Since(start).Round(time.Millisecond), mqRaceEnabled(), steps/mqSeeds)
}

// TestMQChecksHaveTeeth runs the fixed variant with a fault in the
// workload's own client code, to show that the checks see it, as the
// right kind.
func TestMQChecksHaveTeeth(t *testing.T) {
	for _, c := range []struct {
		fault string
		kind  checkers.Kind
		says  string
	}{
		{"no-notify", checkers.Invariant, "lost wake-up"},       // Seek without Notify
		{"duplicate", checkers.NotLinearizable, "delivered"},    // a batch delivered twice
		{"skip", checkers.NotLinearizable, "delivered"},         // a message dropped
		{"forget-create", checkers.NotLinearizable, "registry"}, // a create missing from the history
		{"seek-c0", checkers.NotLinearizable, "queue"},          // c0 sought: not a FIFO queue any more
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultMQConfig
			cfg.fault = c.fault
			if c.fault == "no-notify" { // seeks that outlast the producers
				cfg.Produces, cfg.Seeks = 2, 12
			}
			check := MQCheck(mq.Fixed, cfg)
			found := -1
			for seed := int64(0); seed < 200 && found < 0; seed++ {
				_, vs := check(harness.Options{Seed: seed})
				if len(vs) > 0 {
					verdict := checkers.Verdict{Violations: vs}
					require.True(t, verdict.Has(c.kind), "seed %d: %v", seed, verdict)
					require.Contains(t, verdict.String(), c.says)
					found = int(seed)
				}
			}
			require.GreaterOrEqual(t, found, 0, "%s went unnoticed for 200 seeds", c.fault)
		})
	}
}

// The detection tests run the buggy variant in a child process (this test
// binary again), because the race detector reports each distinct race once
// per process: each exploration needs a fresh one. The child runs seeds
// in order, printing "mq-seed N" before each; with GORACE=halt_on_error=1
// it exits with status 66 at the first race report. A run whose checks
// find a violation of a kind the child is told to stop at prints
// "mq-found N KIND..." and the child stops there.

const mqChildEnv = "HEDDLE_MQ_CHILD"

// TestMQChild is the child side; it does nothing in an ordinary run.
func TestMQChild(t *testing.T) {
	spec := os.Getenv(mqChildEnv)
	if spec == "" {
		t.Skip("the child of the mq detection tests")
	}
	// spec: variant,first seed,count,kinds to stop at (a|b); or
	// variant,replay,saved file,kinds to stop at.
	f := strings.Split(spec, ",")
	require.Len(t, f, 4)
	c, _ := Lookup("mq")
	v, ok := c.Variant(f[0])
	require.True(t, ok)
	var runs []harness.Options
	if f[1] == "replay" {
		saved, err := harness.ReadSaved(f[2])
		require.NoError(t, err)
		runs = append(runs, harness.Options{Seed: saved.Seed, Strategy: harness.Replay(saved.Schedule)})
	} else {
		first, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		count, err := strconv.Atoi(f[2])
		require.NoError(t, err)
		for seed := first; seed < first+int64(count); seed++ {
			runs = append(runs, harness.Options{Seed: seed})
		}
	}
	stop := strings.Split(f[3], "|")
	out := bufio.NewWriter(os.Stdout)
	for _, opts := range runs {
		seed := opts.Seed
		fmt.Fprintf(out, "mq-seed %d\n", seed)
		out.Flush()
		_, vs := v.Check(opts)
		var kinds []string
		for _, x := range vs {
			if slices.Contains(stop, x.Kind) {
				kinds = append(kinds, x.Kind)
			}
		}
		if len(kinds) > 0 {
			fmt.Fprintf(out, "mq-found %d %s\n", seed, strings.Join(kinds, " "))
			for _, x := range vs {
				fmt.Fprintf(out, "mq-violation %s: %s\n", x.Kind, strings.ReplaceAll(x.Message, "\n", "\n    "))
			}
			out.Flush()
			return
		}
	}
	fmt.Fprintf(out, "mq-none\n")
	out.Flush()
}

// mqDetection is what one exploration of the buggy variant found.
type mqDetection struct {
	Kind    string        // DataRace, Panic, ... or "" if nothing
	Seed    int64         // the seed that showed it
	Seeds   int           // seeds run, that one included
	Elapsed time.Duration // wall-clock time of the child process
	Report  string        // the race report or the violations
}

var (
	mqSeedLine  = regexp.MustCompile(`(?m)^mq-seed (-?\d+)$`)
	mqFoundLine = regexp.MustCompile(`(?m)^mq-found (-?\d+) (.*)$`)
)

// mqExplore runs buggy seeds [first, first+count) in a child process, which
// stops at the first data race (under -race) or the first violation of one
// of the stop kinds.
func mqExplore(t *testing.T, first int64, count int, stop ...string) mqDetection {
	t.Helper()
	return mqChild(t, fmt.Sprintf("buggy,%d,%d,%s", first, count, strings.Join(stop, "|")), first)
}

// mqChild runs the child with spec and reads what it found; first is the
// first seed it runs.
func mqChild(t *testing.T, spec string, first int64) mqDetection {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMQChild$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), mqChildEnv+"="+spec, "GORACE=halt_on_error=1 atexit_sleep_ms=0")
	start := time.Now()
	raw, err := cmd.CombinedOutput()
	d := mqDetection{Elapsed: time.Since(start)}
	out := string(raw)
	seeds := mqSeedLine.FindAllStringSubmatch(out, -1)
	if len(seeds) > 0 {
		d.Seed, _ = strconv.ParseInt(seeds[len(seeds)-1][1], 10, 64)
		d.Seeds = int(d.Seed-first) + 1
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 66 && strings.Contains(out, "WARNING: DATA RACE"):
		d.Kind = string(checkers.DataRace)
		i := strings.Index(out, "WARNING: DATA RACE")
		d.Report = out[i:]
		if j := strings.Index(d.Report, "\n==================\n"); j > 0 {
			d.Report = d.Report[:j]
		}
	case mqFoundLine.MatchString(out):
		m := mqFoundLine.FindStringSubmatch(out)
		d.Kind = strings.Fields(m[2])[0]
		d.Report = out[strings.Index(out, m[0]):]
	case strings.Contains(out, "mq-none"):
	default:
		t.Fatalf("child process failed (%v):\n%s", err, out)
	}
	return d
}

// requireRightRace checks that a race report is the upstream one: the
// in-place copy of Destroy's removal against Notify's unlocked read.
func requireRightRace(t *testing.T, report string) {
	t.Helper()
	races := checkers.ParseRaces(report)
	require.Len(t, races, 1, report)
	r := races[0]
	const pkg = "github.com/heddle-go/heddle/systems/mq."
	remove, notify := r.Access, r.Previous
	if remove.Func != pkg+"(*racyConsumers).remove" {
		remove, notify = notify, remove
	}
	require.Equal(t, pkg+"(*racyConsumers).remove", remove.Func, "one access is Destroy's removal:\n%s", report)
	require.Equal(t, "write", remove.Op, report)
	require.Equal(t, "runtime.slicecopy", remove.Via, "the write is the in-place copy:\n%s", report)
	require.Equal(t, pkg+"(*racyConsumers).notify", notify.Func, "the other is Notify's read:\n%s", report)
	require.Equal(t, "read", notify.Op, report)
	require.Contains(t, report, "mq.(*Server).DestroyConsumerGroup", report)
	require.Contains(t, report, "mq.(*Server).Notify", report)
}

// TestMQBuggyDetected is the fast proof of detection, without the
// explorer: one exploration of the buggy variant's budget finds the bug,
// as a data race between the right lines under -race, and as the panic of
// a send on the closed channel without it.
func TestMQBuggyDetected(t *testing.T) {
	c, _ := Lookup("mq")
	buggy, _ := c.Variant("buggy")
	d := mqExplore(t, 0, buggy.Seeds, string(checkers.Panic))
	require.NotEmpty(t, d.Kind, "no detection in %d seeds", buggy.Seeds)
	require.Contains(t, buggy.Expect, d.Kind)
	if mqRaceEnabled() {
		require.Equal(t, string(checkers.DataRace), d.Kind, d.Report)
		requireRightRace(t, d.Report)
	} else {
		require.Equal(t, string(checkers.Panic), d.Kind, d.Report)
		require.Contains(t, d.Report, "send on closed channel")
	}
	t.Logf("buggy: %s at seed %d after %d seed(s), %v", d.Kind, d.Seed, d.Seeds, d.Elapsed.Round(time.Millisecond))
}

// TestMQSavedSchedules replays the shrunk failing schedules saved under
// testdata/heddle/mq/buggy/, each in a child process: each must still show
// its kind, for the right reason.
func TestMQSavedSchedules(t *testing.T) {
	saved, err := harness.LoadSaved(harness.DefaultSavedDir(), "mq", "buggy")
	require.NoError(t, err)
	require.NotEmpty(t, saved, "no saved schedule for mq/buggy")
	for _, s := range saved {
		t.Run(filepath.Base(s.Path), func(t *testing.T) {
			if s.Kind == string(checkers.DataRace) && !mqRaceEnabled() {
				t.Skip("replaying a data race needs -race")
			}
			d := mqChild(t, "buggy,replay,"+s.Path+","+string(checkers.Panic), s.Seed)
			require.Equal(t, s.Kind, d.Kind, d.Report)
			if d.Kind == string(checkers.DataRace) {
				requireRightRace(t, d.Report)
			} else {
				require.Contains(t, d.Report, "send on closed channel")
			}
			t.Logf("%s: %s again (%d choices, %d preemptions)", s.Path, d.Kind, len(s.Schedule), s.Preemptions)
		})
	}
}

// TestMQBuggyPanics shows the worse outcome on its own: Notify sends on the
// channel Destroy just closed. The child does not halt at races here.
func TestMQBuggyPanics(t *testing.T) {
	c, _ := Lookup("mq")
	buggy, _ := c.Variant("buggy")
	cmd := exec.Command(os.Args[0], "-test.run=^TestMQChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=buggy,0,%d,Panic", mqChildEnv, buggy.Seeds), "GORACE=halt_on_error=0 atexit_sleep_ms=0")
	raw, _ := cmd.CombinedOutput()
	out := string(raw)
	m := mqFoundLine.FindStringSubmatch(out)
	require.NotNil(t, m, "no panic in %d seeds:\n%s", buggy.Seeds, tail(out, 3000))
	report := out[strings.Index(out, m[0]):]
	require.Contains(t, report, "mq-violation Panic")
	require.Contains(t, report, "send on closed channel", report)
	require.Contains(t, report, "racyConsumers).notify", "the send is Notify's:\n%s", report)
	t.Logf("buggy: first panic at seed %s", m[1])
}

// mqRaceEnabled reports whether this test binary was built with -race.
func mqRaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestMQDetectionStats measures detection over 20 explorations, each in its
// own process over its own range of seeds. It takes a minute or more, so it
// runs only with HEDDLE_MQ_MEASURE=1:
//
//	HEDDLE_MQ_MEASURE=1 go test -race -run TestMQDetectionStats -v ./scenarios/
func TestMQDetectionStats(t *testing.T) {
	if os.Getenv("HEDDLE_MQ_MEASURE") == "" {
		t.Skip("set HEDDLE_MQ_MEASURE=1 to measure detection over 20 explorations")
	}
	c, _ := Lookup("mq")
	buggy, _ := c.Variant("buggy")
	for _, stop := range [][]string{{string(checkers.Panic)}, nil} {
		name := "race-or-panic"
		if !mqRaceEnabled() {
			name = "panic"
		}
		if stop == nil {
			if !mqRaceEnabled() {
				continue
			}
			name = "race-only"
		}
		t.Run(name, func(t *testing.T) {
			var seeds []int
			var times []time.Duration
			kinds := map[string]int{}
			for i := 0; i < 20; i++ {
				first := int64(i) * 1_000_003
				d := mqExplore(t, first, buggy.Seeds, stop...)
				require.NotEmpty(t, d.Kind, "exploration %d: nothing in %d seeds", i, buggy.Seeds)
				if d.Kind == string(checkers.DataRace) {
					requireRightRace(t, d.Report)
				}
				kinds[d.Kind]++
				seeds = append(seeds, d.Seeds)
				times = append(times, d.Elapsed)
				t.Logf("exploration %2d: %s at seed %d, %d seed(s), %v", i, d.Kind, d.Seed, d.Seeds, d.Elapsed.Round(time.Millisecond))
			}
			slices.Sort(seeds)
			slices.Sort(times)
			t.Logf("%s over 20 explorations: median %.1f seeds (min %d, max %d), median %v per exploration; kinds %v",
				name, float64(seeds[9]+seeds[10])/2, seeds[0], seeds[19], ((times[9] + times[10]) / 2).Round(time.Millisecond), kinds)
		})
	}
}
