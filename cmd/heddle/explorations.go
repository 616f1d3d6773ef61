package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

// Measuring detection: heddle run --explorations N runs N independent
// explorations of each variant and reports how soon each one found the bug.
// Exploration i sweeps seeds first+i*stride to first+(i+1)*stride-1, where
// stride is the seed count of one exploration (--seeds, or the variant's
// budget), so that no two explorations try the same seed. Each runs in
// worker processes of its own (the race detector reports a race once per
// process: a worker that had seen a race in one exploration could stay
// silent about it in the next) and stops at its first failure. Saved
// failures are not re-run, and nothing is shrunk or saved.

// maxExplorations bounds --explorations.
const maxExplorations = 10000

// checkExplorationFlags validates --explorations and the flags it cannot be
// combined with; shards is the n of --shard k/n.
func checkExplorationFlags(f runFlags, shards int) error {
	if f.explorations < 1 || f.explorations > maxExplorations {
		return badArgs("bad --explorations %d: want a whole number from 1 to %d", f.explorations, maxExplorations)
	}
	if f.keepGoing {
		return badArgs("--explorations stops each exploration at its first failure: drop --keep-going")
	}
	if f.save || f.shrink || f.html != "" {
		return badArgs("--explorations only measures: it neither shrinks, saves nor writes pages; drop --save, --shrink and --html")
	}
	if shards > 1 {
		return badArgs("--explorations gives each exploration a seed range of its own: drop --shard")
	}
	if f.seeds.set {
		span := int64(f.explorations) * int64(f.seeds.count)
		if f.seeds.first > math.MaxInt64-span {
			return badArgs("--seeds %s with --explorations %d runs past the largest seed", f.seeds.String(), f.explorations)
		}
	}
	return nil
}

// seedSpan is the seed range of one exploration: first to first+count-1.
type seedSpan struct {
	first int64
	count int
}

// String renders the span as --seeds reads it: A:B, seeds A to B-1.
func (s seedSpan) String() string {
	return fmt.Sprintf("%d:%d", s.first, s.first+int64(s.count))
}

// explorationSpans returns the disjoint seed ranges of n explorations that
// start at first and try count seeds each.
func explorationSpans(first int64, count, n int) []seedSpan {
	spans := make([]seedSpan, n)
	for i := range spans {
		spans[i] = seedSpan{first: first + int64(i)*int64(count), count: count}
	}
	return spans
}

// spread is the median, minimum and maximum of a sample.
type spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// spreadOf returns the spread of xs, or nil when xs is empty. The median of
// an even number of values is the mean of the two middle ones.
func spreadOf(xs []float64) *spread {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return &spread{Median: med, Min: s[0], Max: s[n-1]}
}

// explorationSummary is the extra JSON object that run --explorations
// --json prints per case and variant, after the reports of its
// explorations (one per exploration, in order).
type explorationSummary struct {
	// Type is always "explorations": it tells this object from a report.
	Type    string         `json:"type"`
	Case    string         `json:"case"`
	Variant string         `json:"variant"`
	Expect  []harness.Kind `json:"expect,omitempty"`
	// Strategy and Mode are those of every exploration.
	Strategy string `json:"strategy"`
	Mode     string `json:"mode"`
	// Explorations is N; SeedsPerExploration the stride; SeedRanges the
	// range each exploration swept, in order, as A:B (seeds A to B-1).
	Explorations        int      `json:"explorations"`
	SeedsPerExploration int      `json:"seeds_per_exploration"`
	SeedRanges          []string `json:"seed_ranges"`
	// OK is set when every exploration's verdict is OK.
	OK bool `json:"ok"`
	// Verdicts counts the explorations by verdict.
	Verdicts map[string]int `json:"verdicts"`
	// Found counts the explorations that found the variant's bug (verdict
	// found: an expected kind that the variant's Match accepts); Passed
	// those in which every seed passed (verdict pass, for a fixed variant).
	Found  int `json:"found"`
	Passed int `json:"passed"`
	// SeedsToDetect is the spread, over the explorations that found the
	// bug, of the seeds each tried up to and including its first failing
	// seed; SecondsToDetect of the wall time until it. Null when none did.
	SeedsToDetect   *spread `json:"seeds_to_detect"`
	SecondsToDetect *spread `json:"seconds_to_detect"`
	// Kinds counts the explorations by the violation kind at their first
	// failing seed, expected or not.
	Kinds map[string]int `json:"kinds"`
	// SeedsTriedTotal is the runs of all explorations; SeedsPerSecond
	// divides it by their summed wall time; WallSeconds is the wall time
	// of the whole measurement, PCT calibration included.
	SeedsTriedTotal int     `json:"seeds_tried_total"`
	SeedsPerSecond  float64 `json:"seeds_per_second"`
	WallSeconds     float64 `json:"wall_seconds"`
}

// summarize computes the summary of the explorations reps of v, which swept
// spans.
func summarize(c explore.Case, v explore.Variant, reps []explore.Report, spans []seedSpan, wall time.Duration) explorationSummary {
	s := explorationSummary{Type: "explorations", Case: c.Name, Variant: v.Name, Expect: v.Expect,
		Explorations: len(reps), OK: true, Verdicts: map[string]int{}, Kinds: map[string]int{},
		WallSeconds: wall.Seconds()}
	if len(spans) > 0 {
		s.SeedsPerExploration = spans[0].count
	}
	for _, sp := range spans {
		s.SeedRanges = append(s.SeedRanges, sp.String())
	}
	var seeds, secs []float64
	var busy float64
	for i, r := range reps {
		if i == 0 {
			s.Strategy, s.Mode = r.Strategy, r.Mode
		}
		s.Verdicts[r.Verdict]++
		s.OK = s.OK && r.OK
		if r.Kind != "" {
			s.Kinds[string(r.Kind)]++
		}
		switch r.Verdict {
		case explore.VerdictFound:
			s.Found++
			if r.FirstFailingSeed != nil {
				seeds = append(seeds, float64(*r.FirstFailingSeed-spans[i].first+1))
			}
			secs = append(secs, r.TimeToDetect)
		case explore.VerdictPass:
			s.Passed++
		}
		s.SeedsTriedTotal += r.SeedsTried
		busy += r.Elapsed
	}
	s.SeedsToDetect = spreadOf(seeds)
	s.SecondsToDetect = spreadOf(secs)
	if busy > 0 {
		s.SeedsPerSecond = float64(s.SeedsTriedTotal) / busy
	}
	return s
}

// explore runs f.explorations explorations of every job and reports them:
// the verdict table with a row per exploration (or its JSON report), then
// the summary of each variant. The exit status is 1 when any exploration's
// verdict is not OK.
func (a *app) explore(jobs []job, spec explore.StrategySpec, mode string, f runFlags) (int, error) {
	var rows []explore.Report
	var sums []explorationSummary
	for _, j := range jobs {
		reps, sum, err := a.exploreN(j.c, j.v, spec, mode, f)
		if err != nil {
			return 0, err
		}
		if f.json {
			if err := explore.WriteJSONLines(a.stdout, reps); err != nil {
				return 0, err
			}
			if err := json.NewEncoder(a.stdout).Encode(sum); err != nil {
				return 0, err
			}
		}
		for i, r := range reps {
			r.Variant = fmt.Sprintf("%s #%d", r.Variant, i)
			rows = append(rows, r)
		}
		sums = append(sums, sum)
	}
	status, err := a.finish(rows, f.json, f.junit)
	if err != nil {
		return 0, err
	}
	if !f.json {
		fmt.Fprintln(a.stdout)
		for _, s := range sums {
			writeSummary(a.stdout, s)
		}
	}
	return status, nil
}

// exploreN runs the explorations of one variant, each on its own seed range
// in fresh workers.
func (a *app) exploreN(c explore.Case, v explore.Variant, spec explore.StrategySpec, mode string, f runFlags) ([]explore.Report, explorationSummary, error) {
	start := time.Now()
	first, count := seedPlan(v, f)
	spans := explorationSpans(first, count, f.explorations)
	if mode == "" {
		var err error
		// Calibration runs seed 0 with a random walk: the same for every
		// exploration, so once is enough.
		spec, err = a.calibrate(c, v, spec)
		if err != nil {
			return nil, explorationSummary{}, err
		}
	}
	var reps []explore.Report
	for i, sp := range spans {
		seeds, err := explore.Seeds(sp.first, sp.count, 1, 1)
		if err != nil {
			return nil, explorationSummary{}, usageError{err.Error()}
		}
		label := fmt.Sprintf("%s/%s exploration %d/%d (seeds %s)", c.Name, v.Name, i+1, len(spans), sp)
		// Explorations only measure: no saved failures, no shrinking, no
		// saving (the flags that ask for them were refused).
		reps = append(reps, a.sweep(c, v, sweepPlan{spec: spec, mode: mode, seeds: seeds, label: label}, f))
	}
	return reps, summarize(c, v, reps, spans, time.Since(start)), nil
}

// writeSummary writes the two lines of a variant's summary: the seed
// ranges, then the counts and spreads.
func writeSummary(w io.Writer, s explorationSummary) {
	name := s.Case + "/" + s.Variant
	fmt.Fprintf(w, "%s: %d explorations of %d seeds, each in fresh workers: seeds %s\n",
		name, s.Explorations, s.SeedsPerExploration, strings.Join(s.SeedRanges, " "))
	var parts []string
	headline := explore.VerdictPass
	if len(s.Expect) > 0 {
		headline = explore.VerdictFound
	}
	word := map[string]string{explore.VerdictPass: "passed"}[headline]
	if word == "" {
		word = headline
	}
	head := fmt.Sprintf("%s %d/%d", word, s.Verdicts[headline], s.Explorations)
	var others []string
	for _, k := range sortedKeys(s.Verdicts) {
		if k != headline {
			others = append(others, fmt.Sprintf("%s %d", k, s.Verdicts[k]))
		}
	}
	if len(others) > 0 {
		head += " (" + strings.Join(others, ", ") + ")"
	}
	parts = append(parts, head)
	if d := s.SeedsToDetect; d != nil {
		parts = append(parts, fmt.Sprintf("seeds to detect: median %s, min %s, max %s", num(d.Median), num(d.Min), num(d.Max)))
	}
	if d := s.SecondsToDetect; d != nil {
		parts = append(parts, fmt.Sprintf("time to detect: median %s, min %s, max %s", secsText(d.Median), secsText(d.Min), secsText(d.Max)))
	}
	if len(s.Kinds) > 0 {
		var ks []string
		for _, k := range sortedKeys(s.Kinds) {
			ks = append(ks, fmt.Sprintf("%s %d", k, s.Kinds[k]))
		}
		parts = append(parts, "kinds: "+strings.Join(ks, ", "))
	}
	parts = append(parts, fmt.Sprintf("%.0f seeds/s", s.SeedsPerSecond))
	fmt.Fprintf(w, "%s: %s\n", name, strings.Join(parts, "; "))
}

func sortedKeys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// num renders a count that may be a half (the median of an even number).
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// secsText renders seconds as a duration rounded to a readable precision.
func secsText(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}
