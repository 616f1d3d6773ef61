package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness/gotest"
)

// testPackage builds a package's test binary and sweeps each of its
// selected tests in child processes.
func (d *driver) testPackage(ctx context.Context, overlay, tmp string, p listed, tests []string) PackageResult {
	start := time.Now()
	res := PackageResult{ImportPath: p.ImportPath, Dir: p.Dir}
	var selected []string
	for _, t := range tests {
		if d.selected(t) {
			selected = append(selected, t)
		}
	}
	if len(selected) == 0 {
		return res
	}
	bin := filepath.Join(tmp, strings.NewReplacer("/", "_", ".", "_").Replace(p.ImportPath)+".test")
	args := []string{"test", "-c", "-o", bin, "-overlay", overlay}
	if d.opts.Race {
		args = append(args, "-race")
	}
	if d.opts.Tags != "" {
		args = append(args, "-tags", d.opts.Tags)
	}
	args = append(args, p.ImportPath)
	if out, err := goCmd(ctx, d.mod.root, d.env, args...); err != nil {
		res.BuildError = strings.TrimSpace(string(out) + "\n" + err.Error())
		res.Elapsed = time.Since(start)
		return res
	}
	saved, err := loadSaved(p.Dir)
	if err != nil {
		res.BuildError = err.Error()
		return res
	}
	for _, t := range selected {
		if ctx.Err() != nil {
			break
		}
		res.Tests = append(res.Tests, d.sweepTest(ctx, bin, p, t, saved))
	}
	res.Elapsed = time.Since(start)
	return res
}

// sweepTest runs one test's sweep, in as many child processes as it takes.
func (d *driver) sweepTest(ctx context.Context, bin string, p listed, test string, saved []gotest.Saved) TestResult {
	start := time.Now()
	tr := TestResult{Package: p.ImportPath, Test: test, Strategy: d.opts.Strategy}
	spec := gotest.Spec{
		First: d.opts.First, Count: d.opts.Count, Shard: d.opts.Shard, Shards: d.opts.Shards,
		Strategy: d.opts.Strategy, KeepGoing: d.opts.KeepGoing, Trace: d.opts.HTML != "",
		MaxSteps: d.opts.MaxSteps, Watchdog: d.opts.Watchdog,
	}
	for _, s := range saved {
		if s.Test == test {
			spec.Saved = append(spec.Saved, s)
		}
	}
	for attempt := 0; ; attempt++ {
		c := d.runChild(ctx, bin, p, test, spec)
		tr.Runs += c.runs
		tr.Seeds += c.seeds
		tr.Skipped = tr.Skipped || c.skipped
		if c.steps > 0 {
			spec.Steps = c.steps
			name, depth, _, _ := gotest.ParseStrategy(d.opts.Strategy)
			if name == "pct" {
				tr.Strategy = fmt.Sprintf("pct:%d:%d", depth, c.steps)
			}
		}
		for i := range c.failures {
			f := &c.failures[i]
			// Only the first failing seed of a sweep is kept (KeepGoing
			// may find hundreds).
			save := f.FromSaved != "" || !sweptFailure(tr.Failures)
			d.finishFailure(p, f, save)
			tr.Failures = append(tr.Failures, *f)
			tr.Failed++
			if strings.HasPrefix(f.Run, "seed=") {
				tr.FailedSeeds++
			}
		}
		next, again := c.restartFrom, c.restart
		if !again || !d.opts.KeepGoing || ctx.Err() != nil {
			break
		}
		// Go on in a new process: the saved schedules and the calibration
		// are behind us.
		spec.Saved = nil
		if spec.Steps == 0 {
			spec.Steps = 1000
		}
		if next < spec.First {
			next = spec.First
		}
		spec.Count -= int(next - spec.First)
		spec.First = next
		if spec.Count <= 0 || attempt > d.opts.Count+len(saved)+2 {
			break
		}
	}
	tr.Elapsed = time.Since(start)
	return tr
}

// sweptFailure reports whether fs holds a failing seed of the sweep.
func sweptFailure(fs []Failure) bool {
	for _, f := range fs {
		if f.FromSaved == "" {
			return true
		}
	}
	return false
}

// childResult is what one child process did.
type childResult struct {
	runs     int
	seeds    int // runs of the sweep's seeds
	skipped  bool
	steps    int
	failures []Failure
	// restart asks for a new process from restartFrom.
	restart     bool
	restartFrom int64
}

// runChild runs the test binary for one test.
func (d *driver) runChild(ctx context.Context, bin string, p listed, test string, spec gotest.Spec) childResult {
	var res childResult
	specFile, err := os.CreateTemp(filepath.Dir(bin), "spec-*.json")
	if err != nil {
		res.failures = append(res.failures, d.harnessFailure(p, test, fmt.Sprintf("heddle test: %v", err)))
		return res
	}
	defer os.Remove(specFile.Name())
	if err := json.NewEncoder(specFile).Encode(spec); err != nil {
		specFile.Close()
		res.failures = append(res.failures, d.harnessFailure(p, test, fmt.Sprintf("heddle test: writing the spec: %v", err)))
		return res
	}
	specFile.Close()
	run, skip := d.childFilters(test)
	args := []string{"-test.run=" + run, "-test.timeout=" + d.opts.Timeout.String(), "-test.paniconexit0"}
	if skip != "" {
		args = append(args, "-test.skip="+skip)
	}
	if d.opts.Verbose {
		args = append(args, "-test.v=true")
	}
	if d.opts.TestCount > 1 {
		args = append(args, fmt.Sprintf("-test.count=%d", d.opts.TestCount))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = p.Dir
	cmd.Env = append(append([]string(nil), d.env...), gotest.SpecEnv+"="+specFile.Name())
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		res.failures = append(res.failures, d.harnessFailure(p, test, fmt.Sprintf("heddle test: starting the test binary: %v", err)))
		return res
	}
	waited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		waited <- err
	}()

	var lines []string // the child's output, records left out
	type open struct {
		rec  gotest.Record
		from int
	}
	var cur *open
	done := false
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		line := sc.Text()
		rec, isRec, err := gotest.ParseRecord(line)
		if !isRec {
			if line == "" && len(lines) > 0 && lines[len(lines)-1] == "" {
				continue
			}
			lines = append(lines, line)
			if d.opts.Verbose && line != "" {
				d.outMu.Lock()
				fmt.Fprintln(d.out, line)
				d.outMu.Unlock()
			}
			continue
		}
		if err != nil {
			lines = append(lines, err.Error())
			continue
		}
		switch rec.Type {
		case gotest.RecBegin:
			cur = &open{rec: rec, from: len(lines)}
		case gotest.RecEnd:
			res.runs++
			if strings.HasPrefix(rec.Run, "seed=") {
				res.seeds++
			}
			if rec.Skipped {
				res.skipped = true
			}
			if !rec.Passed && !rec.Skipped {
				from := len(lines)
				if cur != nil {
					from = cur.from
				}
				res.failures = append(res.failures, failureOf(p, rec, trimRaceReport(strings.Join(lines[from:], "\n"))))
			}
			cur = nil
		case gotest.RecCalibrated:
			res.steps = rec.Steps
		case gotest.RecRestart:
			res.restart, res.restartFrom = true, nextSeed(rec, spec)
		case gotest.RecDone:
			done = true
		}
	}
	io.Copy(io.Discard, pr)
	exitErr := <-waited
	all := strings.Join(lines, "\n")
	// The test's own output for each failing run: testing prints a
	// subtest's log under its "--- FAIL" line when the test ends.
	for i := range res.failures {
		f := &res.failures[i]
		if block := subtestBlock(all, test+"/"+f.Run); strings.Contains(block, "\n") {
			f.Output = strings.TrimSpace(f.Output + "\n" + block)
		}
	}
	switch {
	case cur != nil:
		// The process died during a run.
		f := crashFailure(p, cur.rec, strings.Join(lines[cur.from:], "\n"), exitErr)
		res.failures = append(res.failures, f)
		res.runs++
		if strings.HasPrefix(cur.rec.Run, "seed=") {
			res.seeds++
		}
		res.restart, res.restartFrom = true, nextSeed(cur.rec, spec)
	case !done:
		msg := "the test binary ended before the test ran"
		if exitErr != nil {
			msg += fmt.Sprintf(" (%v)", exitErr)
		}
		f := d.harnessFailure(p, test, msg)
		f.Output = tail(all, 60)
		res.failures = append(res.failures, f)
		res.restart = false
	}
	return res
}

// nextSeed is the seed a new process starts from after rec's run: the next
// one for a seed of the sweep, the first for a saved schedule or the
// calibration.
func nextSeed(rec gotest.Record, spec gotest.Spec) int64 {
	if strings.HasPrefix(rec.Run, "seed=") {
		return rec.Seed + 1
	}
	return spec.First
}

// failureOf turns a failing run's record into a Failure.
func failureOf(p listed, rec gotest.Record, output string) Failure {
	f := Failure{Package: p.ImportPath, Test: rec.Test, Run: rec.Run, Seed: rec.Seed, Strategy: rec.Strategy,
		Failures: rec.Failures, Output: strings.TrimSpace(output), Schedule: rec.Schedule, Steps: rec.Steps,
		Preemptions: rec.Preemptions, TraceHash: rec.TraceHash, Trace: rec.Trace, FromSaved: rec.Saved}
	for _, x := range rec.Failures {
		f.Kinds = append(f.Kinds, x.Kind)
	}
	return f
}

// crashFailure is a run during which the test process died.
func crashFailure(p listed, rec gotest.Record, output string, exitErr error) Failure {
	kind, msg := "Panic", "the test process died during this run"
	switch {
	case strings.Contains(output, "panic: test timed out after"):
		kind, msg = "Stuck", "the test binary's -timeout ended the process during this run"
	case strings.Contains(output, "WARNING: DATA RACE"):
		kind, msg = "DataRace", "the race detector ended the process during this run"
	case strings.Contains(output, "fatal error: "):
		msg = "a fatal error of Go's runtime ended the process during this run"
	}
	if exitErr != nil {
		msg += fmt.Sprintf(" (%v)", exitErr)
	}
	f := Failure{Package: p.ImportPath, Test: rec.Test, Run: rec.Run, Seed: rec.Seed, Strategy: rec.Strategy,
		Kinds: []string{kind}, Failures: []gotest.Failure{{Kind: kind, Message: msg}}, Output: tail(output, 200),
		Crashed: true, FromSaved: rec.Saved}
	return f
}

// harnessFailure is a test that could not be run as asked.
func (d *driver) harnessFailure(p listed, test, msg string) Failure {
	return Failure{Package: p.ImportPath, Test: test, Kinds: []string{"Error"},
		Failures: []gotest.Failure{{Kind: "Error", Message: msg}}, Seed: -1}
}

// subtestBlock returns the lines testing printed for a failing subtest
// (its "--- FAIL: name" line and the lines indented under it), or "".
func subtestBlock(output, name string) string {
	lines := strings.Split(output, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		if !strings.HasPrefix(trimmed, "--- FAIL: "+name+" ") {
			continue
		}
		indent := len(l) - len(trimmed)
		out := []string{trimmed}
		skipUnder := -1 // dropping the lines under heddle's own error
		for _, m := range lines[i+1:] {
			t := strings.TrimLeft(m, " ")
			depth := len(m) - len(t)
			if m == "" || depth <= indent {
				break
			}
			if skipUnder >= 0 && depth > skipUnder {
				continue
			}
			skipUnder = -1
			if isRunError(t) {
				// The run's failures, which the report shows already.
				skipUnder = depth
				continue
			}
			out = append(out, m[indent:])
		}
		return strings.Join(out, "\n")
	}
	return ""
}

// isRunError reports whether a line of a test's log is the error heddle's
// glue reports for a failing run: "sweep.go:109: heddle: seed 2, ...".
func isRunError(line string) bool {
	_, rest, ok := strings.Cut(line, ".go:")
	if !ok {
		return false
	}
	_, msg, ok := strings.Cut(rest, ": ")
	return ok && strings.HasPrefix(msg, "heddle: seed ")
}

// trimRaceReport drops, from the race detector's reports in output, the
// stack frames of heddle's runtime (the goroutine machinery under every
// goroutine of a World), which say nothing about the program.
func trimRaceReport(output string) string {
	if !strings.Contains(output, "WARNING: DATA RACE") {
		return output
	}
	lines := strings.Split(output, "\n")
	out := lines[:0:0]
	for i := 0; i < len(lines); i++ {
		fn := strings.TrimSpace(lines[i])
		if strings.HasPrefix(fn, "github.com/heddle-go/heddle/harness") && strings.HasSuffix(fn, ")") && i+1 < len(lines) {
			file := strings.TrimSpace(lines[i+1])
			if strings.HasPrefix(file, "/") && !strings.Contains(file, "_test.go:") {
				i++
				continue
			}
		}
		out = append(out, lines[i])
	}
	return strings.Join(out, "\n")
}

// tail keeps the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
