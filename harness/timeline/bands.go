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
	d := e.Detail
	if m := crashedNote.FindStringSubmatch(d); m != nil {
		node, mode := m[1], m[2]
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
		return true
	}
	if m := startedNote.FindStringSubmatch(d); m != nil {
		node := m[1]
		if inc, _ := strconv.Atoi(m[2]); inc <= 1 {
			return false // a node's first start is no fault
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
		t.open(band{Kind: "restart", Label: label + " (incarnation " + m[2] + ")", From: i, To: i + 1,
			Nodes: []string{node}, At: e.Time, Until: e.Time})
		return true
	}
	rest, ok := strings.CutPrefix(d, nemesisPrefix)
	if !ok {
		return false
	}
	text, errText, _ := strings.Cut(rest, ": ")
	plan, err := faults.ParsePlan("+0s " + text)
	if err != nil || len(plan) != 1 {
		// A nemesis of the case's own making: an instant across every lane.
		t.open(band{Kind: "nemesis", Label: rest, From: i, To: i + 1, At: e.Time, Until: e.Time})
		return true
	}
	f := plan[0].Fault
	b := band{Kind: string(f.Kind), Label: f.String(), From: i, To: -1, Error: errText, At: e.Time}
	switch f.Kind {
	case faults.KindCrash, faults.KindBlackHole, faults.KindRestart:
		if errText == "" {
			// The runtime's own note follows and opens the band.
			t.nemesis[f.Node] = f.String()
			return true
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
	return true
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
