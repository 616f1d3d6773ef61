package rewrite

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/heddle-go/heddle/harness"
)

// A snippet is a package under testdata/snippets: a program (func Program()
// string) and, for a program that is deterministic, a test that checks its
// result (TestProgram, against the constant want). The rewrite of every
// snippet must compile, give the same test output as the original (results,
// and every file:line the test prints), and run inside a World.
type snippet struct {
	name string
	// kind is what a World finds in the program: "" means every seed runs
	// it to the same result as the plain test, without failure.
	kind harness.Kind
	// seeds is how many seeds the World tries (default 20).
	seeds int
	// race marks a program with a data race, which the race detector must
	// report at the same lines in the original, the rewrite, and the World.
	race bool
	// sites must all appear in the report of a seed that found kind: the
	// original file:line where goroutines blocked or were created.
	sites []string
}

var snippets = []snippet{
	{name: "basic"},
	{name: "gostmt"},
	{name: "chantypes"},
	{name: "selects"},
	{name: "contexts"},
	{name: "syncatomic"},
	{name: "lines"},
	{name: "foreign"},
	{name: "sendclosed", kind: harness.Panic, seeds: 200, sites: []string{"created at sendclosed/sendclosed.go:9"}},
	{name: "deadlock", kind: harness.Deadlock, seeds: 200, sites: []string{
		"at deadlock/deadlock.go:14", "created at deadlock/deadlock.go:11",
		"at deadlock/deadlock.go:21", "created at deadlock/deadlock.go:18",
		"at deadlock/deadlock.go:25",
	}},
	{name: "blockforever", kind: harness.Deadlock, seeds: 1, sites: []string{"at blockforever/blockforever.go:6"}},
	{name: "leak", kind: harness.Leak, seeds: 5, sites: []string{"created at leak/leak.go:9"}},
	{name: "chandeadlock", kind: harness.Deadlock, seeds: 5, sites: []string{"created at chandeadlock/chandeadlock.go:7"}},
	{name: "race", race: true, seeds: 50},
}

const snippetRoot = "./testdata/snippets/"

// rewriteSnippets rewrites every snippet and returns the overlay file that
// builds the rewritten code, with each snippet's World test added.
func rewriteSnippets(t *testing.T) string {
	t.Helper()
	pkgs, err := Load(".", nil, snippetRoot+"...")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Rewrite(pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("HEDDLE_OVERLAY_DIR"); d != "" {
		dir = d
	}
	var ov Overlay
	if err := ov.AddFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, s := range snippets {
		path, err := filepath.Abs(filepath.Join(snippetRoot, s.name, "heddle_world_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		if err := ov.Add(dir, path, worldTest(s)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "overlay.json")
	if err := ov.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// worldTest is the test that runs a snippet's rewritten Program inside a
// World, one line per seed: HEDDLE <snippet> seed=<n> kinds=<k,...> got=<result>.
func worldTest(s snippet) []byte {
	seeds := s.seeds
	if seeds == 0 {
		seeds = 20
	}
	return fmt.Appendf(nil, `package %s

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heddle-go/heddle/harness"
)

func TestWorld(t *testing.T) {
	for seed := int64(0); seed < %d; seed++ {
		var got string
		res := harness.Run(harness.Options{Seed: seed}, func() { got = Program() })
		again := harness.Run(harness.Options{Seed: seed}, func() { Program() })
		var kinds []string
		if again.TraceHash != res.TraceHash {
			kinds = append(kinds, "Nondeterministic")
		}
		for _, f := range res.Failures {
			kinds = append(kinds, string(f.Kind))
			fmt.Printf("HEDDLE-REPORT %%s\n", strings.ReplaceAll(f.String(), "\n", " | "))
		}
		fmt.Printf("HEDDLE %s seed=%%d kinds=%%s got=%%q\n", seed, strings.Join(kinds, ","), got)
	}
}
`, s.name, seeds, s.name)
}

// goTest runs go test in this directory and returns its combined output.
func goTest(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"test", "-count=1", "-timeout=120s"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // failures are in the output, compared by the callers
	return out.String()
}

var timing = regexp.MustCompile(`\(\d+\.\d+s\)|\t\d+\.\d+s|0x[0-9a-f]+|goroutine \d+`)

// byPackage splits go test -v output into each package's lines, with timings
// removed.
func byPackage(out string) map[string]string {
	res := map[string]string{}
	var cur []string
	for _, line := range strings.Split(out, "\n") {
		cur = append(cur, timing.ReplaceAllString(line, ""))
		if f := strings.Fields(line); len(f) >= 2 && (f[0] == "ok" || f[0] == "FAIL" || f[0] == "?") && strings.Contains(f[1], "/snippets/") {
			res[filepath.Base(f[1])] = strings.Join(cur, "\n")
			cur = nil
		}
	}
	return res
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every snippet twice")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
}

// TestSnippetsOutsideWorld: each snippet's rewritten form compiles and its
// test gives the same output as the original's: same results, same file:line
// in every line it prints.
func TestSnippetsOutsideWorld(t *testing.T) {
	skipShort(t)
	overlay := rewriteSnippets(t)
	orig := byPackage(goTest(t, "-v", "-run", "TestProgram|TestFromGoroutine", snippetRoot+"..."))
	rewr := byPackage(goTest(t, "-v", "-run", "TestProgram|TestFromGoroutine", "-overlay", overlay, snippetRoot+"..."))
	for _, s := range snippets {
		if s.kind != "" {
			// No test of its own: the rewrite (with its World test) must compile.
			if r := rewr[s.name]; !strings.Contains(r, "ok  \t"+snippetPkg(s.name)) {
				t.Errorf("%s: the rewrite does not build:\n%s", s.name, r)
			}
			continue
		}
		o, ok := orig[s.name]
		if !ok {
			t.Errorf("%s: no output from the original:\n%v", s.name, orig)
			continue
		}
		if s.kind == "" && !s.race && !strings.Contains(o, "--- PASS: TestProgram") {
			t.Errorf("%s: the original's TestProgram did not pass:\n%s", s.name, o)
		}
		if r := rewr[s.name]; r != o {
			t.Errorf("%s: the rewrite's output differs.\noriginal:\n%s\nrewritten:\n%s", s.name, o, r)
		}
	}
}

var worldLine = regexp.MustCompile(`^HEDDLE (\S+) seed=(\d+) kinds=(\S*) got=(.*)$`)

// TestSnippetsInWorld: inside a World, a deterministic snippet gives the
// plain test's result on every seed, every seed run twice gives the same
// trace, and a snippet with a bug is found with the right kind.
func TestSnippetsInWorld(t *testing.T) {
	skipShort(t)
	overlay := rewriteSnippets(t)
	out := goTest(t, "-v", "-run", "TestWorld", "-overlay", overlay, snippetRoot+"...")
	type result struct {
		kinds   []string
		got     []string
		reports []string
	}
	results := map[string]*result{}
	var reports []string
	for _, line := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(line, "HEDDLE-REPORT "); ok {
			reports = append(reports, r)
			continue
		}
		m := worldLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		r := results[m[1]]
		if r == nil {
			r = &result{}
			results[m[1]] = r
		}
		r.kinds = append(r.kinds, m[3])
		r.got = append(r.got, m[4])
		r.reports = append(r.reports, strings.Join(reports, " | "))
		reports = nil
	}
	for _, s := range snippets {
		if s.race {
			continue // TestSnippetRace
		}
		r := results[s.name]
		if r == nil {
			t.Errorf("%s: no World runs in the output:\n%s", s.name, out)
			continue
		}
		if s.kind == "" {
			want := wantOf(t, s.name)
			for seed, k := range r.kinds {
				if k != "" || r.got[seed] != want {
					t.Errorf("%s seed %d: kinds %q, got %s, want %s", s.name, seed, k, r.got[seed], want)
				}
			}
			continue
		}
		for seed, k := range r.kinds {
			if strings.Contains(k, "Nondeterministic") {
				t.Errorf("%s seed %d: two runs of the seed gave different traces", s.name, seed)
			}
		}
		found := false
		for seed, k := range r.kinds {
			if !strings.Contains(k, string(s.kind)) {
				continue
			}
			found = true
			for _, site := range s.sites {
				if !strings.Contains(r.reports[seed], site) {
					t.Errorf("%s seed %d: the report does not name %q:\n%s", s.name, seed, site, r.reports[seed])
				}
			}
		}
		if !found {
			t.Errorf("%s: no seed of %d found %s: %q\n%s", s.name, len(r.kinds), s.kind, r.kinds, out)
		}
	}
}

// wantOf reads the snippet's expected result: the constant want of its test.
func wantOf(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join(snippetRoot, name, name+"_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^const want = (\".*\"|`.*`)$").FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no const want", name)
	}
	return strings.Trim(string(m[1]), "`")
}

var raceSite = regexp.MustCompile(`race\.go:\d+`)

// raceSites returns the sorted distinct sites (race.go:line) of the two
// accesses of every race report in out: the first frame of the snippet in
// each access's stack.
func raceSites(out string) []string {
	seen := map[string]bool{}
	for _, block := range strings.Split(out, "WARNING: DATA RACE")[1:] {
		block, _, _ = strings.Cut(block, "==================")
		for _, access := range regexp.MustCompile(`(?m)^(Previous )?([Rr]ead|[Ww]rite) at`).Split(block, -1)[1:] {
			access, _, _ = strings.Cut(access, "\n\n")
			if s := raceSite.FindString(access); s != "" {
				seen[s] = true
			}
		}
	}
	sites := make([]string, 0, len(seen))
	for s := range seen {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	return sites
}

// TestSnippetRace: the race detector reports the race of snippet race at the
// same lines in the original, in the rewrite run as a plain test, and in the
// rewrite run inside a World.
func TestSnippetRace(t *testing.T) {
	skipShort(t)
	if !harness.RaceEnabled() {
		t.Skip("needs -race")
	}
	overlay := rewriteSnippets(t)
	pkg := snippetRoot + "race"
	orig := raceSites(goTest(t, "-race", "-run", "TestProgram", pkg))
	if len(orig) == 0 {
		t.Fatal("the original reports no race")
	}
	rewr := raceSites(goTest(t, "-race", "-run", "TestProgram", "-overlay", overlay, pkg))
	world := raceSites(goTest(t, "-race", "-run", "TestWorld", "-overlay", overlay, pkg))
	t.Logf("race sites: %v", orig)
	if fmt.Sprint(rewr) != fmt.Sprint(orig) || fmt.Sprint(world) != fmt.Sprint(orig) {
		t.Errorf("race sites differ:\noriginal:  %v\nrewritten: %v\nin World:  %v", orig, rewr, world)
	}
}

func snippetPkg(name string) string {
	return Module + "/harness/rewrite/testdata/snippets/" + name
}
