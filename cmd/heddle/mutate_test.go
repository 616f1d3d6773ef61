package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/cmd/heddle/testdata/mutate/tinycase"
	"github.com/heddle-go/heddle/harness/cover"
)

// tinyApp is the command with the tiny case of testdata/mutate: its system
// package is testdata/mutate/tiny and its worker testdata/mutate/worker,
// which run --cover and mutate build.
func tinyApp() *app {
	a := testApp(append(testApp(nil).cases, tinycase.Case()))
	a.workerMain = "github.com/heddle-go/heddle/cmd/heddle/testdata/mutate/worker"
	a.systems = "cmd/heddle/testdata/mutate"
	a.parallel = 2
	return a
}

// jsonObjects reads the JSON objects of --json output, one a line.
func jsonObjects(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var o map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &o), sc.Text())
		objs = append(objs, o)
	}
	return objs
}

func tinyLine(t *testing.T, text string) float64 {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "mutate", "tiny", "tiny.go"))
	require.NoError(t, err)
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, text) {
			return float64(i + 1)
		}
	}
	t.Fatalf("tiny.go has no line with %q", text)
	return 0
}

// TestMutateTiny runs heddle mutate on the tiny case: the lock pair of Add
// is killed by the race detector, dropping the pump's close by a deadlock;
// the lock pair of Get survives (Get never runs concurrently with Add); the
// capacity mutant does not compile; the Done case is marked equivalent by
// the file; nothing of the Buggy branch or of Reset (never called) is
// mutated.
func TestMutateTiny(t *testing.T) {
	needRace(t)
	// The ids, from --list.
	r := runApp(t, tinyApp(), "mutate", "tiny", "--list", "--json", "--cover-seeds", "10")
	require.Equal(t, exitOK, r.status, r.stderr)
	listed := map[string]string{} // operator -> id, for the mutants of Pump and Add
	for _, o := range jsonObjects(t, r.stdout) {
		require.Equal(t, "mutant", o["type"])
		listed[o["operator"].(string)+" "+o["func"].(string)] = o["id"].(string)
	}
	require.Len(t, listed, 5, "%v", listed)
	doneCase := listed["drop-done-case Pump"]
	require.NotEmpty(t, doneCase)

	eq := filepath.Join(t.TempDir(), "tiny.txt")
	require.NoError(t, os.WriteFile(eq, []byte("# tiny's equivalent mutants\n"+doneCase+"  the case never cancels the pump's context\n"), 0o644))
	r = runApp(t, tinyApp(), "mutate", "tiny", "--seeds", "40", "--cover-seeds", "10", "--json", "--equivalents", eq)
	require.Equal(t, exitOK, r.status, r.stderr)
	objs := jsonObjects(t, r.stdout)
	require.Len(t, objs, 6)
	byOp := map[string]map[string]any{}
	buggy := [2]float64{tinyLine(t, "if c.v == Buggy"), tinyLine(t, "c.n = n + d")}
	for _, o := range objs[:5] {
		require.Equal(t, "mutant", o["type"])
		require.Equal(t, "cmd/heddle/testdata/mutate/tiny/tiny.go", o["file"])
		line := o["line"].(float64)
		require.False(t, line >= buggy[0] && line <= buggy[1], "a mutant of the Buggy branch: %v", o)
		require.NotEqual(t, "(*Counter).Reset", o["func"], "Reset never runs")
		byOp[o["operator"].(string)+" "+o["func"].(string)] = o
		require.Equal(t, listed[o["operator"].(string)+" "+o["func"].(string)], o["id"], "ids are the same from run to run")
	}
	add := byOp["lock-pair (*Counter).Add"]
	require.Equal(t, "killed", add["status"], "%v", add)
	require.Equal(t, "DataRace", add["kind"])
	require.NotNil(t, add["first_failing_seed"])
	require.Contains(t, add["desc"], "drop `c.mu.Lock()` and `defer c.mu.Unlock()`")

	closeOut := byOp["drop-cleanup Pump"]
	require.Equal(t, "killed", closeOut["status"], "%v", closeOut)
	require.Equal(t, "Deadlock", closeOut["kind"])
	require.Equal(t, "defer out.Close()", closeOut["before"])
	require.Equal(t, "_ = out", closeOut["after"])

	get := byOp["lock-pair (*Counter).Get"]
	require.Equal(t, "survived", get["status"], "%v", get)
	require.Equal(t, float64(40), get["seeds_tried"])

	capacity := byOp["chan-buffer Pump"]
	require.Equal(t, "compile-error", capacity["status"])
	require.Contains(t, capacity["error"], "cmd/heddle/testdata/mutate/tiny/tiny.go")
	require.Contains(t, capacity["error"], "declared and not used")

	done := byOp["drop-done-case Pump"]
	require.Equal(t, "equivalent", done["status"])
	require.Equal(t, "the case never cancels the pump's context", done["reason"])

	sum := objs[5]
	require.Equal(t, "mutation", sum["type"])
	require.Equal(t, "tiny", sum["case"])
	require.Equal(t, "fixed", sum["variant"])
	require.Equal(t, "github.com/heddle-go/heddle/cmd/heddle/testdata/mutate/tiny", sum["package"])
	for k, want := range map[string]float64{"generated": 5, "compile_errors": 1, "equivalent": 1, "killed": 2, "survived": 1, "errors": 0, "seeds": 40} {
		require.Equal(t, want, sum[k], k)
	}
	require.InDelta(t, 2.0/3.0, sum["kill_rate"], 1e-9)
	require.Equal(t, []any{get["id"]}, sum["survivors"])
	require.Greater(t, sum["off_path"], float64(0), "Reset's and the Buggy branch's mutants are off the path")
	require.Less(t, sum["coverage"], float64(100))
	require.Contains(t, r.stderr, "[5/5]", "progress on standard error")

	// The table: the survivor is listed as the to-do list.
	r = runApp(t, tinyApp(), "mutate", "tiny", "--seeds", "10", "--cover-seeds", "10", "--equivalents", eq, "--only", get["id"].(string)+","+doneCase)
	require.Equal(t, exitOK, r.status, r.stderr)
	require.Contains(t, r.stdout, "tiny/fixed: 2 mutants")
	require.Contains(t, r.stdout, "kill rate 0.0% (0/1) over 10 seeds")
	require.Contains(t, r.stdout, "survivors (the to-do list")
	require.Contains(t, r.stdout, get["id"].(string)+"  cmd/heddle/testdata/mutate/tiny/tiny.go:")

	// --min-kill-rate turns the survivor into a failure.
	r = runApp(t, tinyApp(), "mutate", "tiny", "--seeds", "10", "--cover-seeds", "0", "--only", get["id"].(string), "--min-kill-rate", "0.5")
	require.Equal(t, exitFailed, r.status, r.stderr)
	require.Contains(t, r.stderr, "kill rate 0.0% is below --min-kill-rate 50.0%")
}

func TestMutateBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("# ok\nlock-pair-12345678\n"), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mutate"}, "name one case"},
		{[]string{"mutate", "nope"}, `unknown case "nope"`},
		{[]string{"mutate", "tiny", "--variant", "slow"}, `no variant "slow"`},
		{[]string{"mutate", "tiny", "--operators", "lock-pair,frob"}, `unknown operator "frob"`},
		{[]string{"mutate", "tiny", "--shard", "3/2"}, "bad shard"},
		{[]string{"mutate", "tiny", "--min-kill-rate", "90"}, "bad --min-kill-rate"},
		{[]string{"mutate", "tiny", "--equivalents", bad}, bad + ":2: mutant lock-pair-12345678 is marked equivalent without a reason"},
		{[]string{"mutate", "tiny", "--pkg", "testdata/none"}, "no system package"},
	} {
		r := runApp(t, tinyApp(), tc.args...)
		require.Equal(t, exitBadArgs, r.status, "%v: %s", tc.args, r.stderr)
		require.Contains(t, r.stderr, tc.want, "%v", tc.args)
	}
}

// TestRunCover measures the tiny case's coverage: Reset never ran, the
// Buggy branch is left out, and the JSON object carries both.
func TestRunCover(t *testing.T) {
	needRace(t)
	dir := t.TempDir()
	r := runApp(t, tinyApp(), "run", "tiny", "--cover", dir, "--seeds", "10", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	objs := jsonObjects(t, r.stdout)
	require.Len(t, objs, 2, "the fixed variant's report, then its coverage")
	require.Equal(t, "fixed", objs[0]["variant"])
	require.Equal(t, float64(10), objs[0]["seeds_tried"])
	reps := reports(t, r.stdout)
	require.Len(t, reps, 1, "merge and ReadJSONLines skip the coverage object")

	var c coverage
	line, _, _ := strings.Cut(r.stdout[strings.Index(r.stdout, `{"type":"coverage"`):], "\n")
	require.NoError(t, json.Unmarshal([]byte(line), &c))
	require.Equal(t, "tiny", c.Case)
	require.Equal(t, 10, c.Seeds)
	require.Equal(t, "github.com/heddle-go/heddle/cmd/heddle/testdata/mutate/tiny", c.Package)
	require.Greater(t, c.Excluded, 0, "the Buggy branch is left out")
	require.Less(t, c.Percent, 100.0)
	require.Greater(t, c.Percent, 50.0)
	var uncovered []string
	for _, l := range c.Uncovered {
		uncovered = append(uncovered, l.Source)
	}
	joined := strings.Join(uncovered, "\n")
	require.Contains(t, joined, "c.n = 0", "Reset never ran")
	require.Contains(t, joined, "return", "the pump never stopped early")
	require.NotContains(t, joined, "handover", "the Buggy branch is not reported")
	require.FileExists(t, c.Profile)
	require.True(t, cover.InRegions(c.ExcludedRegions, "tiny.go", int(tinyLine(t, "handover.Send")), 3))

	require.Empty(t, c.Note)

	// A buggy sweep stops at its race, whose worker writes no counters.
	r = runApp(t, tinyApp(), "run", "tiny", "--cover", dir, "--variant", "buggy", "--seeds", "5")
	require.Equal(t, exitOK, r.status, r.stderr)
	require.Contains(t, r.stdout, "note: tiny/buggy: the sweep stopped at seed 0 (DataRace)")

	// The table.
	r = runApp(t, tinyApp(), "run", "tiny", "--cover", dir, "--seeds", "5")
	require.Equal(t, exitOK, r.status, r.stderr)
	require.Contains(t, r.stdout, "COVERAGE")
	require.Contains(t, r.stdout, "not covered in tiny/fixed")
	require.Contains(t, r.stdout, "tiny.go:")
}

// TestSourceStamps: a Go file changed, added or removed after the stamps
// were taken is named; files the go command does not build from are not.
func TestSourceStamps(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		path := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	}
	write("go.mod", "module example.com/m\n")
	write("a/a.go", "package a\n")
	write("a/testdata/x.go", "package x\n")
	s, err := stampSources(root)
	require.NoError(t, err)
	path, err := s.changed(root)
	require.NoError(t, err)
	require.Empty(t, path)

	write("a/testdata/x.go", "package x // changed\n")
	write("README.md", "not a source\n")
	path, err = s.changed(root)
	require.NoError(t, err)
	require.Empty(t, path, "testdata and other files are not sources")

	write("a/a.go", "package a // changed\n")
	path, err = s.changed(root)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "a", "a.go"), path)

	s, err = stampSources(root)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(root, "a", "a.go")))
	write("b/b.go", "package b\n")
	path, err = s.changed(root)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "a", "a.go"), path, "the first in path order: the removed one")
}
