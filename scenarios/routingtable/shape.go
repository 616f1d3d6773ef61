package routingtable

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/routingtable"
)

// shape is what a seed decides about a run besides its schedule and its
// fault plan: the size of the cluster, the members' configuration, when
// each member starts, what the clients look up and when, what the inspector
// reads, and how the run ends. It is drawn outside the World, from a PCG
// seeded with the seed, so that it does not depend on the schedule (a
// shrunk schedule runs the same workload) and so that Faults, which draws
// from the same seed, knows when the members join and can aim at them.
type shape struct {
	members int
	// startAt is when each member's node starts (by member index), in
	// distinct microseconds: birth dates decide who coordinates, and they
	// are the epochs of the table versions the checks compare.
	startAt []time.Duration
	cfg     memberConfig
	// tracked are the partitions the clients look up.
	tracked []int
	// clients are the lookup goroutines; shared: they share one
	// sys.Client (one connection pool), else each has its own.
	clients       []clientPlan
	shared        bool
	lookupTimeout time.Duration
	// closeEarly: the first client is closed while its last lookup is in
	// flight (Lookup against Close on one Client).
	closeEarly bool
	// inspections read members' state (View, Members, Coordinator, Self)
	// while the cluster changes, each on a goroutine of its own (two may
	// read one member at once); inspectEnd: one more reads each member
	// while it shuts down at the end.
	inspections []inspection
	inspectEnd  bool
	// shutdown is how the run ends: the live members shut down one after
	// another in order, or all at once; twice names a member whose
	// Shutdown is called twice at once (-1: none).
	shutdownOrder []int
	concurrent    bool
	twice         int
	// startSteps: member k (in order of making) calls Start only after
	// startSteps[k % len] scheduling points once it is made, so that a
	// leave aimed at the moment it is made lands before, in and after its
	// first steps; a leave that waits for answers waits as many more
	// (see leaveAction).
	startSteps []int
	// impatient: a leave calls Shutdown a second time while the first
	// runs, with a short deadline (see impatientShutdown).
	impatient bool
	// closeOnAnswer: the early Close (closeEarly) comes right after the
	// last lookup's answer arrived, not as the lookup begins, and
	// closeSteps scheduling points later.
	closeOnAnswer bool
	closeSteps    int
	// startTwice: each member that started is started a second time.
	startTwice bool
	// stopSteps: a leave of member k that waits for no answer calls
	// Shutdown only after stopSteps[k % len] scheduling points once the
	// member is made (see leaveAction), so that Shutdown and Start race
	// with either one ahead.
	stopSteps []int
	// abortAfter: at the end of the run (see abortStarts), the k-th member
	// that joins the last cluster is shut down after abortAfter[k % len]
	// answers to its calls.
	abortAfter []int
}

// memberConfig is the members' configuration for a run, one value per
// field of sys.Config, drawn per seed.
type memberConfig struct {
	partitions, replicas        int
	pushPeriod, bootstrap       time.Duration
	probeInterval, probeTimeout time.Duration
	requestTimeout, joinRetry   time.Duration
	maxJoinAttempts             int
	// startSpread: the members start within it; lastJoin is when the
	// last one starts.
	startSpread, lastJoin time.Duration
	// zeroDefaults: a field whose drawn value is the system's default is
	// left zero, for the system to fill in (withDefaults).
	zeroDefaults bool
}

// clientPlan is one lookup goroutine: when each lookup starts (since the
// run began) and which member it asks.
type clientPlan struct {
	at     []time.Duration
	member []int
	part   []int
}

// inspection reads one member's state at a moment.
type inspection struct {
	at     time.Duration
	member int
}

// Salts of the seed's random streams: the workload's shape and the fault
// plan draw from separate streams so that one can change without moving
// the other.
const (
	shapeSalt = 0x726f7574696e67 // "routing"
	planSalt  = 0x6661756c7473   // "faults"
)

// between returns a duration in [lo, hi), in microseconds.
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64((hi-lo)/time.Microsecond)))*time.Microsecond
}

// drawConfig draws the members' configuration. Each field's choices hold
// the upstream default (Olric v0.5.x config/config.go, and
// hashicorp/memberlist's configurations for the failure detector):
//
//   - partitions: DefaultPartitionCount 271; smaller tables (7, 23, 71) run
//     faster and change owners more often per member;
//   - replicas: Olric's default ReplicaCount is 1 (MinimumReplicaCount);
//     2 and 3 give partitions backups;
//   - push period: DefaultRoutingTablePushInterval is 1 minute; 1 s and 5 s
//     let the periodic push race joins;
//   - bootstrap: DefaultBootstrapTimeout 10 s, and 5 s (Olric's sample
//     olricd.yaml);
//   - probe interval and timeout: memberlist's DefaultLocalConfig (1 s,
//     200 ms; Olric's default environment is "local"), DefaultLANConfig
//     (1 s, 500 ms) and DefaultWANConfig (5 s, 3 s);
//   - request timeout: Olric's client read and write timeouts are 3 s;
//     1 s is a tighter deployment;
//   - joins: DefaultJoinRetryInterval 1 s and DefaultMaxJoinAttempts 10,
//     and a quicker 100 ms x 3 (a member gives up and forms a cluster of
//     its own while others are still starting).
func drawConfig(rng *rand.Rand) memberConfig {
	c := memberConfig{}
	c.partitions = scenarios.Weighted(rng, []int{7, 23, 71, 271}, []int{3, 3, 2, 2})
	c.replicas = scenarios.Weighted(rng, []int{1, 2, 3}, []int{2, 2, 1})
	c.pushPeriod = scenarios.Weighted(rng, []time.Duration{time.Second, 5 * time.Second, time.Minute}, []int{2, 2, 1})
	c.bootstrap = scenarios.Weighted(rng, []time.Duration{5 * time.Second, 10 * time.Second}, []int{1, 2})
	probe := scenarios.Weighted(rng, [][2]time.Duration{{time.Second, 200 * time.Millisecond}, {time.Second, 500 * time.Millisecond}, {5 * time.Second, 3 * time.Second}}, []int{3, 2, 1})
	c.probeInterval, c.probeTimeout = probe[0], probe[1]
	c.requestTimeout = scenarios.Weighted(rng, []time.Duration{time.Second, 3 * time.Second}, []int{1, 2})
	join := scenarios.Weighted(rng, []int{0, 1}, []int{2, 1})
	c.joinRetry, c.maxJoinAttempts = time.Second, 10
	if join == 1 {
		c.joinRetry, c.maxJoinAttempts = 100*time.Millisecond, 3
	}
	c.startSpread = scenarios.Weighted(rng, []time.Duration{0, 20 * time.Millisecond, 300 * time.Millisecond, 2 * time.Second}, []int{1, 2, 2, 2})
	c.zeroDefaults = rng.IntN(2) == 0
	return c
}

// sysConfig returns the sys.Config of a member named name: the drawn
// values, or (zeroDefaults) zero where the drawn value is the system's
// default.
func (c memberConfig) sysConfig(v sys.Variant, name string, peers []string) sys.Config {
	cfg := c.want(v, name, peers)
	if c.zeroDefaults {
		def := systemDefaults
		zero := func(f *time.Duration, d time.Duration) {
			if *f == d {
				*f = 0
			}
		}
		zero(&cfg.PushPeriod, def.PushPeriod)
		zero(&cfg.BootstrapTimeout, def.BootstrapTimeout)
		zero(&cfg.JoinRetryInterval, def.JoinRetryInterval)
		zero(&cfg.ProbeInterval, def.ProbeInterval)
		zero(&cfg.ProbeTimeout, def.ProbeTimeout)
		zero(&cfg.RequestTimeout, def.RequestTimeout)
		if cfg.PartitionCount == def.PartitionCount {
			cfg.PartitionCount = 0
		}
		if cfg.ReplicaCount == def.ReplicaCount {
			cfg.ReplicaCount = 0
		}
		if cfg.MaxJoinAttempts == def.MaxJoinAttempts {
			cfg.MaxJoinAttempts = 0
		}
	}
	return cfg
}

// systemDefaults are the defaults sys.Config documents for its zero
// fields (Olric's, but for two: ReplicaCount 2 where Olric's is 1, and
// memberlist's LAN ProbeTimeout of 500 ms where Olric's local
// configuration has 200 ms).
var systemDefaults = sys.Config{
	PartitionCount: 271, ReplicaCount: 2, PushPeriod: time.Minute, BootstrapTimeout: 10 * time.Second,
	JoinRetryInterval: time.Second, MaxJoinAttempts: 10, ProbeInterval: time.Second,
	ProbeTimeout: 500 * time.Millisecond, RequestTimeout: 3 * time.Second,
}

// want returns the configuration a member must run with: the drawn
// values, all of them.
func (c memberConfig) want(v sys.Variant, name string, peers []string) sys.Config {
	return sys.Config{
		Variant: v, Name: name, Port: port, Peers: peers,
		PartitionCount: c.partitions, ReplicaCount: c.replicas,
		PushPeriod: c.pushPeriod, BootstrapTimeout: c.bootstrap,
		JoinRetryInterval: c.joinRetry, MaxJoinAttempts: c.maxJoinAttempts,
		ProbeInterval: c.probeInterval, ProbeTimeout: c.probeTimeout,
		RequestTimeout: c.requestTimeout,
	}
}

// shapeOf draws the shape of seed's run.
func shapeOf(seed int64, cfg Config) shape {
	rng := rand.New(rand.NewPCG(uint64(seed), shapeSalt))
	sh := shape{twice: -1}
	sh.members = cfg.MinMembers + rng.IntN(cfg.MaxMembers-cfg.MinMembers+1)
	sh.cfg = drawConfig(rng)
	for range sh.members {
		at := between(rng, 0, sh.cfg.startSpread+time.Microsecond)
		for slices.Contains(sh.startAt, at) {
			at += time.Microsecond
		}
		sh.startAt = append(sh.startAt, at)
	}
	sh.cfg.lastJoin = slices.Max(sh.startAt)
	for len(sh.tracked) < 3 {
		if p := rng.IntN(sh.cfg.partitions); !slices.Contains(sh.tracked, p) {
			sh.tracked = append(sh.tracked, p)
		}
	}
	// Lookups: some right after a member starts (they meet its join, and
	// in the Fixed variant its barrier), the others anywhere until a
	// little after the last join.
	sh.lookupTimeout = scenarios.Weighted(rng, []time.Duration{200 * time.Millisecond, time.Second}, []int{1, 2})
	sh.shared = rng.IntN(2) == 0
	horizon := sh.cfg.lastJoin + 1500*time.Millisecond
	for range 1 + rng.IntN(2) {
		var c clientPlan
		n := 3 + rng.IntN(6)
		for range n {
			var at time.Duration
			m := rng.IntN(sh.members)
			if rng.IntN(2) == 0 {
				at = sh.startAt[m] + between(rng, 0, 20*time.Millisecond)
			} else {
				at = between(rng, 0, horizon)
			}
			c.at = append(c.at, at)
			c.member = append(c.member, m)
			part := sh.tracked[rng.IntN(len(sh.tracked))]
			if rng.IntN(12) == 0 {
				part = sh.cfg.partitions // no such partition: the lookup must fail
			}
			c.part = append(c.part, part)
		}
		sortLookups(&c)
		sh.clients = append(sh.clients, c)
	}
	sh.closeEarly = rng.IntN(2) == 0
	for range rng.IntN(4) {
		m := rng.IntN(sh.members)
		at := sh.startAt[m] + between(rng, 0, 20*time.Millisecond)
		if rng.IntN(2) == 0 {
			at = between(rng, 0, horizon)
		}
		sh.inspections = append(sh.inspections, inspection{at: at, member: m})
		if rng.IntN(4) == 0 { // a second one at once
			sh.inspections = append(sh.inspections, inspection{at: at, member: m})
		}
	}
	sh.inspectEnd = rng.IntN(3) == 0
	slices.SortStableFunc(sh.inspections, func(a, b inspection) int { return int(a.at - b.at) })
	sh.shutdownOrder = rng.Perm(sh.members)
	sh.concurrent = rng.IntN(2) == 0
	if rng.IntN(4) == 0 {
		sh.twice = rng.IntN(sh.members)
	}
	for range 8 {
		sh.startSteps = append(sh.startSteps, scenarios.Weighted(rng, []int{0, 1 + rng.IntN(24)}, []int{1, 2}))
	}
	sh.impatient = rng.IntN(2) == 0
	sh.closeOnAnswer = rng.IntN(2) == 0
	sh.closeSteps = rng.IntN(5)
	sh.startTwice = rng.IntN(3) == 0
	for range 8 {
		sh.stopSteps = append(sh.stopSteps, scenarios.Weighted(rng, []int{0, 1 + rng.IntN(12)}, []int{1, 1}))
	}
	for range 4 {
		sh.abortAfter = append(sh.abortAfter, scenarios.Weighted(rng, []int{0, 1, 2 + rng.IntN(3)}, []int{1, 2, 1}))
	}
	return sh
}

// sortLookups orders a client's lookups by time.
func sortLookups(c *clientPlan) {
	idx := make([]int, len(c.at))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return int(c.at[a] - c.at[b]) })
	var out clientPlan
	for _, i := range idx {
		out.at = append(out.at, c.at[i])
		out.member = append(out.member, c.member[i])
		out.part = append(out.part, c.part[i])
	}
	*c = out
}
