package harness

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
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
	Kind string `json:"kind,omitempty"`
	// Expect lists the kinds that count as finding the variant's bug.
	Expect []string `json:"expect,omitempty"`
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
	Path string `json:"path"`
	Kind string `json:"kind"`
	Seed int64  `json:"seed"`
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

// ReadJSONLines reads reports written by WriteJSONLines (blank lines and
// lines that are not JSON objects are skipped).
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
		var rep Report
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		out = append(out, rep)
	}
	return out, sc.Err()
}

// WriteTable writes the verdict table: case, variant, verdict, kind, first
// failing seed, seeds tried, time.
func WriteTable(w io.Writer, reports []Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tVARIANT\tVERDICT\tKIND\tFIRST SEED\tSEEDS\tTIME")
	for _, r := range reports {
		kind, seed := dash(r.Kind), "-"
		if r.FirstFailingSeed != nil {
			seed = strconv.FormatInt(*r.FirstFailingSeed, 10)
		}
		verdict := r.Verdict
		if !r.OK {
			verdict = strings.ToUpper(verdict)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Case, r.Variant, verdict, kind, seed, r.SeedsTried,
			roundDuration(r.Elapsed))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func roundDuration(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
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

// JUnit output: one test suite per case, one test case per variant.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the reports as JUnit XML: a test suite per case, a test
// case per variant, a failure for every report that is not OK.
func WriteJUnit(w io.Writer, reports []Report) error {
	var doc junitSuites
	index := map[string]int{}
	var total float64
	for _, r := range reports {
		i, ok := index[r.Case]
		if !ok {
			i = len(doc.Suites)
			index[r.Case] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: "heddle/" + r.Case})
		}
		s := &doc.Suites[i]
		jc := junitCase{Name: r.Variant, Classname: "heddle." + r.Case, Time: secs(r.Elapsed)}
		jc.SystemOut = fmt.Sprintf("verdict %s; kind %s; seeds tried %d; strategy %s", r.Verdict, dash(r.Kind), r.SeedsTried, r.Strategy)
		if r.FirstFailingSeed != nil {
			jc.SystemOut += fmt.Sprintf("; first failing seed %d", *r.FirstFailingSeed)
		}
		if r.Replay != "" {
			jc.SystemOut += "\nreplay: " + r.Replay
		}
		if !r.OK {
			jc.Failure = &junitFailure{Message: r.Line(), Type: r.Verdict, Text: r.Message}
			s.Failures++
			doc.Failures++
		}
		s.Cases = append(s.Cases, jc)
		s.Tests++
		doc.Tests++
		total += r.Elapsed
	}
	for i := range doc.Suites {
		var t float64
		for _, c := range doc.Suites[i].Cases {
			f, _ := strconv.ParseFloat(c.Time, 64)
			t += f
		}
		doc.Suites[i].Time = secs(t)
	}
	doc.Time = secs(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

// WriteTraceText writes a trace as readable text, one event per line: step,
// virtual time, goroutine, node, event, detail and file:line.
func WriteTraceText(w io.Writer, evs []EventRecord) error {
	bw := bufio.NewWriter(w)
	for _, e := range evs {
		bw.WriteString(e.Text)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// chromeEvent is one entry of the Chrome trace-event format (the JSON that
// chrome://tracing and ui.perfetto.dev open).
type chromeEvent struct {
	Name string         `json:"name"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	S    string         `json:"s,omitempty"`
	Args map[string]any `json:"args,omitempty"`
}

// WriteChromeTrace writes a trace in Chrome's trace-event JSON format: one
// process per node (the goroutines outside any node form "main"), one
// thread per goroutine, a slice for every stretch a goroutine ran and an
// instant event for every start, block, exit, panic, timer and note. The
// timeline's unit is the scheduling step (one step is drawn as one
// microsecond, so that goroutines that run at the same virtual instant
// still line up in order); every event carries its virtual time in args.
func WriteChromeTrace(w io.Writer, evs []EventRecord) error {
	nodes := map[string]int{}
	nodeName := func(n string) string {
		if n == "" {
			return "main"
		}
		return "node " + n
	}
	pidOf := func(n string) int {
		if p, ok := nodes[n]; ok {
			return p
		}
		p := len(nodes) + 1
		nodes[n] = p
		return p
	}
	var out []chromeEvent
	threads := map[[2]int]bool{}
	type running struct {
		pid, g, step int
		site         string
		vt           time.Duration
	}
	var cur *running
	closeRun := func(end int) {
		if cur == nil {
			return
		}
		dur := float64(end - cur.step)
		if dur <= 0 {
			dur = 0.5
		}
		out = append(out, chromeEvent{Name: "run", Ph: "X", Ts: float64(cur.step), Dur: dur, Pid: cur.pid, Tid: cur.g,
			Args: map[string]any{"site": cur.site, "virtual_time": cur.vt.String()}})
		cur = nil
	}
	for _, e := range evs {
		pid := pidOf(e.Node)
		if !threads[[2]int{pid, e.G}] {
			threads[[2]int{pid, e.G}] = true
			out = append(out, chromeEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: e.G,
				Args: map[string]any{"name": fmt.Sprintf("g%d", e.G)}})
		}
		if e.Kind == "run" {
			closeRun(e.Step)
			cur = &running{pid: pid, g: e.G, step: e.Step, site: e.Site, vt: e.Time}
			continue
		}
		args := map[string]any{"virtual_time": e.Time.String()}
		if e.Site != "" {
			args["site"] = e.Site
		}
		if e.Detail != "" {
			args["detail"] = e.Detail
		}
		name := e.Kind
		if e.Detail != "" {
			name += ": " + e.Detail
		}
		out = append(out, chromeEvent{Name: name, Ph: "i", S: "t", Ts: float64(e.Step), Pid: pid, Tid: e.G, Args: args})
	}
	if len(evs) > 0 {
		closeRun(evs[len(evs)-1].Step + 1)
	}
	for n, pid := range nodes {
		out = append(out, chromeEvent{Name: "process_name", Ph: "M", Pid: pid, Args: map[string]any{"name": nodeName(n)}})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Ph == "M") != (out[j].Ph == "M") {
			return out[i].Ph == "M"
		}
		if out[i].Ph == "M" {
			if out[i].Pid != out[j].Pid {
				return out[i].Pid < out[j].Pid
			}
			return out[i].Tid < out[j].Tid
		}
		return out[i].Ts < out[j].Ts
	})
	doc := struct {
		TraceEvents     []chromeEvent `json:"traceEvents"`
		DisplayTimeUnit string        `json:"displayTimeUnit"`
	}{out, "ns"}
	enc := json.NewEncoder(w)
	return enc.Encode(doc)
}
