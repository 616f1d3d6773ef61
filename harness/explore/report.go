package explore

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/heddle-go/heddle/harness"
)

// Verdicts of a variant's exploration.
const (
	// VerdictFound: a variant that carries a bug showed an expected kind.
	VerdictFound = "found"
	// VerdictMissed: a variant that carries a bug passed every seed tried.
	VerdictMissed = "missed"
	// VerdictUnexpected: a variant that carries a bug failed, but not with
	// a kind it is expected to show.
	VerdictUnexpected = "unexpected"
	// VerdictPass: a fixed variant passed every seed tried.
	VerdictPass = "pass"
	// VerdictFail: a fixed variant failed.
	VerdictFail = "fail"
	// VerdictRegressed: a saved schedule of a variant that carries a bug no
	// longer shows its kind.
	VerdictRegressed = "regressed"
	// VerdictError: the exploration itself could not run.
	VerdictError = "error"
)

// Report is the outcome of exploring one variant of a case: one JSON object
// of `heddle run --json`, one row of the verdict table.
type Report struct {
	Case    string `json:"case"`
	Variant string `json:"variant"`
	// Verdict is one of the Verdict constants; OK says whether it is the
	// one wanted (found for a variant that carries a bug, pass otherwise).
	Verdict string `json:"verdict"`
	OK      bool   `json:"ok"`
	// Kind is the violation kind at the first failing seed.
	Kind harness.Kind `json:"kind,omitempty"`
	// Expect lists the kinds that count as finding the variant's bug.
	Expect []harness.Kind `json:"expect,omitempty"`
	// FirstFailingSeed is the lowest failing seed, or null.
	FirstFailingSeed *int64 `json:"first_failing_seed"`
	// SeedsPlanned is the size of the sweep; SeedsTried the runs done.
	SeedsPlanned int `json:"seeds_planned"`
	SeedsTried   int `json:"seeds_tried"`
	// FailingSeeds counts failing seeds (all of them with --keep-going).
	FailingSeeds   int     `json:"failing_seeds"`
	SeedsPerSecond float64 `json:"seeds_per_second"`
	// TimeToDetect is the wall time, in seconds, until the first failing
	// seed was found; Elapsed the whole exploration's.
	TimeToDetect float64 `json:"time_to_detect_seconds"`
	Elapsed      float64 `json:"elapsed_seconds"`
	Strategy     string  `json:"strategy"`
	Mode         string  `json:"mode"`
	Shard        string  `json:"shard,omitempty"`
	// Interrupted is set when the time budget ended the sweep.
	Interrupted bool `json:"interrupted,omitempty"`
	// Replay is the command that replays the first failure.
	Replay string `json:"replay,omitempty"`
	// Reason says in one line why the verdict is not OK.
	Reason string `json:"reason,omitempty"`
	// Message is the violation's full message.
	Message string `json:"message,omitempty"`
	// Saved lists the saved failures re-run before the sweep.
	Saved []SavedCheck `json:"saved,omitempty"`
	// Shrunk is the shrunk schedule of the first failure, when shrunk.
	Shrunk *ShrinkResult `json:"shrunk,omitempty"`
	// SavedPath is where the first failure was saved.
	SavedPath string `json:"saved_path,omitempty"`
	// Notes are remarks that change no verdict.
	Notes []string `json:"notes,omitempty"`
}

// SavedCheck is the re-run of one saved failure.
type SavedCheck struct {
	Path string       `json:"path"`
	Kind harness.Kind `json:"kind"`
	Seed int64        `json:"seed"`
	// Problem is empty when the saved failure behaved as expected.
	Problem string `json:"problem,omitempty"`
	// Skipped says why the saved failure was not re-run, if it was not.
	Skipped string   `json:"skipped,omitempty"`
	Outcome *Outcome `json:"-"`
}

// Line is the one-line summary of a report that is not OK.
func (r Report) Line() string {
	s := fmt.Sprintf("%s/%s: %s", r.Case, r.Variant, r.Verdict)
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	if r.Replay != "" {
		s += " (replay: " + r.Replay + ")"
	}
	return s
}

// WriteJSONLines writes one JSON object per report, one per line.
func WriteJSONLines(w io.Writer, reports []Report) error {
	enc := json.NewEncoder(w)
	for _, r := range reports {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// ReadJSONLines reads reports written by WriteJSONLines (blank lines, lines
// that are not JSON objects, and objects with a "type" field, which other
// outputs mix in with the reports, such as the coverage of run --cover, are
// skipped).
func ReadJSONLines(r io.Reader) ([]Report, error) {
	var out []Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var typed struct {
			Type string `json:"type"`
		}
		if json.Unmarshal([]byte(line), &typed) == nil && typed.Type != "" {
			continue
		}
		var rep Report
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		out = append(out, rep)
	}
	return out, sc.Err()
}

// MergeReports combines the reports of several shards of one sweep: per case
// and variant, seeds tried add up, the first failing seed is the lowest
// (each shard stops at its own first failure, having passed every seed of
// its own below it, so the lowest is the first of the whole sweep), and the
// verdict is judged again from the shard that holds it.
func MergeReports(reports []Report) []Report {
	type key struct{ c, v string }
	groups := map[key][]Report{}
	var order []key
	for _, r := range reports {
		k := key{r.Case, r.Variant}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].c != order[j].c {
			return order[i].c < order[j].c
		}
		return order[i].v < order[j].v
	})
	var out []Report
	for _, k := range order {
		out = append(out, mergeGroup(groups[k]))
	}
	return out
}

func mergeGroup(g []Report) Report {
	var decider *Report // the failing shard with the lowest seed
	var problem *Report // a shard whose verdict is an error or regression
	m := Report{Case: g[0].Case, Variant: g[0].Variant, Expect: g[0].Expect, Strategy: g[0].Strategy, Mode: g[0].Mode}
	var shards []string
	var busy float64
	for i := range g {
		r := &g[i]
		m.SeedsPlanned += r.SeedsPlanned
		m.SeedsTried += r.SeedsTried
		m.FailingSeeds += r.FailingSeeds
		m.Elapsed = max(m.Elapsed, r.Elapsed)
		m.Interrupted = m.Interrupted || r.Interrupted
		busy += r.Elapsed
		if r.Shard != "" {
			shards = append(shards, r.Shard)
		}
		if r.Verdict == VerdictError || r.Verdict == VerdictRegressed {
			if problem == nil {
				problem = r
			}
		}
		if r.FirstFailingSeed != nil && (decider == nil || *r.FirstFailingSeed < *decider.FirstFailingSeed) {
			decider = r
		}
		m.Saved = append(m.Saved, r.Saved...)
		m.Notes = append(m.Notes, r.Notes...)
	}
	sort.Strings(shards)
	m.Shard = strings.Join(slices.Compact(shards), ",")
	if busy > 0 {
		m.SeedsPerSecond = float64(m.SeedsTried) / busy
	}
	expectsBug := len(m.Expect) > 0
	switch {
	case problem != nil:
		m.Verdict, m.OK, m.Reason = problem.Verdict, false, problem.Reason
	case decider == nil && expectsBug:
		m.Verdict, m.OK = VerdictMissed, false
		m.Reason = fmt.Sprintf("expected %v, but %d seed(s) passed", m.Expect, m.SeedsTried)
	case decider == nil:
		m.Verdict, m.OK = VerdictPass, true
	default:
		m.Verdict, m.OK, m.Reason = decider.Verdict, decider.OK, decider.Reason
	}
	if decider != nil {
		m.FirstFailingSeed = decider.FirstFailingSeed
		m.Kind = decider.Kind
		m.Replay = decider.Replay
		m.Message = decider.Message
		m.TimeToDetect = decider.TimeToDetect
		m.Shrunk = decider.Shrunk
		m.SavedPath = decider.SavedPath
	}
	return m
}
