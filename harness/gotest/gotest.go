// Package gotest is the go test side of `heddle test`: what the test files
// of a rewritten package call, so that each Test function runs once per seed
// with its body as the main goroutine of a deterministic World.
//
// Rewritten code calls it; people do not. The rewriter (harness/rewrite,
// Config.Tests) wraps the body of every func TestXxx(t *testing.T) in Test,
// and points the calls of testing's Cleanup, Context, Parallel and Run
// (on a *testing.T, or a testing.TB) at Of:
//
//	func TestX(t *testing.T) {          func TestX(t *testing.T) { gotest.Test(t, func(t *testing.T) {
//		t.Parallel()                ->      gotest.Of(t).Parallel()
//		...                                 ...
//	}                                   })}
//
// Under heddle test (the test binary's environment names a Spec, see
// SpecEnv) Test runs the body once per seed, each run a subtest
// ("TestX/seed=17") whose body is the World's main goroutine, and reports
// every run to the parent on standard error (see Record). Inside such a run:
//
//   - t.Parallel does nothing: the runs of a test are sequential, and one
//     World runs at a time;
//   - t.Fatal, t.FailNow and t.Skip end the goroutine that calls them, as in
//     Go; in the World's main goroutine they end main, and the World goes on
//     to its leak check;
//   - t.Cleanup functions run at the end of main (or of the subtest), inside
//     the World, before the World's leak check; t.Context is a context of
//     the World, cancelled just before them;
//   - t.Run runs the subtest's function on a new goroutine of the World and
//     waits for it, as a subtest runs on a goroutine of its own in Go; the
//     subtest is a real one (its name, its -run filter, its failures).
//
// Without a Spec, Test runs the body once, as go test would: the rewritten
// package is then an ordinary test package (with channels and locks that
// fall back to the standard library's outside a World).
package gotest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/heddle-go/heddle/harness"
	hcontext "github.com/heddle-go/heddle/harness/std/context"
)

// Test runs body as the test t: once per seed of the Spec under heddle test,
// once as it is otherwise. The rewriter puts it around every Test function.
func Test(t *testing.T, body func(t *testing.T)) {
	sp, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if sp == nil {
		body(t)
		return
	}
	(&sweep{t: t, body: body, spec: sp}).run()
}

// spec is the Spec of this process, read once by loadSpec.
var spec struct {
	once sync.Once
	s    *Spec
	err  error
}

// loadSpec reads the Spec SpecEnv names (nil without one), and removes the
// variable from the environment.
func loadSpec() (*Spec, error) {
	spec.once.Do(func() {
		path := os.Getenv(SpecEnv)
		if path == "" {
			return
		}
		os.Unsetenv(SpecEnv)
		b, err := os.ReadFile(path)
		if err != nil {
			spec.err = fmt.Errorf("heddle test: reading the spec: %w", err)
			return
		}
		var s Spec
		if err := json.Unmarshal(b, &s); err != nil {
			spec.err = fmt.Errorf("heddle test: reading the spec %s: %w", path, err)
			return
		}
		spec.s = &s
	})
	return spec.s, spec.err
}

// Hooks is what rewritten code calls instead of the methods of a
// *testing.T (or testing.TB) that a World changes: Cleanup, Context,
// Parallel and Run. Outside a run of heddle test each is the method itself.
type Hooks struct{ tb testing.TB }

// Of returns the Hooks of tb.
func Of(tb testing.TB) Hooks { return Hooks{tb} }

// Cleanup registers f to run when the test (or subtest) ends: inside a
// World, at the end of its goroutine, last registered first, before the
// World checks for leaks.
func (h Hooks) Cleanup(f func()) {
	if sc := scopeOf(h.tb); sc != nil {
		sc.addCleanup(f)
		return
	}
	h.tb.Cleanup(f)
}

// Context returns a context that is cancelled just before the test's
// Cleanup functions run: inside a World, a context of the World.
func (h Hooks) Context() context.Context {
	if sc := scopeOf(h.tb); sc != nil {
		return sc.context()
	}
	return h.tb.Context()
}

// Parallel marks the test as one to run in parallel with others, except
// inside a World, where it does nothing: the seeds of a test run one after
// the other.
func (h Hooks) Parallel() {
	if scopeOf(h.tb) != nil {
		return
	}
	h.tb.(*testing.T).Parallel()
}

// Run runs f as a subtest of the test named name and reports whether it
// succeeded: inside a World, on a new goroutine of the World, while the
// caller waits, as t.Run does.
func (h Hooks) Run(name string, f func(t *testing.T)) bool {
	t := h.tb.(*testing.T)
	sc := scopeOf(t)
	if sc == nil {
		return t.Run(name, f)
	}
	return sc.run.subtest(t, name, f)
}

// The run in progress. A process runs one World at a time, and so one run
// of a test at a time: current is that run, set by the sweep before the
// World starts and cleared once it is over (harness.Run orders both with
// the World's goroutines).
var current struct {
	mu  sync.Mutex
	run *seedRun
}

func currentRun() *seedRun {
	current.mu.Lock()
	defer current.mu.Unlock()
	return current.run
}

func setCurrent(r *seedRun) {
	current.mu.Lock()
	current.run = r
	current.mu.Unlock()
}

// scopeOf returns the scope of tb in the run in progress, or nil when tb is
// not a test of it (or no run is in progress).
func scopeOf(tb testing.TB) *scope {
	r := currentRun()
	if r == nil || !harness.DeterministicWorld() {
		return nil
	}
	t, ok := tb.(*testing.T)
	if !ok {
		return nil
	}
	return r.scope(t)
}

// A scope is one test of a run (the run's subtest, or a subtest of it): its
// Cleanup functions and its context.
type scope struct {
	run      *seedRun
	t        *testing.T
	mu       sync.Mutex
	cleanups []func()
	ctx      context.Context
	cancel   context.CancelFunc
}

func (sc *scope) addCleanup(f func()) {
	sc.mu.Lock()
	sc.cleanups = append(sc.cleanups, f)
	sc.mu.Unlock()
}

func (sc *scope) context() context.Context {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.ctx == nil {
		sc.ctx, sc.cancel = hcontext.WithCancel(context.Background())
	}
	return sc.ctx
}

// finish ends the scope inside the World: it cancels its context, then runs
// its Cleanup functions, last registered first, each in a deferred call of
// its own so that one that ends its goroutine (t.FailNow in a Cleanup) or
// one that cannot run because the World is being unwound leaves the others
// their turn.
func (sc *scope) finish() {
	sc.mu.Lock()
	fs := sc.cleanups
	sc.cleanups = nil
	cancel := sc.cancel
	sc.mu.Unlock()
	for _, f := range fs {
		defer f()
	}
	if cancel != nil {
		cancel()
	}
}
