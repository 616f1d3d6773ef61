package checkers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

const s = time.Second

func requireKind(t *testing.T, vs []Violation, k harness.Kind, fragments ...string) {
	t.Helper()
	require.Len(t, vs, 1)
	require.Equal(t, k, vs[0].Kind)
	for _, f := range fragments {
		require.Contains(t, vs[0].Message, f)
	}
}

func TestWithin(t *testing.T) {
	moved := []time.Duration{10 * s, 100 * s}
	require.Empty(t, Within("primary moved", moved, "success on new primary", []time.Duration{3 * s, 14 * s, 101 * s}, 5*s))
	require.Empty(t, Within("A", nil, "B", nil, s), "no A: nothing to check")

	requireKind(t, Within("primary moved", moved, "success on new primary", []time.Duration{14 * s, 180 * s}, 5*s),
		Timeliness, "within 5s", "1 of 2", "after primary moved at 1m40s: the first success on new primary came at 3m0s, 1m15s late")
	requireKind(t, Within("primary moved", moved, "success on new primary", []time.Duration{3 * s}, 5*s),
		Timeliness, "2 of 2", "no success on new primary after it")
	// A B exactly at the bound is in time; a B before A does not count.
	require.Empty(t, Within("A", []time.Duration{s}, "B", []time.Duration{6 * s}, 5*s))
	requireKind(t, Within("A", []time.Duration{s}, "B", []time.Duration{s - 1}, 5*s), Timeliness)
}

func TestReturnsWithin(t *testing.T) {
	ops := []harness.Operation{
		op(0, 1, 2, "get x", "1"),   // 1s
		unk(1, 3, 8, "put x"),       // gave up after 5s
		op(2, 10, 13, "get y", nil), // 3s
	}
	require.Empty(t, ReturnsWithin(ops, 5*s, 0))
	require.Empty(t, ReturnsWithin(ops, 4*s, s))
	requireKind(t, ReturnsWithin(ops, 4*s, 500*time.Millisecond), Timeliness,
		"1 of 3", "op #1, client 1, put x: took 5s (3s → 8s), deadline 4s + 500ms")

	never := append(ops, pending(3, 20, "get z"))
	requireKind(t, ReturnsWithin(never, 10*s, 0), Timeliness, "op #3, client 3, get z: called at 20s, never returned")

	perOp := func(op harness.Operation) time.Duration {
		if op.Input == "get y" {
			return 2 * s
		}
		return 0 // no deadline
	}
	requireKind(t, ReturnsWithinFunc(never, perOp, 0), Timeliness, "1 of 4", "get y: took 3s")
}

func TestDeliveredWithin(t *testing.T) {
	committed := []Stamped[int]{Stamp(1*s, 1), Stamp(2*s, 2), Stamp(3*s, 3)}
	// Fixed: the last write ships one poll after it commits.
	good := []Stamped[int]{Stamp(1*s+100*time.Millisecond, 1), Stamp(2*s+100*time.Millisecond, 2), Stamp(3*s+100*time.Millisecond, 3)}
	require.Empty(t, DeliveredWithin(committed, good, time.Second))

	// Buggy: the last write waits for the next empty write, 100 s later.
	late := []Stamped[int]{good[0], good[1], Stamp(103*s, 3)}
	requireKind(t, DeliveredWithin(committed, late, time.Second), Timeliness,
		"writes stopped at 3s", "by 4s", "1 of 3", "3 (committed at 3s): delivered at 1m43s, 1m39s late")

	missing := good[:2]
	requireKind(t, DeliveredWithin(committed, missing, time.Second), Timeliness, "3 (committed at 3s): never delivered")

	// A duplicate delivery counts by its first arrival; an item never
	// committed is an invariant violation.
	extra := append([]Stamped[int]{Stamp(50*s, 1)}, good...)
	extra = append(extra, Stamp(4*s, 9))
	requireKind(t, DeliveredWithin(committed, extra, time.Second), Invariant, "never committed", "9 at 4s")
}

func TestLogs(t *testing.T) {
	require.Empty(t, Monotonic("confirmed decree", []int64{1, 1, 2, 5}))
	requireKind(t, Monotonic("confirmed decree", []int64{1, 3, 2, 5}), Invariant,
		"confirmed decree must never go back", "#2: went back from 3 to 2")

	require.Empty(t, StrictlyIncreasing("ids", []string{"a", "b", "c"}))
	requireKind(t, StrictlyIncreasing("ids", []string{"a", "b", "b", "a"}), Invariant, "#2: b again (duplicate)", "#3: a after b (out of order)")

	require.Empty(t, Consecutive("shipped decrees", []uint64{4, 5, 6}))
	require.Empty(t, Consecutive("shipped decrees", []uint64{}))
	requireKind(t, Consecutive("shipped decrees", []int{1, 2, 2, 5, 4, 6}), Invariant,
		"2 again (duplicate)", "5 after 2 (gap: 3..4 missing)", "4 after 5 (out of order)", "6 after 4 (gap: 5 missing)")

	require.Empty(t, Prefix("remote log", []int{1, 2}, []int{1, 2, 3}))
	require.Empty(t, Prefix("remote log", nil, []int{1}))
	requireKind(t, Prefix("remote log", []int{1, 3}, []int{1, 2, 3}), Invariant, "entry #1 is 3, the source has 2")
	requireKind(t, Prefix("remote log", []int{1, 2, 3}, []int{1, 2}), Invariant, "it has 3 entries, the source only 2")
}
