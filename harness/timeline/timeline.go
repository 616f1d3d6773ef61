// Package timeline renders one run of heddle as a self-contained HTML page:
// the run as swimlanes (one lane per goroutine, grouped by node), the
// violation at the top, the faults as bands across the lanes of their nodes,
// the racing pair or the blocked goroutines marked on the lanes, the source
// line of every site in a side panel, and porcupine's view of a history
// that is not linearizable. The page is one file, with its CSS, script and
// data inline: it fetches nothing and opens from disk, so it can be attached
// to a bug report or kept next to a saved schedule.
//
// The page needs only a Run: what ran (a case and variant, or a test's
// name), how (seed, strategy, the command that replays it), what broke (the
// violations) and the trace. It does not need a Case, so the heddle command
// writes it for a replayed seed (heddle replay --html) and for every failure
// of a sweep (heddle run --html), and a go test can write it for a failing
// seed of its own.
//
// A trace of 100,000 events stays usable: the timeline is drawn on a canvas,
// only the lanes in view, and of the marks that fall within a few pixels of
// each other on a lane only the most telling one is drawn.
package timeline

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
)

// Run is what one page shows: one run of a program under heddle. Only
// Events is needed to draw the timeline; every other field is shown when
// set.
type Run struct {
	// Title names what ran in the page's title and heading. Empty means
	// "Case/Variant", or Test.
	Title string
	// Case and Variant name a race case of heddle's catalog, when the run
	// is one; Test names a go test, when the run is one of its seeds.
	Case, Variant, Test string
	// Seed, Strategy, Steps, Preemptions and TraceHash are the run's
	// (explore.Outcome and harness.Result hold them).
	Seed               int64
	Strategy           string
	Steps, Preemptions int
	TraceHash          uint64
	// Faults is the fault plan the run used, in the notation of
	// faults.ParsePlan; empty when it used none.
	Faults string
	// Replay is the command that replays the run.
	Replay string
	// Violations are what the run broke; the page shows each at the top
	// and marks what it can of them on the timeline (a data race's two
	// goroutines, the blocked goroutines of a deadlock or a leak, a panic).
	// A NotLinearizable violation with a Visualization has porcupine's
	// page embedded.
	Violations []checkers.Violation
	// Events is the run's trace, in order.
	Events []Event
}

// Event is one event of a trace as the page needs it: harness.Event with
// its site resolved, so that it can come from another process (the heddle
// command converts explore.EventRecord; EventsOf converts a trace recorded
// here).
type Event struct {
	Step int
	Time time.Duration
	G    int
	Node string
	// Kind is harness.EventKind's name: run, go, block, exit, panic, timer
	// or note.
	Kind string
	// Site is file:line as harness.Event.Site gives it (the file's last two
	// path elements); File is the file's whole path, when known, from which
	// the page embeds the line.
	Site, File string
	Detail     string
}

// EventsOf converts a trace recorded in this process (harness.Result.Trace).
func EventsOf(evs []harness.Event) []Event {
	out := make([]Event, len(evs))
	files := map[uintptr]string{}
	for i, e := range evs {
		file, ok := files[e.PC]
		if !ok && e.PC != 0 {
			frame, _ := runtime.CallersFrames([]uintptr{e.PC}).Next()
			file = frame.File
			files[e.PC] = file
		}
		out[i] = Event{Step: e.Step, Time: e.Time, G: e.G, Node: e.Node, Kind: e.Kind.String(), Site: e.Site(),
			File: file, Detail: e.Detail}
	}
	return out
}

// Options tunes how a page is written. The zero value is ready to use.
type Options struct {
	// ReadFile reads the files the page embeds: the source files the
	// trace names and porcupine's visualisations. Nil means os.ReadFile. A
	// file that cannot be read is left out (the side panel then says so).
	ReadFile func(path string) ([]byte, error)
	// Context is the number of source lines shown either side of a site.
	// Zero means 6.
	Context int
}

func (o *Options) readFile(path string) ([]byte, error) {
	if o != nil && o.ReadFile != nil {
		return o.ReadFile(path)
	}
	return os.ReadFile(path)
}

func (o *Options) context() int {
	if o == nil || o.Context <= 0 {
		return 6
	}
	return o.Context
}

// Write writes r's page to w. opts may be nil.
func Write(w io.Writer, r Run, opts *Options) error {
	p := build(r, opts)
	if err := render(w, p); err != nil {
		return fmt.Errorf("timeline: writing the page: %w", err)
	}
	return nil
}

// WriteFile writes r's page to the file at path, replacing it. opts may be
// nil.
func WriteFile(path string, r Run, opts *Options) error {
	var buf bytes.Buffer
	if err := Write(&buf, r, opts); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return nil
}

// title is the run's name for the page.
func (r Run) title() string {
	switch {
	case r.Title != "":
		return r.Title
	case r.Case != "" && r.Variant != "":
		return r.Case + "/" + r.Variant
	case r.Case != "":
		return r.Case
	case r.Test != "":
		return r.Test
	}
	return "heddle run"
}
