package timeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/timeline"
)

// childEnv makes this test binary run the racy program of
// TestDataRacePage and print its trace (see TestMain).
const childEnv = "HEDDLE_TIMELINE_RACE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		res := racyRun()
		data, err := json.Marshal(timeline.EventsOf(res.Trace))
		if err != nil {
			panic(err)
		}
		fmt.Printf("trace: %s\n", data)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// page is what the tests read back from a page: its text, and the data
// its script draws from.
type page struct {
	html string
	data pageData
}

type pageData struct {
	Kinds []string `json:"kinds"`
	Lanes []struct {
		G                        int
		Node, Created, End, Mark string
		Events, Preempted        int
	} `json:"lanes"`
	Groups []struct {
		Node  string
		Lanes []int
	} `json:"groups"`
	Lane  []int `json:"lane"`
	Kind  []int `json:"kind"`
	Site  []int `json:"site"`
	Bands []struct {
		Kind, Label, Error string
		From, To           int
		Nodes              []string
		Lanes              []int
		All                bool
	} `json:"bands"`
	Marks []struct {
		Lane, Event, Violation int
		Label                  string
		Maybe                  bool
	} `json:"marks"`
	Sites []struct {
		Label      string
		File, Line int
	} `json:"sites"`
	Files []struct {
		Path   string
		Chunks []struct {
			Start int
			Lines []string
		}
	} `json:"files"`
	PreemptAt []int `json:"preemptAt"`
}

var dataBlock = regexp.MustCompile(`(?s)<script type="application/json" id="heddle-data">(.*?)</script>`)

// write writes r's page and reads it back.
func write(t *testing.T, r timeline.Run) page {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, timeline.Write(&buf, r, nil))
	p := page{html: buf.String()}
	m := dataBlock.FindStringSubmatch(p.html)
	require.NotNil(t, m, "the page has its data block")
	require.NoError(t, json.Unmarshal([]byte(m[1]), &p.data))
	return p
}

// text is the page with its tags removed and entities decoded: what a
// reader sees.
func (p page) text() string {
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(p.html, ""))
}

// laneOf returns the lane of goroutine g.
func (p page) laneOf(t *testing.T, g int) int {
	t.Helper()
	for l, ln := range p.data.Lanes {
		if ln.G == g {
			return l
		}
	}
	t.Fatalf("no lane for goroutine %d", g)
	return -1
}

// checkLanes checks that every goroutine of the trace has a lane and a row
// in the page's list of goroutines, with its node.
func (p page) checkLanes(t *testing.T, evs []harness.Event) {
	t.Helper()
	// A goroutine's node is the one its own events carry (its go event
	// carries its creator's).
	nodes, own := map[int]string{}, map[int]bool{}
	for _, e := range evs {
		if e.Kind == harness.EvTimer && e.Detail != "wake" {
			continue
		}
		if _, ok := nodes[e.G]; !ok || (e.Kind != harness.EvGo && !own[e.G]) {
			nodes[e.G] = e.Node
			own[e.G] = e.Kind != harness.EvGo
		}
	}
	require.Len(t, p.data.Lanes, len(nodes))
	for g, node := range nodes {
		l := p.laneOf(t, g)
		require.Equal(t, node, p.data.Lanes[l].Node, "g%d", g)
		require.Contains(t, p.html, fmt.Sprintf(`<tr class="goroutine" data-g="%d" data-node="%s"`, g, node))
	}
	inGroups := 0
	for _, gr := range p.data.Groups {
		for _, l := range gr.Lanes {
			require.Equal(t, gr.Node, p.data.Lanes[l].Node)
			inGroups++
		}
	}
	require.Equal(t, len(nodes), inGroups, "every lane is in its node's group")
}

// runOf makes a page's Run of a result.
func runOf(res *harness.Result, vs []checkers.Violation) timeline.Run {
	return timeline.Run{Case: "test", Variant: "buggy", Seed: res.Seed, Strategy: res.Strategy, Steps: res.Steps,
		Preemptions: res.Preemptions, TraceHash: res.TraceHash, Violations: vs, Events: timeline.EventsOf(res.Trace),
		Replay: fmt.Sprintf("go test -run TestX -heddle.seed %d", res.Seed)}
}

func TestDeadlockPage(t *testing.T) {
	res := harness.Run(harness.Options{Seed: 3, Trace: true}, func() {
		var a, b harness.Mutex
		var wg harness.WaitGroup
		transfers := 0
		for i := 0; i < 2; i++ {
			first, second := &a, &b
			if i == 1 {
				first, second = &b, &a
			}
			wg.Go(func() {
				first.Lock()
				harness.Sleep(time.Millisecond) // both hold their first lock
				second.Lock()
				transfers++
				second.Unlock()
				first.Unlock()
			})
		}
		wg.Wait()
	})
	vs := checkers.FromResult(res)
	require.Len(t, vs, 1)
	require.Equal(t, harness.Deadlock, vs[0].Kind)
	p := write(t, runOf(res, vs))

	text := p.text()
	require.Contains(t, text, "Deadlock")
	first, _, _ := strings.Cut(vs[0].Message, "\n")
	require.Contains(t, text, first)
	require.Contains(t, text, "go test -run TestX -heddle.seed 3", "the replay command")
	p.checkLanes(t, res.Trace)

	// Every goroutine of the deadlock is marked, at the block that left it waiting.
	blocked := res.Failures[0].Goroutines
	require.Len(t, blocked, 3) // main in Wait, the two workers on each other's lock
	for _, g := range blocked {
		l := p.laneOf(t, g.ID)
		require.Equal(t, "Deadlock", p.data.Lanes[l].Mark)
		require.True(t, strings.HasPrefix(p.data.Lanes[l].End, "blocked: "), p.data.Lanes[l].End)
		found := false
		for _, m := range p.data.Marks {
			if m.Lane == l {
				found = true
				require.GreaterOrEqual(t, m.Event, 0)
				require.Contains(t, []string{"lock", "wait"}, p.data.Kinds[p.data.Kind[m.Event]])
				require.Equal(t, l, p.data.Lane[m.Event])
			}
		}
		require.True(t, found, "g%d is marked", g.ID)
		require.Contains(t, p.html, fmt.Sprintf(`data-g="%d" data-node="" data-mark="Deadlock"`, g.ID))
	}
	// Two goroutines block on a lock: their marks say so.
	locks := 0
	for _, k := range p.data.Kind {
		if p.data.Kinds[k] == "lock" {
			locks++
		}
	}
	require.Equal(t, 2, locks)
}

func TestFaultsPage(t *testing.T) {
	plan, err := faults.ParsePlan("+10ms crash a; +20ms restart a; +30ms partition a<->b; +40ms heal; +45ms drop b->a p=0.5")
	require.NoError(t, err)
	worker := func(n *harness.Node) {
		harness.Go(func() {
			for n.Context().Err() == nil {
				harness.Sleep(3 * time.Millisecond)
			}
		})
		for n.Context().Err() == nil {
			harness.Sleep(4 * time.Millisecond)
		}
	}
	res := harness.Run(harness.Options{Seed: 1, Trace: true}, func() {
		a, b := harness.NewNode("a", worker), harness.NewNode("b", worker)
		require.NoError(t, a.Start())
		require.NoError(t, b.Start())
		require.NoError(t, faults.Run(context.Background(), plan, nil))
		harness.Sleep(10 * time.Millisecond)
		_ = a.Crash(harness.CrashReset)
		_ = b.Crash(harness.CrashReset)
	})
	require.False(t, res.Failed(), "%v", res.Err())
	r := runOf(res, nil)
	r.Faults = plan.String()
	p := write(t, r)
	p.checkLanes(t, res.Trace)
	require.Contains(t, p.text(), "No violation")
	require.Contains(t, p.text(), plan.String(), "the header shows the plan")

	type want struct {
		kind, label string
		nodes       []string
		toEnd       bool
	}
	wants := []want{
		{"crash", "crash a (reset)", []string{"a"}, false},
		{"restart", "restart a (incarnation 2)", []string{"a"}, false},
		{"partition", "partition a<->b", []string{"a", "b"}, false},
		{"heal", "heal", nil, false},
		{"drop", "drop b->a p=0.5", []string{"b", "a"}, true},
		{"crash", "crash a (reset)", []string{"a"}, true}, // the run's own end
		{"crash", "crash b (reset)", []string{"b"}, true},
	}
	require.Len(t, p.data.Bands, len(wants))
	for i, w := range wants {
		b := p.data.Bands[i]
		require.Equal(t, w.kind, b.Kind, "band %d", i)
		require.Equal(t, w.label, b.Label, "band %d", i)
		require.Equal(t, w.nodes, b.Nodes, "band %d", i)
		require.Equal(t, w.nodes == nil, b.All, "band %d", i)
		require.Equal(t, w.toEnd, b.To == len(res.Trace), "band %d ends at %d of %d", i, b.To, len(res.Trace))
		// The band covers every lane of its nodes, and only those.
		var lanes []int
		for l, ln := range p.data.Lanes {
			for _, n := range w.nodes {
				if ln.Node == n {
					lanes = append(lanes, l)
				}
			}
		}
		require.ElementsMatch(t, lanes, b.Lanes, "band %d", i)
		require.Contains(t, p.html, fmt.Sprintf(`<tr class="fault" data-kind="%s" data-from="%d">`, w.kind, b.From))
	}
	// The crash lasts until the restart; the partition until the heal.
	require.Equal(t, p.data.Bands[1].From, p.data.Bands[0].To)
	require.Equal(t, p.data.Bands[3].From, p.data.Bands[2].To)
	// The first incarnation of a's goroutines was killed by the crash.
	killed := 0
	for _, ln := range p.data.Lanes {
		if ln.Node == "a" && ln.End == "killed by the crash of node a" {
			killed++
		}
	}
	require.Equal(t, 4, killed, "two goroutines per incarnation of a, both incarnations crashed: %+v", p.data.Lanes)
}

func TestNotLinearizablePage(t *testing.T) {
	var h harness.History
	var kv checkers.KV[string, int]
	res := harness.Run(harness.Options{Seed: 5, Trace: true}, func() {
		var wg harness.WaitGroup
		wg.Go(func() {
			p := h.Call(0, kv.Put("k", 1))
			harness.Yield()
			p.Return(kv.Done())
		})
		wg.Go(func() {
			harness.Sleep(time.Millisecond) // after the put returned
			p := h.Call(1, kv.Get("k"))
			harness.Yield()
			p.Return(kv.Got(0, false)) // a stale read: the bug
		})
		wg.Wait()
	})
	require.False(t, res.Failed())
	dir := t.TempDir()
	vs := kv.Check(h.Operations(), checkers.LinOptions{Dir: dir, Name: "register"})
	require.Len(t, vs, 1)
	require.Equal(t, checkers.NotLinearizable, vs[0].Kind)
	require.NotEmpty(t, vs[0].Visualization)
	vis, err := os.ReadFile(vs[0].Visualization)
	require.NoError(t, err)

	p := write(t, runOf(res, vs))
	p.checkLanes(t, res.Trace)
	require.Contains(t, p.text(), "NotLinearizable")
	require.Contains(t, p.text(), "register: the history of 2 operations is not linearizable")
	m := regexp.MustCompile(`<iframe class="porcupine" title="[^"]*" srcdoc="([^"]*)"></iframe>`).FindStringSubmatch(p.html)
	require.NotNil(t, m, "porcupine's page is embedded")
	require.Equal(t, string(vis), html.UnescapeString(m[1]), "as porcupine wrote it")

	// A visualisation that is gone is said to be, not embedded.
	vs[0].Visualization = filepath.Join(dir, "gone.html")
	p = write(t, runOf(res, vs))
	require.NotContains(t, p.html, "<iframe")
	require.Contains(t, p.text(), "could not be embedded")
}

// racyRun is the program of the data race tests: three goroutines started
// by one go statement, the first writing what the third reads, and a
// goroutine between them to tell them apart by.
func racyRun() *harness.Result {
	x := 0
	return harness.Run(harness.Options{Seed: 2, Trace: true}, func() {
		var wg harness.WaitGroup
		for i := 0; i < 3; i++ {
			wg.Go(func() {
				harness.Yield()
				switch i {
				case 0:
					x++
				case 2:
					_ = x
				}
				harness.Yield()
			})
		}
		wg.Wait()
	})
}

func TestDataRacePage(t *testing.T) {
	if !harness.RaceEnabled() {
		t.Skip("needs the race detector: go test -race ./harness/timeline")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GORACE=halt_on_error=0 atexit_sleep_ms=0", "GOMAXPROCS=1")
	out, _ := cmd.CombinedOutput() // the race detector's exit status, 66
	var evs []timeline.Event
	for _, line := range strings.Split(string(out), "\n") {
		if data, ok := strings.CutPrefix(line, "trace: "); ok {
			require.NoError(t, json.Unmarshal([]byte(data), &evs))
		}
	}
	require.NotEmpty(t, evs, "%s", out)
	vs := checkers.ParseRaceReports(string(out))
	require.Len(t, vs, 1, "%s", out)
	r := timeline.Run{Test: "TestRacy", Seed: 2, Violations: vs, Events: evs}
	var buf bytes.Buffer
	require.NoError(t, timeline.Write(&buf, r, nil))
	p := page{html: buf.String()}
	require.NoError(t, json.Unmarshal([]byte(dataBlock.FindStringSubmatch(p.html)[1]), &p.data))

	text := p.text()
	require.Contains(t, text, "DataRace")
	first, _, _ := strings.Cut(vs[0].Message, "\n")
	require.Contains(t, text, first)
	// The goroutines started by the loop are g2, g3 and g4 (g0 is heddle's,
	// g1 main): the writer is the first of them, the reader the third.
	var starts []int
	for _, e := range evs {
		if e.Kind == "go" && strings.HasSuffix(e.Site, ":"+strconv.Itoa(goLine(t))) {
			starts = append(starts, e.G)
		}
	}
	require.Len(t, starts, 3)
	writer, reader := p.laneOf(t, starts[0]), p.laneOf(t, starts[2])
	require.Equal(t, "DataRace", p.data.Lanes[writer].Mark)
	require.Equal(t, "DataRace", p.data.Lanes[reader].Mark)
	require.Empty(t, p.data.Lanes[p.laneOf(t, starts[1])].Mark, "the goroutine between them is not marked")
	require.Regexp(t, `write by goroutine \d+ at <a [^>]*>timeline/timeline_test.go:\d+</a> in <code>[^<]*</code> — lane <a href="#" class="lane" data-lane="`+
		strconv.Itoa(writer)+`">g`+strconv.Itoa(starts[0])+`</a>`, p.html)
	// Both sites are in the side panel's sources, with their lines.
	for _, m := range p.data.Marks {
		require.False(t, m.Maybe)
	}
	raceLine := strings.TrimSpace(sourceLine(t, writeLine(t)))
	require.Equal(t, "x++", raceLine)
	require.True(t, p.hasSource("timeline/timeline_test.go:"+strconv.Itoa(writeLine(t)), "x++"))
}

// hasSource reports whether the page embeds the line of a site and it
// holds text.
func (p page) hasSource(site, text string) bool {
	for _, s := range p.data.Sites {
		if s.Label != site || s.File < 0 {
			continue
		}
		for _, c := range p.data.Files[s.File].Chunks {
			if s.Line >= c.Start && s.Line < c.Start+len(c.Lines) && strings.Contains(c.Lines[s.Line-c.Start], text) {
				return true
			}
		}
	}
	return false
}

// sourceLine returns line n of this file.
func sourceLine(t *testing.T, n int) string {
	t.Helper()
	data, err := os.ReadFile("timeline_test.go")
	require.NoError(t, err)
	return strings.Split(string(data), "\n")[n-1]
}

// lineOf returns the number of the first line of this file holding text
// after the line holding after.
func lineOf(t *testing.T, after, text string) int {
	t.Helper()
	data, err := os.ReadFile("timeline_test.go")
	require.NoError(t, err)
	seen := false
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, after) {
			seen = true
		}
		if seen && strings.TrimSpace(l) == text {
			return i + 1
		}
	}
	t.Fatalf("no line %q after %q", text, after)
	return 0
}

func goLine(t *testing.T) int    { return lineOf(t, "func racyRun", "wg.Go(func() {") }
func writeLine(t *testing.T) int { return lineOf(t, "func racyRun", "x++") }

// A race report names goroutines by the Go runtime's ids. When several
// goroutines were started at the reported go statement, the one whose
// place in the order of creation fits both accesses is chosen, and when
// none or several fit, every candidate is offered, not one guessed.
func TestDataRaceLanesByCreationOrder(t *testing.T) {
	evs := []timeline.Event{
		{Step: 0, G: 1, Kind: "go", Site: "app/main.go:10", File: "/src/app/main.go"},
		{Step: 1, G: 1, Kind: "run", Site: "app/main.go:10"},
		{Step: 1, G: 2, Kind: "go", Site: "app/main.go:20", File: "/src/app/main.go"},
		{Step: 2, G: 3, Kind: "go", Site: "app/main.go:20", File: "/src/app/main.go"},
		{Step: 3, G: 4, Kind: "go", Site: "app/main.go:20", File: "/src/app/main.go"},
		{Step: 4, G: 2, Kind: "run", Site: "app/main.go:21", File: "/src/app/main.go"},
		{Step: 5, G: 4, Kind: "run", Site: "app/main.go:22", File: "/src/app/main.go"},
		{Step: 6, G: 3, Kind: "run", Site: "app/main.go:22", File: "/src/app/main.go"},
	}
	report := func(a, b int) checkers.Violation {
		text := fmt.Sprintf(`WARNING: DATA RACE
Write at 0x00c000012345 by goroutine %d:
  app.worker()
      /src/app/main.go:21 +0x3d

Previous read at 0x00c000012345 by goroutine %d:
  app.worker()
      /src/app/main.go:22 +0x2e

Goroutine %d (running) created at:
  app.main()
      /src/app/main.go:20 +0x18c

Goroutine %d (running) created at:
  app.main()
      /src/app/main.go:20 +0x18c
==================
`, a, b, a, b)
		vs := checkers.ParseRaceReports(text)
		require.Len(t, vs, 1)
		return vs[0]
	}
	source := "package app\n" + strings.Repeat("\n", 18) + "go worker()\nx++\n_ = x\n" // lines 20 to 22
	opts := &timeline.Options{ReadFile: func(path string) ([]byte, error) {
		if path == "/src/app/main.go" {
			return []byte(source), nil
		}
		return nil, os.ErrNotExist
	}}
	read := func(vs ...checkers.Violation) page {
		var buf bytes.Buffer
		require.NoError(t, timeline.Write(&buf, timeline.Run{Test: "TestApp", Violations: vs, Events: evs}, opts))
		p := page{html: buf.String()}
		require.NoError(t, json.Unmarshal([]byte(dataBlock.FindStringSubmatch(p.html)[1]), &p.data))
		return p
	}
	// Ids 12 and 14 fit g2 and g4 (offset 10), and no other pair.
	p := read(report(12, 14))
	require.Equal(t, "DataRace", p.data.Lanes[p.laneOf(t, 2)].Mark)
	require.Equal(t, "DataRace", p.data.Lanes[p.laneOf(t, 4)].Mark)
	require.Empty(t, p.data.Lanes[p.laneOf(t, 3)].Mark)
	for _, m := range p.data.Marks {
		require.False(t, m.Maybe)
		require.Equal(t, p.data.Lane[m.Event], m.Lane, "the mark is on an event of its lane")
		require.Equal(t, map[int]string{2: "app/main.go:21", 4: "app/main.go:22"}[p.data.Lanes[m.Lane].G],
			p.data.Sites[p.data.Site[m.Event]].Label, "at a site of the access's stack")
	}
	require.True(t, p.hasSource("app/main.go:21", "x++"))
	require.True(t, p.hasSource("app/main.go:22", "_ = x"))

	// Ids 12 and 13 fit g2-g3 and g3-g4: every candidate stays, as a maybe.
	p = read(report(12, 13))
	maybe := 0
	for _, m := range p.data.Marks {
		require.True(t, m.Maybe)
		require.Equal(t, -1, m.Event)
		maybe++
	}
	require.Equal(t, 6, maybe, "three candidates for each access")
	require.Contains(t, p.text(), "one of the 3 goroutines started at its go statement")
}

func TestPreemptionsMatchTheRuntime(t *testing.T) {
	for seed := int64(0); seed < 40; seed++ {
		res := harness.Run(harness.Options{Seed: seed, Trace: true}, func() {
			var mu harness.Mutex
			ch := harness.NewChan[int](1)
			var wg harness.WaitGroup
			for i := 0; i < 4; i++ {
				wg.Go(func() {
					for j := 0; j < 5; j++ {
						mu.Lock()
						harness.Yield()
						mu.Unlock()
						if i%2 == 0 {
							ch.Send(j)
						} else {
							harness.Select(ch.RecvCase(nil, nil), harness.Default())
						}
					}
				})
			}
			wg.Wait()
		})
		p := write(t, runOf(res, checkers.FromResult(res)))
		require.Len(t, p.data.PreemptAt, res.Preemptions, "seed %d", seed)
		total := 0
		for _, ln := range p.data.Lanes {
			total += ln.Preempted
		}
		require.Equal(t, res.Preemptions, total, "seed %d", seed)
		require.Contains(t, p.html, fmt.Sprintf("<dt>preemptions</dt><dd>%d</dd>", res.Preemptions))
	}
}

// The page is one file: nothing in it fetches anything, and the same run
// gives the same bytes.
func TestPageIsSelfContained(t *testing.T) {
	res := racyFree()
	r := runOf(res, checkers.FromResult(res))
	a, b := write(t, r), write(t, r)
	require.Equal(t, a.html, b.html)
	for _, bad := range []string{`src="http`, `href="http`, "url(", "@import", "fetch(", "XMLHttpRequest", "<link", `<script src`} {
		require.NotContains(t, a.html, bad)
	}
	require.Contains(t, a.html, "<style>")
	require.Contains(t, a.html, "getContext('2d')", "the script is inline")
}

func racyFree() *harness.Result {
	return harness.Run(harness.Options{Seed: 1, Trace: true}, func() {
		ch := harness.NewChan[int](0)
		harness.Go(func() { ch.Send(1) })
		ch.Recv()
	})
}

// A page needs no case: a go test's name stands in for it.
func TestPageOfATest(t *testing.T) {
	res := racyFree()
	p := write(t, timeline.Run{Test: "TestTransfer/seed=7", Seed: 7, Events: timeline.EventsOf(res.Trace),
		Replay: "go tool heddle test -run TestTransfer -seed 7 ./bank"})
	require.Contains(t, p.html, "<title>heddle: TestTransfer/seed=7</title>")
	require.Contains(t, p.html, "<dt>test</dt><dd>TestTransfer/seed=7</dd>")
	require.NotContains(t, p.html, "<dt>case</dt>")
	require.Contains(t, p.text(), "go tool heddle test -run TestTransfer -seed 7 ./bank")
	// The blocked receive and the send that woke it are both marks.
	kinds := map[string]int{}
	for _, k := range p.data.Kind {
		kinds[p.data.Kinds[k]]++
	}
	require.Equal(t, 1, kinds["receive"]+kinds["send"], "one of them blocked: %v", kinds)
	require.Equal(t, 1, kinds["wake"], "%v", kinds)
	require.Equal(t, 3, kinds["go"], "heddle's own, main and the sender: %v", kinds)
	require.Equal(t, 2, kinds["exit"], "%v", kinds)
}

func TestWriteFile(t *testing.T) {
	res := racyFree()
	path := filepath.Join(t.TempDir(), "page.html")
	require.NoError(t, timeline.WriteFile(path, runOf(res, nil), nil))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(data, []byte("<!DOCTYPE html>")))
	err = timeline.WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir.html"), runOf(res, nil), nil)
	require.ErrorContains(t, err, "timeline:")
}
