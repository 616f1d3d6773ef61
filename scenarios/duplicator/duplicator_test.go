package duplicator

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

func kindsOf(vs []checkers.Violation) []harness.Kind {
	var ks []harness.Kind
	for _, v := range vs {
		if !slices.Contains(ks, v.Kind) {
			ks = append(ks, v.Kind)
		}
	}
	return ks
}

// TestBuggyLag: every seed of Buggy breaks the lag property, and
// only that one; the last burst's write reaches the remote 100-200 s late,
// when the group check's empty write finally commits it on disk.
func TestBuggyLag(t *testing.T) {
	cfg := DefaultConfig()
	for seed := int64(0); seed < 10; seed++ {
		r := Measure(sys.Buggy, cfg, harness.Options{Seed: seed})
		require.Equal(t, []harness.Kind{checkers.Timeliness}, kindsOf(r.Violations), "seed %d: %v", seed, r.Violations)
		for _, v := range r.Violations {
			assert.Contains(t, v.Message, "duplication lag", "seed %d", seed)
			assert.Contains(t, v.Message, "must reach the remote cluster within 500ms")
		}
		require.Len(t, r.Lags, cfg.Bursts)
		last := r.Lags[len(r.Lags)-1]
		t.Logf("seed %d: %d writes, lag after each burst %v", seed, r.Writes, r.Lags)
		assert.GreaterOrEqual(t, last, cfg.System.GroupCheckInterval, "seed %d", seed)
		assert.Less(t, last, 2*cfg.System.GroupCheckInterval+time.Second, "seed %d", seed)
	}
}

// TestFixedPasses: Fixed passes every check, and each burst's
// last write reaches the remote within about one load poll. HEDDLE_LONG=1
// runs the full 2,000 seeds.
func TestFixedPasses(t *testing.T) {
	seeds := 100
	if os.Getenv("HEDDLE_LONG") != "" {
		seeds = 2000
	}
	cfg := DefaultConfig()
	var worst time.Duration
	writes := 0
	for seed := int64(0); seed < int64(seeds); seed++ {
		r := Measure(sys.Fixed, cfg, harness.Options{Seed: seed})
		require.Empty(t, r.Violations, "seed %d", seed)
		require.Len(t, r.Lags, cfg.Bursts)
		for _, l := range r.Lags {
			require.GreaterOrEqual(t, l, time.Duration(0), "seed %d: a burst's last write never arrived", seed)
			worst = max(worst, l)
		}
		writes += r.Writes
	}
	t.Logf("%d seeds, %d writes: worst lag of a burst's last write %v", seeds, writes, worst)
	assert.Less(t, worst, cfg.System.LoadDelay+50*time.Millisecond)
}

// TestMergedWindow runs #2048 exactly as merged: a mutation
// loaded after it reached the private log but before the replica applied
// it is committed by the batch only when a later mutation is loaded. When
// it is a burst's last write, it waits for the next write or empty write.
// The window is an interleaving (a load poll between the log append and
// the acknowledgement), so only some seeds show it.
func TestMergedWindow(t *testing.T) {
	cfg := DefaultConfig()
	found := -1
	for seed := int64(0); seed < 300 && found < 0; seed++ {
		r := Measure(sys.Merged, cfg, harness.Options{Seed: seed})
		if len(r.Violations) == 0 {
			continue
		}
		require.Equal(t, []harness.Kind{checkers.Timeliness}, kindsOf(r.Violations), "seed %d", seed)
		require.Contains(t, r.Violations[0].Message, "duplication lag")
		found = int(seed)
		t.Logf("seed %d: lag after each burst %v\n%s", seed, r.Lags, r.Violations[0].Message)
	}
	require.GreaterOrEqual(t, found, 0, "the merged fix's window did not show in 300 seeds")
}

// TestReplay: a seed replays to the same run.
func TestReplay(t *testing.T) {
	v := mustVariant(t, "buggy")
	a := explore.RunOnce(v, explore.RunSpec{Seed: 3})
	b := explore.RunOnce(v, explore.RunSpec{Seed: 3, Replay: true, Schedule: a.Schedule})
	require.True(t, a.Has(checkers.Timeliness))
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Violations, b.Violations)
}

// TestChecks feeds the checks recorded runs that break each
// property, to show that each one fires, with the right kind and a message
// naming the property.
func TestChecks(t *testing.T) {
	w := func(d int64, key string) sys.Mutation {
		return sys.Mutation{Decree: d, LastCommitted: d - 1, Key: key, Value: "v"}
	}
	sec := func(s float64) time.Duration { return time.Duration(s*1000) * time.Millisecond }
	base := func() *run {
		cfg := DefaultConfig()
		cfg.System.Partitions = 1
		rec := &recorder{committed: []map[int64]stamped{{}}, remote: make([][]stamped, 1),
			delivered: map[writeKey]bool{}, shipped: map[[2]int][]int64{}, lasts: map[[2]int][]int64{},
			confirmed: make([][]int64, 1)}
		rec.committed[0][1] = stamped{sys.Mutation{Decree: 1, Empty: true}, 0}
		rec.committed[0][2] = stamped{w(2, "a"), sec(1)}
		rec.committed[0][3] = stamped{w(3, "b"), sec(2)}
		rec.remote[0] = []stamped{{w(2, "a"), sec(1.05)}, {w(3, "b"), sec(2.05)}}
		rec.shipped[[2]int{0, 1}] = []int64{2, 3}
		rec.lasts[[2]int{0, 1}] = []int64{1, 2, 3}
		rec.confirmed[0] = []int64{0, 3}
		return &run{cfg: cfg, rec: rec, quiet: []time.Duration{sec(3)}}
	}
	vs, lags, writes := base().check()
	require.Empty(t, vs)
	require.Equal(t, 2, writes)
	require.Equal(t, []time.Duration{sec(0.05)}, lags)

	for _, tc := range []struct {
		name   string
		mutate func(r *run)
		kind   harness.Kind
		text   string
	}{
		{"late", func(r *run) { r.rec.remote[0][1].at = sec(150) }, checkers.Timeliness, "duplication lag"},
		{"never", func(r *run) { r.rec.remote[0] = r.rec.remote[0][:1] }, checkers.Timeliness, "never delivered"},
		{"duplicate", func(r *run) {
			r.rec.remote[0] = append(r.rec.remote[0], stamped{w(3, "b"), sec(2.1)})
		}, checkers.Invariant, "consecutive"},
		{"gap", func(r *run) { r.rec.remote[0] = r.rec.remote[0][1:] }, checkers.Invariant, "prefix"},
		{"not committed", func(r *run) {
			r.rec.remote[0] = append(r.rec.remote[0], stamped{w(4, "c"), sec(2.1)})
		}, checkers.Invariant, "prefix"},
		{"before commit", func(r *run) { r.rec.remote[0][0].at = sec(0.5) }, checkers.Invariant, "only apply committed writes"},
		{"shipped twice", func(r *run) { r.rec.shipped[[2]int{0, 1}] = []int64{2, 3, 3} }, checkers.Invariant, "decrees shipped by partition 0"},
		{"progress back", func(r *run) { r.rec.lasts[[2]int{0, 1}] = []int64{1, 3, 2} }, checkers.Invariant, "last_decree of partition 0"},
		{"confirmed back", func(r *run) { r.rec.confirmed[0] = []int64{3, 2} }, checkers.Invariant, "confirmed_decree of partition 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.mutate(r)
			vs, _, _ := r.check()
			require.NotEmpty(t, vs)
			found := false
			for _, v := range vs {
				found = found || v.Kind == tc.kind && strings.Contains(v.Message, tc.text)
			}
			require.True(t, found, "no %s violation mentions %q: %v", tc.kind, tc.text, vs)
		})
	}
}

// TestObserverChecks: the checks that run while the system runs
// (ship beyond last_applied, confirmed past last, a changed history) fire.
func TestObserverChecks(t *testing.T) {
	res := harness.Run(harness.Options{}, func() {
		rec := newRecorder(1)
		obs := rec.observer()
		m := sys.Mutation{Decree: 2, LastCommitted: 1, Key: "a", Value: "1"}
		obs.Committed(0, m)
		obs.Committed(0, m) // replayed, same: fine
		require.Empty(t, rec.bad)
		obs.Committed(0, sys.Mutation{Decree: 2, LastCommitted: 1, Key: "a", Value: "2"})
		obs.Shipped(0, 1, []sys.Mutation{m}, 2, 1)
		obs.Progressed(0, 1, sys.Progress{LastDecree: 1, ConfirmedDecree: 2})
		require.Len(t, rec.bad, 3)
		for i, text := range []string{"must never change", "<= last_applied_decree at ship time", "must not pass last_decree"} {
			assert.Equal(t, checkers.Invariant, rec.bad[i].Kind)
			assert.Contains(t, rec.bad[i].Message, text)
		}
	})
	require.NoError(t, res.Err())
}

// TestRealMode runs the workload with real goroutines (scaled
// timings) under the race detector: Fixed passes; nothing is left running.
func TestRealMode(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := Measure(sys.Fixed, DefaultConfig(), harness.Options{Mode: harness.Real, Perturb: 0.05})
	require.Empty(t, r.Violations)
	t.Logf("real mode, fixed: %d writes, lag after each burst %v", r.Writes, r.Lags)
}

// mustVariant returns the case's variant of that name, or fails the test.
func mustVariant(t *testing.T, name string) explore.Variant {
	t.Helper()
	v, err := Case().Variant(name)
	require.NoError(t, err)
	return v
}
