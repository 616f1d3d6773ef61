package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestHeddleTest runs the command on a program of testdata/unmodified (a
// module that does not require heddle): the buggy test fails with its kind
// and the command that replays its seed (exit 1), the replay fails again at
// that seed, the fixed twin passes (exit 0), and bad flags exit 2. The
// driver's own tests (harness/gotest/driver) cover the eleven programs.
func TestHeddleTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds test binaries")
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "unmodified"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	cache := t.TempDir()

	res := run(t, "test", "-cache", cache, "-save=false", "-seeds", "200", "-run", "TestBug", "./lostupdate")
	if res.status != exitFailed || !strings.Contains(res.stdout, "--- FAIL: TestBug (seed ") || !strings.Contains(res.stdout, "TestFailed") {
		t.Fatalf("heddle test of lostupdate's TestBug: status %d, want %d and a TestFailed seed\n%s%s", res.status, exitFailed, res.stdout, res.stderr)
	}
	var replay string
	for _, line := range strings.Split(res.stdout, "\n") {
		if r, ok := strings.CutPrefix(strings.TrimSpace(line), "replay: heddle test "); ok {
			replay = r
			break
		}
	}
	if !strings.Contains(replay, "-seeds ") || !strings.HasSuffix(replay, " ./lostupdate") {
		t.Fatalf("no replay command naming the seed and the package in\n%s", res.stdout)
	}
	// The replay command, as printed (its -run pattern is shell-quoted).
	args := []string{"test", "-cache", cache, "-save=false"}
	for _, f := range strings.Fields(replay) {
		args = append(args, strings.Trim(f, "'"))
	}
	again := run(t, args...)
	if again.status != exitFailed || !strings.Contains(again.stdout, "TestFailed") || !strings.Contains(again.stdout, "1 runs") {
		t.Errorf("the replay %q: status %d, want the one seed failing again\n%s%s", replay, again.status, again.stdout, again.stderr)
	}

	fixed := run(t, "test", "-cache", cache, "-save=false", "-seeds", "50", "-run", "TestFixed", "./lostupdate")
	if fixed.status != exitOK || !strings.Contains(fixed.stdout, "ok") || !strings.Contains(fixed.stdout, "50 runs") {
		t.Errorf("heddle test of the fixed twin: status %d, want 0 and 50 runs\n%s%s", fixed.status, fixed.stdout, fixed.stderr)
	}

	for _, bad := range [][]string{
		{"test", "-strategy", "bogus", "./lostupdate"},
		{"test", "-shard", "3/2", "./lostupdate"},
		{"test", "-count", "0", "./lostupdate"},
	} {
		if r := run(t, bad...); r.status != exitBadArgs {
			t.Errorf("heddle %s: status %d, want %d\n%s%s", strings.Join(bad, " "), r.status, exitBadArgs, r.stdout, r.stderr)
		}
	}
}
