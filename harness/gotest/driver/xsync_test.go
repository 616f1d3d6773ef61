package driver_test

import (
	"bytes"
	"encoding/json"
	"go/version"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/heddle-go/heddle/harness/gotest/driver"
)

// The third-party module whose own test suite must pass under heddle test,
// unmodified, with no false alarm.
const (
	xsyncModule  = "golang.org/x/sync"
	xsyncVersion = "v0.25.0"
	// xsyncGo is the go directive of its go.mod.
	xsyncGo = "go1.26.0"
)

// xsyncCopy downloads golang.org/x/sync through the module proxy (or finds
// it in the module cache) and returns a writable copy of it. It skips the
// test, saying why, when the module cannot be had.
func xsyncCopy(t *testing.T) string {
	t.Helper()
	if version.Compare(runtime.Version(), xsyncGo) < 0 && !strings.HasPrefix(runtime.Version(), "devel") {
		t.Skipf("%s@%s needs %s, this is %s", xsyncModule, xsyncVersion, xsyncGo, runtime.Version())
	}
	cmd := exec.Command("go", "mod", "download", "-json", xsyncModule+"@"+xsyncVersion)
	cmd.Dir = t.TempDir()
	var out, errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	if err := cmd.Run(); err != nil {
		t.Skipf("skipping: cannot download %s@%s (no network or module proxy?): %v\n%s%s", xsyncModule, xsyncVersion, err, out.String(), errw.String())
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.Dir == "" {
		t.Skipf("skipping: go mod download %s@%s: %v %s", xsyncModule, xsyncVersion, err, info.Error)
	}
	dst := t.TempDir()
	err := filepath.WalkDir(info.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(info.Dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", info.Dir, err)
	}
	return dst
}

// xsyncFull reports whether the heavy version runs (HEDDLE_XSYNC=1, make
// xsync): every test of the three packages on 200 seeds. The default, in
// make test, runs 20 seeds and skips the two singleflight tests that start
// a copy of the test binary in every run (seconds a seed).
func xsyncFull() bool { return os.Getenv("HEDDLE_XSYNC") != "" }

// TestXSync runs the unmodified test suites of golang.org/x/sync's
// errgroup, semaphore and singleflight under heddle test -race: 200 seeds
// per test with HEDDLE_XSYNC=1 (make xsync, about eight minutes on two
// cores, most of it singleflight's two tests that exec the test binary), 20
// seeds otherwise. No test may fail: a failure here is a false alarm of
// heddle's. It then injects a bug into a copy of singleflight (Group.Do reads
// its map of calls after unlocking the group's mutex) and requires heddle
// test to find it as a DataRace within 200 seeds.
func TestXSync(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads golang.org/x/sync and builds race-enabled test binaries")
	}
	dir := xsyncCopy(t)
	cache := t.TempDir()
	seeds, skip := 20, "^TestPanicDo"
	if xsyncFull() {
		seeds, skip = 200, ""
	}
	sum, out := testRun(t, driver.Options{Dir: dir, Patterns: []string{"./errgroup", "./semaphore", "./singleflight"}, Count: seeds, Skip: skip, CacheDir: cache})
	tests := 0
	for _, p := range sum.Packages {
		if p.BuildError != "" {
			t.Fatalf("%s does not build under heddle test:\n%s", p.ImportPath, p.BuildError)
		}
		for _, tr := range p.Tests {
			if tr.Skipped {
				continue
			}
			tests++
			if tr.Failed > 0 {
				t.Errorf("false alarm: %s.%s failed %d runs of %d (%v)", p.ImportPath, tr.Test, tr.Failed, tr.Runs, tr.Failures[0].Kinds)
			} else if tr.Seeds != seeds {
				t.Errorf("%s.%s ran %d seeds, want %d", p.ImportPath, tr.Test, tr.Seeds, seeds)
			}
		}
	}
	if len(sum.Packages) != 3 || tests < 20 {
		t.Errorf("heddle test ran %d packages and %d tests; want errgroup, semaphore and singleflight with all their tests", len(sum.Packages), tests)
	}
	if t.Failed() {
		t.Fatalf("heddle test output:\n%s", out)
	}
	t.Logf("%d tests of %s@%s passed %d seeds each", tests, xsyncModule, xsyncVersion, seeds)

	// The injected bug: Do looks its key up after unlocking.
	src := filepath.Join(dir, "singleflight", "singleflight.go")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	const orig = "\t\tg.m = make(map[string]*call)\n\t}\n\tif c, ok := g.m[key]; ok {\n"
	const bug = "\t\tg.m = make(map[string]*call)\n\t}\n\tg.mu.Unlock()\n\told, ok := g.m[key]\n\tg.mu.Lock()\n\tif c := old; ok {\n"
	if !bytes.Contains(b, []byte(orig)) {
		t.Fatalf("%s: Group.Do is not as expected; cannot inject the bug", src)
	}
	if err := os.WriteFile(src, bytes.Replace(b, []byte(orig), []byte(bug), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	mutant, out := testRun(t, driver.Options{Dir: dir, Patterns: []string{"./singleflight"}, Run: "^TestDoDupSuppress$", Count: 200, CacheDir: cache})
	var first *driver.Failure
	for _, p := range mutant.Packages {
		for _, tr := range p.Tests {
			if len(tr.Failures) > 0 {
				first = &tr.Failures[0]
			}
		}
	}
	if first == nil || first.Kind() != "DataRace" {
		t.Fatalf("the unlocked read injected into singleflight was not found as a DataRace in 200 seeds:\n%s", out)
	}
	if !strings.Contains(first.Output, "singleflight.go:") {
		t.Errorf("the race report does not name singleflight.go:\n%s", first.Output)
	}
	t.Logf("injected bug found: seed %d, %v", first.Seed, first.Kinds)
}
