package metaclient

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/metaclient"
)

// execute runs seed's workload (adjusted) under its own plan and returns
// the run, for tests that look at its state afterwards.
func execute(t *testing.T, seed int64, v sys.Variant, adjust func(*Config)) (*run, *harness.Result) {
	t.Helper()
	opts := harness.Options{Seed: seed}
	r, err := newRun(opts, v, adjust, Faults(adjust)(seed))
	require.NoError(t, err)
	return r, scenarios.Execute(opts, r)
}

// TestBuggyLeaks finds the leak in this process: with every meta known to
// the clients no forward names an unknown address, nothing is appended,
// and with a manager per goroutine no two calls share one, so the buggy
// variant has no data race to report; its backup goroutines still outlive
// Run (and hold their connections).
func TestBuggyLeaks(t *testing.T) {
	adjust := func(c *Config) { privateManagers(c); c.Known = c.Metas }
	seed, verdict := scenarios.FirstCaught(t, Check(sys.Buggy, adjust), Faults(adjust), 100, nil)
	for _, v := range verdict.Violations {
		require.Equal(t, harness.Leak, v.Kind, "seed %d: %v", seed, verdict)
	}
	require.Contains(t, verdict.String(), "still running after Run returned", "seed %d", seed)
}

// TestFixedAllKnown runs the fixed variant where every meta is known (no
// appends), as the buggy one above.
func TestFixedAllKnown(t *testing.T) {
	adjust := func(c *Config) { c.Known = c.Metas }
	check, plan := Check(sys.Fixed, adjust), Faults(adjust)
	for seed := int64(0); seed < 100; seed++ {
		_, vs := check(harness.Options{Seed: seed}, plan(seed))
		require.Empty(t, vs, "seed %d:\n%v", seed, checkers.Verdict{Violations: vs})
	}
}

// TestChecksHaveTeeth runs the fixed variant with a fault in the
// workload's own side, to show that each check sees it, as the right kind.
func TestChecksHaveTeeth(t *testing.T) {
	for _, c := range []struct {
		fault string
		kind  harness.Kind
		says  string
	}{
		{"stale-read", checkers.NotLinearizable, "register"},
		{"wrong-leader", checkers.Invariant, "leader index"},
		{"short-addrs", checkers.Invariant, "list consistency"},
		{"slow-call", checkers.Timeliness, "latency "},
		{"skip-cancel", checkers.Timeliness, "its context done at"},
		{"lost-answer", checkers.Timeliness, "should have answered within"},
		{"leak-conn", harness.Leak, "connection(s) its goroutines dialled still open"},
		{"stray-timer", harness.Leak, "a timer or a sleeping goroutine was left behind"},
		{"dangling-dial", harness.Leak, "connection(s) open besides the one asking"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			adjust := func(cfg *Config) { cfg.fault = c.fault }
			seed, verdict := scenarios.FirstCaught(t, Check(sys.Fixed, adjust), Faults(adjust), 100, nil)
			require.True(t, verdict.Has(c.kind), "seed %d: %v", seed, verdict)
			require.Contains(t, verdict.String(), c.says)
		})
	}
}

// TestRealMode runs the fixed variant once with real goroutines and real
// time, with short delays (the backup delay and the plan's times are real).
func TestRealMode(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	adjust := func(c *Config) {
		c.BackupDelay = 50 * time.Millisecond
		c.Writes = nil
		for i := range c.Clients {
			for j := range c.Clients[i].Ops {
				op := &c.Clients[i].Ops[j]
				op.Gap /= 10
				op.After = min(op.After, 500*time.Millisecond)
			}
		}
	}
	res, vs := Check(sys.Fixed, adjust)(harness.Options{Seed: 1, Mode: harness.Real}, nil)
	require.Empty(t, vs, "%v", checkers.Verdict{Violations: vs})
	require.False(t, res.Failed())
}

// TestDeterministic: a seed's run is the same every time.
func TestDeterministic(t *testing.T) {
	fixed := mustVariant(t, "fixed")
	for seed := int64(0); seed < 5; seed++ {
		a := explore.RunOnce(fixed, explore.RunSpec{Seed: seed})
		b := explore.RunOnce(fixed, explore.RunSpec{Seed: seed})
		require.Empty(t, a.Violations)
		require.NotZero(t, a.TraceHash)
		require.Equal(t, a.TraceHash, b.TraceHash, "seed %d", seed)
		require.Equal(t, a.Steps, b.Steps)
	}
}

// TestConfigDraws: over 200 seeds the drawn workloads take every value that
// matters: each cluster size, clients that know every meta and clients
// that do not, upstream's backup delay and others (shorter than a query
// too), shared and private managers, every operation and every way a
// context ends, both tables, slow links, writes.
func TestConfigDraws(t *testing.T) {
	seen := map[string]int{}
	for seed := int64(0); seed < 200; seed++ {
		c := DrawConfig(seed)
		require.Equal(t, c, DrawConfig(seed), "the same seed draws the same workload")
		require.GreaterOrEqual(t, c.Known, 2)
		require.LessOrEqual(t, c.Known, c.Metas)
		require.Len(t, c.Latency, c.Managers)
		seen["metas="+string(rune('0'+c.Metas))]++
		if c.Known < c.Metas {
			seen["unknown metas"]++
		} else {
			seen["all known"]++
		}
		switch d := c.BackupDelay; {
		case d == 0:
			seen["default backup delay"]++
		case d == sys.DefaultBackupDelay:
			seen["upstream backup delay"]++
		case d < c.rtt():
			seen["backup delay shorter than a round trip"]++
		default:
			seen["other backup delay"]++
		}
		if len(c.Clients) > c.Managers {
			seen["shared manager"]++
		}
		if c.Grid > 0 {
			seen["grid"]++
		} else if c.rtt() > 2*(harness.MaxLatency+harness.MaxLatency/4) {
			seen["slow link"]++
		}
		for _, w := range c.Writes {
			seen["write "+w.Table]++
		}
		for _, s := range c.Clients {
			require.Less(t, s.Manager, c.Managers)
			for _, op := range s.Ops {
				seen["op "+op.Kind.String()]++
				if op.Kind == OpQuery {
					seen["query "+op.Table]++
					seen["ctx "+[]string{"timeout", "cancel", "done"}[op.Ctx]]++
				}
			}
		}
	}
	for _, want := range []string{"metas=3", "metas=4", "metas=5", "unknown metas", "all known",
		"default backup delay", "upstream backup delay", "backup delay shorter than a round trip", "other backup delay",
		"shared manager", "slow link", "grid", "write temp", "write t2",
		"op QueryConfig", "op Leader", "op Lists", "op NewMetaManager", "query temp", "query t2",
		"ctx timeout", "ctx cancel", "ctx done"} {
		assert.Positive(t, seen[want], "no seed drew %q", want)
	}
	t.Logf("%v", seen)
}

// TestPlans: every seed's plan is valid, carried out by this workload,
// written and read back exactly, and well-formed (a crash leaves a
// majority of the metas up, a revive brings back a crashed meta); over 200
// seeds every action appears, aimed steps too.
func TestPlans(t *testing.T) {
	seen := map[string]int{}
	plan := Faults(nil)
	for seed := int64(0); seed < 200; seed++ {
		c, p := DrawConfig(seed), plan(seed)
		require.NoError(t, checkPlan(p, c), "seed %d: %s", seed, p)
		q, err := faults.ParsePlan(p.String())
		require.NoError(t, err)
		require.Equal(t, p.String(), q.String())
		down := map[int]bool{}
		leader := 0
		for i, s := range p {
			a, err := parseAction(s.Fault, c)
			require.NoError(t, err)
			seen[a.name+" "+a.mode]++
			switch a.name {
			case actWaitCall:
				require.Less(t, i+1, len(p), "seed %d: a wait-call aims the next step", seed)
				require.Equal(t, s.At, p[i+1].At)
			case actMove:
				require.False(t, down[a.meta], "seed %d: step %d", seed, i+1)
				leader = a.meta
			case actCrashLeader:
				down[leader] = true
				require.False(t, down[a.meta], "seed %d: step %d", seed, i+1)
				leader = a.meta
			case actCrashFollower:
				require.NotEqual(t, leader, a.meta)
				down[a.meta] = true
			case actRestart:
				require.True(t, down[a.meta], "seed %d: step %d", seed, i+1)
				delete(down, a.meta)
			}
			require.LessOrEqual(t, len(down), (c.Metas-1)/2, "seed %d: step %d leaves a minority up", seed, i+1)
		}
		if len(p) == 0 {
			seen["no faults"]++
		}
	}
	for _, want := range []string{"no faults", "move ", "crash-leader blackhole", "crash-leader reset",
		"crash-follower blackhole", "crash-follower reset", "revive ", "wait-call leader", "wait-call backup"} {
		assert.Positive(t, seen[want], "no plan has %q", want)
	}
	t.Logf("%v", seen)
}

// TestPlanStepsApply: the generated plans' steps are carried out (nothing
// they name is missing when they strike) in the fixed variant's runs, most
// of them while the clients still call, aimed steps mostly during a call;
// a plan this configuration cannot carry out is refused.
func TestPlanStepsApply(t *testing.T) {
	hits, misses, planned, struck := 0, 0, 0, 0
	for seed := int64(0); seed < 100; seed++ {
		r, res := execute(t, seed, sys.Fixed, nil)
		require.NoError(t, res.Err())
		require.Empty(t, r.l.stepErrs, "seed %d: plan %s", seed, r.plan)
		hits, misses = hits+r.l.aimHits, misses+r.l.aimMisses
		planned, struck = planned+len(r.plan), struck+r.l.steps
	}
	t.Logf("%d of %d steps struck while the clients called; aimed steps: %d struck during a call, %d waited in vain", struck, planned, hits, misses)
	require.GreaterOrEqual(t, 4*struck, 3*planned, "most steps strike before the clients are done")
	require.Greater(t, hits, misses)
	for _, bad := range []string{"+1s crash meta0", "+1s move meta9 0s", "+1s move meta1", "+1s crash-leader meta1 gently 0s",
		"+1s wait-call forever", "+1s revive meta1 -3ms", "+1s shuffle meta1"} {
		p, err := faults.ParsePlan(bad)
		require.NoError(t, err)
		_, vs := Check(sys.Fixed, nil)(harness.Options{Seed: 0}, p)
		require.Len(t, vs, 1, bad)
		require.Contains(t, vs[0].Message, "the workload cannot run: fault plan", bad)
	}
}

// TestOperationsMeet shows that every exported operation of the client
// meets every other on one MetaManager, and the administrator's requests
// meet the clients' queries on one meta server, in some of 200 seeds.
func TestOperationsMeet(t *testing.T) {
	met := map[string]bool{}
	for seed := int64(0); seed < 200; seed++ {
		r, res := execute(t, seed, sys.Fixed, func(c *Config) { c.track = true })
		require.NoError(t, res.Err())
		for _, p := range r.l.pairs {
			met[p] = true
		}
	}
	var want []string
	mgr := []string{"QueryConfig", "Leader", "Lists"}
	for i, a := range mgr {
		for _, b := range mgr[i:] {
			want = append(want, pairName("manager", a, b))
		}
	}
	for _, op := range []string{"QueryConfig", opPromote, opDemote, opSetLeader, opWrite} {
		want = append(want, pairName("meta", "QueryConfig", op))
	}
	for _, p := range want {
		assert.True(t, met[p], "never met: %s", p)
	}
	var all []string
	for p := range met {
		all = append(all, p)
	}
	sort.Strings(all)
	t.Logf("met:\n%s", strings.Join(all, "\n"))
}

// TestBuggySavedFailure replays the saved shrunk failure of the buggy
// variant: it shows the reported bug again, with the plan saved with it.
func TestBuggySavedFailure(t *testing.T) {
	buggy := mustVariant(t, "buggy")
	saved, err := explore.LoadSaved("", "metaclient", "buggy")
	require.NoError(t, err)
	require.NotEmpty(t, saved)
	for _, s := range saved {
		require.NotNil(t, s.Faults, "the fault plan was saved")
		plan, err := faults.ParsePlan(*s.Faults)
		require.NoError(t, err)
		require.NoError(t, checkPlan(plan, DrawConfig(s.Seed)))
		kind := s.Kind
		if kind == harness.DataRace {
			if harness.RaceEnabled() {
				continue // the race detector would fail this test: TestCases replays it in a worker
			}
			// Without the race detector the same schedule still shows
			// the bug's other face: goroutines of Run outliving it.
			kind = harness.Leak
		}
		out := explore.RunOnce(buggy, explore.RunSpec{Seed: s.Seed, Replay: true, Strict: true, Schedule: s.Schedule, Faults: s.Faults})
		require.False(t, out.Has(harness.Diverged), "%s no longer replays: %v", s.Path, out.Violations)
		_, found := buggy.FoundIn(out.Violations, kind)
		require.True(t, found, "%v", out.Violations)
	}
}

// mustVariant returns the case's variant of that name, or fails the test.
func mustVariant(t *testing.T, name string) explore.Variant {
	t.Helper()
	v, err := Case().Variant(name)
	require.NoError(t, err)
	return v
}
