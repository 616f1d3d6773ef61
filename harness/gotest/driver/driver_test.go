package driver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heddle-go/heddle/harness/gotest/driver"
)

// The programs of testdata/unmodified, and the kind heddle test must find
// in each one's TestBug. Two kinds are listed where the race detector and
// the runtime both see the bug (a send that races a close is a data race
// under -race, and panics): the failure must carry the first, and may carry
// the second.
var unmodified = []struct {
	pkg  string
	kind string
}{
	{"abba", "Deadlock"},
	{"condwait", "Panic"},
	{"ctxleak", "Leak"},
	{"lazyinit", "DataRace"},
	{"leakselect", "Leak"},
	{"lostupdate", "TestFailed"},
	{"selectclose", "Panic"},
	{"sendclosed", "Panic"},
	{"spinflag", "DataRace"},
	{"threeorder", "TestFailed"},
	{"wgadd", "DataRace"},
}

// bugBudget is the budget: each bug is found within this many
// seeds.
const bugBudget = 1000

// twinSeeds is how many seeds each fixed twin must pass: 200 by default, to
// keep make test short, and the 1,000 with HEDDLE_FULL=1 (make
// unmodified).
func twinSeeds() int {
	if os.Getenv("HEDDLE_FULL") != "" {
		return 1000
	}
	return 200
}

func unmodifiedDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "unmodified"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// testRun runs heddle test with the options every test here shares: the race
// detector on, nothing saved into the source tree, a private cache.
func testRun(t testing.TB, opts driver.Options) (*driver.Summary, string) {
	t.Helper()
	var out, errw bytes.Buffer
	opts.Race = true
	opts.Stdout, opts.Stderr = &out, &errw
	if opts.Parallel == 0 {
		opts.Parallel = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sum, err := driver.Test(ctx, opts)
	if err != nil {
		t.Fatalf("heddle test: %v\n%s%s", err, out.String(), errw.String())
	}
	return sum, out.String() + errw.String()
}

func pkgPath(name string) string { return "example.com/unmodified/" + name }

// TestUnmodifiedPrograms runs heddle test -race on every program of
// testdata/unmodified (plain Go that imports nothing of heddle): TestBug
// must fail with its program's kind within bugBudget seeds, and TestFixed,
// the fixed twin, must pass every seed (twinSeeds: 200, or 1,000 with
// HEDDLE_FULL=1, the target make unmodified). It then replays one first
// failing seed and checks that the replay takes the same schedule (the same
// trace hash).
func TestUnmodifiedPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds eleven race-enabled test binaries")
	}
	dir := unmodifiedDir(t)
	cache := t.TempDir()
	var patterns []string
	for _, p := range unmodified {
		patterns = append(patterns, "./"+p.pkg)
	}

	bugs, out := testRun(t, driver.Options{Dir: dir, Patterns: patterns, Run: "^TestBug$", Count: bugBudget, CacheDir: cache})
	found := map[string]*driver.Failure{}
	for _, p := range bugs.Packages {
		if p.BuildError != "" {
			t.Fatalf("%s does not build:\n%s", p.ImportPath, p.BuildError)
		}
		for _, tr := range p.Tests {
			if tr.Test == "TestBug" && len(tr.Failures) > 0 {
				f := tr.Failures[0]
				found[p.ImportPath] = &f
			}
		}
	}
	for _, p := range unmodified {
		f := found[pkgPath(p.pkg)]
		if f == nil {
			t.Errorf("%s: TestBug passed %d seeds; want a %s", p.pkg, bugBudget, p.kind)
			continue
		}
		if f.Kind() != p.kind && !slices.Contains(f.Kinds, p.kind) {
			t.Errorf("%s: TestBug failed at seed %d with %v; want %s", p.pkg, f.Seed, f.Kinds, p.kind)
		}
		if f.Seed < 0 || f.Seed >= bugBudget {
			t.Errorf("%s: first failing seed %d, outside 0..%d", p.pkg, f.Seed, bugBudget-1)
		}
		if !strings.Contains(f.Replay, "-seeds ") || !strings.Contains(f.Replay, "./"+p.pkg) {
			t.Errorf("%s: replay command %q does not name the seed and the package", p.pkg, f.Replay)
		}
		t.Logf("%-12s %-10s first failing seed %d (%v)", p.pkg, p.kind, f.Seed, f.Kinds)
	}
	if t.Failed() {
		t.Logf("heddle test output:\n%s", out)
	}

	n := twinSeeds()
	fixed, out := testRun(t, driver.Options{Dir: dir, Patterns: patterns, Run: "^TestFixed$", Count: n, CacheDir: cache})
	passed := map[string]int{}
	for _, p := range fixed.Packages {
		if p.BuildError != "" {
			t.Fatalf("%s does not build:\n%s", p.ImportPath, p.BuildError)
		}
		for _, tr := range p.Tests {
			if tr.Test != "TestFixed" {
				continue
			}
			if tr.Failed > 0 {
				t.Errorf("%s: the fixed twin failed %d runs of %d: %v", p.ImportPath, tr.Failed, tr.Runs, tr.Failures[0].Kinds)
			}
			passed[p.ImportPath] = tr.Seeds - tr.FailedSeeds
		}
	}
	for _, p := range unmodified {
		if got := passed[pkgPath(p.pkg)]; got != n {
			t.Errorf("%s: the fixed twin passed %d seeds, want %d", p.pkg, got, n)
		}
	}
	if t.Failed() {
		t.Logf("heddle test output:\n%s", out)
	}
	if !fixed.CacheHit {
		t.Errorf("the second heddle test of unchanged code rewrote again (key %s)", fixed.Key)
	}

	// Determinism: the first failing seed of a program that needs a given
	// interleaving of three goroutines, run again alone, takes the same
	// schedule.
	first := found[pkgPath("threeorder")]
	if first == nil {
		return
	}
	again, out := testRun(t, driver.Options{Dir: dir, Patterns: []string{"./threeorder"}, Run: "^TestBug$", First: first.Seed, Count: 1, CacheDir: cache})
	var replay *driver.Failure
	for _, p := range again.Packages {
		for _, tr := range p.Tests {
			if len(tr.Failures) > 0 {
				replay = &tr.Failures[0]
			}
		}
	}
	switch {
	case replay == nil:
		t.Errorf("threeorder: seed %d failed, then passed when run again:\n%s", first.Seed, out)
	case replay.TraceHash != first.TraceHash || replay.Kind() != first.Kind():
		t.Errorf("threeorder: seed %d ran as %s trace %x, then as %s trace %x", first.Seed, first.Kind(), first.TraceHash, replay.Kind(), replay.TraceHash)
	}
}

// copyModule copies testdata/unmodified's go.mod and the named packages
// into a temporary directory, outside heddle's tree.
func copyModule(t *testing.T, pkgs ...string) string {
	t.Helper()
	src := unmodifiedDir(t)
	dst := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join(src, "go.mod"), filepath.Join(dst, "go.mod"))
	for _, p := range pkgs {
		names, err := filepath.Glob(filepath.Join(src, p, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			copyFile(name, filepath.Join(dst, p, filepath.Base(name)))
		}
	}
	return dst
}

// cacheState maps every file of the cache to its modification time.
func cacheState(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	state := map[string]time.Time{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		state[path] = info.ModTime()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// TestRewriteCache checks that a second heddle test of unchanged code
// rewrites nothing (the summary's CacheHit, no "rewrote" line under -v, and
// the cache's files untouched), and that changing a source file rewrites
// again. The module is a copy of one program outside heddle's tree, so heddle
// is found as it is for a user's module that does not require it.
func TestRewriteCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds race-enabled test binaries")
	}
	dir := copyModule(t, "lostupdate")
	cache := t.TempDir()
	opts := driver.Options{Dir: dir, Patterns: []string{"./..."}, Run: "^TestFixed$", Count: 3, CacheDir: cache, Verbose: true}

	first, out := testRun(t, opts)
	if first.Failed() {
		t.Fatalf("the fixed twin failed:\n%s", out)
	}
	if first.CacheHit || first.Rewritten == 0 || !strings.Contains(out, "heddle test: rewrote ") {
		t.Fatalf("first run: CacheHit %v, %d files rewritten; want a rewrite, and its line under -v:\n%s", first.CacheHit, first.Rewritten, out)
	}
	before := cacheState(t, cache)
	if len(before) < first.Rewritten+1 {
		t.Fatalf("the cache holds %d files after rewriting %d", len(before), first.Rewritten)
	}

	second, out := testRun(t, opts)
	if second.Failed() {
		t.Fatalf("the fixed twin failed on the second run:\n%s", out)
	}
	if !second.CacheHit || second.Key != first.Key || strings.Contains(out, "heddle test: rewrote ") {
		t.Errorf("second run of unchanged code: CacheHit %v, key %s (first %s); want the cached rewrite:\n%s", second.CacheHit, second.Key, first.Key, out)
	}
	after := cacheState(t, cache)
	if len(after) != len(before) {
		t.Errorf("the cache went from %d files to %d on a run of unchanged code", len(before), len(after))
	}
	for path, mtime := range before {
		if !after[path].Equal(mtime) {
			t.Errorf("%s was written again (mtime %v, then %v)", path, mtime, after[path])
		}
	}

	src := filepath.Join(dir, "lostupdate", "lostupdate.go")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, append(b, []byte("\n// A change the cache must see.\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	third, out := testRun(t, opts)
	if third.CacheHit || third.Key == first.Key || !strings.Contains(out, "heddle test: rewrote ") {
		t.Errorf("after a source change: CacheHit %v, key %s (before %s); want a new rewrite:\n%s", third.CacheHit, third.Key, first.Key, out)
	}
}
