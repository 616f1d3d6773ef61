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

// runChild runs the test binary for one test: it hands the child its spec
// in a file, reads the records and output the child prints as they come,
// and turns them, and how the process ended, into a childResult.
func (d *driver) runChild(ctx context.Context, bin string, p listed, test string, spec gotest.Spec) childResult {
	specPath, err := writeSpec(filepath.Dir(bin), spec)
	if err != nil {
		return childResult{failures: []Failure{d.harnessFailure(p, test, err.Error())}}
	}
	defer os.Remove(specPath)
	cmd := exec.CommandContext(ctx, bin, d.childArgs(test)...)
	cmd.Dir = p.Dir
	cmd.Env = append(append([]string(nil), d.env...), gotest.SpecEnv+"="+specPath)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		msg := fmt.Sprintf("heddle test: starting the test binary: %v", err)
		return childResult{failures: []Failure{d.harnessFailure(p, test, msg)}}
	}
	waited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		waited <- err
	}()
	out := childOutput{d: d, p: p, spec: spec}
	out.read(pr)
	io.Copy(io.Discard, pr)
	return out.finish(test, <-waited)
}

// writeSpec writes the child's spec, as JSON, to a new file in dir and
// returns its path (the caller removes it): the child reads its sweep from
// there, named by gotest.SpecEnv.
func writeSpec(dir string, spec gotest.Spec) (string, error) {
	f, err := os.CreateTemp(dir, "spec-*.json")
	if err != nil {
		return "", fmt.Errorf("heddle test: %w", err)
	}
	if err := json.NewEncoder(f).Encode(spec); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("heddle test: writing the spec: %w", err)
	}
	f.Close()
	return f.Name(), nil
}

// childArgs returns the test binary's flags for one test: the filters
// that select it (and the user's subtests), the timeout, and -v and -count
// when the user asked for them.
func (d *driver) childArgs(test string) []string {
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
	return args
}

// childOutput follows one child process's output: the records of its runs,
// which it counts and turns into failures, and the test's own lines, kept
// so that a failing run's output (the lines between its begin and end
// records) can be attached to its failure.
type childOutput struct {
	d     *driver
	p     listed
	spec  gotest.Spec
	res   childResult
	lines []string // the child's output, records left out
	cur   *openRun // the run begun and not yet ended, or nil
	done  bool     // the child reported that its sweep was over
}

// openRun is a run that the child began: its begin record and where its
// output starts in childOutput.lines.
type openRun struct {
	rec  gotest.Record
	from int
}

// read consumes the child's output, line by line, until the pipe closes.
func (o *childOutput) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		line := sc.Text()
		rec, isRec, err := gotest.ParseRecord(line)
		switch {
		case !isRec:
			o.plain(line)
		case err != nil:
			o.lines = append(o.lines, err.Error())
		default:
			o.record(rec)
		}
	}
}

// plain keeps a line of the test's own output (a run of blank lines as
// one), echoing it with -v.
func (o *childOutput) plain(line string) {
	if line == "" && len(o.lines) > 0 && o.lines[len(o.lines)-1] == "" {
		return
	}
	o.lines = append(o.lines, line)
	if o.d.opts.Verbose && line != "" {
		o.d.outMu.Lock()
		fmt.Fprintln(o.d.out, line)
		o.d.outMu.Unlock()
	}
}

// record takes in one of the child's records.
func (o *childOutput) record(rec gotest.Record) {
	switch rec.Type {
	case gotest.RecBegin:
		o.cur = &openRun{rec: rec, from: len(o.lines)}
	case gotest.RecEnd:
		o.endRun(rec)
	case gotest.RecCalibrated:
		o.res.steps = rec.Steps
	case gotest.RecRestart:
		o.res.restart, o.res.restartFrom = true, nextSeed(rec, o.spec)
	case gotest.RecDone:
		o.done = true
	}
}

// endRun counts a run that ended and, if it failed, keeps its failure with
// the output printed since its begin record.
func (o *childOutput) endRun(rec gotest.Record) {
	o.res.runs++
	if strings.HasPrefix(rec.Run, "seed=") {
		o.res.seeds++
	}
	if rec.Skipped {
		o.res.skipped = true
	}
	if !rec.Passed && !rec.Skipped {
		from := len(o.lines)
		if o.cur != nil {
			from = o.cur.from
		}
		output := trimRaceReport(strings.Join(o.lines[from:], "\n"))
		o.res.failures = append(o.res.failures, failureOf(o.p, rec, output))
	}
	o.cur = nil
}

// finish completes the result once the child has exited with exitErr: it
// adds each failing run's subtest log, and a failure for a process that
// died during a run (which a new process resumes after) or ended before
// its sweep was done.
func (o *childOutput) finish(test string, exitErr error) childResult {
	all := strings.Join(o.lines, "\n")
	// The test's own output for each failing run: testing prints a
	// subtest's log under its "--- FAIL" line when the test ends.
	for i := range o.res.failures {
		f := &o.res.failures[i]
		if block := subtestBlock(all, test+"/"+f.Run); strings.Contains(block, "\n") {
			f.Output = strings.TrimSpace(f.Output + "\n" + block)
		}
	}
	switch {
	case o.cur != nil:
		// The process died during a run.
		f := crashFailure(o.p, o.cur.rec, strings.Join(o.lines[o.cur.from:], "\n"), exitErr)
		o.res.failures = append(o.res.failures, f)
		o.res.runs++
		if strings.HasPrefix(o.cur.rec.Run, "seed=") {
			o.res.seeds++
		}
		o.res.restart, o.res.restartFrom = true, nextSeed(o.cur.rec, o.spec)
	case !o.done:
		msg := "the test binary ended before the test ran"
		if exitErr != nil {
			msg += fmt.Sprintf(" (%v)", exitErr)
		}
		f := o.d.harnessFailure(o.p, test, msg)
		f.Output = tail(all, 60)
		o.res.failures = append(o.res.failures, f)
		o.res.restart = false
	}
	return o.res
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
