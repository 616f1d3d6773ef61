package replica

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/replica"
)

// requireRecovery checks that vs is the Buggy detection: Timeliness, the
// bounded-recovery property, not the call deadline. The only other
// violation Buggy may show is the same bug seen from the resources: an idle
// client whose session to the dead node was never torn down, its dialing
// loop waiting for its next dial. It reports whether the recovery
// property is among them.
func requireRecovery(t *testing.T, seed int64, vs []checkers.Violation) bool {
	t.Helper()
	for _, x := range vs {
		if x.Kind == harness.Leak && strings.HasPrefix(x.Message, "idle client holds timers: ") {
			continue
		}
		require.True(t, recoveryMatch(x), "seed %d: the variant's Match takes it: %s", seed, x.Message)
		require.Contains(t, x.Message, "context deadline exceeded", "seed %d: the stuck calls time out: %s", seed, x.Message)
	}
	return checkers.Verdict{Violations: vs}.Has(checkers.Timeliness)
}

// TestBuggyRecovery runs buggy seeds: the first within the budget shows
// the bounded-recovery violation, and every violation of the first seeds is
// that one (the calls that time out return at their deadline: Buggy breaks
// nothing else).
func TestBuggyRecovery(t *testing.T) {
	buggy := mustVariant(t, "buggy")
	found := int64(-1)
	detected := 0
	for seed := int64(0); seed < 40 || (found < 0 && seed < int64(buggy.Seeds)); seed++ {
		_, vs := buggy.Check(harness.Options{Seed: seed}, buggy.Faults(seed))
		if len(vs) == 0 {
			continue
		}
		if !requireRecovery(t, seed, vs) {
			continue
		}
		detected++
		if found < 0 {
			found = seed
		}
	}
	require.GreaterOrEqual(t, found, int64(0), "buggy not detected within its budget of %d seeds", buggy.Seeds)
	t.Logf("buggy: first detection at seed %d; %d of the first 40 seeds detect it", found, detected)
}

// TestSavedSchedule replays the saved, shrunk failing schedule of the buggy
// variant: it must still show the recovery violation.
func TestSavedSchedule(t *testing.T) {
	saved, err := explore.LoadSaved(explore.DefaultSavedDir(), "replica", "buggy")
	require.NoError(t, err)
	require.NotEmpty(t, saved, "no saved schedule under testdata/heddle/replica/buggy")
	buggy := mustVariant(t, "buggy")
	for _, s := range saved {
		require.Equal(t, checkers.Timeliness, s.Kind, s.Path)
		require.NotNil(t, s.Faults, "the fault plan was saved")
		plan, err := faults.ParsePlan(*s.Faults)
		require.NoError(t, err)
		require.LessOrEqual(t, len(plan), len(Faults(s.Seed)), "the fault plan was shrunk too")
		out := explore.RunOnce(buggy, explore.RunSpec{Seed: s.Seed, Replay: true, Strict: true, Schedule: s.Schedule, Faults: s.Faults})
		require.False(t, out.Has(harness.Diverged), "%s no longer replays: %v", s.Path, out.Violations)
		require.True(t, requireRecovery(t, s.Seed, out.Violations), "%s: %v", s.Path, out.Violations)
	}
}

// TestDeterministic: a seed runs the same twice, and its schedule replays
// to the same run.
func TestDeterministic(t *testing.T) {
	for _, name := range []string{"buggy", "fixed"} {
		v := mustVariant(t, name)
		for _, seed := range []int64{0, 3, 5} {
			a := explore.RunOnce(v, explore.RunSpec{Seed: seed})
			// Several runs: a map ranged over where the order matters (a
			// session's pending calls woken in map order) differed in about
			// one run in six of Fixed seed 0.
			for range 4 {
				b := explore.RunOnce(v, explore.RunSpec{Seed: seed})
				require.Equal(t, a.TraceHash, b.TraceHash, "%s seed %d", name, seed)
				require.Equal(t, a.Kinds(), b.Kinds(), "%s seed %d", name, seed)
			}
			r := explore.RunOnce(v, explore.RunSpec{Seed: seed, Replay: true, Strict: true, Schedule: a.Schedule})
			require.NotZero(t, a.TraceHash, name)
			require.Equal(t, a.TraceHash, r.TraceHash, name)
		}
	}
}

// TestFixedSeeds runs Fixed seeds in this process (with -coverpkg, the
// statement coverage of systems/replica they reach): every one passes.
func TestFixedSeeds(t *testing.T) {
	fixed := mustVariant(t, "fixed")
	n := 100
	if testing.Short() {
		n = 20
	}
	for seed := int64(0); seed < int64(n); seed++ {
		_, vs := fixed.Check(harness.Options{Seed: seed}, fixed.Faults(seed))
		require.Empty(t, vs, "seed %d: %v", seed, checkers.Verdict{Violations: vs})
	}
}

// keyPart returns the partition of the first key under cfg.
func keyPart(cfg Config) int { return sys.PartitionOf(key(0), cfg.Partitions) }

// teethCase is a deliberate fault (Config.fault), the violation that
// shows it, and the configuration and plan that aim at it (nil: the
// seed's own).
type teethCase struct {
	fault, prefix string
	kind          harness.Kind
	tweak         func(*Config)
	plan          func(Config, int64) faults.Plan
}

// teethMust names, for the faults with other consequences besides the
// one the case is about, the start of the message one of the violations
// found must have.
var teethMust = map[string]string{"meta-keeps": "dead server's connection kept: "}

// teethCases lists the deliberate faults of TestChecksHaveTeeth.
func teethCases() []teethCase {
	// Contention on one key among three clients, every round.
	hot := func(c *Config) {
		c.Keys, c.Clients, c.Callers, c.Active, c.Busy = 1, 3, 1, 1, 1
	}
	// blind-retry: a write applied twice needs an ambiguous failure whose
	// retry reaches a primary that already has it: the key's primary
	// crashes while a write is in flight (after it replicated it), and the
	// retries go on past meta's failover.
	crashKey := func(cfg Config, seed int64) faults.Plan {
		return faults.Plan{{At: time.Duration(300+seed*37%500) * time.Millisecond,
			Fault: faults.Act(actCrashPrimary, target{part: keyPart(cfg), inCall: true, delay: time.Duration(1+seed%4) * time.Millisecond}.String())}}
	}
	// no-lease: the key's primary is cut from meta while its clients
	// still reach it; one that has not refreshed reads what another
	// client overwrote on the new primary.
	cutKey := func(cfg Config, _ int64) faults.Plan {
		return faults.Plan{{At: 400 * time.Millisecond, Fault: faults.Act(actCut, fmt.Sprintf("p%d", keyPart(cfg)))}}
	}
	// eager-join: the key's primary restarts (its memory gone), rejoins,
	// and the administrator moves the primary to it before it is synced.
	restartMove := func(cfg Config, _ int64) faults.Plan {
		p := fmt.Sprintf("p%d", keyPart(cfg))
		return faults.Plan{{At: 300 * time.Millisecond, Fault: faults.Act(actRestart, p)},
			{At: 305 * time.Millisecond, Fault: faults.Act(actMove, p)}}
	}
	// open-timer: the last client opens while the clients are cut from
	// meta, so that its first Open fails.
	cutAtOpen := func(cfg Config, _ int64) faults.Plan {
		return faults.Plan{{At: settle + time.Duration(cfg.LateOpen)*cfg.Gap - 5*time.Millisecond,
			Fault: faults.Act(actCutClients, (cfg.OpTimeout + 300*time.Millisecond).String())}}
	}
	lateOpen := func(c *Config) { c.Clients, c.LateOpen = 2, 3 }
	// hide-join: the key's primary restarts and rejoins as a learner.
	restartKey := func(cfg Config, _ int64) faults.Plan {
		return faults.Plan{{At: 300 * time.Millisecond, Fault: faults.Act(actRestart, fmt.Sprintf("p%d", keyPart(cfg)))}}
	}
	noFaults := func(Config, int64) faults.Plan { return nil }
	// no-redial: the key's primary is cut from meta for three graces,
	// then healed.
	cutHeal := func(cfg Config, _ int64) faults.Plan {
		return faults.Plan{{At: 300 * time.Millisecond, Fault: faults.Act(actCut, fmt.Sprintf("p%d", keyPart(cfg)))},
			{At: 300*time.Millisecond + 3*cfg.Grace, Fault: faults.Heal()}}
	}
	return []teethCase{
		{"lose-write", "replica-fixed-seed", checkers.NotLinearizable, nil, nil}, // a Set recorded, never made
		{"late-return", "call deadline: ", checkers.Timeliness, nil, nil},        // a call past its deadline
		{"blind-retry", "replica-fixed-seed", checkers.NotLinearizable, func(c *Config) {
			hot(c)
			c.Partitions, c.Mix, c.Defaults = 1, [4]int{1, 1, 0, 3}, false
			c.Grace, c.Beacon, c.Check, c.Lease, c.OpTimeout = 500*time.Millisecond, 125*time.Millisecond, 100*time.Millisecond, 375*time.Millisecond, 2*time.Second
			c.RetryBackoff, c.MaxRetryBackoff = 10*time.Millisecond, 200*time.Millisecond
		}, crashKey}, // a write retried after a crash
		{"leak-conn", "resources: ", harness.Leak, nil, nil},                                                                           // admin's connections never closed
		{"skip-close", "", harness.Leak, nil, nil},                                                                                     // a client never closed
		{"hold-listener", "server returned with resources open: ", harness.Leak, nil, nil},                                             // a server returns before what it opened is closed
		{"leak-timer", "the clock ran on for |idle client holds timers: ", harness.Leak, nil, nil},                                     // a ticker never stopped
		{"hide-request", "refresh requests: ", checkers.Invariant, nil, nil},                                                           // refreshes look unasked
		{"late-request", "refresh requests: ", checkers.Invariant, nil, nil},                                                           // requests look unserved
		{"rest-timer", "timers at rest: ", harness.Leak, nil, nil},                                                                     // a server's timer left armed
		{"twin-dial", "connections at rest: ", harness.Leak, nil, nil},                                                                 // two connections to a peer
		{"open-timer", "Open left timers: ", harness.Leak, lateOpen, cutAtOpen},                                                        // a failed Open leaves a deadline
		{"peer-deadline", "timers at rest: ", harness.Leak, nil, nil},                                                                  // a server's dial leaves its deadline
		{"close-hang", "calls at close: ", checkers.Timeliness, func(c *Config) { c.CloseEarly = true }, nil},                          // calls outlive Close
		{"meta-keeps", "dead server's connection kept: |resources: |server returned with resources open: ", harness.Leak, nil, cutKey}, // meta's connections never close
		{"fail-call", "available without faults: ", checkers.Invariant, nil, noFaults},                                                 // a call fails with no fault
		{"hide-join", "learners synced: ", checkers.Timeliness, nil, restartKey},                                                       // a learner never upgraded
		{"no-redial", "rejoined: ", checkers.Timeliness, nil, cutHeal},                                                                 // a server never reconnects to meta
		{"stats-back", "Stats read while the client runs: ", checkers.Invariant, nil, nil},                                             // a client's counters go back
		{"no-lease", "replica-fixed-seed", checkers.NotLinearizable, func(c *Config) {
			hot(c)
			c.Partitions, c.Mix, c.ReplicationTimeout = 1, [4]int{3, 2, 0, 0}, 2*time.Second
		}, cutKey}, // a stale read from a primary cut from meta
		{"eager-join", "replica-fixed-seed", checkers.NotLinearizable, func(c *Config) {
			hot(c)
			c.Partitions, c.Mix = 1, [4]int{3, 2, 0, 0}
		}, restartMove}, // an unsynced replica made primary
	}
}

// TestChecksHaveTeeth breaks the workload's own code, or the system, on
// purpose, and shows that the checks see it, as the right kind.
func TestChecksHaveTeeth(t *testing.T) {
	for _, c := range teethCases() {
		t.Run(c.fault, func(t *testing.T) {
			tweak := func(cfg *Config) {
				if c.tweak != nil {
					c.tweak(cfg)
				}
				cfg.fault = c.fault
			}
			plan := Faults
			if c.plan != nil {
				plan = func(seed int64) faults.Plan {
					cfg := ConfigFor(seed)
					tweak(&cfg)
					return c.plan(cfg, seed)
				}
			}
			seed, v := scenarios.FirstCaught(t, Check(sys.Fixed, tweak), plan, 100, nil)
			require.True(t, v.Has(c.kind), "seed %d: %v", seed, v)
			for _, x := range v.Violations {
				if x.Kind == c.kind {
					require.True(t, slices.ContainsFunc(strings.Split(c.prefix, "|"), func(p string) bool { return strings.HasPrefix(x.Message, p) }),
						"seed %d: %s", seed, x.Message)
				}
				require.False(t, recoveryMatch(x), "seed %d: not the recovery property: %s", seed, x.Message)
			}
			if must := teethMust[c.fault]; must != "" {
				require.True(t, slices.ContainsFunc(v.Violations, func(x checkers.Violation) bool { return strings.HasPrefix(x.Message, must) }),
					"seed %d: no violation %q...: %v", seed, must, v)
			}
			// The same seed, configuration and plan without the fault pass:
			// the fault is what the checks saw.
			clean := func(cfg *Config) {
				tweak(cfg)
				cfg.fault = ""
			}
			_, vs := Check(sys.Fixed, clean)(harness.Options{Seed: seed}, plan(seed))
			require.Empty(t, vs, "seed %d without %s: %v", seed, c.fault, checkers.Verdict{Violations: vs})
			t.Logf("%s: found at seed %d", c.fault, seed)
		})
	}
}

// TestPlan: the seed's plan is made of heal and the case's actions, every
// action shows up, it reads back from its text, a plan the workload cannot
// carry out is an error, and a plan given to Check replaces the seed's.
func TestPlan(t *testing.T) {
	seen := map[string]int{}
	empty := 0
	for seed := int64(0); seed < 300; seed++ {
		cfg := ConfigFor(seed)
		p := Faults(seed)
		require.Equal(t, p, Faults(seed))
		require.NoError(t, checkPlan(p, cfg), p.String())
		q, err := faults.ParsePlan(p.String())
		require.NoError(t, err, p.String())
		require.Equal(t, p, q, p.String())
		if len(p) == 0 {
			empty++
		}
		lose := 0
		for _, s := range p {
			name := s.Fault.Action
			if s.Fault.Kind == faults.KindHeal {
				name = "heal"
			}
			seen[name]++
			if strings.Contains(s.Fault.Arg, "in-call") {
				seen["in-call"]++
			}
			switch {
			case s.At < settle:
				// A restart before the clients open takes no data (none is
				// written yet) and the server is a replica again by settle.
				seen["early"]++
			case name == actCrashPrimary || name == actBlackHole || name == actRestart || name == actStop || name == actCut || name == actRefreshCrash:
				lose++
			}
		}
		require.Less(t, lose, cfg.ReplicaCount, "seed %d: every partition keeps a replica with its data: %s", seed, p)
	}
	for _, k := range append(slices.Clone(actionNames), "heal", "in-call", "early") {
		require.Positive(t, seen[k], "no plan of 300 has a %s", k)
	}
	require.Positive(t, empty, "some seeds run without faults")
	t.Logf("steps per kind over 300 seeds: %v; %d plans without faults", seen, empty)

	cfg := Config{Partitions: 4}
	for _, bad := range []string{"+1s crash r1", "+1s crash-primary p9", "+1s move 1", "+1s cut-primary p1 in-call 1ms",
		"+1s crash-primary p1 in-call soon", "+1s refresh-crash now", "+1s explode p1", "+1s restart-crashed r2"} {
		p, err := faults.ParsePlan(bad)
		require.NoError(t, err, bad)
		require.Error(t, checkPlan(p, cfg), bad)
	}

	// A given plan replaces the seed's: with a move and no crash, the
	// buggy client has nothing to be stuck on.
	buggy := mustVariant(t, "buggy")
	move, err := faults.ParsePlan("+500ms move p0")
	require.NoError(t, err)
	_, vs := buggy.Check(harness.Options{Seed: 0}, move)
	require.Empty(t, vs)
	bad, err := faults.ParsePlan("+1s crash-primary p9")
	require.NoError(t, err)
	_, vs = buggy.Check(harness.Options{Seed: 0}, bad)
	require.Len(t, vs, 1)
	require.Contains(t, vs[0].Message, "fault plan")
}

// TestConfig: a seed's configuration is always the same, consistent (the
// lease shorter than meta's grace, beacons well inside the lease), and the
// upstream defaults are among the values drawn.
func TestConfig(t *testing.T) {
	found := map[string]bool{}
	for seed := int64(0); seed < 200; seed++ {
		c := ConfigFor(seed)
		require.Equal(t, c, ConfigFor(seed))
		require.Less(t, c.Lease, c.Grace, "seed %d", seed)
		require.Less(t, c.Beacon, c.Lease, "seed %d", seed)
		require.LessOrEqual(t, c.ReplicaCount, c.Replicas, "seed %d", seed)
		require.GreaterOrEqual(t, c.Clients*c.Callers, 2, "seed %d", seed)
		for name, ok := range map[string]bool{
			"partitions 4, replicas 3":  c.Partitions == 4 && c.ReplicaCount == 3,
			"pegasus failure detection": c.Beacon == c.Grace/7 && c.Check == c.Grace/11 && c.Lease == c.Grace*10/11,
			"refresh once a second":     c.RefreshInterval == time.Second,
			"retry backoff 1s":          c.RetryBackoff == time.Second,
			"dial timeout 3s":           c.DialTimeout == 3*time.Second,
			"dial interval 60s":         c.DialInterval == 60*time.Second,
			"meta query 10s":            c.MetaTimeout == 10*time.Second,
			"close while calling":       c.CloseEarly,
		} {
			found[name] = found[name] || ok
		}
	}
	for name, ok := range found {
		require.True(t, ok, "no seed of 200 has %s", name)
	}
	require.Len(t, found, 8)
}

// TestOverlap: over 200 Fixed seeds, every pair of operations (get, set,
// del, incr, the same one twice included) is in flight at once on the same
// key, from two clients and from two callers of one client.
func TestOverlap(t *testing.T) {
	type pair struct {
		a, b       int
		sameClient bool
	}
	seen := map[pair]int{}
	closed := 0
	for seed := int64(0); seed < 200; seed++ {
		cfg := ConfigFor(seed)
		r := newRun(sys.Fixed, cfg, Faults(seed), seed)
		res := scenarios.Execute(harness.Options{Seed: seed}, r)
		require.False(t, res.Failed(), "seed %d: %v", seed, res.Err())
		calls := r.h.Operations()
		for i, x := range calls {
			for _, y := range calls[i+1:] {
				ix, iy := x.Input.(kvIn), y.Input.(kvIn)
				if ix.Key != iy.Key || x.Client == y.Client || ix.Client < 0 || iy.Client < 0 ||
					!(x.CallTime < y.ReturnTime && y.CallTime < x.ReturnTime) {
					continue
				}
				a, b := min(ix.Op, iy.Op), max(ix.Op, iy.Op)
				seen[pair{a, b, ix.Client == iy.Client}]++
			}
			if in := x.Input.(kvIn); in.Client == 0 && cfg.CloseEarly && r.closing[0] > 0 && x.CallTime < r.closing[0] && x.ReturnTime >= r.closing[0] {
				closed++
			}
		}
	}
	for a := range 4 {
		for b := a; b < 4; b++ {
			for _, same := range []bool{false, true} {
				require.Positive(t, seen[pair{a, b, same}], "%s and %s never overlapped on one key (same client %v)", opNames[a], opNames[b], same)
			}
		}
	}
	require.Positive(t, closed, "no client was closed with a call in flight")
	t.Logf("overlapping pairs: %v; calls in flight at Close: %d", seen, closed)
}

// mustVariant returns the case's variant of that name, or fails the test.
func mustVariant(t *testing.T, name string) explore.Variant {
	t.Helper()
	v, err := Case().Variant(name)
	require.NoError(t, err)
	return v
}
