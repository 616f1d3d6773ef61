package harness

import (
	"fmt"
	"strings"
	"time"
)

// Strategy decides, at each scheduling point, which runnable goroutine runs
// next, and whether the virtual clock fires its next timer first. A strategy
// sees the runnable goroutines and where each one stands, never wall-clock
// time, so its choices depend only on the seed. The strategies are RandomWalk,
// PCT, Replay and Guided, optionally Jittered; a Strategy value may be reused
// across runs (each run starts it afresh) but not by two runs at once.
//
// The clock is a choice wherever a timer could fire while goroutines are
// runnable: a timer due at the current instant (so that the order of
// same-instant events is explored: which of two timers due together fires
// first, whether a woken goroutine runs before the next one fires), a timer
// due within a millisecond, once between two moments at which every
// goroutine was blocked (work that takes a little less time than a timeout
// can lose to it), and, while every runnable goroutine spins (it polled
// again, without progress, what it polled before: Yield, a select with a
// default, Poll), the next timer however far (a spinning goroutine is
// noticed, and time passes for it). After a timer
// fires ahead of its default, a goroutine runs before the clock may move
// again. Each of these decisions is recorded in Result.Schedule (ClockFire,
// ClockWait).
type Strategy interface {
	// String names the strategy and its parameters, for reports.
	String() string
	// begin starts a run of the given seed.
	begin(seed int64)
	// pick returns the index in c.runnable (ordered by goroutine id) of the
	// goroutine to run, or pickClock to fire the next timer (only when
	// c.clock says it may).
	pick(c *choice) int
}

// ClockFire and ClockWait are the entries of a Result.Schedule that record a
// decision of the clock: at a scheduling point where a timer could fire while
// goroutines were runnable, ClockFire says it fired, ClockWait that it did
// not (a goroutine ran: the next entry names it if several could). Where a
// replayed schedule has no clock entry at such a point (schedules recorded
// before the clock was a choice) or has -1 ("no preference", as shrinkers
// write), the replay takes the default: timers due when the clock moved
// fire before the goroutines they wake, and other timers fire only when
// nothing else can run.
const (
	ClockFire = -2
	ClockWait = -3
)

// pickClock is what pick returns to fire the next timer.
const pickClock = -1

type clockKind uint8

const (
	clockNone  clockKind = iota // no timer may fire now
	clockDue                    // the next timer is due now: firing it costs no virtual time
	clockEarly                  // it is due within earlyHorizon
	clockSpin                   // every runnable goroutine is polling: it may fire however far ahead
)

// choice is one scheduling decision, as a strategy sees it.
type choice struct {
	runnable []*goroutine
	cur      *goroutine // the goroutine that reached the scheduling point, runnable or not
	clock    clockKind
	// fireByDefault is what replays do where the schedule says nothing.
	fireByDefault bool
	// diverged is set by a replay that cannot follow its schedule: what it
	// wanted.
	diverged string
}

// RandomWalk returns the strategy that picks uniformly among the runnable
// goroutines at every scheduling point, the clock counting as one more
// option wherever a timer may fire.
func RandomWalk() Strategy { return &randomWalk{} }

type randomWalk struct{ r *prng }

func (s *randomWalk) String() string { return "random" }

//go:norace
func (s *randomWalk) begin(seed int64) { s.r = newPRNG(seed, 2) }

//go:norace
func (s *randomWalk) pick(c *choice) int {
	n := len(c.runnable)
	if c.clock == clockNone {
		return s.r.intN(n)
	}
	if i := s.r.intN(n + 1); i < n {
		return i
	}
	return pickClock
}

// PCT returns the probabilistic concurrency testing strategy of Burckhardt et
// al. (ASPLOS 2010): every goroutine gets a random priority when it starts,
// the highest-priority runnable goroutine always runs, and at depth-1 steps
// chosen uniformly in [1, steps] the running goroutine drops below every
// other. A bug that needs depth ordering constraints is found in one run with
// probability at least 1/(n * steps^(depth-1)) for n goroutines. depth must
// be at least 1 and steps at least 1; steps should be about the number of
// scheduling points of a run (Result.Steps of a typical run).
//
// Two departures from the paper keep it from starving a program into false
// alarms. A goroutine that polls without progress (Yield, a select that took
// its default, Poll) drops below every goroutine that has not polled since,
// the way other PCT implementations treat a yield: a spin on a flag lets the
// goroutine that would set it run. And the clock has a priority of its own,
// drawn like a goroutine's: in some runs timers fire as soon as they may, in
// others only when nothing else can run.
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
	clockPrio    float64
	low          float64 // the priority of the latest goroutine that polled
}

func (s *pct) String() string { return fmt.Sprintf("pct(d=%d,k=%d)", s.depth, s.steps) }

//go:norace
func (s *pct) begin(seed int64) {
	r := newPRNG(seed, 2)
	s.r = r
	s.prio = s.prio[:0]
	s.changes = s.changes[:0]
	s.step = 0
	s.low = 0
	for i := 1; i < s.depth; i++ {
		s.changes = append(s.changes, 1+r.intN(s.steps))
	}
	s.clockPrio = s.initial()
}

// initial draws a starting priority: above every change-point priority.
//
//go:norace
func (s *pct) initial() float64 { return float64(s.depth) + 1 + s.r.float64() }

//go:norace
func (s *pct) priority(g *goroutine) float64 {
	for len(s.prio) <= g.id {
		s.prio = append(s.prio, 0)
	}
	if s.prio[g.id] == 0 {
		s.prio[g.id] = s.initial()
	}
	return s.prio[g.id]
}

//go:norace
func (s *pct) pick(c *choice) int {
	cur := c.cur
	s.step++
	for i, at := range s.changes {
		if at == s.step && cur.state == gRunnable {
			s.priority(cur)
			s.prio[cur.id] = float64(s.depth - 1 - i)
		}
	}
	if cur.polls > 0 && cur.state == gRunnable {
		// Below everything, and below every goroutine that polled before.
		s.priority(cur)
		s.low--
		s.prio[cur.id] = s.low
	}
	best, bestPrio := 0, -1e300
	for i, g := range c.runnable {
		if p := s.priority(g); p > bestPrio {
			best, bestPrio = i, p
		}
	}
	if c.clock != clockNone && s.clockPrio > bestPrio {
		return pickClock
	}
	return best
}

// Replay returns the strategy that replays a run: the run's seed (it decides
// everything the schedule does not: select's choices, IntN, latencies, the
// fault plan a case draws) and its Result.Schedule. Run it with Options.Seed
// set to the same seed (a run with another seed fails as Diverged at once),
// and wrapped in the same Jittered as the run it replays, if any.
//
// A replay is strict: where the schedule names a goroutine that is not
// runnable, or the clock when no timer may fire, or ends before the run does,
// or the run ends before it, the run stops with a Diverged failure ("schedule
// diverged at step N: wanted g99, runnable g1 g3"): the program, or its
// faults, changed since the schedule was recorded. An entry -1 means no
// preference: the choice that adds no preemption.
func Replay(seed int64, schedule []int) Strategy {
	return &replay{seed: seed, schedule: schedule, strict: true}
}

// Guided returns a strategy that follows a schedule as far as it applies, for
// shrinking: where the schedule is shorter than the run, names a goroutine
// that is not runnable, or holds -1, it keeps the current goroutine running
// if it can and otherwise runs the lowest-numbered runnable one (the choice
// that adds no preemption), and the clock does what it does by default. It
// never fails a run. The seed must be the run's, as for Replay.
func Guided(seed int64, schedule []int) Strategy {
	return &replay{seed: seed, schedule: schedule}
}

type replay struct {
	seed     int64
	schedule []int
	strict   bool
	i        int
}

func (s *replay) String() string {
	if s.strict {
		return fmt.Sprintf("replay(%d choices)", len(s.schedule))
	}
	return fmt.Sprintf("replay(%d choices, guided)", len(s.schedule))
}

//go:norace
func (s *replay) begin(int64) { s.i = 0 }

//go:norace
func (s *replay) pick(c *choice) int {
	if c.clock != clockNone {
		fire := c.fireByDefault
		if s.i < len(s.schedule) {
			switch s.schedule[s.i] {
			case ClockFire:
				fire = true
				s.i++
			case ClockWait:
				fire = false
				s.i++
			case -1:
				s.i++
			}
		}
		if fire {
			return pickClock
		}
		if len(c.runnable) == 1 {
			return 0
		}
	}
	if s.i >= len(s.schedule) {
		if s.strict {
			c.diverged = fmt.Sprintf("the schedule ended after %d choices", len(s.schedule))
		}
		return s.fallback(c)
	}
	want := s.schedule[s.i]
	s.i++
	if want == -1 {
		return s.fallback(c)
	}
	for i, g := range c.runnable {
		if g.id == want {
			return i
		}
	}
	if s.strict {
		if want == ClockFire || want == ClockWait {
			c.diverged = "wanted a decision of the clock, but no timer may fire"
		} else {
			c.diverged = fmt.Sprintf("wanted g%d", want)
		}
	}
	return s.fallback(c)
}

// fallback is the choice that adds no preemption.
//
//go:norace
func (s *replay) fallback(c *choice) int {
	for i, g := range c.runnable {
		if g == c.cur {
			return i
		}
	}
	return 0
}

// Jittered returns s with seeded jitter on timer deadlines: every Sleep,
// timer, ticker period and context deadline of duration d fires up to
// min(fraction*d, max) late, by a uniform draw from the run's seed (a stream
// of its own: the schedule does not move it). Go's timers are never early but
// may be late; jitter lets two nearly simultaneous events happen in either
// order (9 ms of work against a 10 ms timeout, with fraction 0.2).
//
// Jitter is off unless asked for. Early firing (see Strategy) already lets
// near-ties flip, as a scheduling choice the schedule records and the
// shrinker can undo; jitter changes the virtual times themselves, which the
// bounded-time checks of a case compare against its bounds: it is a fault
// model (a late timer) that a system need not tolerate, to be turned on by a
// case that claims to. A replay of a jittered run must be wrapped the same
// way: Jittered(Replay(seed, schedule), fraction, max). fraction must be in
// [0, 1] and max at least 0 (0: no cap).
func Jittered(s Strategy, fraction float64, max time.Duration) (Strategy, error) {
	if s == nil {
		s = RandomWalk()
	}
	if !(fraction >= 0 && fraction <= 1) {
		return nil, fmt.Errorf("jitter: fraction %v: must be in [0, 1]", fraction)
	}
	if max < 0 {
		return nil, fmt.Errorf("jitter: max %v: must not be negative", max)
	}
	return &jittered{inner: s, fraction: fraction, max: max}, nil
}

type jittered struct {
	inner    Strategy
	fraction float64
	max      time.Duration
	r        *prng
}

func (j *jittered) String() string {
	capText := ""
	if j.max > 0 {
		capText = "," + j.max.String()
	}
	return fmt.Sprintf("%s+jitter(%g%s)", j.inner.String(), j.fraction, capText)
}

//go:norace
func (j *jittered) begin(seed int64) {
	j.inner.begin(seed)
	j.r = newPRNG(seed, 4)
}

//go:norace
func (j *jittered) pick(c *choice) int { return j.inner.pick(c) }

// delay draws the lateness of a timer of duration d.
//
//go:norace
func (j *jittered) delay(d time.Duration) time.Duration {
	bound := time.Duration(j.fraction * float64(d))
	if j.max > 0 && bound > j.max {
		bound = j.max
	}
	if bound <= 0 {
		return 0
	}
	return time.Duration(j.r.intN(int(bound) + 1))
}

// unwrapStrategy finds the jitter and the schedule a strategy carries.
func unwrapStrategy(s Strategy) (*jittered, *replay) {
	j, _ := s.(*jittered)
	if j != nil {
		s = j.inner
	}
	r, _ := s.(*replay)
	return j, r
}

// goroutineIDs renders goroutines as "g1 g3".
func goroutineIDs(gs []*goroutine) string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = fmt.Sprintf("g%d", g.id)
	}
	return strings.Join(ids, " ")
}
