package gotest

import (
	"fmt"
	"path"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/heddle-go/heddle/harness"
)

// sweep runs one Test function over the seeds of the Spec.
type sweep struct {
	t    *testing.T
	body func(*testing.T)
	spec *Spec

	seeds, failed int
}

func (s *sweep) run() {
	name, depth, steps, err := ParseStrategy(s.spec.Strategy)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() {
		emit(Record{Type: RecDone, Test: s.t.Name(), Seeds: s.seeds, Failed: s.failed})
	}()
	for _, sv := range s.spec.Saved {
		if sv.Test != s.t.Name() {
			continue
		}
		rec := s.one("saved="+path.Base(sv.File), sv.Seed, sv.Strategy, harness.Guided(sv.Seed, sv.Schedule), sv.File)
		if s.stop(rec) {
			return
		}
	}
	if name == "pct" && steps == 0 {
		steps = s.spec.Steps
	}
	if name == "pct" && steps == 0 {
		// PCT's guarantee needs the number of scheduling points of a run:
		// that of seed 0 with the random walk, which is a run like any
		// other (a failure in it is reported).
		rec := s.one("calibrate", 0, "random", harness.RandomWalk(), "")
		steps = max(rec.Steps, 1)
		emit(Record{Type: RecCalibrated, Test: s.t.Name(), Steps: steps})
		if s.stop(rec) {
			return
		}
	}
	label := s.spec.Strategy
	if name == "pct" {
		label = fmt.Sprintf("pct:%d:%d", depth, steps)
	}
	for i := range s.spec.Count {
		seed := s.spec.First + int64(i)
		if n := int64(s.spec.Shards); n > 1 && seed%n != int64(s.spec.Shard-1) {
			continue
		}
		rec := s.one(fmt.Sprintf("seed=%d", seed), seed, label, newStrategy(name, depth, steps), "")
		if s.stop(rec) {
			return
		}
	}
}

// stop reports whether the sweep ends after rec: at the first failure,
// unless the Spec keeps going; and after a data race or a Stuck run in any
// case, asking the parent to go on in a new process.
func (s *sweep) stop(rec Record) bool {
	if rec.Type == "" {
		return false // left out by -run
	}
	if rec.Passed || rec.Skipped {
		return rec.Skipped && rec.Run != "calibrate" && rec.Saved == ""
	}
	if !s.spec.KeepGoing {
		return true
	}
	for _, f := range rec.Failures {
		if f.Kind == string(harness.DataRace) || f.Kind == string(harness.Stuck) {
			emit(Record{Type: RecRestart, Test: s.t.Name(), Seed: rec.Seed, Run: rec.Run})
			return true
		}
	}
	return false
}

// one runs the test once, as the subtest run, and reports it; saved is the
// file of the saved schedule it re-runs, if any.
func (s *sweep) one(run string, seed int64, label string, st harness.Strategy, saved string) Record {
	rec := Record{Type: RecEnd, Test: s.t.Name(), Run: run, Seed: seed, Strategy: label, Saved: saved}
	opts := harness.Options{Seed: seed, Strategy: st, Trace: s.spec.Trace,
		MaxSteps: s.spec.MaxSteps, Watchdog: s.spec.Watchdog}
	var res *harness.Result
	var explicit, skipped bool
	s.t.Run(run, func(t *testing.T) {
		emit(Record{Type: RecBegin, Test: s.t.Name(), Run: run, Seed: seed, Strategy: label, Saved: saved})
		r := &seedRun{scopes: map[*testing.T]*scope{}, requests: make(chan *subtestRequest)}
		go r.serve()
		setCurrent(r)
		res = harness.Run(opts, func() { r.main(t, s.body) })
		setCurrent(nil)
		r.release(res)
		explicit, skipped = t.Failed(), t.Skipped()
		if res.Failed() {
			t.Errorf("%s%v", errorPrefix, res.Err())
		}
	})
	if res == nil {
		// -run left this run out.
		rec.Type, rec.Skipped = "", true
		return rec
	}
	s.seeds++
	rec.Steps, rec.Schedule, rec.TraceHash, rec.Preemptions = res.Steps, res.Schedule, res.TraceHash, res.Preemptions
	for _, f := range res.Failures {
		rec.Failures = append(rec.Failures, Failure{Kind: string(f.Kind), Message: f.Message, Text: f.String()})
	}
	// testing marks a test failed when the race detector reported during
	// it, so t.Failed says nothing more in a run with a data race.
	if explicit && !hasKind(res, harness.DataRace) {
		rec.Failures = append(rec.Failures, Failure{Kind: KindTestFailed, Message: "the test failed (see its output)"})
	}
	rec.Skipped = skipped && len(rec.Failures) == 0
	rec.Passed = len(rec.Failures) == 0 && !rec.Skipped
	if !rec.Passed && !rec.Skipped {
		s.failed++
		if s.spec.Trace {
			rec.Trace = events(res.Trace)
		}
	}
	if rec.Passed {
		rec.Schedule = nil // only a failure is kept
	}
	emit(rec)
	return rec
}

func hasKind(res *harness.Result, k harness.Kind) bool {
	for _, f := range res.Failures {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// events converts a trace for the parent.
func events(evs []harness.Event) []Event {
	out := make([]Event, len(evs))
	files := map[uintptr]string{}
	for i, e := range evs {
		file, ok := files[e.PC]
		if !ok && e.PC != 0 {
			f, _ := runtime.CallersFrames([]uintptr{e.PC}).Next()
			file = f.File
			files[e.PC] = file
		}
		out[i] = Event{Step: e.Step, Time: e.Time, G: e.G, Node: e.Node, Kind: e.Kind.String(),
			Site: e.Site(), File: file, Detail: e.Detail}
	}
	return out
}

// seedRun is one run of a test: the scopes of its test and subtests, and
// the goroutine that starts its subtests (outside the World).
type seedRun struct {
	mu       sync.Mutex
	scopes   map[*testing.T]*scope
	pending  []*subtestRequest
	requests chan *subtestRequest
}

func (r *seedRun) scope(t *testing.T) *scope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scopes[t]
}

func (r *seedRun) enter(t *testing.T) *scope {
	sc := &scope{run: r, t: t}
	r.mu.Lock()
	r.scopes[t] = sc
	r.mu.Unlock()
	return sc
}

// main is the World's main goroutine: the test's body, then its scope.
func (r *seedRun) main(t *testing.T, body func(*testing.T)) {
	sc := r.enter(t)
	defer sc.finish()
	body(t)
}

// A subtestRequest asks the serving goroutine for a subtest: it calls
// parent.Run(name, ...), whose function hands the subtest's *testing.T back
// (reply) and waits until the World is done with it (finished); result is
// what Run returned. A subtest that -run leaves out replies nil.
type subtestRequest struct {
	parent   *testing.T
	name     string
	reply    chan *testing.T
	finished chan struct{}
	result   chan bool
	sub      *testing.T
	done     bool
}

// serve starts the subtests the run asks for. It runs outside the World
// (started by the sweep, not by a goroutine of the World), and so do the
// goroutines testing starts for the subtests: they only wait.
func (r *seedRun) serve() {
	for req := range r.requests {
		go func() {
			ran := false
			ok := req.parent.Run(req.name, func(sub *testing.T) {
				ran = true
				req.reply <- sub
				<-req.finished
			})
			if !ran {
				req.reply <- nil
			}
			req.result <- ok
		}()
	}
}

// subtest runs f as the subtest name of parent, on a new goroutine of the
// World, and waits for it. Talking to the serving goroutine takes real
// channel operations, outside the World's scheduler: they are brief (testing
// starts the subtest's goroutine at once), and the World goes on from the
// same goroutine afterwards.
func (r *seedRun) subtest(parent *testing.T, name string, f func(*testing.T)) bool {
	req := &subtestRequest{parent: parent, name: name, reply: make(chan *testing.T, 1),
		finished: make(chan struct{}), result: make(chan bool, 1)}
	r.requests <- req
	sub := <-req.reply
	if sub == nil {
		return <-req.result
	}
	req.sub = sub
	r.mu.Lock()
	r.pending = append(r.pending, req)
	r.mu.Unlock()
	sc := r.enter(sub)
	var wg harness.WaitGroup
	wg.Add(1)
	harness.Go(func() {
		defer wg.Done()
		defer sc.finish()
		f(sub)
	})
	wg.Wait()
	r.mu.Lock()
	req.done = true
	r.mu.Unlock()
	close(req.finished)
	return <-req.result
}

// release ends, once the World is over, the subtests it did not finish (the
// run ended in a deadlock, a panic, ...) and the serving goroutine.
func (r *seedRun) release(res *harness.Result) {
	close(r.requests)
	r.mu.Lock()
	pending := r.pending
	r.mu.Unlock()
	for _, req := range pending {
		if req.done {
			continue
		}
		var kinds []string
		for _, f := range res.Failures {
			kinds = append(kinds, string(f.Kind))
		}
		req.sub.Errorf("heddle: the run ended (%s) before this subtest returned", strings.Join(kinds, ", "))
		close(req.finished)
		<-req.result
	}
}
