package explore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
)

// Worker processes.
//
// The race detector reports each distinct race once per process, so a sweep
// that must attribute races to seeds runs its seeds in a worker process
// started with GORACE=halt_on_error=1: the worker dies with exit status 66
// at its first race, and the parent knows which seed it was running because
// the worker announces each seed before running it. The parent then starts a
// new worker for the next seed.
//
// The protocol: the parent writes one RunSpec as JSON per line on the
// worker's standard input; for each, the worker writes the line
// "heddle-worker: begin SEED", runs it, and writes "heddle-worker: end " and
// the Outcome as JSON. The worker's standard output and standard error are
// one pipe, so a race report lands between the begin and end lines of the
// seed that caused it.

const (
	workerBegin    = "heddle-worker: begin "
	workerEnd      = "heddle-worker: end "
	workerPoisoned = "heddle-worker: poisoned"
	// raceExitStatus is the race detector's exit status (GORACE exitcode).
	raceExitStatus = 66
	// workerGCPercent is a worker's GOGC (see ServeWorker).
	workerGCPercent = 400
)

// ServeWorker is the worker side: it runs every RunSpec read from r against
// v and writes the protocol lines to w (which must be unbuffered, like
// os.Stdout, so that the begin line is out before the run starts). It
// returns at the end of r, or after a run that left the process unusable.
//
// Unless GOGC says otherwise, the worker collects garbage at 400% instead of
// 100%: its live memory is small and each run allocates and drops its own,
// so fewer collections (and, under -race, less of the race detector's work
// on the memory they free) took 8-13% off the CPU of replica and
// routingtable seeds under -race, for about half as much memory again (150
// MB instead of 100 a worker).
func ServeWorker(v Variant, r io.Reader, w io.Writer) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(workerGCPercent)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		line, err := br.ReadString('\n')
		if strings.TrimSpace(line) != "" {
			var spec RunSpec
			if jerr := json.Unmarshal([]byte(line), &spec); jerr != nil {
				return fmt.Errorf("heddle worker: bad run spec: %v", jerr)
			}
			if _, werr := fmt.Fprintf(w, "%s%d\n", workerBegin, spec.Seed); werr != nil {
				return werr
			}
			out := RunOnce(v, spec)
			data, jerr := json.Marshal(out)
			if jerr != nil {
				return jerr
			}
			if _, werr := fmt.Fprintf(w, "%s%s\n", workerEnd, data); werr != nil {
				return werr
			}
			if out.Poisoned {
				fmt.Fprintln(w, workerPoisoned)
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseRaces returns the DataRace violations in a worker's output, one per
// report of the race detector.
func parseRaces(output string) []checkers.Violation { return checkers.ParseRaceReports(output) }

// WorkerCommand makes the command for a new worker process, not yet
// started; the runner sets its standard streams and GORACE.
type WorkerCommand func() *exec.Cmd

// WorkerRunner runs RunSpecs in worker processes, one at a time, starting a
// new worker whenever the last one died. It is not safe for concurrent use;
// run several for parallelism.
type WorkerRunner struct {
	command WorkerCommand
	halt    bool
	proc    *workerProc
	// Output, if set, receives every line the workers print that is not
	// part of the protocol (race reports, the program's own output).
	Output io.Writer
	// RunTimeout bounds the wall time of one run; a worker that takes
	// longer is killed and the run reported as Stuck. Zero means 5 minutes.
	RunTimeout time.Duration
}

// NewWorkerRunner returns a runner that starts workers with command.
// A race already reported in a process is not reported again, so no run may
// follow a race in the same worker. With halt, workers run with
// GORACE=halt_on_error=1: the race detector ends a worker at its first race
// (exit status 66) and the run's outcome is a DataRace violation with no
// schedule or counts (Outcome.Incomplete). Without halt, a worker finishes
// the racing run, which returns its full outcome, and the runner then
// replaces the worker; shrinking needs that.
func NewWorkerRunner(command WorkerCommand, halt bool) *WorkerRunner {
	return &WorkerRunner{command: command, halt: halt}
}

type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	exit  chan struct{} // closed once cmd.Wait has returned
	err   error         // cmd.Wait's error
	tail  []string      // the last lines, for a crash report
}

func (r *WorkerRunner) start() (*workerProc, error) {
	cmd := r.command()
	// atexit_sleep_ms=0: the race runtime otherwise waits a second at exit.
	goraceOpts := "halt_on_error=0 atexit_sleep_ms=0"
	if r.halt {
		goraceOpts = "halt_on_error=1 atexit_sleep_ms=0"
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "GORACE="+goraceOpts)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	stdin, err := cmd.StdinPipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("starting worker %s: %w", cmd.Path, err)
	}
	pw.Close()
	p := &workerProc{cmd: cmd, stdin: stdin, lines: make(chan string, 64), exit: make(chan struct{})}
	go func() {
		br := bufio.NewReaderSize(pr, 1<<16)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				p.lines <- strings.TrimRight(line, "\n")
			}
			if err != nil {
				break
			}
		}
		pr.Close()
		close(p.lines)
		p.err = cmd.Wait()
		close(p.exit)
	}()
	return p, nil
}

// Do runs spec in the current worker, or a new one. A worker that dies during
// the run gives an outcome of its own: DataRace when it exited with the race
// detector's status 66, otherwise a Panic describing the crash. An error
// means the run could not be made (the worker would not start, or ctx ended).
func (r *WorkerRunner) Do(ctx context.Context, spec RunSpec) (Outcome, error) {
	if r.proc == nil {
		p, err := r.start()
		if err != nil {
			return Outcome{}, err
		}
		r.proc = p
	}
	p := r.proc
	data, err := json.Marshal(spec)
	if err != nil {
		return Outcome{}, err
	}
	// A write to a worker that has just died fails; the reader below then
	// sees the end of its output and reports the death.
	_, _ = p.stdin.Write(append(data, '\n'))
	var segment strings.Builder
	began := false
	limit := r.RunTimeout
	if limit <= 0 {
		limit = 5 * time.Minute
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			r.kill()
			return Outcome{}, ctx.Err()
		case <-timer.C:
			r.kill()
			return Outcome{Seed: spec.Seed, Incomplete: true, Violations: []checkers.Violation{{Kind: harness.Stuck, Message: fmt.Sprintf(
				"the worker did not finish seed %d within %v of wall time and was killed:\n%s", spec.Seed, limit, segment.String())}}}, nil
		case line, ok := <-p.lines:
			if !ok {
				<-p.exit
				r.proc = nil
				return r.died(p, spec, began, segment.String())
			}
			switch {
			case strings.HasPrefix(line, workerBegin):
				began = true
				segment.Reset()
			case strings.HasPrefix(line, workerEnd):
				var out Outcome
				if err := json.Unmarshal([]byte(line[len(workerEnd):]), &out); err != nil {
					r.kill()
					return Outcome{}, fmt.Errorf("worker: bad outcome line: %v", err)
				}
				races := parseRaces(segment.String())
				out.Violations = append(races, out.Violations...)
				if len(races) > 0 {
					// This process has reported these races: it cannot
					// report them for another run.
					r.Close()
				}
				return out, nil
			case line == workerPoisoned:
				// The worker quits after this; the next Do starts another.
			default:
				if began {
					segment.WriteString(line)
					segment.WriteByte('\n')
				}
				p.tail = append(p.tail, line)
				if len(p.tail) > 40 {
					p.tail = p.tail[1:]
				}
				if r.Output != nil {
					fmt.Fprintln(r.Output, line)
				}
			}
		}
	}
}

// died makes the outcome of a run whose worker exited before finishing it.
func (r *WorkerRunner) died(p *workerProc, spec RunSpec, began bool, segment string) (Outcome, error) {
	status := -1
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		status = ee.ExitCode()
	} else if p.err == nil {
		status = 0
	}
	if !began {
		return Outcome{}, fmt.Errorf("worker %s exited (status %d) before running seed %d:\n%s",
			p.cmd.Path, status, spec.Seed, strings.Join(p.tail, "\n"))
	}
	out := Outcome{Seed: spec.Seed, Incomplete: true}
	if status == raceExitStatus || strings.Contains(segment, "WARNING: DATA RACE") {
		out.Violations = parseRaces(segment)
		if len(out.Violations) == 0 {
			out.Violations = []checkers.Violation{{Kind: harness.DataRace, Message: "the race detector ended the worker (exit status 66) during this run:\n" + segment}}
		}
		return out, nil
	}
	out.Violations = []checkers.Violation{{Kind: harness.Panic, Message: fmt.Sprintf(
		"the worker process died (exit status %d) while running this seed:\n%s", status, segment)}}
	return out, nil
}

func (r *WorkerRunner) kill() {
	if r.proc == nil {
		return
	}
	p := r.proc
	r.proc = nil
	p.stdin.Close()
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	go func() {
		for range p.lines {
		}
	}()
	select {
	case <-p.exit:
	case <-time.After(5 * time.Second):
	}
}

// Close ends the current worker, if any: it closes the worker's input and
// waits a little for it to exit, then kills it.
func (r *WorkerRunner) Close() {
	if r.proc == nil {
		return
	}
	p := r.proc
	r.proc = nil
	p.stdin.Close()
	go func() {
		for range p.lines {
		}
	}()
	select {
	case <-p.exit:
	case <-time.After(2 * time.Second):
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
		}
		<-p.exit
	}
}
