package driver_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/heddle-go/heddle/harness/gotest/driver"
)

// benchSeeds is how many seeds (heddle) and runs (plain go test) the
// benchmarks use per program: 1,000, or HEDDLE_BENCH_SEEDS.
func benchSeeds(b *testing.B) int {
	if s := os.Getenv("HEDDLE_BENCH_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("HEDDLE_BENCH_SEEDS=%q: want a positive number", s)
		}
		return n
	}
	return 1000
}

// buildPlain builds the unmodified test binary of one program of
// testdata/unmodified with the race detector, as go test -race would.
func buildPlain(b *testing.B, pkg string) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), pkg+".test")
	cmd := exec.Command("go", "test", "-c", "-race", "-o", bin, "./"+pkg)
	cmd.Dir = unmodifiedDir(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	return bin
}

var (
	passLine = regexp.MustCompile(`(?m)^--- PASS: `)
	failLine = regexp.MustCompile(`(?m)^--- FAIL: `)
)

// plainRuns is the outcome of plain go test -race -count=N on a test.
type plainRuns struct {
	runs, failed int
	// crashes counts the processes that died (a panic, or the -timeout
	// that ends a deadlock): each is a failing run, and the rest of its
	// count is started again in a new process.
	crashes int
}

// maxRestarts bounds how many processes plainTest starts after crashes:
// beyond it the runs left are not made (runs then counts fewer than asked).
const maxRestarts = 100

// runPlain runs test n times as go test -race -count=n does, in as many
// processes as its crashes need (up to maxRestarts): each process runs the
// count still to go, with a timeout (20s, and 50ms a run) that turns a
// deadlock into a crash.
func runPlain(b *testing.B, bin, test string, n int) plainRuns {
	b.Helper()
	var r plainRuns
	for r.runs < n && r.crashes <= maxRestarts {
		left := n - r.runs
		// The timeout must let left runs of a test that sleeps tens of
		// milliseconds end (a timeout that ends a process that was not
		// stuck would count as a failure), and turns a deadlock into a crash.
		timeout := 20*time.Second + time.Duration(left)*50*time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
		cmd := exec.CommandContext(ctx, bin, "-test.run=^"+test+"$", "-test.v", "-test.count="+strconv.Itoa(left), "-test.timeout="+timeout.String())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		pass, fail := len(passLine.FindAllIndex(out.Bytes(), -1)), len(failLine.FindAllIndex(out.Bytes(), -1))
		r.runs += pass + fail
		r.failed += fail
		if err == nil || pass+fail >= left {
			break // every run of the count ended (passed or failed)
		}
		// The process died in the middle of a run: that run failed, and
		// the rest of the count starts again.
		r.runs++
		r.failed++
		r.crashes++
	}
	return r
}

// BenchmarkUnmodified prints, per program of testdata/unmodified, the first
// seed at which heddle test -race finds its bug and the failing fraction of
// its seeds (every seed run, -keep-going), and the failing fraction of plain
// go test -race -count=N on the same unmodified test (N = 1,000, or
// HEDDLE_BENCH_SEEDS). Plain go test cannot see a leak, and a panic or a
// deadlock (its -timeout) ends its process: the runs left start again in a
// new process (up to 100 restarts). A data race is reported once per pair of
// sites in a process, as go test -count does: later runs that race the same
// way pass. Its metrics are first-seed, heddle-fail-% and
// plain-fail-%; make bench-unmodified runs it once (-benchtime 1x).
func BenchmarkUnmodified(b *testing.B) {
	n := benchSeeds(b)
	dir := unmodifiedDir(b)
	cache := b.TempDir()
	fmt.Printf("%-12s %-11s %10s %12s %14s\n", "program", "kind", "first seed", "heddle fail", "go test fail")
	for _, p := range unmodified {
		b.Run(p.pkg, func(b *testing.B) {
			for range b.N {
				sum, out := testRun(b, driver.Options{Dir: dir, Patterns: []string{"./" + p.pkg}, Run: "^TestBug$", Count: n, KeepGoing: true, CacheDir: cache})
				first, failed, seeds := int64(-1), 0, 0
				kind := "-"
				for _, pr := range sum.Packages {
					for _, tr := range pr.Tests {
						failed, seeds = tr.FailedSeeds, tr.Seeds
						for _, f := range tr.Failures {
							if first < 0 || f.Seed < first {
								first, kind = f.Seed, f.Kind()
							}
						}
					}
				}
				if seeds != n {
					b.Fatalf("%s: heddle test ran %d seeds of %d:\n%s", p.pkg, seeds, n, out)
				}
				plain := runPlain(b, buildPlain(b, p.pkg), "TestBug", n)
				heddleFrac := 100 * float64(failed) / float64(seeds)
				plainFrac := 0.0
				if plain.runs > 0 {
					plainFrac = 100 * float64(plain.failed) / float64(plain.runs)
				}
				b.ReportMetric(float64(first), "first-seed")
				b.ReportMetric(heddleFrac, "heddle-fail-%")
				b.ReportMetric(plainFrac, "plain-fail-%")
				note := ""
				if plain.runs < n {
					note = fmt.Sprintf(" (%d runs of %d: %d crashes)", plain.runs, n, plain.crashes)
				} else if plain.crashes > 0 {
					note = fmt.Sprintf(" (%d crashes)", plain.crashes)
				}
				fmt.Printf("%-12s %-11s %10d %11.1f%% %13.1f%%%s\n", p.pkg, kind, first, heddleFrac, plainFrac, note)
			}
		})
	}
}

// BenchmarkPerSeed reports what one seed of a rewritten test costs against
// one run of the plain test: lostupdate's TestFixed (three goroutines, a
// mutex, a WaitGroup), race detector on in both. Each cost is the
// difference between a sweep of N+1 runs and a sweep of one, over N (N =
// 1,000 or HEDDLE_BENCH_SEEDS), so that building and starting the process
// do not count (each the least of three measures). Metrics: heddle-ns/seed,
// plain-ns/run and the ratio.
func BenchmarkPerSeed(b *testing.B) {
	n := benchSeeds(b)
	dir := unmodifiedDir(b)
	cache := b.TempDir()
	heddle := func(count int) time.Duration {
		sum, out := testRun(b, driver.Options{Dir: dir, Patterns: []string{"./lostupdate"}, Run: "^TestFixed$", Count: count, CacheDir: cache})
		if sum.Failed() || len(sum.Packages) != 1 || len(sum.Packages[0].Tests) != 1 {
			b.Fatalf("heddle test of lostupdate's TestFixed:\n%s", out)
		}
		return sum.Packages[0].Tests[0].Elapsed
	}
	bin := buildPlain(b, "lostupdate")
	plain := func(count int) time.Duration {
		start := time.Now()
		out, err := exec.Command(bin, "-test.run=^TestFixed$", "-test.count="+strconv.Itoa(count)).CombinedOutput()
		if err != nil {
			b.Fatalf("plain lostupdate TestFixed: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	heddle(1) // the build, out of the measure
	// fastest is the least of three measures of f(count): the machine's
	// other work only ever adds time.
	fastest := func(f func(int) time.Duration, count int) time.Duration {
		best := f(count)
		for range 2 {
			best = min(best, f(count))
		}
		return best
	}
	for range b.N {
		perSeed := (fastest(heddle, n+1) - fastest(heddle, 1)) / time.Duration(n)
		perRun := (fastest(plain, n+1) - fastest(plain, 1)) / time.Duration(n)
		b.ReportMetric(float64(perSeed.Nanoseconds()), "heddle-ns/seed")
		b.ReportMetric(float64(perRun.Nanoseconds()), "plain-ns/run")
		if perRun > 0 {
			b.ReportMetric(float64(perSeed)/float64(perRun), "ratio")
		}
		fmt.Printf("per seed: heddle %v, plain go test %v\n", perSeed, perRun)
	}
}
