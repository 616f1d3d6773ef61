package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heddle-go/heddle/harness/explore"
)

// writeTable writes the verdict table: case, variant, verdict, kind, first
// failing seed, seeds tried, time.
func writeTable(w io.Writer, reports []explore.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tVARIANT\tVERDICT\tKIND\tFIRST SEED\tSEEDS\tTIME")
	for _, r := range reports {
		kind, seed := dash(string(r.Kind)), "-"
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

// writeJUnit writes the reports as JUnit XML: a test suite per case, a test
// case per variant, a failure for every report that is not OK.
func writeJUnit(w io.Writer, reports []explore.Report) error {
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
		jc.SystemOut = fmt.Sprintf("verdict %s; kind %s; seeds tried %d; strategy %s", r.Verdict, dash(string(r.Kind)), r.SeedsTried, r.Strategy)
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

// writeTraceText writes a trace as readable text, one event per line: step,
// virtual time, goroutine, node, event, detail and file:line.
func writeTraceText(w io.Writer, evs []explore.EventRecord) error {
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

// writeChromeTrace writes a trace in Chrome's trace-event JSON format: one
// process per node (the goroutines outside any node form "main"), one
// thread per goroutine, a slice for every stretch a goroutine ran and an
// instant event for every start, block, exit, panic, timer and note. The
// timeline's unit is the scheduling step (one step is drawn as one
// microsecond, so that goroutines that run at the same virtual instant
// still line up in order); every event carries its virtual time in args.
func writeChromeTrace(w io.Writer, evs []explore.EventRecord) error {
	b := chromeBuilder{nodes: map[string]int{}, threads: map[[2]int]bool{}}
	for _, e := range evs {
		b.add(e)
	}
	if len(evs) > 0 {
		b.closeRun(evs[len(evs)-1].Step + 1)
	}
	doc := struct {
		TraceEvents     []chromeEvent `json:"traceEvents"`
		DisplayTimeUnit string        `json:"displayTimeUnit"`
	}{b.sorted(), "ns"}
	enc := json.NewEncoder(w)
	return enc.Encode(doc)
}

// chromeBuilder turns trace events into Chrome trace events: a process id
// per node, a thread per goroutine, and the stretch a goroutine is running
// (cur) closed as a slice when another one starts.
type chromeBuilder struct {
	nodes   map[string]int  // node name → pid
	threads map[[2]int]bool // (pid, goroutine) already named
	out     []chromeEvent
	cur     *chromeRunning
}

// chromeRunning is the stretch of the goroutine running now.
type chromeRunning struct {
	pid, g, step int
	site         string
	vt           time.Duration
}

// pid returns the process id of node, naming a new one on first sight.
func (b *chromeBuilder) pid(node string) int {
	if p, ok := b.nodes[node]; ok {
		return p
	}
	p := len(b.nodes) + 1
	b.nodes[node] = p
	name := "main"
	if node != "" {
		name = "node " + node
	}
	b.out = append(b.out, chromeEvent{Name: "process_name", Ph: "M", Pid: p, Args: map[string]any{"name": name}})
	return p
}

// closeRun ends the running stretch, if any, at step end.
func (b *chromeBuilder) closeRun(end int) {
	if b.cur == nil {
		return
	}
	dur := float64(end - b.cur.step)
	if dur <= 0 {
		dur = 0.5
	}
	b.out = append(b.out, chromeEvent{Name: "run", Ph: "X", Ts: float64(b.cur.step), Dur: dur, Pid: b.cur.pid, Tid: b.cur.g,
		Args: map[string]any{"site": b.cur.site, "virtual_time": b.cur.vt.String()}})
	b.cur = nil
}

// add records one trace event: a "run" starts a stretch, anything else is
// an instant event on its goroutine's thread.
func (b *chromeBuilder) add(e explore.EventRecord) {
	pid := b.pid(e.Node)
	if !b.threads[[2]int{pid, e.G}] {
		b.threads[[2]int{pid, e.G}] = true
		b.out = append(b.out, chromeEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: e.G,
			Args: map[string]any{"name": fmt.Sprintf("g%d", e.G)}})
	}
	if e.Kind == "run" {
		b.closeRun(e.Step)
		b.cur = &chromeRunning{pid: pid, g: e.G, step: e.Step, site: e.Site, vt: e.Time}
		return
	}
	args := map[string]any{"virtual_time": e.Time.String()}
	if e.Site != "" {
		args["site"] = e.Site
	}
	name := e.Kind
	if e.Detail != "" {
		args["detail"] = e.Detail
		name += ": " + e.Detail
	}
	b.out = append(b.out, chromeEvent{Name: name, Ph: "i", S: "t", Ts: float64(e.Step), Pid: pid, Tid: e.G, Args: args})
}

// sorted returns the events with the metadata first (by process, then
// thread) and the rest in step order.
func (b *chromeBuilder) sorted() []chromeEvent {
	out := b.out
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
	return out
}
