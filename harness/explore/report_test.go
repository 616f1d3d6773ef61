package explore

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/heddle-go/heddle/harness"

	"github.com/stretchr/testify/require"
)

func seedPtr(s int64) *int64 { return &s }

func sampleReports() []Report {
	return []Report{
		{Case: "mq", Variant: "buggy", Verdict: VerdictFound, OK: true, Kind: harness.DataRace, Expect: []harness.Kind{harness.DataRace},
			FirstFailingSeed: seedPtr(17), SeedsTried: 18, SeedsPerSecond: 90, TimeToDetect: 0.2, Elapsed: 0.3,
			Strategy: "default", Mode: "deterministic", Replay: "go run -race ./cmd/heddle replay mq --variant buggy --seed 17"},
		{Case: "mq", Variant: "fixed", Verdict: VerdictFail, OK: false, Kind: harness.Leak, FirstFailingSeed: seedPtr(3),
			SeedsTried: 4, Elapsed: 0.1, Strategy: "pct:3:100", Mode: "deterministic", Reason: "Leak at seed 3",
			Message: "1 goroutine(s) still alive <&>"},
		{Case: "replica", Variant: "fixed", Verdict: VerdictPass, OK: true, SeedsTried: 2000, Elapsed: 31, Strategy: "default", Mode: "deterministic"},
	}
}

func TestJSONLinesShape(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSONLines(&b, sampleReports()))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		for _, k := range []string{"case", "variant", "verdict", "ok", "first_failing_seed", "seeds_tried",
			"seeds_per_second", "time_to_detect_seconds", "strategy", "mode"} {
			require.Contains(t, m, k, l)
		}
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m))
	require.Equal(t, 17.0, m["first_failing_seed"])
	require.Equal(t, "DataRace", m["kind"])
	require.Contains(t, m["replay"], "replay mq --variant buggy --seed 17")
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &m))
	require.Nil(t, m["first_failing_seed"], "null when no seed failed")

	back, err := ReadJSONLines(strings.NewReader("not json\n" + b.String()))
	require.NoError(t, err)
	require.Equal(t, sampleReports(), back)
}

func TestMergeShards(t *testing.T) {
	shard := func(k string, tried int, first *int64, verdict string, ok bool) Report {
		return Report{Case: "mq", Variant: "buggy", Expect: []harness.Kind{harness.DataRace}, Shard: k, SeedsTried: tried, SeedsPlanned: 50,
			FirstFailingSeed: first, Verdict: verdict, OK: ok, Elapsed: 1, Kind: map[bool]harness.Kind{true: harness.DataRace}[first != nil],
			Replay: "replay " + k}
	}
	merged := MergeReports([]Report{
		shard("2/3", 12, seedPtr(34), VerdictFound, true),
		shard("1/3", 3, seedPtr(6), VerdictFound, true),
		shard("3/3", 50, nil, VerdictMissed, false),
		{Case: "a", Variant: "fixed", Verdict: VerdictPass, OK: true, SeedsTried: 10, Elapsed: 2, Shard: "1/2"},
		{Case: "a", Variant: "fixed", Verdict: VerdictFail, Kind: harness.Leak, FirstFailingSeed: seedPtr(9), SeedsTried: 5, Elapsed: 1, Shard: "2/2", Reason: "Leak at seed 9"},
	})
	require.Len(t, merged, 2)
	a, mq := merged[0], merged[1]
	require.Equal(t, "a", a.Case)
	require.Equal(t, VerdictFail, a.Verdict)
	require.False(t, a.OK)
	require.Equal(t, int64(9), *a.FirstFailingSeed)
	require.Equal(t, 15, a.SeedsTried)
	require.Equal(t, 5.0, a.SeedsPerSecond)

	require.Equal(t, VerdictFound, mq.Verdict)
	require.True(t, mq.OK)
	require.Equal(t, int64(6), *mq.FirstFailingSeed, "the lowest failing seed over the shards")
	require.Equal(t, "replay 1/3", mq.Replay)
	require.Equal(t, 65, mq.SeedsTried)
	require.Equal(t, 150, mq.SeedsPlanned)
	require.Equal(t, "1/3,2/3,3/3", mq.Shard)

	// No shard found the bug: missed.
	merged = MergeReports([]Report{shard("1/2", 25, nil, VerdictMissed, false), shard("2/2", 25, nil, VerdictMissed, false)})
	require.Equal(t, VerdictMissed, merged[0].Verdict)
	require.Contains(t, merged[0].Reason, "50 seed(s) passed")
}
