package harness

import (
	"fmt"
	"strings"
	"time"
)

// EventKind names what happened at one point of a run.
type EventKind uint8

const (
	// EvRun: the scheduler chose this goroutine to run from its site.
	EvRun EventKind = iota + 1
	// EvGo: a goroutine was started (the event's goroutine is the new one).
	EvGo
	// EvBlock: the goroutine blocked; Detail says on what.
	EvBlock
	// EvExit: the goroutine returned.
	EvExit
	// EvPanic: the goroutine panicked; Detail holds the value.
	EvPanic
	// EvTimer: the virtual clock moved to a timer and fired it.
	EvTimer
	// EvNote: an annotation from the program or a fault injector (Note).
	EvNote
)

var eventNames = [...]string{EvRun: "run", EvGo: "go", EvBlock: "block", EvExit: "exit", EvPanic: "panic", EvTimer: "timer", EvNote: "note"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one entry of a run's trace.
type Event struct {
	Step   int
	Time   time.Duration // virtual time since the World started
	G      int           // goroutine id
	Node   string        // the goroutine's node, if any
	Kind   EventKind
	PC     uintptr // program counter of the site; see Site
	Detail string
}

// Site returns the event's source location as file:line, or "".
func (e Event) Site() string { return siteOf(e.PC) }

// String renders the event as one line of a readable trace.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6d %12v g%-3d", e.Step, e.Time, e.G)
	if e.Node != "" {
		fmt.Fprintf(&b, " %-8s", e.Node)
	}
	fmt.Fprintf(&b, " %-5s", e.Kind)
	if e.Detail != "" {
		b.WriteString(" " + e.Detail)
	}
	if s := e.Site(); s != "" {
		b.WriteString(" @ " + s)
	}
	return b.String()
}

// traceHash mixes the fields of each event that do not depend on where code
// sits in a file (step, time, goroutine, node, kind, detail), a 64-bit word
// at a time, so a golden hash survives edits that move lines.
type traceHash uint64

func newTraceHash() traceHash { return 14695981039346656037 }

//go:norace
func (h *traceHash) word(v uint64) {
	x := (uint64(*h) ^ v) * 0x100000001b3
	*h = traceHash(x ^ x>>29)
}

//go:norace
func (h *traceHash) str(s string) {
	for len(s) >= 8 {
		h.word(uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)
		s = s[8:]
	}
	var last uint64
	for i := 0; i < len(s); i++ {
		last |= uint64(s[i]) << (8 * i)
	}
	h.word(last ^ uint64(len(s))<<59)
}

func (h traceHash) sum() uint64 { return uint64(h) }

//go:norace
func (w *world) record(g *goroutine, kind EventKind, pc uintptr, detail string) {
	node := ""
	if g.node != nil {
		node = g.node.name
	}
	w.hash.word(uint64(w.step))
	w.hash.word(uint64(w.now))
	w.hash.word(uint64(g.id))
	w.hash.word(uint64(kind))
	w.hash.str(node)
	w.hash.str(detail)
	if w.opts.Trace {
		w.events.add(Event{Step: w.step, Time: w.now, G: g.id, Node: node, Kind: kind, PC: pc, Detail: detail})
	}
}

// Note adds an annotation to the running World's trace (a fault injected, a
// phase of a scenario). Outside a deterministic World it does nothing.
func Note(format string, args ...any) {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return
	}
	w.note(fmt.Sprintf(format, args...), w.sitePC())
}

//go:norace
func (w *world) note(detail string, pc uintptr) {
	w.record(w.enter(), EvNote, pc, detail)
}
