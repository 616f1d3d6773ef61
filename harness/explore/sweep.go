package explore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
)

// Runner runs one RunSpec of a variant and returns its outcome. An error
// means the run could not be made at all (not that it failed).
// *WorkerRunner runs specs in worker processes; *InProcessRunner in this one.
type Runner interface {
	Do(ctx context.Context, spec RunSpec) (Outcome, error)
	Close()
}

// InProcessRunner runs specs in this process. It cannot see data races
// itself; Wrap, if set, runs each spec inside something that can (go test
// wraps it in a subtest, which the testing package fails when the race
// detector reports during it) and returns whether that failed.
type InProcessRunner struct {
	Variant Variant
	Wrap    func(spec RunSpec, run func() Outcome) (failed bool)
}

// Do runs spec. A wrapped run that failed without any violation of its own
// is a data race the race detector reported during it.
func (r *InProcessRunner) Do(ctx context.Context, spec RunSpec) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	var out Outcome
	if r.Wrap == nil {
		return RunOnce(r.Variant, spec), nil
	}
	failed := r.Wrap(spec, func() Outcome {
		out = RunOnce(r.Variant, spec)
		return out
	})
	if failed && !out.Failed() {
		out.Seed = spec.Seed
		out.Violations = []checkers.Violation{{Kind: harness.DataRace,
			Message: "the race detector reported a data race during this run (the WARNING: DATA RACE report is in the test output above)"}}
	}
	return out, nil
}

// Close does nothing.
func (r *InProcessRunner) Close() {}

// SweepOptions configures a sweep of seeds.
type SweepOptions struct {
	// Seeds are tried in this order, which should be ascending.
	Seeds []int64
	// Spec is the template of every run; its Seed is replaced.
	Spec RunSpec
	// Runners run the seeds, one lane each: with n runners, lane i tries
	// the seeds at positions i, i+n, i+2n, ...
	Runners []Runner
	// KeepGoing tries every seed instead of stopping at the first failure.
	KeepGoing bool
	// Progress, if set, is called after each run with the number done.
	Progress func(done int)
}

// SweepResult is what a sweep found.
type SweepResult struct {
	// First is the failing outcome with the lowest seed position, or nil.
	First *Outcome
	// Failing counts failing seeds seen (all of them with KeepGoing).
	Failing int
	// Tried counts the runs completed.
	Tried int
	// Elapsed is the sweep's wall time; TimeToDetect the wall time until
	// First was found.
	Elapsed, TimeToDetect time.Duration
	// Interrupted is set when ctx ended the sweep before every seed ran.
	Interrupted bool
	// Err is an infrastructure failure (a worker that would not start).
	Err error
}

// Sweep runs seeds until the first failure (every seed with KeepGoing) or
// until ctx ends. Every seed before the first failing one has been tried
// and passed, even with several lanes.
func Sweep(ctx context.Context, opts SweepOptions) SweepResult {
	var (
		mu       sync.Mutex
		res      SweepResult
		bestPos  = -1
		start    = time.Now()
		wg       sync.WaitGroup
		failures = map[int]bool{}
	)
	n := len(opts.Runners)
	if n == 0 {
		res.Err = errors.New("sweep: no runners")
		return res
	}
	for lane := 0; lane < n; lane++ {
		wg.Add(1)
		go func(runner Runner) {
			defer wg.Done()
			for pos := lane; pos < len(opts.Seeds); pos += n {
				mu.Lock()
				stop := !opts.KeepGoing && bestPos >= 0 && pos > bestPos
				stop = stop || res.Err != nil
				mu.Unlock()
				if stop {
					return
				}
				spec := opts.Spec
				spec.Seed = opts.Seeds[pos]
				spec.FailingScheduleOnly = true // only a failing run's is kept
				out, err := runner.Do(ctx, spec)
				mu.Lock()
				switch {
				case err != nil && ctx.Err() != nil:
					res.Interrupted = true
				case err != nil:
					if res.Err == nil {
						res.Err = err
					}
				default:
					res.Tried++
					if out.Failed() {
						failures[pos] = true
						if bestPos < 0 || pos < bestPos {
							bestPos = pos
							o := out
							res.First = &o
							res.TimeToDetect = time.Since(start)
						}
					}
				}
				done := res.Tried
				mu.Unlock()
				if err != nil {
					return
				}
				if opts.Progress != nil {
					opts.Progress(done)
				}
			}
		}(opts.Runners[lane])
	}
	wg.Wait()
	res.Failing = len(failures)
	res.Elapsed = time.Since(start)
	if res.Tried < len(opts.Seeds) && res.First == nil && ctx.Err() != nil {
		res.Interrupted = true
	}
	return res
}

// Seeds returns count seeds starting at first, keeping those of shard k of
// n (1 <= k <= n): the seeds at positions k-1, k-1+n, k-1+2n, ... so that
// every shard covers the whole range evenly and the shards together cover
// it exactly once.
func Seeds(first int64, count int, k, n int) ([]int64, error) {
	if count < 0 {
		return nil, fmt.Errorf("bad seed count %d", count)
	}
	if n < 1 || k < 1 || k > n {
		return nil, fmt.Errorf("bad shard %d/%d: want k/n with 1 <= k <= n", k, n)
	}
	var out []int64
	for i := k - 1; i < count; i += n {
		out = append(out, first+int64(i))
	}
	return out, nil
}
