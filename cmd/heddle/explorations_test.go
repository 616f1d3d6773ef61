package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

func TestSpreadOf(t *testing.T) {
	require.Nil(t, spreadOf(nil))
	require.Equal(t, &spread{Median: 7, Min: 7, Max: 7}, spreadOf([]float64{7}))
	// Odd: the middle value, whatever the input order.
	require.Equal(t, &spread{Median: 4, Min: 2, Max: 7}, spreadOf([]float64{7, 2, 4}))
	// Even: the mean of the two middle values.
	require.Equal(t, &spread{Median: 4.5, Min: 1, Max: 30}, spreadOf([]float64{30, 5, 1, 4}))
	require.Equal(t, &spread{Median: 2, Min: 1, Max: 3}, spreadOf([]float64{3, 1, 1, 3}))
	xs := []float64{3, 1, 2}
	spreadOf(xs)
	require.Equal(t, []float64{3, 1, 2}, xs, "the input is not reordered")
}

func TestExplorationSpansAreDisjoint(t *testing.T) {
	spans := explorationSpans(10, 7, 3)
	require.Equal(t, []seedSpan{{10, 7}, {17, 7}, {24, 7}}, spans)
	require.Equal(t, "17:24", spans[1].String())
}

// explorationLines splits run --explorations --json output into the
// reports and the summaries.
func explorationLines(t *testing.T, stdout string) (reps []explore.Report, sums []explorationSummary) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var probe struct{ Type string }
		require.NoError(t, json.Unmarshal([]byte(line), &probe), line)
		if probe.Type == "explorations" {
			var s explorationSummary
			require.NoError(t, json.Unmarshal([]byte(line), &s))
			sums = append(sums, s)
			continue
		}
		var r explore.Report
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		reps = append(reps, r)
	}
	return reps, sums
}

// TestExplorationsSweepDisjointRanges: racy races on seeds 3 mod 7, so each
// of the ranges 0:30, 30:60 and 60:90 has its own first racing seed (3, 31,
// 66). Every exploration finds its race: each race ends its worker, and
// each exploration starts workers of its own.
func TestExplorationsSweepDisjointRanges(t *testing.T) {
	needRace(t)
	r := run(t, "run", "racy", "--variant", "buggy", "--explorations", "3", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	reps, sums := explorationLines(t, r.stdout)
	require.Len(t, reps, 3)
	var firsts []int64
	for _, rep := range reps {
		require.Equal(t, explore.VerdictFound, rep.Verdict)
		require.Equal(t, harness.DataRace, rep.Kind)
		require.Equal(t, 30, rep.SeedsPlanned)
		firsts = append(firsts, *rep.FirstFailingSeed)
	}
	require.Equal(t, []int64{3, 31, 66}, firsts)
	require.Len(t, sums, 1)
	s := sums[0]
	require.Equal(t, "racy", s.Case)
	require.Equal(t, "buggy", s.Variant)
	require.Equal(t, 3, s.Explorations)
	require.Equal(t, 30, s.SeedsPerExploration)
	require.Equal(t, []string{"0:30", "30:60", "60:90"}, s.SeedRanges)
	require.True(t, s.OK)
	require.Equal(t, 3, s.Found)
	require.Equal(t, map[string]int{"found": 3}, s.Verdicts)
	require.Equal(t, map[string]int{"DataRace": 3}, s.Kinds)
	require.Equal(t, &spread{Median: 4, Min: 2, Max: 7}, s.SeedsToDetect, "seeds 3, 31, 66 are the 4th, 2nd and 7th of their ranges")
	require.NotNil(t, s.SecondsToDetect)
	require.Greater(t, s.SecondsToDetect.Min, 0.0)
	require.LessOrEqual(t, s.SecondsToDetect.Min, s.SecondsToDetect.Median)
	require.LessOrEqual(t, s.SecondsToDetect.Median, s.SecondsToDetect.Max)
	require.Equal(t, 4+2+7, s.SeedsTriedTotal)

	// The reports still merge (the summary line is skipped as a report
	// with no verdict of its own).
	_, err := explore.ReadJSONLines(strings.NewReader(r.stdout))
	require.NoError(t, err)
}

// TestExplorationsUseFreshWorkers: whoami fails without ending its worker
// and names the worker's process; every exploration names another.
func TestExplorationsUseFreshWorkers(t *testing.T) {
	r := run(t, "run", "whoami", "--explorations", "3", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	reps, sums := explorationLines(t, r.stdout)
	require.Len(t, reps, 3)
	pids := map[string]bool{}
	for i, rep := range reps {
		require.Equal(t, int64(5*i+4), *rep.FirstFailingSeed)
		require.Contains(t, rep.Message, "ran in process ")
		require.NotContains(t, rep.Message, fmt.Sprintf("process %d", os.Getpid()), "runs are in workers")
		pids[rep.Message] = true
	}
	require.Len(t, pids, 3, "no exploration reuses another's worker")
	require.Equal(t, &spread{Median: 5, Min: 5, Max: 5}, sums[0].SeedsToDetect)
}

func TestExplorationsTextAndExitStatus(t *testing.T) {
	needRace(t)
	// 0:3 holds no racing seed, 3:6 holds seed 3: one exploration misses.
	r := run(t, "run", "racy", "--seeds", "3", "--explorations", "2")
	require.Equal(t, exitFailed, r.status)
	require.Regexp(t, `racy\s+buggy #0\s+MISSED\s+-\s+-\s+3\s`, r.stdout)
	require.Regexp(t, `racy\s+buggy #1\s+found\s+DataRace\s+3\s+1\s`, r.stdout)
	require.Regexp(t, `racy\s+fixed #0\s+pass\s+-\s+-\s+3\s`, r.stdout)
	require.Contains(t, r.stdout, "racy/buggy: 2 explorations of 3 seeds, each in fresh workers: seeds 0:3 3:6\n")
	require.Regexp(t, `racy/buggy: found 1/2 \(missed 1\); seeds to detect: median 1, min 1, max 1; time to detect: median \S+, min \S+, max \S+; kinds: DataRace 1; \d+ seeds/s\n`, r.stdout)
	require.Regexp(t, `racy/fixed: passed 2/2; \d+ seeds/s\n`, r.stdout)
	require.Contains(t, r.stderr, "heddle: racy/buggy #0: missed: expected [DataRace], but 3 seed(s) passed")
	require.NotContains(t, r.stderr, "#1")

	// --seeds A:B: exploration i starts at A+i*(B-A).
	r = run(t, "run", "racy", "--variant", "fixed", "--seeds", "10:12", "--explorations", "2", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	_, sums := explorationLines(t, r.stdout)
	require.Equal(t, []string{"10:12", "12:14"}, sums[0].SeedRanges)
	require.Equal(t, 2, sums[0].Passed)
	require.Nil(t, sums[0].SeedsToDetect)
	require.Equal(t, 4, sums[0].SeedsTriedTotal)
	require.Greater(t, sums[0].SeedsPerSecond, 0.0)
}
