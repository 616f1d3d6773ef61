package replica

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/faults"
)

// The replica case's fault plan is a faults.Plan of built-in faults and of
// the case's own actions, which only this workload can carry out because
// they aim at whatever node holds a role when they strike:
//
//	+412ms crash-primary p2 in-call 1ms; +1.3s restart-crashed
//	+300ms cut-primary p0; +2.1s heal
//
// The actions:
//
//   - "move pN": the administrator moves the primary of partition N to its
//     first live secondary (through meta, as an operator would); "move pN
//     joiner" waits (up to a grace and two beacons) until a replica server
//     rejoins partition N and moves the primary to it at once (meta must
//     refuse while it is a learner, not yet synced).
//   - "crash-primary pN", "blackhole-primary pN", "restart-primary pN": the
//     replica server that is the primary of partition N now crashes (its
//     peers see resets), vanishes (they see nothing), or restarts with its
//     memory lost. With "in-call D" after the partition, the action first
//     waits (up to one call timeout and two rounds) for a client to call
//     partition N, then D more, and strikes while that call is in flight.
//   - "stop-primary pN": as restart-primary, but the server is stopped
//     gracefully first (its context cancelled, as an operator's rolling
//     restart does), with the calls and syncs it is serving in flight, and
//     must return within 10s having closed everything it opened.
//   - "cut-primary pN": the primary of partition N is cut from meta, both
//     ways, while its clients still reach it: meta declares it dead and
//     moves its partitions, and until its lease runs out it could serve
//     stale reads. The built-in "heal" ends the cut; the server then
//     rejoins as a learner.
//   - "isolate-primary pN": the primary of partition N is cut from every
//     other node (meta, its peers, the clients) while it runs on; after a
//     heal it rejoins.
//   - "slow-primary pN D T": the links between the clients and the primary
//     of partition N take D each way, for T: calls time out with their
//     requests still queued or in flight. The action lasts T.
//   - "cut-clients D": every client is cut from meta, both ways, for D:
//     their configuration refreshes time out meanwhile. The action lasts
//     D (the plan's next step waits for it).
//   - "restart-crashed": the replica server that crashed (or vanished)
//     first and is still down restarts, with its memory lost, and rejoins.
//   - "crash-learner pN": waits (up to a grace and two beacons) until a
//     replica server rejoins partition N as a learner, and crashes it at
//     once, while its primary syncs it; the primary tries again until meta
//     drops the learner, and a restart-crashed brings it back.
//   - "refresh-crash": waits until meta has moved a primary away from a
//     crashed server and a client then starts a configuration refresh, and
//     crashes the primary that took over, right then.
const (
	actMove         = "move"
	actCrashPrimary = "crash-primary"
	actBlackHole    = "blackhole-primary"
	actRestart      = "restart-primary"
	actStop         = "stop-primary"
	actCut          = "cut-primary"
	actIsolate      = "isolate-primary"
	actCutClients   = "cut-clients"
	actSlow         = "slow-primary"
	actRejoin       = "restart-crashed"
	actRefreshCrash = "refresh-crash"
	actCrashLearner = "crash-learner"
)

// target is the argument of an action aimed at a partition's primary.
type target struct {
	part   int
	inCall bool          // wait for a call to the partition first
	delay  time.Duration // then this long
	joiner bool          // move: to the replica server that last rejoined
}

func (t target) String() string {
	switch {
	case t.joiner:
		return fmt.Sprintf("p%d joiner", t.part)
	case t.inCall:
		return fmt.Sprintf("p%d in-call %v", t.part, t.delay)
	}
	return fmt.Sprintf("p%d", t.part)
}

// parseMove reads a move's argument: "pN" or "pN joiner".
func parseMove(arg string, parts int) (target, error) {
	if p, ok := strings.CutSuffix(arg, " joiner"); ok {
		t, err := parseTarget(p, parts, false)
		t.joiner = true
		return t, err
	}
	return parseTarget(arg, parts, false)
}

// parseTarget reads "pN" or, where inCall is allowed, "pN in-call D".
func parseTarget(arg string, parts int, inCall bool) (target, error) {
	words := strings.Fields(arg)
	if len(words) == 0 || !strings.HasPrefix(words[0], "p") {
		return target{}, fmt.Errorf("want pN")
	}
	n, err := strconv.Atoi(words[0][1:])
	if err != nil || n < 0 || n >= parts {
		return target{}, fmt.Errorf("%q names no partition (0 <= N < %d)", words[0], parts)
	}
	t := target{part: n}
	switch {
	case len(words) == 1:
		return t, nil
	case inCall && len(words) == 3 && words[1] == "in-call":
		d, err := time.ParseDuration(words[2])
		if err != nil || d < 0 {
			return target{}, fmt.Errorf("in-call wants a duration, not %q", words[2])
		}
		t.inCall, t.delay = true, d
		return t, nil
	}
	return target{}, fmt.Errorf("unexpected %q", strings.Join(words[1:], " "))
}

// checkPlan reports what in p this workload cannot carry out: a built-in
// fault other than heal, an unknown action, or an argument that names no
// partition.
func checkPlan(p faults.Plan, cfg Config) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for i, s := range p {
		if err := checkStep(s.Fault, cfg); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s, err)
		}
	}
	return nil
}

func checkStep(f faults.Fault, cfg Config) error {
	if f.Kind == faults.KindHeal {
		return nil
	}
	if f.Kind != faults.KindAction {
		return fmt.Errorf("the replica case runs heal and its own actions (%s), not %s", strings.Join(actionNames, ", "), f.Kind)
	}
	var err error
	switch f.Action {
	case actMove:
		_, err = parseMove(f.Arg, cfg.Partitions)
	case actCrashLearner:
		_, err = parseTarget(f.Arg, cfg.Partitions, false)
	case actCut, actIsolate:
		_, err = parseTarget(f.Arg, cfg.Partitions, false)
	case actCrashPrimary, actBlackHole, actRestart, actStop:
		_, err = parseTarget(f.Arg, cfg.Partitions, true)
	case actCutClients:
		if d, perr := time.ParseDuration(f.Arg); perr != nil || d <= 0 {
			err = fmt.Errorf("wants a duration, not %q", f.Arg)
		}
	case actSlow:
		_, _, _, err = parseSlow(f.Arg, cfg.Partitions)
	case actRejoin, actRefreshCrash:
		if f.Arg != "" {
			err = fmt.Errorf("takes no argument")
		}
	default:
		return fmt.Errorf("unknown action %q (the case's actions: %s)", f.Action, strings.Join(actionNames, ", "))
	}
	return err
}

var actionNames = []string{actMove, actCrashPrimary, actBlackHole, actRestart, actStop, actCut, actIsolate, actCutClients, actSlow, actRejoin, actRefreshCrash, actCrashLearner}

// parseSlow reads "pN D T".
func parseSlow(arg string, parts int) (t target, delay, hold time.Duration, err error) {
	w := strings.Fields(arg)
	if len(w) != 3 {
		return t, 0, 0, fmt.Errorf("want pN, a delay and how long it holds")
	}
	if t, err = parseTarget(w[0], parts, false); err != nil {
		return t, 0, 0, err
	}
	delay, err1 := time.ParseDuration(w[1])
	hold, err2 := time.ParseDuration(w[2])
	if err1 != nil || err2 != nil || delay < 0 || hold < 0 {
		return t, 0, 0, fmt.Errorf("want two durations, not %q and %q", w[1], w[2])
	}
	return t, delay, hold, nil
}

// Faults returns the fault plan of a seed (planFor), for the seed's own
// configuration.
func Faults(seed int64) faults.Plan {
	cfg := ConfigFor(seed)
	p := planFor(seed, cfg)
	if early := seedRand(seed, 4); len(p) > 0 && early.IntN(2) == 0 {
		// Before the clients open, the primary of a partition restarts
		// (its memory, empty yet, lost): meta drops it and adds it back as
		// a learner of its partitions, whose primaries sync it and have
		// meta make it a secondary again, all before settle: the check at
		// rest then sees what that left armed.
		step := faults.Step{At: earlyRestart, Fault: faults.Act(actRestart, fmt.Sprintf("p%d", early.IntN(cfg.Partitions)))}
		p = slices.Insert(p, 0, step)
	}
	if cfg.LateOpen > 0 && seedRand(seed, 2).IntN(3) == 0 {
		// The clients are cut from meta as the last one opens, for longer
		// than a call timeout: its first Open fails, with its dial to meta
		// still waiting, and it opens again once the cut is over.
		at := settle + time.Duration(cfg.LateOpen)*cfg.Gap - 5*time.Millisecond
		cut := faults.Step{At: at, Fault: faults.Act(actCutClients, (cfg.OpTimeout + 300*time.Millisecond).String())}
		i := 0
		for i < len(p) && p[i].At <= at {
			i++
		}
		p = slices.Insert(p, i, cut)
	}
	return p
}

// earlyRestart is when a seed's plan restarts a primary before the
// clients open: the first primaries have synced by then.
const earlyRestart = 10 * time.Millisecond

// planFor draws seed's plan: most seeds a few faults aimed at the
// primaries of the partitions the workload's keys fall in, some seeds
// none. At most ReplicaCount-1 faults take a replica's data away (a crash,
// a black hole, a restart, a cut or an isolation, a crash at refresh), so that every
// partition keeps a replica with its data; a restart-crashed follows a
// crash, a heal a cut. Steps come a call timeout or two apart, so that
// some strike before meta has reacted to the one before and some after.
func planFor(seed int64, cfg Config) faults.Plan {
	rng := seedRand(seed, 1)
	if rng.IntN(10) == 0 {
		return nil
	}
	g := planGen{rng: rng, alt: seedRand(seed, 3), cfg: cfg, budget: cfg.ReplicaCount - 1, hot: cfg.keyPartitions(), joined: -1}
	at := settle + cfg.Gap + time.Duration(rng.Int64N(int64(3*cfg.Gap)))
	var p faults.Plan
	for range 1 + rng.IntN(3) {
		f, ok := g.next()
		if !ok {
			break
		}
		p = append(p, faults.Step{At: at.Round(time.Millisecond), Fault: f})
		if (f.Action == actRestart || f.Action == actStop || f.Action == actRejoin) && g.joined >= 0 && rng.IntN(2) == 0 {
			// As the server rejoins: move the primary to it (the move
			// waits for the join).
			p = append(p, faults.Step{At: at.Round(time.Millisecond), Fault: faults.Act(actMove, target{part: g.joined, joiner: true}.String())})
		} else if (f.Action == actRestart || f.Action == actStop || f.Action == actRejoin) && g.joined >= 0 && g.alt.IntN(2) == 0 {
			// As the server rejoins: crash it while its primary syncs it
			// (it holds nothing the primary lacks), and restart it once
			// meta has dropped it: it joins again, in the same term of the
			// same primary.
			p = append(p, faults.Step{At: at.Round(time.Millisecond), Fault: faults.Act(actCrashLearner, fmt.Sprintf("p%d", g.joined))})
			at += 2*cfg.Grace + cfg.Check
			p = append(p, faults.Step{At: at.Round(time.Millisecond), Fault: faults.Act(actRejoin, "")})
		}
		at += time.Duration(rng.Int64N(int64(cfg.Grace + cfg.OpTimeout)))
	}
	return p
}

// planGen draws the steps of one plan.
type planGen struct {
	rng     *rand.Rand
	alt     *rand.Rand // whether a restart is graceful (its own stream: the other draws stay as they were)
	cfg     Config
	budget  int   // faults that take data away, left
	hot     []int // the partitions of the keys
	down    []int // the partitions whose primary crashed or vanished, not restarted
	cut     bool  // a cut not healed
	crashed bool  // a crash-primary came before
	joined  int   // the partition the last restart makes a server rejoin (-1: none)
}

func (g *planGen) next() (faults.Fault, bool) {
	type choice struct {
		name   string
		weight int
	}
	var cs []choice
	add := func(name string, weight int, ok bool) {
		if ok {
			cs = append(cs, choice{name, weight})
		}
	}
	lose := g.budget > 0
	add(actCrashPrimary, 5, lose)
	add(actBlackHole, 2, lose)
	add(actRestart, 3, lose)
	add(actCut, 2, lose && !g.cut)
	add(actIsolate, 1, lose && !g.cut)
	add(actCutClients, 1, true)
	add(actSlow, 1, true)
	add(actMove, 2, true)
	add(actRejoin, 3, len(g.down) > 0)
	add("heal", 4, g.cut)
	add(actRefreshCrash, 1, lose && g.crashed)
	total := 0
	for _, c := range cs {
		total += c.weight
	}
	x := g.rng.IntN(total)
	var name string
	for _, c := range cs {
		if x -= c.weight; x < 0 {
			name = c.name
			break
		}
	}
	switch name {
	case "heal":
		g.cut = false
		return faults.Heal(), true
	case actRejoin:
		g.joined, g.down = g.down[0], g.down[1:]
		return faults.Act(actRejoin, ""), true
	case actRefreshCrash:
		g.budget--
		g.down = append(g.down, g.rng.IntN(g.cfg.Partitions))
		return faults.Act(actRefreshCrash, ""), true
	case actMove:
		return faults.Act(actMove, g.target(false).String()), true
	case actCutClients:
		return faults.Act(actCutClients, pick(g.rng, 300*time.Millisecond, time.Second, 2*time.Second).String()), true
	case actSlow:
		d := pick(g.rng, g.cfg.OpTimeout/2, 2*g.cfg.OpTimeout)
		return faults.Act(actSlow, fmt.Sprintf("%s %v %v", g.target(false), d, pick(g.rng, 500*time.Millisecond, 2*time.Second))), true
	}
	g.budget--
	switch name {
	case actCut, actIsolate:
		g.cut = true
		return faults.Act(name, g.target(false).String()), true
	}
	t := g.target(true)
	switch name {
	case actCrashPrimary:
		g.crashed = true
		g.down = append(g.down, t.part)
	case actBlackHole:
		g.down = append(g.down, t.part)
	case actRestart:
		g.joined = t.part
		if g.alt.IntN(2) == 0 {
			name = actStop
		}
	}
	return faults.Act(name, t.String()), true
}

// target draws a partition, most often one the keys fall in, and for an
// action that may wait for a call, whether it does and how long after.
func (g *planGen) target(inCall bool) target {
	t := target{part: g.rng.IntN(g.cfg.Partitions)}
	if g.rng.IntN(5) > 0 {
		t.part = pick(g.rng, g.hot...)
	}
	if inCall && g.rng.IntN(5) < 3 {
		t.inCall = true
		t.delay = pick(g.rng, time.Duration(0), time.Millisecond, 2*time.Millisecond, 3*time.Millisecond, 5*time.Millisecond)
	}
	return t
}
