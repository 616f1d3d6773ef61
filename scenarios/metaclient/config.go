package metaclient

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/metaclient"
)

// Config is one seed's workload: the cluster, the timing parameters, the
// clients' scripts and the administrator's configuration writes. DrawConfig
// makes it from a seed; the fault plan (Faults) is drawn apart, from the
// same seed and this configuration, so that a plan can be shrunk or
// replaced while the workload stays the same.
type Config struct {
	// Metas is how many meta servers run (meta0, meta1, ...): 3, Pegasus's
	// onebox default (run.sh start_onebox: META_COUNT=3), 4 or 5.
	Metas int
	// Known is how many of them the clients' configured list names (the
	// first Known). A leader beyond them is reached only through a forward,
	// which appends it to the call's lists (the path of #2256); with Known
	// == Metas nothing is ever appended.
	Known int
	// BackupDelay is how long a call waits for the believed leader before
	// it asks every other meta; zero leaves the client's default,
	// sys.DefaultBackupDelay. Upstream hard-codes one second
	// (go-client/session/meta_call.go, "TODO(wutao): make it
	// configurable"); seeds also draw longer ones, and shorter ones with
	// which the backups start while the leader's answer is on its way.
	BackupDelay time.Duration
	// Latency is the one-way latency of the link between client node cI
	// and meta j, Latency[i][j], each way (its jitter is a quarter of it);
	// zero leaves the network's default, at most harness.MaxLatency.
	Latency [][]time.Duration
	// Grid, when set, is every client-meta link's latency, without
	// jitter (Latency is then ignored): answers from several metas arrive
	// at the same instant, and contexts end on multiples of a round trip,
	// some at the very instant an answer arrives.
	Grid time.Duration
	// Managers is how many MetaManagers the clients start with; manager i
	// dials from client node ci. Upstream's client keeps one MetaManager for
	// every table and goroutine, so sharing one is the common case.
	Managers int
	// Clients are the client goroutines, each with its script.
	Clients []Script
	// Writes are the configuration writes, in order of time: each installs
	// the next version of a table on the leader. They are the register's
	// writers, part of the workload and not faults: dropping one changes
	// what the clients must read, not what breaks the cluster.
	Writes []Write

	// track records which operations overlapped on one object (a manager,
	// a meta server), for the test that shows every pair meets.
	track bool
	// fault breaks the workload's own side on purpose, for the tests that
	// show the checks can fail (see TestChecksHaveTeeth).
	fault string
}

// Script is one client goroutine's work.
type Script struct {
	// Manager is the manager it starts with (an index below
	// Config.Managers).
	Manager int
	Ops     []Op
	// Metrics: before each query the goroutine reads its manager's lists,
	// as upstream's table connector does for its perf counters
	// (runPartitionOp reads GetMetaIPAddrs on every operation).
	Metrics bool
}

// OpKind says what an Op does.
type OpKind int

// The operations of a client goroutine.
const (
	// OpQuery calls QueryConfig.
	OpQuery OpKind = iota
	// OpLeader calls Leader.
	OpLeader
	// OpLists calls Lists.
	OpLists
	// OpFresh replaces the goroutine's manager with a new one of its own
	// (fresh lists, believing the first meta leads).
	OpFresh
)

// String names the operation as the client's API does.
func (k OpKind) String() string {
	return [...]string{"QueryConfig", "Leader", "Lists", "NewMetaManager"}[k]
}

// CtxKind says how a query's context ends.
type CtxKind int

// The ways a query's context ends.
const (
	// CtxTimeout: a deadline After the call begins.
	CtxTimeout CtxKind = iota
	// CtxCancel: an explicit cancel After the call begins.
	CtxCancel
	// CtxDone: cancelled before the call begins.
	CtxDone
)

// Op is one operation of a client goroutine.
type Op struct {
	Kind OpKind
	// Gap is the pause before it.
	Gap time.Duration
	// Table, Ctx and After describe a query: the table asked for, how its
	// context ends and when (since the call began).
	Table string
	Ctx   CtxKind
	After time.Duration
}

// Write is one configuration write: at At (since the workload began), the
// next version of Table.
type Write struct {
	At    time.Duration
	Table string
}

const (
	// table is the table that exists from the start (Pegasus's onebox
	// creates "temp"); table2 is created by its first write, and asked for
	// before that too (the leader answers ERR_OBJECT_NOT_FOUND).
	table  = "temp"
	table2 = "t2"
	// selfUpdateTimeout is upstream's timeout of a configuration query
	// (go-client/pegasus/table_connector.go, selfUpdate: 10 seconds).
	selfUpdateTimeout = 10 * time.Second
	// slowLatency bounds the one-way latency of a slow link.
	slowLatency = 10 * time.Millisecond
)

// backupDelays are the backup delays a seed draws from: upstream's one
// second, set or left to the default (0), is twice as likely as the others.
var backupDelays = []time.Duration{time.Second, 0, 250 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}

// DrawConfig returns seed's workload. It draws from its own generator
// (math/rand/v2's PCG seeded by the seed), outside any World, so that the
// fault plan of a seed (Faults) can be made from the same configuration.
func DrawConfig(seed int64) Config {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6d657461636c69)) // "metacli"
	c := Config{Metas: []int{3, 3, 4, 4, 5}[rng.IntN(5)]}
	c.Known = c.Metas
	if rng.IntN(5) > 0 {
		c.Known = 2 + rng.IntN(c.Metas-2)
	}
	c.BackupDelay = backupDelays[rng.IntN(len(backupDelays))]
	if rng.IntN(6) == 0 {
		// Shorter than a query: the backups race the leader's answer.
		c.BackupDelay = time.Duration(1+rng.IntN(20)) * time.Millisecond
	}
	if rng.IntN(3) == 0 {
		c.Grid = time.Duration(1+rng.IntN(3)) * time.Millisecond
	}
	goroutines := 1 + rng.IntN(4)
	c.Managers = 1 + rng.IntN(goroutines)
	c.Latency = make([][]time.Duration, c.Managers)
	for i := range c.Latency {
		c.Latency[i] = make([]time.Duration, c.Metas)
		for j := range c.Latency[i] {
			if rng.IntN(10) < 3 {
				c.Latency[i][j] = harness.MaxLatency + time.Duration(rng.Int64N(int64(slowLatency-harness.MaxLatency)))
			}
		}
	}
	for g := range goroutines {
		s := Script{Manager: g % c.Managers, Metrics: rng.IntN(2) == 0}
		for range 2 + rng.IntN(3) {
			s.Ops = append(s.Ops, drawOp(rng, c.delay(), c.Grid))
		}
		c.Clients = append(c.Clients, s)
	}
	if rng.IntN(3) == 0 {
		// Lockstep: the goroutines of a manager pause as its first one
		// does, so that they act at the same instants (until a call's
		// latency sets them apart).
		for g := c.Managers; g < goroutines; g++ {
			lead := c.Clients[g%c.Managers].Ops
			for i := range min(len(lead), len(c.Clients[g].Ops)) {
				c.Clients[g].Ops[i].Gap = lead[i].Gap
			}
		}
	}
	horizon := c.Horizon()
	var at []time.Duration
	for range rng.IntN(4) {
		at = append(at, time.Duration(rng.Int64N(int64(horizon))))
	}
	for _, t := range sortedDurations(at) {
		w := Write{At: t, Table: table}
		if rng.IntN(3) == 0 {
			w.Table = table2
		}
		c.Writes = append(c.Writes, w)
	}
	return c
}

// drawOp draws one operation of a client goroutine.
func drawOp(rng *rand.Rand, delay, grid time.Duration) Op {
	// Pauses are whole multiples of 50ms, as periodic work is (upstream's
	// table connector refreshes every second): goroutines often act at the
	// same instant, and their calls on one manager meet.
	op := Op{Kind: OpQuery, Table: table, Gap: time.Duration(rng.IntN(12)) * 50 * time.Millisecond}
	switch k := rng.IntN(50); {
	case k < 6:
		op.Kind = OpLeader
		return op
	case k < 12:
		op.Kind = OpLists
		return op
	case k < 17:
		op.Kind = OpFresh
		return op
	}
	if rng.IntN(5) == 0 {
		op.Table = table2
	}
	switch k := rng.IntN(20); {
	case k < 6:
		op.After = selfUpdateTimeout
	case k < 10:
		op.After = 3 * time.Second
	case k < 14:
		// About the backup delay: some calls end before their backups
		// answer, some just after.
		op.After = time.Duration(1 + rng.Int64N(int64(2*delay)))
	case k < 19:
		op.Ctx, op.After = CtxCancel, time.Duration(1+rng.Int64N(int64(2*delay)))
	default:
		op.Ctx = CtxDone
	}
	if grid > 0 && op.Ctx != CtxDone && rng.IntN(2) == 0 {
		// On the grid: after a whole number of round trips, when an
		// answer may be arriving.
		op.After = time.Duration(1+rng.IntN(8)) * 2 * grid
	}
	return op
}

func sortedDurations(ds []time.Duration) []time.Duration {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j] < ds[j-1]; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
	return ds
}

// delay is the backup delay the clients use.
func (c Config) delay() time.Duration {
	if c.BackupDelay <= 0 {
		return sys.DefaultBackupDelay
	}
	return c.BackupDelay
}

// Horizon is about how long the clients' scripts take without faults: the
// longest sum of pauses (at least 100ms). Writes and faults are drawn
// within it, so that they strike while calls are made.
func (c Config) Horizon() time.Duration {
	var longest time.Duration
	for _, s := range c.Clients {
		var sum time.Duration
		for _, op := range s.Ops {
			sum += op.Gap
		}
		longest = max(longest, sum)
	}
	return max(longest, 100*time.Millisecond)
}

// String describes the configuration in one line, for the trace.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d metas (clients know %d), backup delay %v, grid %v, %d manager(s);", c.Metas, c.Known, c.BackupDelay, c.Grid, c.Managers)
	for g, s := range c.Clients {
		fmt.Fprintf(&b, " g%d@m%d:", g, s.Manager)
		for _, op := range s.Ops {
			fmt.Fprintf(&b, " %s", op.Kind)
		}
	}
	fmt.Fprintf(&b, "; %d write(s)", len(c.Writes))
	return b.String()
}

// metaName and metaAddr name meta i's node and address.
func metaName(i int) string { return fmt.Sprintf("meta%d", i) }
func metaAddr(i int) string { return sys.MetaAddr(metaName(i)) }

// clientList is the clients' configured meta list.
func (c Config) clientList() []string {
	l := make([]string, c.Known)
	for i := range l {
		l[i] = metaAddr(i)
	}
	return l
}

// rtt bounds one round trip between a client and a meta: two one-way
// trips over the slowest link, each its latency plus a quarter of jitter.
func (c Config) rtt() time.Duration {
	if c.Grid > 0 {
		return 2 * c.Grid
	}
	slowest := harness.MaxLatency
	for _, row := range c.Latency {
		for _, d := range row {
			slowest = max(slowest, d)
		}
	}
	return 2 * (slowest + slowest/4)
}
