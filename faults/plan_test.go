package faults_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// everyKind is a plan with every kind of fault, each way a link fault can
// go, and actions with and without an argument.
var everyKind = faults.Plan{
	{At: 0, Fault: faults.Crash("a")},
	{At: 1, Fault: faults.BlackHole("b")},
	{At: 1500 * time.Millisecond, Fault: faults.Restart("a")},
	{At: 1500 * time.Millisecond, Fault: faults.Isolate("node-3.x")},
	{At: 2 * time.Second, Fault: faults.Partition("a", "b")},
	{At: 2 * time.Second, Fault: faults.PartitionOneWay("b", "c")},
	{At: 3 * time.Second, Fault: faults.Delay("a", "c", 20*time.Millisecond)},
	{At: 3 * time.Second, Fault: faults.Fault{Kind: faults.KindDelay, From: "c", To: "a", OneWay: true}},
	{At: 4 * time.Second, Fault: faults.Drop("a", "b", 0.1)},
	{At: 4 * time.Second, Fault: faults.Fault{Kind: faults.KindDuplicate, From: "a", To: "b", OneWay: true, P: 1}},
	{At: 5 * time.Second, Fault: faults.Reorder("b", "a", 1e-9)},
	{At: 5 * time.Second, Fault: faults.Drop("b", "c", math.Nextafter(0.3, 1))},
	{At: 6 * time.Second, Fault: faults.Heal()},
	{At: 6*time.Second + 293*time.Millisecond, Fault: faults.Act("move", "p2")},
	{At: 7 * time.Second, Fault: faults.Act("refresh-crash", "")},
	{At: 90 * time.Minute, Fault: faults.Act("swap2", "r1 r3")},
}

const everyKindText = "+0s crash a; +1ns blackhole b; +1.5s restart a; +1.5s isolate node-3.x; " +
	"+2s partition a<->b; +2s partition b->c; +3s delay a<->c 20ms; +3s delay c->a 0s; " +
	"+4s drop a<->b p=0.1; +4s duplicate a->b p=1; +5s reorder b<->a p=1e-09; " +
	"+5s drop b<->c p=0.30000000000000004; +6s heal; +6.293s move p2; +7s refresh-crash; " +
	"+1h30m0s swap2 r1 r3"

// A plan is written on one line, and read back exactly.
func TestPlanStringOneLine(t *testing.T) {
	require.NoError(t, everyKind.Validate())
	require.Equal(t, everyKindText, everyKind.String())
	got, err := faults.ParsePlan(everyKindText)
	require.NoError(t, err)
	require.Equal(t, everyKind, got)

	require.Equal(t, "none", faults.Plan{}.String())
	require.Equal(t, "none", faults.Plan(nil).String())
	for _, empty := range []string{"", "none", "  none \n", " \n ; ;"} {
		p, err := faults.ParsePlan(empty)
		require.NoError(t, err, "%q", empty)
		require.Nil(t, p, "%q", empty)
	}
}

// The parser takes newlines as separators, and any run of spaces between
// words, and skips empty steps.
func TestParsePlanTolerates(t *testing.T) {
	for _, text := range []string{
		"+0s crash a;+1.5s restart a;+2s partition a<->b",
		"  +0s   crash\ta ;   +1.5s restart  a;\n\n+2s partition a<->b ;",
		"+0s crash a\n+1.5s restart a\r\n+ 2s partition a<->b\n",
		"+0s crash a\n;\n+1500ms restart a; +2000ms partition a<->b",
	} {
		p, err := faults.ParsePlan(text)
		require.NoError(t, err, "%q", text)
		require.Equal(t, "+0s crash a; +1.5s restart a; +2s partition a<->b", p.String(), "%q", text)
	}
}

// Every error names the step, quotes it, and says what was expected.
func TestParsePlanErrors(t *testing.T) {
	for _, c := range []struct{ text, step, want string }{
		{"crash a", `step 1 "crash a"`, `want "+TIME FAULT"`},
		{"+1s crash a; +2x heal", `step 2 "+2x heal"`, "bad time"},
		{"+1s heal; +-1s heal", `step 2 "+-1s heal"`, "bad time"},
		{"+1s", `step 1 "+1s"`, "no fault after the time"},
		{"+1s crash", `step 1 "+1s crash"`, `want "crash NODE"`},
		{"+1s crash a b", `step 1 "+1s crash a b"`, `want "crash NODE"`},
		{"+1s heal now", `step 1 "+1s heal now"`, `want "heal"`},
		{"+1s partition ab", `step 1 "+1s partition ab"`, "want A<->B (both ways) or A->B (one way)"},
		{"+1s partition a<->", `step 1 "+1s partition a<->"`, "two nodes"},
		{"+1s partition a<->a", `step 1 "+1s partition a<->a"`, "same node"},
		{"+1s delay a<->b", `step 1 "+1s delay a<->b"`, `want "delay A<->B TIME"`},
		{"+1s delay a<->b soon", `step 1 "+1s delay a<->b soon"`, "bad latency"},
		{"+1s delay a<->b -1ms", `step 1 "+1s delay a<->b -1ms"`, "negative delay"},
		{"+1s drop a->b 0.5", `step 1 "+1s drop a->b 0.5"`, "want p= and a number in [0, 1]"},
		{"+1s drop a->b p=1.5", `step 1 "+1s drop a->b p=1.5"`, "outside [0, 1]"},
		{"+1s reorder a->b p=NaN", `step 1 "+1s reorder a->b p=NaN"`, "outside [0, 1]"},
		{"+1s Crash a", `step 1 "+1s Crash a"`, `unknown fault "Crash": want a built-in kind (crash, blackhole`},
		{"+1s move--p2 x", `step 1 "+1s move--p2 x"`, "empty word"},
		{"+1s crash a<b", `step 1 "+1s crash a<b"`, "cannot be written in a plan"},
		{"+2s heal\n+1s heal", `step 2 "+1s heal"`, "comes before step 1"},
		{"+0s heal; ; +1s isolate", `step 2 "+1s isolate"`, `want "isolate NODE"`},
	} {
		p, err := faults.ParsePlan(c.text)
		require.Error(t, err, "%q", c.text)
		require.Nil(t, p)
		require.ErrorContains(t, err, "faults: plan "+c.step, "%q", c.text)
		require.ErrorContains(t, err, c.want, "%q", c.text)
	}
}

// Every plan Gen makes, actions included, reads back as it was written.
func TestParsePlanRoundTripGen(t *testing.T) {
	gen, err := faults.Gen{Nodes: []string{"r1", "r2", "meta-0"}, Horizon: 3 * time.Second, MaxSteps: 12, MaxDown: 2,
		Recover: true, Actions: []faults.ActionGen{
			{Name: "move", Args: []string{"p0", "p1", "p2"}},
			{Name: "refresh-crash"},
			{Name: "lead", Draw: func(t *rapid.T, _ faults.Plan) (string, bool) {
				return fmt.Sprintf("m%d to m%d", rapid.IntRange(0, 2).Draw(t, "from"), rapid.IntRange(0, 2).Draw(t, "to")), true
			}},
		}}.Generator()
	require.NoError(t, err)
	rapid.Check(t, func(t *rapid.T) {
		p := gen.Draw(t, "plan")
		require.NoError(t, p.Validate())
		text := p.String()
		require.NotContains(t, text, "\n")
		got, err := faults.ParsePlan(text)
		require.NoError(t, err, text)
		require.Equal(t, p, got, text)
	})
}

// anyFault draws any valid fault, with names, times and probabilities from
// their whole range.
func anyFault() *rapid.Generator[faults.Fault] {
	name := rapid.StringMatching(`[a-zA-Z0-9_.\-]{1,6}`)
	kinds := append(slices.Clone(faults.Kinds), faults.KindAction)
	return rapid.Custom(func(t *rapid.T) faults.Fault {
		f := faults.Fault{Kind: rapid.SampledFrom(kinds).Draw(t, "kind")}
		switch f.Kind {
		case faults.KindCrash, faults.KindBlackHole, faults.KindRestart, faults.KindIsolate:
			f.Node = name.Draw(t, "node")
		case faults.KindHeal:
		case faults.KindAction:
			f.Action = rapid.StringMatching(`[a-z][a-z0-9]{0,3}(-[a-z0-9]{1,3}){0,2}`).
				Filter(func(s string) bool { return faults.ValidActionName(s) == nil }).Draw(t, "action")
			f.Arg = strings.Join(rapid.SliceOfN(rapid.StringMatching(`[!-:<-~]{1,5}`), 0, 3).Draw(t, "args"), " ")
		default:
			f.From = name.Draw(t, "from")
			f.To = name.Filter(func(s string) bool { return s != f.From }).Draw(t, "to")
			f.OneWay = rapid.Bool().Draw(t, "oneway")
			switch f.Kind {
			case faults.KindDelay:
				f.Delay = time.Duration(rapid.Int64Range(0, math.MaxInt64).Draw(t, "delay"))
			case faults.KindPartition:
			default:
				f.P = rapid.OneOf(rapid.Float64Range(0, 1), rapid.SampledFrom([]float64{0, 1, math.SmallestNonzeroFloat64,
					math.Nextafter(0.3, 1), math.Nextafter(1, 0), 1.0 / 3})).Draw(t, "p")
			}
		}
		return f
	})
}

// Every valid plan, with any names, times and probabilities, reads back
// exactly as it was: ParsePlan(p.String()) == p.
func TestParsePlanRoundTripAnyPlan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		faultsOf := rapid.SliceOfN(anyFault(), 0, 8).Draw(t, "faults")
		times := rapid.SliceOfN(rapid.Int64Range(0, math.MaxInt64), len(faultsOf), len(faultsOf)).Draw(t, "times")
		slices.Sort(times)
		var p faults.Plan
		for i, f := range faultsOf {
			p = append(p, faults.Step{At: time.Duration(times[i]), Fault: f})
		}
		require.NoError(t, p.Validate())
		got, err := faults.ParsePlan(p.String())
		require.NoError(t, err, p.String())
		require.Equal(t, p, got, p.String())
	})
}

// Whatever the text, ParsePlan returns an error or a valid plan that
// writes and reads back to itself; it never panics.
func FuzzParsePlan(f *testing.F) {
	for _, s := range []string{everyKindText, "", "none", "+1s crash a\n+2s heal", "+1s drop a->b p=0.5;",
		"+1s move", "+ 1s x-y z  w", "+1s delay a<->b 1h", "+1s partition <->", "+9223372036854775807ns heal"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := faults.ParsePlan(text)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "faults: plan step "), "%v", err)
			return
		}
		require.NoError(t, p.Validate())
		again, err := faults.ParsePlan(p.String())
		require.NoError(t, err, p.String())
		require.Equal(t, p, again)
	})
}

// Validate rejects a fault the notation could not carry: a field its kind
// does not use, a name with a separator in it, a bad action name or
// argument.
func TestValidateNotation(t *testing.T) {
	for _, c := range []struct {
		f    faults.Fault
		want string
	}{
		{faults.Fault{Kind: faults.KindCrash, Node: "a", OneWay: true}, "field OneWay is set, but a crash fault does not use it"},
		{faults.Fault{Kind: faults.KindHeal, Node: "a"}, "field Node"},
		{faults.Fault{Kind: faults.KindPartition, From: "a", To: "b", P: 0.5}, "field P"},
		{faults.Fault{Kind: faults.KindDrop, From: "a", To: "b", Delay: 1}, "field Delay"},
		{faults.Fault{Kind: faults.KindDelay, From: "a", To: "b", Arg: "x"}, "field Arg"},
		{faults.Fault{Kind: faults.KindAction, Action: "move", Node: "a"}, "field Node"},
		{faults.Crash("a b"), "cannot be written in a plan"},
		{faults.Partition("a;", "b"), "cannot be written in a plan"},
		{faults.Drop("a>", "b", 0), "cannot be written in a plan"},
		{faults.Act("", "x"), "empty"},
		{faults.Act("Move", "x"), "does not start with a lower-case letter"},
		{faults.Act("2move", "x"), "does not start with a lower-case letter"},
		{faults.Act("move_it", ""), `character '_'`},
		{faults.Act("move-", ""), "empty word"},
		{faults.Act("mövé", ""), `character 'ö'`},
		{faults.Act("heal", ""), "is a built-in kind"},
		{faults.Act("blackhole", "r3"), "is a built-in kind"},
		{faults.Act("move", " p2"), "want words separated by single spaces"},
		{faults.Act("move", "p2  p3"), "want words separated by single spaces"},
		{faults.Act("move", "p2\tp3"), "want words separated by single spaces"},
		{faults.Act("move", "p2;p3"), "without ';'"},
	} {
		require.ErrorContains(t, c.f.Validate(), c.want, "%#v", c.f)
	}
	for _, name := range []string{"move", "refresh-crash", "a", "swap2", "x-1-y"} {
		require.NoError(t, faults.ValidActionName(name), name)
	}
}

// A plan's actions go to the case's handlers, at their time, with their
// argument and the plan's context; each is noted like a built-in fault, and
// a handler's error is noted and returned while the plan goes on.
func TestRunActions(t *testing.T) {
	type ctxKey struct{}
	plan, err := faults.ParsePlan("+10ms crash server; +20ms move p2; +20ms refresh-crash; +35ms restart server; +50ms move p9")
	require.NoError(t, err)
	type call struct {
		at       time.Duration
		name     string
		arg      string
		ctxValue any
	}
	var calls []call
	var runErr error
	var serverUpAtRefresh bool
	res := harness.Run(harness.Options{Seed: 2, Trace: true}, func() {
		srv := harness.NewNode("server", nil)
		require.NoError(t, srv.Start())
		start := harness.Now()
		actions := faults.Actions{
			"move": func(ctx context.Context, arg string) error {
				calls = append(calls, call{harness.Since(start), "move", arg, ctx.Value(ctxKey{})})
				if arg == "p9" {
					return errors.New("no partition 9")
				}
				return nil
			},
			"refresh-crash": func(ctx context.Context, arg string) error {
				calls = append(calls, call{harness.Since(start), "refresh-crash", arg, ctx.Value(ctxKey{})})
				serverUpAtRefresh = srv.Alive()
				return nil
			},
		}
		ctx := context.WithValue(context.Background(), ctxKey{}, "plan")
		runErr = faults.Run(ctx, plan, actions)
	})
	require.NoError(t, res.Err())
	require.Equal(t, []call{
		{20 * time.Millisecond, "move", "p2", "plan"},
		{20 * time.Millisecond, "refresh-crash", "", "plan"},
		{50 * time.Millisecond, "move", "p9", "plan"},
	}, calls)
	require.False(t, serverUpAtRefresh, "the crash at 10ms came first")
	require.ErrorContains(t, runErr, "step at 50ms: faults: move p9: no partition 9")
	require.NotContains(t, runErr.Error(), "p2")
	var notes []string
	for _, e := range res.Trace {
		if e.Kind == harness.EvNote && strings.HasPrefix(e.Detail, "nemesis:") {
			notes = append(notes, fmt.Sprintf("%v %s", e.Time, e.Detail))
		}
	}
	require.Equal(t, []string{
		"10ms nemesis: crash server",
		"20ms nemesis: move p2",
		"20ms nemesis: refresh-crash",
		"35ms nemesis: restart server",
		"50ms nemesis: move p9",
		"50ms nemesis: move p9: faults: move p9: no partition 9",
	}, notes)
}

// A plan naming an action without a handler, or handlers that no plan can
// name, are rejected before any fault is injected; Apply cannot carry out an
// action.
func TestRunRejectsMissingHandlers(t *testing.T) {
	plan := faults.Plan{{Fault: faults.Crash("server")}, {At: time.Millisecond, Fault: faults.Act("move", "p2")}}
	nop := func(context.Context, string) error { return nil }
	res := harness.Run(harness.Options{Seed: 1, Trace: true}, func() {
		srv := harness.NewNode("server", nil)
		require.NoError(t, srv.Start())
		ctx := context.Background()
		for _, c := range []struct {
			actions faults.Actions
			want    string
		}{
			{nil, `plan step 2 (+1ms move p2): no handler for action "move" (handlers: none)`},
			{faults.Actions{"other": nop, "leave": nop}, `no handler for action "move" (handlers: leave, other)`},
			{faults.Actions{"move": nil}, `the handler of "move" is nil`},
			{faults.Actions{"move": nop, "crash": nop}, `action name "crash" is a built-in kind`},
			{faults.Actions{"move": nop, "Bad Name": nop}, `action name "Bad Name"`},
		} {
			require.ErrorContains(t, faults.Run(ctx, plan, c.actions), c.want)
			require.ErrorContains(t, faults.Go(ctx, plan, c.actions), c.want)
		}
		require.ErrorContains(t, faults.Apply(faults.Act("move", "p2")), "carried out by its case's handler")
		require.True(t, srv.Alive(), "nothing was injected")
	})
	require.NoError(t, res.Err())
	for _, e := range res.Trace {
		require.False(t, e.Kind == harness.EvNote && strings.HasPrefix(e.Detail, "nemesis:"), "noted %q", e.Detail)
	}
}

// membersDraw makes "leave" and "rejoin" actions that keep a membership
// invariant: a member leaves only while it is in, rejoins only after it
// left, and at most one member is out at a time.
func membersDraw(members []string) (leave, rejoin faults.ActionGen) {
	out := func(sofar faults.Plan) []string {
		gone := map[string]bool{}
		for _, s := range sofar {
			switch s.Fault.Action {
			case "leave":
				gone[s.Fault.Arg] = true
			case "rejoin":
				gone[s.Fault.Arg] = false
			}
		}
		var names []string
		for _, m := range members {
			if gone[m] {
				names = append(names, m)
			}
		}
		return names
	}
	leave = faults.ActionGen{Name: "leave", Draw: func(t *rapid.T, sofar faults.Plan) (string, bool) {
		if len(out(sofar)) > 0 {
			return "", false
		}
		return rapid.SampledFrom(members).Draw(t, "member"), true
	}}
	rejoin = faults.ActionGen{Name: "rejoin", Draw: func(t *rapid.T, sofar faults.Plan) (string, bool) {
		gone := out(sofar)
		if len(gone) == 0 {
			return "", false
		}
		return rapid.SampledFrom(gone).Draw(t, "member"), true
	}}
	return leave, rejoin
}

// Generated plans mix built-in faults and the case's actions, and keep both
// Gen's invariants (crash only running nodes, restart only crashed ones, at
// most MaxDown down) and the ones the actions' Draw keeps.
func TestGenActions(t *testing.T) {
	leave, rejoin := membersDraw([]string{"n1", "n2", "n3"})
	g := faults.Gen{Nodes: []string{"a", "b", "c"}, Horizon: time.Second, MaxSteps: 12, MaxDown: 2,
		Actions: []faults.ActionGen{{Name: "move", Args: []string{"p0", "p1"}}, {Name: "refresh-crash"}, leave, rejoin}}
	seen := map[string]int{}
	for seed := int64(0); seed < 300; seed++ {
		p, err := g.Example(seed)
		require.NoError(t, err)
		require.NoError(t, p.Validate())
		again, err := g.Example(seed)
		require.NoError(t, err)
		require.Equal(t, p, again, "seed %d", seed)
		down, gone := map[string]bool{}, map[string]bool{}
		for _, s := range p {
			f := s.Fault
			name := string(f.Kind)
			switch f.Kind {
			case faults.KindCrash, faults.KindBlackHole:
				require.False(t, down[f.Node], "seed %d: %s crashes a node that is down: %s", seed, f, p)
				down[f.Node] = true
				n := 0
				for _, d := range down {
					if d {
						n++
					}
				}
				require.LessOrEqual(t, n, 2, "seed %d: more than MaxDown down: %s", seed, p)
			case faults.KindRestart:
				require.True(t, down[f.Node], "seed %d: %s restarts a running node: %s", seed, f, p)
				down[f.Node] = false
			case faults.KindAction:
				name = f.Action
				switch f.Action {
				case "move":
					require.Contains(t, []string{"p0", "p1"}, f.Arg)
				case "refresh-crash":
					require.Empty(t, f.Arg)
				case "leave":
					for m, out := range gone {
						require.False(t, out, "seed %d: %s leaves while %s is out: %s", seed, f.Arg, m, p)
					}
					gone[f.Arg] = true
				case "rejoin":
					require.True(t, gone[f.Arg], "seed %d: %s did not leave: %s", seed, f, p)
					gone[f.Arg] = false
				}
			}
			seen[name]++
		}
	}
	for _, name := range []string{"crash", "restart", "partition", "heal", "move", "refresh-crash", "leave", "rejoin"} {
		require.Positive(t, seen[name], "no %s in 300 plans: %v", name, seen)
	}

	// Actions alone, on no nodes.
	only := faults.Gen{Horizon: time.Second, Actions: []faults.ActionGen{{Name: "move", Args: []string{"p0"}}}}
	for seed := int64(0); seed < 20; seed++ {
		p, err := only.Example(seed)
		require.NoError(t, err)
		for _, s := range p {
			require.Equal(t, faults.Act("move", "p0"), s.Fault)
		}
	}
}

// A generator that cannot work is an error, and so is an action's Draw
// that makes an argument no plan can carry; neither panics.
func TestGenBadActions(t *testing.T) {
	nodes := []string{"a", "b"}
	for _, c := range []struct {
		g    faults.Gen
		want string
	}{
		{faults.Gen{Horizon: time.Second}, "no nodes and no actions"},
		{faults.Gen{Horizon: time.Second, Kinds: []faults.Kind{faults.KindHeal}, Actions: []faults.ActionGen{{Name: "x"}}}, "need nodes"},
		{faults.Gen{Nodes: []string{"a b"}, Horizon: time.Second}, "cannot be written in a plan"},
		{faults.Gen{Nodes: nodes, Horizon: time.Second, Kinds: []faults.Kind{faults.KindAction}}, "list the case's actions in Gen.Actions"},
		{faults.Gen{Nodes: nodes, Horizon: time.Second, Actions: []faults.ActionGen{{Name: "crash"}}}, "is a built-in kind"},
		{faults.Gen{Nodes: nodes, Horizon: time.Second, Actions: []faults.ActionGen{{Name: "x"}, {Name: "x"}}}, `repeated name "x"`},
		{faults.Gen{Nodes: nodes, Horizon: time.Second, Actions: []faults.ActionGen{{Name: "x", Args: []string{"a;b"}}}}, "without ';'"},
		{faults.Gen{Nodes: nodes, Horizon: time.Second, Actions: []faults.ActionGen{{Name: "x", Args: []string{"p"},
			Draw: func(*rapid.T, faults.Plan) (string, bool) { return "", true }}}}, "both Args and Draw"},
	} {
		_, err := c.g.Generator()
		require.ErrorContains(t, err, c.want)
		_, err = c.g.Example(1)
		require.ErrorContains(t, err, c.want)
	}
	bad := faults.Gen{Horizon: time.Second, MaxSteps: 4, Actions: []faults.ActionGen{{Name: "move",
		Draw: func(*rapid.T, faults.Plan) (string, bool) { return "p1;p2", true }}}}
	var err error
	for seed := int64(0); err == nil && seed < 20; seed++ {
		_, err = bad.Example(seed)
	}
	require.ErrorContains(t, err, "the Draw of action move")
	require.ErrorContains(t, err, "without ';'")
}
