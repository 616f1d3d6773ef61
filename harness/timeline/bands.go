package timeline

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/heddle-go/heddle/faults"
)

// Faults reach the trace as notes: the runtime notes "node X crashed
// (MODE)" and "node X started (incarnation N)", and package faults notes
// "nemesis: FAULT" (with ": ERROR" when the fault could not be injected)
// before it injects each step of a plan. faultTracker turns them into
// bands: a crash lasts until its node starts again, a link fault until the
// next heal, a restart, a heal or a case's own action is an instant.

var (
	crashedNote = regexp.MustCompile(`^node (\S+) crashed \((.*)\)$`)
	startedNote = regexp.MustCompile(`^node (\S+) started \(incarnation (\d+)\)$`)
)

const nemesisPrefix = "nemesis: "

type faultTracker struct {
	a *analysis
	// crash holds the open crash band of each node (index into Bands).
	crash map[string]int
	// links are the open link faults (partition, delay, ...).
	links []int
	// killed lists the lanes a crash noted at the current event killed.
	killed []int
	// nemesis is the label of the last "nemesis:" note of a node fault,
	// by node, for the band the runtime's note opens.
	nemesis map[string]string
	// firstEvent is each lane's first event: a crash kills only the
	// goroutines its node already had.
	firstEvent []int
}

func newFaultTracker(a *analysis) *faultTracker {
	t := &faultTracker{a: a, crash: map[string]int{}, nemesis: map[string]string{}}
	t.firstEvent = make([]int, len(a.m.Lanes))
	for i := range t.firstEvent {
		t.firstEvent[i] = -1
	}
	for i, e := range a.evs {
		if l, ok := a.laneOf[e.G]; ok && t.firstEvent[l] < 0 {
			t.firstEvent[l] = i
		}
	}
	return t
}

func (t *faultTracker) open(b band) int {
	t.a.m.Bands = append(t.a.m.Bands, b)
	return len(t.a.m.Bands) - 1
}

func (t *faultTracker) close(idx, at int) {
	b := &t.a.m.Bands[idx]
	b.To = at
	b.Until = t.a.evs[min(at, len(t.a.evs)-1)].Time
}

// note looks at a note at event i and reports whether it is about a fault.
func (t *faultTracker) note(i int, e Event) bool {
	if m := crashedNote.FindStringSubmatch(e.Detail); m != nil {
		t.crashed(i, e, m[1], m[2])
		return true
	}
	if m := startedNote.FindStringSubmatch(e.Detail); m != nil {
		return t.started(i, e, m[1], m[2])
	}
	rest, ok := strings.CutPrefix(e.Detail, nemesisPrefix)
	if !ok {
		return false
	}
	t.nemesisNote(i, e, rest)
	return true
}

// crashed opens the crash band of node (unless one is open) at the
// runtime's note of its crash, and lists the node's lanes it killed.
func (t *faultTracker) crashed(i int, e Event, node, mode string) {
	label := "crash " + node + " (" + mode + ")"
	if n := t.nemesis[node]; n != "" {
		label = n + " (" + mode + ")"
		delete(t.nemesis, node)
	}
	if _, ok := t.crash[node]; !ok {
		t.crash[node] = t.open(band{Kind: "crash", Label: label, From: i, To: -1, Nodes: []string{node}, At: e.Time})
	}
	for l, ln := range t.a.m.Lanes {
		if ln.Node == node && t.firstEvent[l] >= 0 && t.firstEvent[l] <= i && !t.a.dead[l] {
			t.killed = append(t.killed, l)
		}
	}
}

// started closes node's crash band at the runtime's note of a restart
// (incarnation inc) and marks the restart; a first start is no fault.
func (t *faultTracker) started(i int, e Event, node, inc string) bool {
	if n, _ := strconv.Atoi(inc); n <= 1 {
		return false
	}
	if idx, ok := t.crash[node]; ok {
		t.close(idx, i)
		delete(t.crash, node)
	}
	label := "restart " + node
	if n := t.nemesis[node]; n != "" {
		label = n
		delete(t.nemesis, node)
	}
	t.open(band{Kind: "restart", Label: label + " (incarnation " + inc + ")", From: i, To: i + 1,
		Nodes: []string{node}, At: e.Time, Until: e.Time})
	return true
}

// nemesisNote marks a fault the plan applied (rest is its note after the
// prefix: the fault, and ": error" if it failed): link faults open a band
// until a heal, crashes wait for the runtime's own note, the rest are
// instants.
func (t *faultTracker) nemesisNote(i int, e Event, rest string) {
	text, errText, _ := strings.Cut(rest, ": ")
	plan, err := faults.ParsePlan("+0s " + text)
	if err != nil || len(plan) != 1 {
		// A nemesis of the case's own making: an instant across every lane.
		t.open(band{Kind: "nemesis", Label: rest, From: i, To: i + 1, At: e.Time, Until: e.Time})
		return
	}
	f := plan[0].Fault
	b := band{Kind: string(f.Kind), Label: f.String(), From: i, To: -1, Error: errText, At: e.Time}
	switch f.Kind {
	case faults.KindCrash, faults.KindBlackHole, faults.KindRestart:
		if errText == "" {
			// The runtime's own note follows and opens the band.
			t.nemesis[f.Node] = f.String()
			return
		}
		b.Nodes, b.To, b.Until = []string{f.Node}, i+1, e.Time
	case faults.KindIsolate:
		b.Nodes = []string{f.Node}
	case faults.KindHeal:
		for _, idx := range t.links {
			t.close(idx, i)
		}
		t.links = t.links[:0]
		b.To, b.Until = i+1, e.Time
	case faults.KindAction:
		b.Nodes = t.nodesNamed(strings.Fields(f.Arg))
		b.To, b.Until = i+1, e.Time
	default: // a link fault
		b.Nodes = []string{f.From, f.To}
	}
	if errText != "" {
		b.To, b.Until = i+1, e.Time
	}
	idx := t.open(b)
	if b.To < 0 {
		t.links = append(t.links, idx)
	}
}

// nodesNamed returns the words that name a node of the run.
func (t *faultTracker) nodesNamed(words []string) []string {
	var out []string
	for _, w := range words {
		for _, g := range t.a.m.Groups {
			if g.Node != "" && g.Node == w {
				out = append(out, w)
			}
		}
	}
	return out
}

// finish closes the bands still open at the end of the trace (n events)
// and gives every band its lanes: those of its nodes, or none for a band
// across every lane.
func (t *faultTracker) finish(n int) {
	bands := t.a.m.Bands
	for i := range bands {
		if bands[i].To < 0 {
			t.close(i, n)
			bands[i].To = n
		}
		bands[i].All = len(bands[i].Nodes) == 0
		for l, ln := range t.a.m.Lanes {
			for _, node := range bands[i].Nodes {
				if ln.Node == node {
					bands[i].Lanes = append(bands[i].Lanes, l)
				}
			}
		}
	}
}
