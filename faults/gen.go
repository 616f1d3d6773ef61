package faults

import (
	"fmt"
	"slices"
	"time"

	"pgregory.net/rapid"
)

// Gen describes the plans to generate from a seed: built-in faults on Nodes,
// the case's own Actions, or both.
type Gen struct {
	// Nodes are the nodes built-in faults may hit (link faults need two). It
	// may be empty when Actions are given: the plans then hold only actions.
	Nodes []string
	// Horizon bounds the steps' times: they fall in [0, Horizon).
	Horizon time.Duration
	// MaxSteps bounds the number of faults; zero means 8.
	MaxSteps int
	// Kinds are the built-in kinds of fault to draw from; nil means every
	// kind in Kinds when Nodes are given, none when they are not.
	Kinds []Kind
	// Actions are the case's actions the generator may draw besides Kinds,
	// each as likely as one built-in kind.
	Actions []ActionGen
	// MaxDown bounds how many nodes are down at once; zero means one.
	MaxDown int
	// MaxDelay bounds Delay faults' latency; zero means 100ms.
	MaxDelay time.Duration
	// Recover ends the plan, at Horizon, with a Heal and a Restart of every
	// node it left down, so that a test can check that the system recovers.
	Recover bool
}

// ActionGen lets Gen put one of the case's actions in its plans, and says
// how to draw its argument: from Args, by Draw, or none.
type ActionGen struct {
	// Name is the action's name (ValidActionName).
	Name string
	// Args, when not empty, are the arguments to draw from, each equally
	// likely ("p0", "p1", "p2").
	Args []string
	// Draw, when set (instead of Args), draws the argument from the plan
	// generator, seeing the steps drawn so far (a copy), so that an action
	// can keep the case's invariants ("rejoin" only a member that left).
	// ok false means the action cannot come next: the step is left out.
	Draw func(t *rapid.T, sofar Plan) (arg string, ok bool)
}

// Validate reports whether the generator can make plans.
func (g Gen) Validate() error {
	if len(g.Nodes) == 0 && len(g.Actions) == 0 {
		return fmt.Errorf("faults: Gen: no nodes and no actions")
	}
	if len(g.Nodes) == 0 && len(g.Kinds) > 0 {
		return fmt.Errorf("faults: Gen: kinds %v need nodes, and Nodes is empty", g.Kinds)
	}
	for i, n := range g.Nodes {
		if err := checkNodeName(n); err != nil {
			return fmt.Errorf("faults: Gen: node %d: %w", i+1, err)
		}
		if slices.Contains(g.Nodes[:i], n) {
			return fmt.Errorf("faults: Gen: node %d: repeated name %q", i+1, n)
		}
	}
	if g.Horizon <= 0 {
		return fmt.Errorf("faults: Gen: horizon %v must be positive", g.Horizon)
	}
	if g.MaxSteps < 0 || g.MaxDown < 0 || g.MaxDelay < 0 {
		return fmt.Errorf("faults: Gen: negative MaxSteps %d, MaxDown %d or MaxDelay %v", g.MaxSteps, g.MaxDown, g.MaxDelay)
	}
	for _, k := range g.Kinds {
		if k == KindAction {
			return fmt.Errorf("faults: Gen: kind %q is not drawn from Kinds: list the case's actions in Gen.Actions", k)
		}
		if !slices.Contains(Kinds, k) {
			return fmt.Errorf("faults: Gen: unknown fault kind %q", k)
		}
	}
	for i, a := range g.Actions {
		if err := ValidActionName(a.Name); err != nil {
			return fmt.Errorf("faults: Gen: action %d: %w", i+1, err)
		}
		if slices.ContainsFunc(g.Actions[:i], func(b ActionGen) bool { return b.Name == a.Name }) {
			return fmt.Errorf("faults: Gen: action %d: repeated name %q", i+1, a.Name)
		}
		if len(a.Args) > 0 && a.Draw != nil {
			return fmt.Errorf("faults: Gen: action %s: both Args and Draw are set; give one", a.Name)
		}
		for _, arg := range a.Args {
			if err := checkArg(arg); err != nil {
				return fmt.Errorf("faults: Gen: action %s: %w", a.Name, err)
			}
		}
	}
	return nil
}

// choice is one thing the generator may draw for a step: a built-in kind,
// or (kind KindAction) the action g.Actions[action].
type choice struct {
	kind   Kind
	action int
}

// Generator returns a rapid generator of plans: inside rapid.Check a failing
// plan shrinks to fewer, earlier, simpler faults. Every plan it makes is
// valid (Plan.Validate) and well-formed: it crashes only running nodes,
// restarts only crashed ones, and keeps at most MaxDown nodes down at once;
// actions keep whatever invariants their Draw keeps. A Draw that returns an
// argument no plan can carry fails the generator (rapid.Check reports it;
// Example returns it as an error).
func (g Gen) Generator() (*rapid.Generator[Plan], error) {
	return g.generator(nil)
}

// generator is Generator; bad, when set, hears of the first argument an
// action's Draw made that no plan can carry.
func (g Gen) generator(bad *error) (*rapid.Generator[Plan], error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	g.MaxSteps = cmp0(g.MaxSteps, 8)
	g.MaxDown = cmp0(g.MaxDown, 1)
	g.MaxDelay = cmp0(g.MaxDelay, 100*time.Millisecond)
	if g.Kinds == nil && len(g.Nodes) > 0 {
		g.Kinds = Kinds
	}
	return rapid.Custom(func(t *rapid.T) Plan { return g.draw(t, bad) }), nil
}

// cmp0 returns v, or def when v is zero.
func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// draw makes one plan; g has its defaults filled in. It draws how many
// steps and their times first, then each step's fault in time order,
// knowing which nodes are down so far.
func (g Gen) draw(t *rapid.T, bad *error) Plan {
	n := rapid.IntRange(0, g.MaxSteps).Draw(t, "steps")
	times := make([]time.Duration, n)
	for i := range times {
		times[i] = time.Duration(rapid.Int64Range(0, int64(g.Horizon)-1).Draw(t, "at"))
	}
	slices.Sort(times)
	down := map[string]bool{}
	var plan Plan
	for _, at := range times {
		if f, ok := g.drawFault(t, down, plan, bad); ok {
			plan = append(plan, Step{At: at, Fault: f})
		}
	}
	if g.Recover {
		plan = append(plan, g.recovery(down)...)
	}
	return plan
}

// drawFault draws the next step's fault, given the nodes down so far
// (which it updates) and the plan so far; ok false means the step is left
// out (nothing is possible, or an action cannot come next).
func (g Gen) drawFault(t *rapid.T, down map[string]bool, sofar Plan, bad *error) (f Fault, ok bool) {
	var up, dead []string
	for _, name := range g.Nodes {
		if down[name] {
			dead = append(dead, name)
		} else {
			up = append(up, name)
		}
	}
	possible := g.possible(len(up), len(dead))
	if len(possible) == 0 {
		return Fault{}, false
	}
	c := rapid.SampledFrom(possible).Draw(t, "kind")
	f = Fault{Kind: c.kind}
	switch c.kind {
	case KindCrash, KindBlackHole:
		f.Node = rapid.SampledFrom(up).Draw(t, "node")
		down[f.Node] = true
	case KindRestart:
		f.Node = rapid.SampledFrom(dead).Draw(t, "node")
		down[f.Node] = false
	case KindIsolate:
		f.Node = rapid.SampledFrom(g.Nodes).Draw(t, "node")
	case KindHeal:
	case KindAction:
		return g.drawAction(t, g.Actions[c.action], sofar, bad)
	default:
		f = g.drawLinkFault(t, c.kind)
	}
	return f, true
}

// recovery ends a plan at Horizon: a Heal, and a Restart of every node
// still down, in the order of Nodes.
func (g Gen) recovery(down map[string]bool) Plan {
	plan := Plan{{At: g.Horizon, Fault: Heal()}}
	for _, name := range g.Nodes {
		if down[name] {
			plan = append(plan, Step{At: g.Horizon, Fault: Restart(name)})
		}
	}
	return plan
}

// possible lists what the next step may be, given how many nodes are up and
// down.
func (g Gen) possible(up, dead int) []choice {
	var possible []choice
	for _, k := range g.Kinds {
		ok := true
		switch k {
		case KindCrash, KindBlackHole:
			ok = up > 0 && dead < g.MaxDown
		case KindRestart:
			ok = dead > 0
		case KindHeal:
		default: // link faults and Isolate
			ok = len(g.Nodes) >= 2
		}
		if ok {
			possible = append(possible, choice{kind: k})
		}
	}
	for i := range g.Actions {
		possible = append(possible, choice{kind: KindAction, action: i})
	}
	return possible
}

// drawLinkFault draws a link fault of kind k between two distinct nodes.
func (g Gen) drawLinkFault(t *rapid.T, k Kind) Fault {
	f := Fault{Kind: k}
	i := rapid.IntRange(0, len(g.Nodes)-1).Draw(t, "from")
	j := rapid.IntRange(0, len(g.Nodes)-2).Draw(t, "to")
	if j >= i {
		j++
	}
	f.From, f.To = g.Nodes[i], g.Nodes[j]
	f.OneWay = rapid.Bool().Draw(t, "oneway")
	switch k {
	case KindDelay:
		f.Delay = time.Duration(rapid.Int64Range(0, int64(g.MaxDelay)).Draw(t, "delay"))
	case KindDrop, KindDuplicate, KindReorder:
		f.P = rapid.Float64Range(0, 1).Draw(t, "p")
	}
	return f
}

// drawAction draws action a's fault, or reports that it cannot come next.
func (g Gen) drawAction(t *rapid.T, a ActionGen, sofar Plan, bad *error) (Fault, bool) {
	arg := ""
	switch {
	case len(a.Args) > 0:
		arg = rapid.SampledFrom(a.Args).Draw(t, a.Name)
	case a.Draw != nil:
		var ok bool
		if arg, ok = a.Draw(t, slices.Clone(sofar)); !ok {
			return Fault{}, false
		}
	}
	f := Act(a.Name, arg)
	if err := f.Validate(); err != nil {
		err = fmt.Errorf("faults: Gen: the Draw of action %s: %w", a.Name, err)
		if bad != nil && *bad == nil {
			*bad = err
		}
		t.Fatal(err)
	}
	return f, true
}

// Example returns the plan the generator makes from seed: the same seed
// always gives the same plan. The explorer uses it to give every seed its own
// nemesis.
func (g Gen) Example(seed int64) (p Plan, err error) {
	// rapid's Example retries a generator that fails (and panics after too
	// many tries): bad remembers the first failure, which is bad input.
	var bad error
	gen, err := g.generator(&bad)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("faults: Gen: seed %d: %v", seed, r)
		}
		if bad != nil {
			p, err = nil, fmt.Errorf("seed %d: %w", seed, bad)
		}
	}()
	return gen.Example(int(seed)), nil
}
