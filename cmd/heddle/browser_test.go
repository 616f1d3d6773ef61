package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/harness/timeline"
	"github.com/heddle-go/heddle/scenarios/catalog"
)

// The browser tests open failure pages in headless Chromium. They need a
// Chromium (or Chrome) binary: $HEDDLE_CHROMIUM, or one on the PATH; where
// there is none they are skipped, saying how to get one. make e2e runs them.

// chromiumNames are the names a Chromium or Chrome binary goes by.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"}

// chromium returns the browser to drive, or skips the test: browser tests
// run under make e2e (HEDDLE_E2E=1), not in every go test, and need a
// Chromium.
func chromium(t testing.TB) string {
	t.Helper()
	if os.Getenv("HEDDLE_E2E") == "" {
		t.Skip("a browser test: run make e2e (or set HEDDLE_E2E=1) to run it")
	}
	if p := os.Getenv("HEDDLE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium: this browser test needs one. Install it (Debian, Ubuntu: sudo apt-get install -y chromium) " +
		"or set HEDDLE_CHROMIUM to a Chrome or Chromium binary, then run make e2e")
	return ""
}

// outputDir is where a browser test keeps its screenshots: under go test's
// -outputdir when given (make e2e gives one), else in the test's temporary
// directory.
func outputDir(t testing.TB) string {
	t.Helper()
	if f := flag.Lookup("test.outputdir"); f != nil && f.Value.String() != "" {
		dir := filepath.Join(f.Value.String(), "heddle-pages")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}

// loaded is what Chromium made of a page.
type loaded struct {
	// dom is the document after the page's script ran (--dump-dom).
	dom string
	// console holds the lines of the page's console that Chromium logged.
	console []string
	// timeline holds the attributes of the timeline element.
	timeline map[string]string
}

var (
	consoleLine  = regexp.MustCompile(`:CONSOLE[:(]`)
	timelineElem = regexp.MustCompile(`<div id="timeline"([^>]*)>`)
	attribute    = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
)

// headless runs Chromium on a page with a fresh profile and no network.
func headless(t testing.TB, exe, page string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp("", "heddle-chromium-")
	require.NoError(t, err)
	defer os.RemoveAll(profile)
	abs, err := filepath.Abs(page)
	require.NoError(t, err)
	full := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + profile, "--window-size=1400,900"}, args...)
	full = append(full, "file://"+abs)
	cmd := exec.CommandContext(ctx, exe, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), "%s %s\n%s", exe, strings.Join(full, " "), errb.String())
	return out.String(), errb.String()
}

// load opens page in Chromium twice: once to read the document its script
// made and the console it wrote, once to keep a screenshot at png.
func load(t testing.TB, exe, page, png string) loaded {
	t.Helper()
	dom, logs := headless(t, exe, page, "--enable-logging=stderr", "--v=0", "--dump-dom")
	l := loaded{dom: dom, timeline: map[string]string{}}
	for _, line := range strings.Split(logs, "\n") {
		if consoleLine.MatchString(line) {
			l.console = append(l.console, line)
		}
	}
	if m := timelineElem.FindStringSubmatch(dom); m != nil {
		for _, a := range attribute.FindAllStringSubmatch(m[1], -1) {
			l.timeline[a[1]] = a[2]
		}
	}
	headless(t, exe, page, "--hide-scrollbars", "--screenshot="+png)
	return l
}

// check asserts that the page rendered: no error in its console or caught
// by its script, a timeline of non-zero size with every event, and a
// screenshot.
func (l loaded) check(t testing.TB, events int, png string) {
	t.Helper()
	require.Empty(t, l.console, "the page wrote to its console")
	require.NotContains(t, l.dom, "data-errors=", "the page's script caught an error")
	require.NotEmpty(t, l.timeline, "no timeline element in the document")
	for _, attr := range []string{"data-width", "data-height"} {
		n, err := strconv.Atoi(l.timeline[attr])
		require.NoError(t, err, "%s: %v", attr, l.timeline)
		require.Positive(t, n, "the timeline's %s", attr)
	}
	require.Equal(t, strconv.Itoa(events), l.timeline["data-events"])
	require.Positive(t, atoi(l.timeline["data-marks-drawn"]), "marks were drawn")
	data, err := os.ReadFile(png)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(data, []byte("\x89PNG")), "the screenshot is a PNG")
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// clicks is a script the tests add to a copy of a page to use it as a
// person would: it opens a goroutine's lane from the list of goroutines,
// then the first site a violation names, zooms and moves the view, turns
// a kind of mark off and the axis to virtual time, and writes what the
// side panel showed into the document.
const clicks = `<script>
(function () {
  var out = {};
  function panel() {
    var p = document.getElementById('panel');
    return { text: p.innerText, source: !!p.querySelector('.source .ln.hit'), line: (p.querySelector('.source .ln.hit') || {}).innerText || '' };
  }
  var lane = document.querySelector('#goroutines a.lane-g');
  if (lane) { lane.click(); out.lane = panel(); }
  var site = document.querySelector('#violations a.site');
  if (site) { site.click(); out.site = panel(); }
  var mark = document.querySelector('#violations a.mark');
  if (mark) { mark.click(); out.mark = panel(); }
  var tl = document.getElementById('timeline');
  ['+', '+', 'ArrowRight', '-', '0', 'n', 'p'].forEach(function (k) { tl.dispatchEvent(new KeyboardEvent('keydown', { key: k })); });
  tl.dispatchEvent(new WheelEvent('wheel', { deltaY: -120, ctrlKey: true, clientX: 400, clientY: 300 }));
  tl.scrollTop = 200;
  var box = document.querySelector('#legend input[type=checkbox]');
  if (box) box.click();
  var axis = document.getElementById('axis');
  if (!axis.disabled) { axis.value = 'time'; axis.dispatchEvent(new Event('change')); }
  document.body.setAttribute('data-clicks', JSON.stringify(out));
})();
</script>
</body>`

// withClicks writes a copy of page with the clicks script and returns its
// path.
func withClicks(t testing.TB, page string) string {
	t.Helper()
	data, err := os.ReadFile(page)
	require.NoError(t, err)
	out := strings.TrimSuffix(page, ".html") + "-clicked.html"
	html := strings.Replace(string(data), "</body>", clicks, 1)
	require.NoError(t, os.WriteFile(out, []byte(html), 0o644))
	return out
}

// clicked is what the clicks script saw in the side panel.
type clicked struct {
	Lane, Site, Mark *struct {
		Text   string
		Source bool
		Line   string
	}
}

var clicksAttr = regexp.MustCompile(`data-clicks="([^"]*)"`)

// clicks reads what the clicks script recorded.
func (l loaded) clicks(t testing.TB) clicked {
	t.Helper()
	m := clicksAttr.FindStringSubmatch(l.dom)
	require.NotNil(t, m, "the clicks script did not finish")
	var c clicked
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &c))
	return c
}

// catalogApp is the command with the catalog's cases, its workers this test
// binary serving them.
func catalogApp() *app {
	a := testApp(catalog.All())
	a.workerEnv = append(a.workerEnv, catalogEnv+"=1")
	return a
}

// TestBrowserFailurePages replays one saved failure of every case's buggy
// variant with --html and renders the page.
func TestBrowserFailurePages(t *testing.T) {
	exe := chromium(t)
	out := outputDir(t)
	root := explore.DefaultSavedDir()
	for _, c := range catalog.All() {
		t.Run(c.Name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(explore.SavedDir(root, c.Name, "buggy"), "*.json"))
			require.NoError(t, err)
			require.NotEmpty(t, files, "case %s has no saved failure of its buggy variant", c.Name)
			sort.Strings(files)
			saved, err := explore.ReadSaved(files[0])
			require.NoError(t, err)
			page := filepath.Join(out, c.Name+".html")
			r := runApp(t, catalogApp(), "replay", c.Name, "--schedule", files[0], "--html", page)
			require.Equal(t, exitFailed, r.status, r.stderr)
			m := regexp.MustCompile(`heddle: wrote \S+ \((\d+) events\)`).FindStringSubmatch(r.stderr)
			require.NotNil(t, m, r.stderr)
			raw, _ := pageText(t, page)
			if saved.Kind != harness.DataRace || harness.RaceEnabled() {
				has(t, raw, `<span class="badge" data-kind="`+string(saved.Kind)+`">`)
			}
			png := filepath.Join(out, c.Name+".png")
			l := load(t, exe, page, png)
			l.check(t, atoi(m[1]), png)
			t.Logf("%s: %s events, first render %s ms (a full redraw %s ms); page %s, screenshot %s", c.Name, m[1],
				l.timeline["data-first-render-ms"], l.timeline["data-draw-ms"], page, png)

			// Used as a person would, the page shows events and their source lines.
			png = filepath.Join(out, c.Name+"-clicked.png")
			l = load(t, exe, withClicks(t, page), png)
			l.check(t, atoi(m[1]), png)
			cl := l.clicks(t)
			require.NotNil(t, cl.Lane, "the list of goroutines links to their lanes")
			require.Contains(t, cl.Lane.Text, "virtual time", "the panel shows the lane's last event")
			if cl.Site != nil {
				require.True(t, cl.Site.Source, "a violation's site shows its source line: %s", cl.Site.Text)
				require.NotEmpty(t, strings.TrimSpace(cl.Site.Line))
			}
			if cl.Mark != nil {
				require.Contains(t, cl.Mark.Text, "violation", "a violation's mark selects its event")
			}
		})
	}
}

// TestBrowserNotLinearizablePage renders the page of a history that is not
// linearizable, porcupine's own page embedded in it.
func TestBrowserNotLinearizablePage(t *testing.T) {
	exe := chromium(t)
	out := outputDir(t)
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
			p.Return(kv.Got(0, false)) // a stale read
		})
		wg.Wait()
	})
	vs := kv.Check(h.Operations(), checkers.LinOptions{Dir: t.TempDir(), Name: "kv"})
	require.Len(t, vs, 1)
	require.NotEmpty(t, vs[0].Visualization)
	page := filepath.Join(out, "notlinearizable.html")
	r := timeline.Run{Test: "TestStaleRead", Seed: res.Seed, Strategy: res.Strategy, Steps: res.Steps, Preemptions: res.Preemptions,
		Violations: vs, Events: timeline.EventsOf(res.Trace)}
	require.NoError(t, timeline.WriteFile(page, r, nil))
	png := filepath.Join(out, "notlinearizable.png")
	l := load(t, exe, page, png)
	l.check(t, len(res.Trace), png)
	has(t, l.dom, `<iframe class="porcupine"`)
}

// busyRun is a large run: four nodes of eight goroutines that lock, send,
// receive and sleep for rounds rounds, while a plan crashes, restarts and
// partitions them. rounds = 530 gives a little over 100,000 events.
func busyRun(rounds int) *harness.Result {
	plan, err := faults.ParsePlan("+40ms crash n1; +90ms restart n1; +120ms partition n2<->n3; +200ms heal; +260ms crash n0")
	if err != nil {
		panic(err)
	}
	node := func(n *harness.Node) {
		var mu harness.Mutex
		ch := harness.NewChan[int](2)
		shared := 0
		var wg harness.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Go(func() {
				for r := 0; r < rounds && n.Context().Err() == nil; r++ {
					mu.Lock()
					shared++
					mu.Unlock()
					if i%2 == 0 {
						ch.Send(r)
					} else {
						harness.Select(ch.RecvCase(nil, nil), harness.After(time.Millisecond).RecvCase(nil, nil))
					}
					harness.Sleep(time.Duration(1+i%3) * time.Millisecond)
				}
			})
		}
		wg.Wait()
	}
	return harness.Run(harness.Options{Seed: 7, Trace: true}, func() {
		var nodes []*harness.Node
		for _, name := range []string{"n0", "n1", "n2", "n3"} {
			nd := harness.NewNode(name, node)
			nodes = append(nodes, nd)
			if err := nd.Start(); err != nil {
				panic(err)
			}
		}
		_ = faults.Run(context.Background(), plan, nil)
		harness.Sleep(time.Duration(rounds) * 4 * time.Millisecond)
		for _, nd := range nodes {
			_ = nd.Crash(harness.CrashReset)
		}
	})
}

// largePage writes the page of a run of a little over 100,000 events.
func largePage(t testing.TB, dir string) (string, int) {
	t.Helper()
	res := busyRun(560)
	require.GreaterOrEqual(t, len(res.Trace), 100_000)
	page := filepath.Join(dir, "large.html")
	r := timeline.Run{Test: "busy", Seed: res.Seed, Strategy: res.Strategy, Steps: res.Steps, Preemptions: res.Preemptions,
		TraceHash: res.TraceHash, Violations: checkers.FromResult(res), Events: timeline.EventsOf(res.Trace)}
	require.NoError(t, timeline.WriteFile(page, r, nil))
	return page, len(res.Trace)
}

// TestBrowserLargePage renders a page of 100,000 events and reports how
// long Chromium took from navigation to the timeline's first drawing.
// It asserts that the page renders, not how fast: the time is reported
// (and measured by BenchmarkBrowserLargePage).
func TestBrowserLargePage(t *testing.T) {
	exe := chromium(t)
	out := outputDir(t)
	page, events := largePage(t, out)
	png := filepath.Join(out, "large.png")
	l := load(t, exe, page, png)
	l.check(t, events, png)
	st, err := os.Stat(page)
	require.NoError(t, err)
	t.Logf("%d events, %.1f MB page: first render %s ms after navigation; screenshot %s",
		events, float64(st.Size())/1e6, l.timeline["data-first-render-ms"], png)
}

// BenchmarkBrowserLargePage reports the time from navigation to the first
// drawing of a 100,000-event page in headless Chromium, as the page itself
// measures it (performance.now() once the timeline is drawn).
func BenchmarkBrowserLargePage(b *testing.B) {
	exe := chromium(b)
	dir := b.TempDir()
	page, events := largePage(b, dir)
	var total float64
	n := 0
	for b.Loop() {
		l := load(b, exe, page, filepath.Join(dir, "large.png"))
		ms, err := strconv.ParseFloat(l.timeline["data-first-render-ms"], 64)
		if err != nil {
			b.Fatalf("no first render time: %v", l.timeline)
		}
		total += ms
		n++
	}
	b.ReportMetric(total/float64(n), "ms/first-render")
	b.ReportMetric(float64(events), "events")
}
