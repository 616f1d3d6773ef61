package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
	"pgregory.net/rapid"
)

// Step is one fault of a plan and when it strikes: At is the time since the
// plan started (virtual time in deterministic mode).
type Step struct {
	At    time.Duration
	Fault Fault
}

// Plan is a nemesis: a schedule of faults, in order of time.
type Plan []Step

// Validate checks every step: times not negative and in order, and every
// fault valid on its own (Fault.Validate). Unknown nodes are found when the
// plan runs.
func (p Plan) Validate() error {
	for i, s := range p {
		if s.At < 0 {
			return fmt.Errorf("faults: plan step %d (%s): negative time %v", i, s.Fault, s.At)
		}
		if i > 0 && s.At < p[i-1].At {
			return fmt.Errorf("faults: plan step %d (%s) at %v comes before step %d at %v", i, s.Fault, s.At, i-1, p[i-1].At)
		}
		if err := s.Fault.Validate(); err != nil {
			return fmt.Errorf("faults: plan step %d: %w", i, err)
		}
	}
	return nil
}

// String renders the plan one step a line: "+1.5s crash a".
func (p Plan) String() string {
	if len(p) == 0 {
		return "(no faults)"
	}
	var b strings.Builder
	for i, s := range p {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "+%v %s", s.At, s.Fault)
	}
	return b.String()
}

// Run runs the plan on the calling goroutine of a World: it sleeps until each
// step's time (measured from the call) and applies the step's fault,
// recording a harness.Note "nemesis: <fault>" (and "nemesis: <fault>:
// <error>" when it could not apply). It returns when the plan is over, with
// the errors of the steps that failed, or early with ctx.Err() when ctx is
// done. An invalid plan returns an error at once and injects nothing.
func Run(ctx context.Context, p Plan) error {
	if err := p.Validate(); err != nil {
		return err
	}
	start := harness.Now()
	var errs []error
	for _, s := range p {
		if d := s.At - harness.Since(start); d > 0 {
			t := harness.NewTimer(d)
			if harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
				t.Stop()
				return ctx.Err()
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		harness.Note("nemesis: %s", s.Fault)
		if err := Apply(s.Fault); err != nil {
			harness.Note("nemesis: %s: %v", s.Fault, err)
			errs = append(errs, fmt.Errorf("step at %v: %w", s.At, err))
		}
	}
	return errors.Join(errs...)
}

// Go validates the plan and runs it (Run) on a new goroutine of the World,
// belonging to no node. Errors of single steps are only noted in the trace.
// Cancel ctx to stop the plan early (so that it does not outlive the test's
// main and show up as a leak).
func Go(ctx context.Context, p Plan) error {
	if err := p.Validate(); err != nil {
		return err
	}
	harness.Go(func() { _ = Run(ctx, p) })
	return nil
}

// Gen describes the plans to generate from a seed.
type Gen struct {
	// Nodes are the nodes faults may hit (at least one; link faults need two).
	Nodes []string
	// Horizon bounds the steps' times: they fall in [0, Horizon).
	Horizon time.Duration
	// MaxSteps bounds the number of faults; zero means 8.
	MaxSteps int
	// Kinds are the kinds of fault to draw from; nil means every kind.
	Kinds []Kind
	// MaxDown bounds how many nodes are down at once; zero means one.
	MaxDown int
	// MaxDelay bounds Delay faults' latency; zero means 100ms.
	MaxDelay time.Duration
	// Recover ends the plan, at Horizon, with a Heal and a Restart of every
	// node it left down, so that a test can check that the system recovers.
	Recover bool
}

// Validate reports whether the generator can make plans.
func (g Gen) Validate() error {
	if len(g.Nodes) == 0 {
		return fmt.Errorf("faults: Gen: no nodes")
	}
	for i, n := range g.Nodes {
		if n == "" || slices.Contains(g.Nodes[:i], n) {
			return fmt.Errorf("faults: Gen: node %d: empty or repeated name %q", i, n)
		}
	}
	if g.Horizon <= 0 {
		return fmt.Errorf("faults: Gen: horizon %v must be positive", g.Horizon)
	}
	if g.MaxSteps < 0 || g.MaxDown < 0 || g.MaxDelay < 0 {
		return fmt.Errorf("faults: Gen: negative MaxSteps %d, MaxDown %d or MaxDelay %v", g.MaxSteps, g.MaxDown, g.MaxDelay)
	}
	for _, k := range g.Kinds {
		if !slices.Contains(Kinds, k) {
			return fmt.Errorf("faults: Gen: unknown fault kind %q", k)
		}
	}
	return nil
}

// Generator returns a rapid generator of plans: inside rapid.Check a failing
// plan shrinks to fewer, earlier, simpler faults. Every plan it makes is
// well-formed: it crashes only running nodes, restarts only crashed ones, and
// keeps at most MaxDown nodes down at once.
func (g Gen) Generator() (*rapid.Generator[Plan], error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	maxSteps, maxDown, maxDelay := g.MaxSteps, g.MaxDown, g.MaxDelay
	if maxSteps == 0 {
		maxSteps = 8
	}
	if maxDown == 0 {
		maxDown = 1
	}
	if maxDelay == 0 {
		maxDelay = 100 * time.Millisecond
	}
	kinds := g.Kinds
	if kinds == nil {
		kinds = Kinds
	}
	return rapid.Custom(func(t *rapid.T) Plan {
		n := rapid.IntRange(0, maxSteps).Draw(t, "steps")
		times := make([]time.Duration, n)
		for i := range times {
			times[i] = time.Duration(rapid.Int64Range(0, int64(g.Horizon)-1).Draw(t, "at"))
		}
		slices.Sort(times)
		down := map[string]bool{}
		var plan Plan
		for _, at := range times {
			var up, dead []string
			for _, name := range g.Nodes {
				if down[name] {
					dead = append(dead, name)
				} else {
					up = append(up, name)
				}
			}
			var possible []Kind
			for _, k := range kinds {
				switch k {
				case KindCrash, KindBlackHole:
					if len(up) > 0 && len(dead) < maxDown {
						possible = append(possible, k)
					}
				case KindRestart:
					if len(dead) > 0 {
						possible = append(possible, k)
					}
				case KindHeal:
					possible = append(possible, k)
				default: // link faults and Isolate
					if len(g.Nodes) >= 2 {
						possible = append(possible, k)
					}
				}
			}
			if len(possible) == 0 {
				continue
			}
			f := Fault{Kind: rapid.SampledFrom(possible).Draw(t, "kind")}
			switch f.Kind {
			case KindCrash, KindBlackHole:
				f.Node = rapid.SampledFrom(up).Draw(t, "node")
				down[f.Node] = true
			case KindRestart:
				f.Node = rapid.SampledFrom(dead).Draw(t, "node")
				down[f.Node] = false
			case KindIsolate:
				f.Node = rapid.SampledFrom(g.Nodes).Draw(t, "node")
			case KindHeal:
			default:
				i := rapid.IntRange(0, len(g.Nodes)-1).Draw(t, "from")
				j := rapid.IntRange(0, len(g.Nodes)-2).Draw(t, "to")
				if j >= i {
					j++
				}
				f.From, f.To = g.Nodes[i], g.Nodes[j]
				f.OneWay = rapid.Bool().Draw(t, "oneway")
				switch f.Kind {
				case KindDelay:
					f.Delay = time.Duration(rapid.Int64Range(0, int64(maxDelay)).Draw(t, "delay"))
				case KindDrop, KindDuplicate, KindReorder:
					f.P = rapid.Float64Range(0, 1).Draw(t, "p")
				}
			}
			plan = append(plan, Step{At: at, Fault: f})
		}
		if g.Recover {
			plan = append(plan, Step{At: g.Horizon, Fault: Heal()})
			for _, name := range g.Nodes {
				if down[name] {
					plan = append(plan, Step{At: g.Horizon, Fault: Restart(name)})
				}
			}
		}
		return plan
	}), nil
}

// Example returns the plan the generator makes from seed: the same seed
// always gives the same plan. The explorer uses it to give every seed its own
// nemesis.
func (g Gen) Example(seed int64) (Plan, error) {
	gen, err := g.Generator()
	if err != nil {
		return nil, err
	}
	return gen.Example(int(seed)), nil
}
