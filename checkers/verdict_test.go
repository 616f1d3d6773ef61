package checkers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

func TestKindNames(t *testing.T) {
	want := []string{"DataRace", "Panic", "Deadlock", "Leak", "NotLinearizable", "Timeliness", "Invariant", "StepLimit", "Stuck", "Diverged"}
	require.Len(t, Kinds, len(want))
	for i, k := range Kinds {
		require.Equal(t, want[i], string(k))
		require.Equal(t, want[i], k.String())
	}
	// Every kind the runtime reports is among them.
	for _, f := range []harness.Kind{harness.Deadlock, harness.Leak, harness.Panic, harness.StepLimit, harness.Stuck, harness.DataRace} {
		require.Contains(t, Kinds, f)
	}
}

func TestVerdict(t *testing.T) {
	v := Judge(nil)
	require.True(t, v.OK())
	require.NoError(t, v.Err())
	require.Equal(t, "ok", v.String())

	v = Judge(nil, nil, []Violation{Violationf(Invariant, "x = %d", 3), Violationf(Timeliness, "late")}, []Violation{Violationf(Invariant, "y")})
	require.False(t, v.OK())
	require.True(t, v.Has(Invariant))
	require.False(t, v.Has(harness.DataRace))
	require.Equal(t, []harness.Kind{Invariant, Timeliness}, v.Kinds())
	require.Contains(t, v.String(), "3 violation(s)")
	require.Contains(t, v.Err().Error(), "[1] Invariant: x = 3")
}

// run runs main in a deterministic World and maps its failures.
func run(t *testing.T, opts harness.Options, main func()) []Violation {
	t.Helper()
	res := harness.Run(opts, main)
	require.True(t, res.Failed())
	vs := FromResult(res)
	require.Len(t, vs, len(res.Failures))
	return vs
}

func TestFromResultDeadlock(t *testing.T) {
	vs := run(t, harness.Options{Seed: 4}, func() {
		var a, b harness.Mutex
		a.Lock()
		done := harness.NewChan[int](0)
		harness.Go(func() {
			b.Lock()
			a.Lock() // waits for main
			done.Send(1)
		})
		harness.Sleep(time.Second)
		b.Lock() // waits for the goroutine
		done.Recv()
	})
	require.Equal(t, harness.Deadlock, vs[0].Kind)
	msg := vs[0].Message
	require.Contains(t, msg, "seed 4")
	require.Contains(t, msg, "mutex lock")
	require.Contains(t, msg, "verdict_test.go:") // the blocking sites
	require.Contains(t, msg, "created at checkers/verdict_test.go")
}

func TestFromResultLeak(t *testing.T) {
	vs := run(t, harness.Options{Seed: 1}, func() {
		ch := harness.NewChan[int](0)
		harness.Go(func() { ch.Recv() })
	})
	require.Equal(t, harness.Leak, vs[0].Kind)
	require.Contains(t, vs[0].Message, "goroutine leak")
	require.Contains(t, vs[0].Message, "verdict_test.go:")
	require.Contains(t, vs[0].Message, "wait for it")
}

func TestFromResultPanic(t *testing.T) {
	vs := run(t, harness.Options{Seed: 2}, func() {
		var wg harness.WaitGroup
		wg.Go(func() {
			var m map[string]int
			//lint:ignore SA5000 the nil-map write is the panic under test
			m["x"] = 1
		})
		wg.Wait()
	})
	require.Equal(t, harness.Panic, vs[0].Kind)
	msg := vs[0].Message
	require.Contains(t, msg, "assignment to entry in nil map")
	require.Regexp(t, `\(at checkers/verdict_test.go:\d+\)`, msg) // the panicking line, from the stack
	require.NotContains(t, msg, "runtime/debug.Stack")
	require.NotContains(t, msg, "harness.(*World)")
}

func TestFromResultStepLimit(t *testing.T) {
	vs := run(t, harness.Options{Seed: 3, MaxSteps: 100}, func() {
		for {
			harness.Yield()
		}
	})
	require.Equal(t, harness.StepLimit, vs[0].Kind)
	require.Contains(t, vs[0].Message, "livelock")
}

func TestFromResultOK(t *testing.T) {
	res := harness.Run(harness.Options{}, func() {})
	require.Empty(t, FromResult(res))
	require.Empty(t, FromResult(nil))
	require.True(t, Judge(res).OK())
}
