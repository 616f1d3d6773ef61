package timeline

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// What each mark of the timeline is. The trace says when a goroutine was
// chosen to run, started, blocked (and on what), exited, panicked, when a
// timer fired and when someone left a note; the page derives the rest: a
// run after a block is a wake, a switch away from a goroutine that could
// have gone on is a preemption, a block says by its reason whether it waits
// for a lock, a send, a receive, a sleep...
type markKind int

const (
	kStep markKind = iota // chosen at a scheduling point it reached while runnable
	kWake                 // chosen again after it blocked
	kGo
	kLock
	kSend
	kReceive
	kSleep
	kSelect
	kWait
	kNet
	kBlock // blocked on something else
	kExit
	kPanic
	kTimer
	kNote
	kFault // a note that injects a fault, or a node that crashed or (re)started
	nKinds
)

// kindNames are the marks' names in the page (its legend and filters).
var kindNames = [nKinds]string{kStep: "step", kWake: "wake", kGo: "go", kLock: "lock", kSend: "send",
	kReceive: "receive", kSleep: "sleep", kSelect: "select", kWait: "wait", kNet: "net", kBlock: "block",
	kExit: "exit", kPanic: "panic", kTimer: "timer", kNote: "note", kFault: "fault"}

// blockKind classifies a block by its reason, as the runtime words it.
func blockKind(reason string) markKind {
	switch {
	case strings.Contains(reason, "lock"):
		return kLock
	case strings.HasPrefix(reason, "chan send"):
		return kSend
	case strings.HasPrefix(reason, "chan receive"):
		return kReceive
	case reason == "sleep":
		return kSleep
	case reason == "select":
		return kSelect
	case strings.Contains(reason, "wait") || reason == "once":
		return kWait
	case strings.HasPrefix(reason, "net"):
		return kNet
	}
	return kBlock
}

// lane is one goroutine's row.
type lane struct {
	G    int    `json:"g"`
	Node string `json:"node"`
	// Created is the site of the go statement that started it.
	Created string `json:"created,omitempty"`
	// End says how the goroutine ended up: exited, panicked, blocked on
	// ..., killed by a crash of its node, or runnable.
	End string `json:"end"`
	// Events counts its events; Preempted how often it was preempted.
	Events    int `json:"events"`
	Preempted int `json:"preempted"`
	// Mark, when set, says which violation involves it.
	Mark string `json:"mark,omitempty"`
}

// group is a node's lanes (Node "" holds the goroutines of no node).
type group struct {
	Node  string `json:"node"`
	Lanes []int  `json:"lanes"`
}

// band is a fault across the lanes of its nodes, from one event to
// another (To is the number of events when it lasts to the end).
type band struct {
	Kind  string   `json:"kind"`
	Label string   `json:"label"`
	From  int      `json:"from"`
	To    int      `json:"to"`
	Nodes []string `json:"nodes"`
	Lanes []int    `json:"lanes"`
	// All is set for a band across every lane (a heal, a case's action
	// that names no node).
	All bool `json:"all,omitempty"`
	// Error is set when the fault could not be injected.
	Error string `json:"error,omitempty"`
	// At and Until are the band's virtual times, for the fault list.
	At    time.Duration `json:"-"`
	Until time.Duration `json:"-"`
}

// mark points at a violation on the timeline: a lane, or one event of it.
type mark struct {
	Lane int `json:"lane"`
	// Event is the index of the marked event, or -1 for the lane as a
	// whole.
	Event int `json:"event"`
	// Violation is the index of the violation in the header's list.
	Violation int    `json:"violation"`
	Label     string `json:"label"`
	// Maybe is set on a lane that is one of several the violation may
	// involve (a race whose goroutine the page could not tell apart).
	Maybe bool `json:"maybe,omitempty"`
}

// site is one file:line, its file an index into the embedded files (-1
// when the file could not be read).
type site struct {
	Label string `json:"label"`
	File  int    `json:"file"`
	Line  int    `json:"line"`
}

// model is the timeline's data as the page's script reads it: lanes and
// their groups, the events in columns (steps and times as differences from
// the previous event, to keep a large page small), spans of running and
// blocking, preemptions, fault bands and violation marks.
type model struct {
	Kinds  []string `json:"kinds"`
	Lanes  []lane   `json:"lanes"`
	Groups []group  `json:"groups"`
	// The events, in trace order: the index of an event is its position
	// on the axis in order mode.
	DStep   []int    `json:"dstep"`
	DTime   []int64  `json:"dtime"`
	Lane    []int    `json:"lane"` // -1: the clock row
	Kind    []int    `json:"kind"`
	Site    []int    `json:"site"`   // into Sites, -1 none
	Detail  []int    `json:"detail"` // into Strings, -1 none
	Strings []string `json:"strings"`
	Sites   []site   `json:"sites"`
	// Running spans: lane, first and last-plus-one event.
	RunLane []int `json:"runLane"`
	RunFrom []int `json:"runFrom"`
	RunTo   []int `json:"runTo"`
	// Blocked spans, with their mark kind.
	BlockLane []int `json:"blockLane"`
	BlockFrom []int `json:"blockFrom"`
	BlockTo   []int `json:"blockTo"`
	BlockKind []int `json:"blockKind"`
	// Preemptions: the run event that switched away from a runnable
	// goroutine, and that goroutine's lane.
	PreemptAt   []int  `json:"preemptAt"`
	PreemptLane []int  `json:"preemptLane"`
	Bands       []band `json:"bands"`
	Marks       []mark `json:"marks"`
}

// analysis builds the model of a run's events.
type analysis struct {
	m       model
	evs     []Event
	laneOf  map[int]int // goroutine -> lane
	strings map[string]int
	sites   map[string]int
	// siteFile maps a trace's site to the whole path of its file.
	siteFile map[string]string
	// lastKind is each lane's last mark kind; blockAt the event at which
	// it blocked, or -1.
	lastKind []markKind
	blockAt  []int
	dead     []bool
	// cur is the lane running (-1: none), curFrom the event its stretch
	// began at (-1: closed), curRunnable whether it could have gone on
	// running (so that a switch away from it is a preemption).
	cur, curFrom int
	curRunnable  bool
}

func analyse(evs []Event) *analysis {
	a := &analysis{evs: evs, laneOf: map[int]int{}, strings: map[string]int{}, sites: map[string]int{},
		siteFile: map[string]string{}}
	a.m.Kinds = kindNames[:]
	a.lanes()
	a.events()
	return a
}

// lanes makes one lane per goroutine, grouped by node in order of first
// appearance, the goroutines of no node first.
func (a *analysis) lanes() {
	type info struct {
		g            int
		node         string
		created      string
		haveNode     bool
		firstAppears int
	}
	byG := map[int]*info{}
	var order []*info
	for i, e := range a.evs {
		if e.Kind == "timer" && e.Detail != "wake" {
			continue // the clock's, drawn on its own row
		}
		g := byG[e.G]
		if g == nil {
			g = &info{g: e.G, firstAppears: i}
			byG[e.G] = g
			order = append(order, g)
		}
		// A goroutine's go event carries its creator's node (a node's main
		// is started from outside it): its own events say where it runs.
		if e.Kind == "go" {
			g.created = e.Site
			if !g.haveNode {
				g.node = e.Node
			}
		} else if !g.haveNode {
			g.node, g.haveNode = e.Node, true
		}
	}
	nodeOrder := map[string]int{"": -1}
	for _, g := range order {
		if _, ok := nodeOrder[g.node]; !ok {
			nodeOrder[g.node] = len(nodeOrder)
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		ni, nj := nodeOrder[order[i].node], nodeOrder[order[j].node]
		if ni != nj {
			return ni < nj
		}
		return order[i].g < order[j].g
	})
	for _, g := range order {
		idx := len(a.m.Lanes)
		a.laneOf[g.g] = idx
		a.m.Lanes = append(a.m.Lanes, lane{G: g.g, Node: g.node, Created: g.created, End: "never ran"})
		if n := len(a.m.Groups); n == 0 || a.m.Groups[n-1].Node != g.node {
			a.m.Groups = append(a.m.Groups, group{Node: g.node})
		}
		gr := &a.m.Groups[len(a.m.Groups)-1]
		gr.Lanes = append(gr.Lanes, idx)
	}
	a.lastKind = make([]markKind, len(a.m.Lanes))
	a.blockAt = make([]int, len(a.m.Lanes))
	a.dead = make([]bool, len(a.m.Lanes))
	for i := range a.blockAt {
		a.blockAt[i] = -1
	}
}

func (a *analysis) str(s string) int {
	if s == "" {
		return -1
	}
	if i, ok := a.strings[s]; ok {
		return i
	}
	i := len(a.m.Strings)
	a.strings[s] = i
	a.m.Strings = append(a.m.Strings, s)
	return i
}

// site returns the index of a site, adding it (with its file, if the trace
// or a report gave one) the first time.
func (a *analysis) site(label, file string) int {
	if label == "" {
		return -1
	}
	if file != "" {
		if _, ok := a.siteFile[label]; !ok {
			a.siteFile[label] = file
		}
	}
	if i, ok := a.sites[label]; ok {
		return i
	}
	i := len(a.m.Sites)
	a.sites[label] = i
	line := 0
	if k := strings.LastIndexByte(label, ':'); k >= 0 {
		line, _ = strconv.Atoi(label[k+1:])
	}
	a.m.Sites = append(a.m.Sites, site{Label: label, File: -1, Line: line})
	return i
}

// events fills the event columns and derives wakes, spans, preemptions and
// fault bands.
func (a *analysis) events() {
	n := len(a.evs)
	m := &a.m
	m.DStep, m.DTime = make([]int, n), make([]int64, n)
	m.Lane, m.Kind, m.Site, m.Detail = make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	var prevStep int
	var prevTime time.Duration
	a.cur, a.curFrom = -1, -1
	faults := newFaultTracker(a)
	a.firstRunner()
	for i, e := range a.evs {
		m.DStep[i] = e.Step - prevStep
		m.DTime[i] = int64(e.Time - prevTime)
		prevStep, prevTime = e.Step, e.Time
		m.Site[i] = a.site(e.Site, e.File)
		m.Detail[i] = a.str(e.Detail)
		l, ok := a.laneOf[e.G]
		if !ok || (e.Kind == "timer" && e.Detail != "wake") {
			l = -1
		}
		m.Lane[i] = l
		k := a.mark(i, e, l)
		if e.Kind == "note" && faults.note(i, e) {
			k = kFault
		}
		a.killLanes(i, faults.killed)
		faults.killed = faults.killed[:0]
		m.Kind[i] = int(k)
		if l >= 0 {
			m.Lanes[l].Events++
			a.lastKind[l] = k
		}
	}
	a.closeRun(n)
	for l := range m.Lanes {
		a.closeBlock(l, n)
	}
	faults.finish(n)
}

// firstRunner finds the lane running before the first run event: the
// World starts its main goroutine without one, so the first goroutine
// started from a site (heddle's own spawner has none) runs until then.
func (a *analysis) firstRunner() {
	for i, e := range a.evs {
		if e.Kind == "run" {
			return
		}
		if e.Kind == "go" && (e.Site != "" || a.cur < 0) {
			if l, ok := a.laneOf[e.G]; ok {
				a.cur, a.curFrom, a.curRunnable = l, i, true
				a.m.Lanes[l].End = "runnable"
			}
			if e.Site != "" {
				return
			}
		}
	}
}

// mark returns the mark kind of event i (e, on lane l or -1) and updates
// the running stretch, the blocked spans, preemptions and each lane's end.
func (a *analysis) mark(i int, e Event, l int) markKind {
	m := &a.m
	switch e.Kind {
	case "run":
		k := kStep
		if l >= 0 && a.blockAt[l] >= 0 {
			k = kWake
			a.closeBlock(l, i)
		}
		if a.cur >= 0 && a.cur != l && a.curRunnable {
			m.PreemptAt = append(m.PreemptAt, i)
			m.PreemptLane = append(m.PreemptLane, a.cur)
			m.Lanes[a.cur].Preempted++
		}
		a.closeRun(i)
		a.cur, a.curFrom, a.curRunnable = l, i, true
		if l >= 0 {
			m.Lanes[l].End = "runnable"
		}
		return k
	case "go":
		return kGo
	case "block":
		if l >= 0 {
			a.blockAt[l] = i
			m.Lanes[l].End = "blocked: " + e.Detail
		}
		a.stopIfRunning(l, i)
		return blockKind(e.Detail)
	case "exit":
		if l >= 0 {
			m.Lanes[l].End = "exited"
		}
		a.stopIfRunning(l, i)
		return kExit
	case "panic":
		if l >= 0 {
			m.Lanes[l].End = "panicked: " + e.Detail
		}
		a.stopIfRunning(l, i)
		return kPanic
	case "timer":
		// The clock woke the goroutine that had just blocked: at the
		// choice that follows, it could go on running.
		if e.Detail == "wake" && l >= 0 && l == a.cur && !a.dead[l] {
			a.curRunnable = true
		}
		return kTimer
	}
	return kNote
}

// killLanes marks the lanes a crash noted at event i killed.
func (a *analysis) killLanes(i int, killed []int) {
	m := &a.m
	for _, dl := range killed {
		if !a.dead[dl] && m.Lanes[dl].End != "exited" && !strings.HasPrefix(m.Lanes[dl].End, "panicked") {
			m.Lanes[dl].End = "killed by the crash of node " + m.Lanes[dl].Node
		}
		a.dead[dl] = true
		a.closeBlock(dl, i)
		a.stopIfRunning(dl, i)
	}
}

// stopIfRunning ends the running stretch after event i when lane l is the
// one running: it blocked, exited or was killed.
func (a *analysis) stopIfRunning(l, i int) {
	if l == a.cur {
		a.closeRun(i + 1)
		a.curRunnable = false
	}
}

// closeRun ends the running stretch, if any, at event to.
func (a *analysis) closeRun(to int) {
	m := &a.m
	if a.cur >= 0 && a.curFrom >= 0 && to > a.curFrom {
		m.RunLane = append(m.RunLane, a.cur)
		m.RunFrom = append(m.RunFrom, a.curFrom)
		m.RunTo = append(m.RunTo, to)
	}
	a.curFrom = -1
}

// closeBlock ends lane l's blocked span, if any, at event to.
func (a *analysis) closeBlock(l, to int) {
	m := &a.m
	if at := a.blockAt[l]; at >= 0 {
		m.BlockLane = append(m.BlockLane, l)
		m.BlockFrom = append(m.BlockFrom, at)
		m.BlockTo = append(m.BlockTo, to)
		m.BlockKind = append(m.BlockKind, int(blockKind(a.evs[at].Detail)))
		a.blockAt[l] = -1
	}
}
