package timeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
)

// What the page can mark of each violation on the timeline:
//   - a data race: the two goroutines (lanes) and, on each, the last event at
//     a site of the access's stack; the race detector names goroutines by the
//     Go runtime's ids, so a lane is found by the go statement that started
//     it (the report's "created at"), and among several goroutines started
//     there, by the order of creation (the runtime numbers goroutines in the
//     order they are made, and so does heddle);
//   - a deadlock, a leak or a stuck goroutine: the goroutines the message
//     lists ("goroutine 7 on node a [chan receive] at f.go:12"), each at the
//     block that left it waiting;
//   - a panic: the panic event.

var (
	goroutineLine = regexp.MustCompile(`(?m)^\s*goroutine (\d+)(?: on node (\S+))? \[([^\]]*)\](?: at (\S+))?`)
	stuckLine     = regexp.MustCompile(`goroutine (\d+) ran for`)
	raceHeader    = regexp.MustCompile(`^(Previous )?(?i:(?:atomic )?(?:read|write))(?: of size \d+)? at 0x[0-9a-f]+ by (?:main goroutine|goroutine (\d+)):$`)
	frameFile     = regexp.MustCompile(`^\s+(\S+\.go):(\d+)(?: \+0x[0-9a-f]+)?$`)
)

// raceView is one data race as the page shows it.
type raceView struct {
	Violation int          `json:"violation"`
	Accesses  []accessView `json:"accesses"`
}

// accessView is one access of a race: what and where, and the lanes it
// may have been made by (one when the page could tell).
type accessView struct {
	What      string `json:"what"`
	Goroutine string `json:"goroutine"`
	Site      int    `json:"site"`
	Func      string `json:"func"`
	Created   string `json:"created,omitempty"`
	Lanes     []int  `json:"lanes"`
	// How says how the lanes were found.
	How string `json:"how"`
}

// blockedView is one goroutine a deadlock, leak or stuck run names.
type blockedView struct {
	Violation int    `json:"violation"`
	Lane      int    `json:"lane"`
	G         int    `json:"g"`
	State     string `json:"state"`
	Site      int    `json:"site"`
}

// violations marks the run's violations on the model.
func (a *analysis) violations(vs []checkers.Violation) (races []raceView, blocked []blockedView) {
	var refs []raceRef
	for vi, v := range vs {
		switch v.Kind {
		case harness.DataRace:
			for _, r := range checkers.ParseRaces(v.Message) {
				refs = append(refs, raceRef{violation: vi, r: r})
			}
		case harness.Deadlock, harness.Leak, harness.Stuck:
			blocked = append(blocked, a.blocked(vi, v)...)
		case harness.Panic:
			for i, e := range a.evs {
				if e.Kind == "panic" {
					if l, ok := a.laneOf[e.G]; ok {
						a.m.Marks = append(a.m.Marks, mark{Lane: l, Event: i, Violation: vi, Label: "panic: " + e.Detail})
						a.m.Lanes[l].Mark = "panic"
					}
				}
			}
		}
	}
	return a.races(refs), blocked
}

// raceRef is one race report of a DataRace violation.
type raceRef struct {
	violation int
	r         checkers.RaceReport
}

// blocked marks the goroutines a deadlock, leak or stuck message lists.
func (a *analysis) blocked(vi int, v checkers.Violation) []blockedView {
	var out []blockedView
	seen := map[int]bool{}
	add := func(g int, state, at string) {
		l, ok := a.laneOf[g]
		if !ok || seen[g] {
			return
		}
		seen[g] = true
		ev := a.lastBlock(l)
		label := fmt.Sprintf("%s: g%d", v.Kind, g)
		if state != "" {
			label += " [" + state + "]"
		}
		site := -1
		if at != "" {
			label += " at " + at
			site = a.site(at, "")
		} else if ev >= 0 {
			site = a.m.Site[ev]
		}
		a.m.Marks = append(a.m.Marks, mark{Lane: l, Event: ev, Violation: vi, Label: label})
		a.m.Lanes[l].Mark = string(v.Kind)
		out = append(out, blockedView{Violation: vi, Lane: l, G: g, State: state, Site: site})
	}
	for _, m := range goroutineLine.FindAllStringSubmatch(v.Message, -1) {
		g, _ := strconv.Atoi(m[1])
		add(g, m[3], m[4])
	}
	if v.Kind == harness.Stuck {
		for _, m := range stuckLine.FindAllStringSubmatch(v.Message, -1) {
			g, _ := strconv.Atoi(m[1])
			add(g, "running", "")
		}
	}
	return out
}

// lastBlock returns the event at which lane l last blocked, or its last
// event, or -1.
func (a *analysis) lastBlock(l int) int {
	last := -1
	for i := len(a.evs) - 1; i >= 0; i-- {
		if a.m.Lane[i] != l {
			continue
		}
		if last < 0 {
			last = i
		}
		if a.evs[i].Kind == "block" {
			return i
		}
		if a.evs[i].Kind == "run" {
			break // it ran after its last block
		}
	}
	return last
}

// raceAccess is one access of a race being placed on the lanes.
type raceAccess struct {
	race, k int // its race (in races) and which access (0 current, 1 previous)
	acc     checkers.RaceAccess
	frames  accessFrames
	cands   []int // lanes started where the report says its goroutine was
}

// races places every race of the run on the lanes.
func (a *analysis) races(races []raceRef) []raceView {
	var views []raceView
	var accs []raceAccess
	for ri, rr := range races {
		frames := raceFrames(rr.r.Text)
		view := raceView{Violation: rr.violation}
		for k, acc := range []checkers.RaceAccess{rr.r.Access, rr.r.Previous} {
			what := acc.Op
			if acc.Previous {
				what = "previous " + what
			}
			av := accessView{What: what, Goroutine: acc.Goroutine, Func: acc.Func, Created: acc.CreatedAt, Site: -1}
			if acc.Site != "" {
				av.Site = a.site(acc.Site, frames[k].fullOf(acc.Site))
			}
			for _, s := range frames[k].sites {
				a.site(s.label, s.file)
			}
			ra := raceAccess{race: ri, k: k, acc: acc, frames: frames[k]}
			if created, _, _ := strings.Cut(acc.CreatedAt, " ("); created != "" {
				for l, ln := range a.m.Lanes {
					if ln.Created == created {
						ra.cands = append(ra.cands, l)
					}
				}
			}
			view.Accesses = append(view.Accesses, av)
			accs = append(accs, ra)
		}
		views = append(views, view)
	}
	offset, ok := a.goidOffset(accs)
	for _, ra := range accs {
		av := &views[ra.race].Accesses[ra.k]
		av.Lanes, av.How = ra.cands, fmt.Sprintf("one of the %d goroutines started at its go statement", len(ra.cands))
		switch {
		case len(ra.cands) == 0:
			av.How = "no goroutine of the trace was started at its go statement"
		case len(ra.cands) == 1:
			av.How = "the only goroutine started at its go statement"
		case ok:
			id, _ := strconv.Atoi(ra.acc.Goroutine)
			for _, l := range ra.cands {
				if a.m.Lanes[l].G == id-offset {
					av.Lanes = []int{l}
					av.How = fmt.Sprintf("of the %d goroutines started at its go statement, the one whose place in the order of creation fits the race detector's goroutine ids", len(ra.cands))
				}
			}
		}
		label := fmt.Sprintf("data race: %s by goroutine %s at %s", av.What, av.Goroutine, ra.acc.Site)
		vi := views[ra.race].Violation
		if len(av.Lanes) == 1 {
			l := av.Lanes[0]
			a.m.Marks = append(a.m.Marks, mark{Lane: l, Event: a.lastAt(l, ra.frames), Violation: vi, Label: label})
			a.m.Lanes[l].Mark = "DataRace"
			continue
		}
		for _, l := range av.Lanes {
			a.m.Marks = append(a.m.Marks, mark{Lane: l, Event: -1, Violation: vi, Label: label + " (maybe)", Maybe: true})
			if a.m.Lanes[l].Mark == "" {
				a.m.Lanes[l].Mark = "DataRace?"
			}
		}
	}
	return views
}

// goidOffset finds how the race detector's goroutine ids relate to
// heddle's. Go numbers goroutines in the order they are made, and so does
// heddle; the goroutines of one World, made one at a time on one processor
// (heddle's workers run with GOMAXPROCS=1), have ids that differ from
// heddle's by one number. Each access allows the offsets id - G of its
// candidates; an offset allowed by every access, and the only one, places
// them all. It reports false when no single offset fits.
func (a *analysis) goidOffset(accs []raceAccess) (int, bool) {
	var allowed map[int]bool
	distinct := map[int]bool{}
	for _, ra := range accs {
		id, err := strconv.Atoi(ra.acc.Goroutine)
		if err != nil || len(ra.cands) == 0 {
			continue
		}
		distinct[id] = true
		here := map[int]bool{}
		for _, l := range ra.cands {
			if off := id - a.m.Lanes[l].G; allowed == nil || allowed[off] {
				here[off] = true
			}
		}
		allowed = here
	}
	if len(allowed) != 1 || len(distinct) < 2 {
		return 0, false
	}
	for off := range allowed {
		return off, true
	}
	return 0, false
}

// lastAt returns the last event of lane l at a site of the access's
// stack, or -1.
func (a *analysis) lastAt(l int, f accessFrames) int {
	want := map[int]bool{}
	for _, s := range f.sites {
		if i, ok := a.sites[s.label]; ok {
			want[i] = true
		}
	}
	for i := len(a.evs) - 1; i >= 0; i-- {
		// The go statement's site is the creator's, not this goroutine's.
		if a.m.Lane[i] == l && want[a.m.Site[i]] && a.evs[i].Kind != "go" {
			return i
		}
	}
	return -1
}

// accessFrames are the sites of one access's stack in a race report.
type accessFrames struct {
	sites []frameSite
}

type frameSite struct{ label, file string }

// fullOf returns the whole path of a site of the stack, or "".
func (f accessFrames) fullOf(label string) string {
	for _, s := range f.sites {
		if s.label == label {
			return s.file
		}
	}
	return ""
}

// raceFrames reads the stacks of the current and the previous access from
// a race report's text.
func raceFrames(text string) [2]accessFrames {
	var out [2]accessFrames
	k := -1
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			k = -1
			continue
		}
		if m := raceHeader.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			k = 0
			if m[1] != "" {
				k = 1
			}
			continue
		}
		if k < 0 {
			continue
		}
		if m := frameFile.FindStringSubmatch(line); m != nil {
			out[k].sites = append(out[k].sites, frameSite{label: shortPath(m[1]) + ":" + m[2], file: m[1]})
		}
	}
	return out
}

// shortPath keeps the last two elements of a path, as the trace's sites do.
func shortPath(file string) string {
	i := strings.LastIndexByte(file, '/')
	if i < 0 {
		return file
	}
	if j := strings.LastIndexByte(file[:i], '/'); j >= 0 {
		return file[j+1:]
	}
	return file
}
