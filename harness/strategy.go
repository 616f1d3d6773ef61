package harness

import "fmt"

// Strategy decides which runnable goroutine runs at each scheduling point.
// A strategy sees the runnable goroutines and where each one stands, never
// wall-clock time, so its choices depend only on the seed. The strategies are
// RandomWalk, PCT and Replay; a Strategy value may be reused across runs (each
// run starts it afresh) but not by two runs at once.
type Strategy interface {
	// String names the strategy and its parameters, for reports.
	String() string
	// begin starts a run with the run's own random source.
	begin(r *prng)
	// pick returns the index in runnable (ordered by goroutine id) of the
	// goroutine to run; cur is the goroutine that reached the scheduling
	// point, runnable or not.
	pick(runnable []*goroutine, cur *goroutine) int
}

// RandomWalk returns the strategy that picks uniformly among the runnable
// goroutines at every scheduling point.
func RandomWalk() Strategy { return &randomWalk{} }

type randomWalk struct{ r *prng }

func (s *randomWalk) String() string { return "random" }

//go:norace
func (s *randomWalk) begin(r *prng) { s.r = r }

//go:norace
func (s *randomWalk) pick(runnable []*goroutine, _ *goroutine) int {
	return s.r.intN(len(runnable))
}

// PCT returns the probabilistic concurrency testing strategy of Burckhardt et
// al. (ASPLOS 2010): every goroutine gets a random priority when it starts,
// the highest-priority runnable goroutine always runs, and at depth-1 steps
// chosen uniformly in [1, steps] the running goroutine drops below every
// other. A bug that needs depth ordering constraints is found in one run with
// probability at least 1/(n * steps^(depth-1)) for n goroutines. depth must
// be at least 1 and steps at least 1; steps should be about the number of
// scheduling points of a run (Result.Steps of a typical run).
func PCT(depth, steps int) (Strategy, error) {
	if depth < 1 {
		return nil, fmt.Errorf("pct: depth %d: must be at least 1", depth)
	}
	if steps < 1 {
		return nil, fmt.Errorf("pct: steps %d: must be at least 1", steps)
	}
	return &pct{depth: depth, steps: steps}, nil
}

type pct struct {
	depth, steps int
	r            *prng
	prio         []float64 // by goroutine id; 0 = not yet seen
	changes      []int     // the steps at which the running goroutine drops
	step         int
}

func (s *pct) String() string { return fmt.Sprintf("pct(d=%d,k=%d)", s.depth, s.steps) }

//go:norace
func (s *pct) begin(r *prng) {
	s.r = r
	s.prio = s.prio[:0]
	s.changes = s.changes[:0]
	s.step = 0
	for i := 1; i < s.depth; i++ {
		s.changes = append(s.changes, 1+r.intN(s.steps))
	}
}

//go:norace
func (s *pct) priority(g *goroutine) float64 {
	for len(s.prio) <= g.id {
		s.prio = append(s.prio, 0)
	}
	if s.prio[g.id] == 0 {
		// Initial priorities lie above every change-point priority.
		s.prio[g.id] = float64(s.depth) + 1 + s.r.float64()
	}
	return s.prio[g.id]
}

//go:norace
func (s *pct) pick(runnable []*goroutine, cur *goroutine) int {
	s.step++
	for i, at := range s.changes {
		if at == s.step && cur.state == gRunnable {
			s.priority(cur)
			s.prio[cur.id] = float64(s.depth - 1 - i)
		}
	}
	best, bestPrio := 0, -1.0
	for i, g := range runnable {
		if p := s.priority(g); p > bestPrio {
			best, bestPrio = i, p
		}
	}
	return best
}

// Replay returns a strategy that follows a recorded Result.Schedule: at the
// i-th choice it runs the goroutine the schedule names. Where the schedule is
// shorter than the run, or names a goroutine that is not runnable (the program
// or its faults changed), it keeps the current goroutine running if it can and
// otherwise runs the lowest-numbered runnable one: the choice that adds no
// preemption. Shrinking relies on that default.
func Replay(schedule []int) Strategy { return &replay{schedule: schedule} }

type replay struct {
	schedule []int
	i        int
}

func (s *replay) String() string { return fmt.Sprintf("replay(%d choices)", len(s.schedule)) }

//go:norace
func (s *replay) begin(*prng) { s.i = 0 }

//go:norace
func (s *replay) pick(runnable []*goroutine, cur *goroutine) int {
	want := -1
	if s.i < len(s.schedule) {
		want = s.schedule[s.i]
	}
	s.i++
	fallback := 0
	for i, g := range runnable {
		if g.id == want {
			return i
		}
		if g == cur {
			fallback = i
		}
	}
	return fallback
}
