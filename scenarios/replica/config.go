package replica

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/replica"
)

// Config is one seed's cluster, client settings and workload: ConfigFor
// draws it from the seed, so that the fault plan (Faults) and the run
// (Check) of a seed agree on it.
type Config struct {
	// Replicas is the number of replica servers, Partitions the table's,
	// ReplicaCount the replicas of each partition (the primary included).
	Replicas, Partitions, ReplicaCount int

	// Grace is how long meta waits for a replica server's beacons before
	// it declares the server dead; Lease (shorter) is how long a replica
	// server serves after a beacon meta answered; Beacon is the beacon
	// interval, Check how often meta looks for silent servers.
	Grace, Lease, Beacon, Check time.Duration
	// ReplicationTimeout is how long a primary waits for its secondaries.
	ReplicationTimeout time.Duration

	// OpTimeout is every call's deadline; the others are the client's
	// options of the same names (sys.Options).
	OpTimeout, RefreshInterval, MetaTimeout, DialTimeout, DialInterval time.Duration
	RetryBackoff, MaxRetryBackoff                                      time.Duration

	// Clients is the number of client objects (sys.Open), each with its own
	// sessions and routing table; Callers is how many goroutines call each
	// of them, concurrently.
	Clients, Callers int
	// Keys is the number of keys; every caller reads and writes every key.
	Keys int
	// Mix weighs the operations a caller draws: get, set, del, incr.
	Mix [4]int
	// Gap is the time between two rounds of calls. A round is active with
	// probability Active (the same draw for every caller), and in an active
	// round each caller calls with probability Busy, all at nearly the same
	// moment (within Jitter), so that calls on the same key overlap. Quiet
	// is the number of rounds a run without faults lasts.
	Gap, Jitter  time.Duration
	Active, Busy float64
	Quiet        int
	// CloseEarly closes the first client while its callers' calls may
	// still be in flight (Close concurrent with Set, Get, Del and Incr),
	// CloseAhead rounds before the callers stop (they go on calling the
	// closed client meanwhile).
	CloseEarly bool
	CloseAhead int
	// LateOpen, when not zero, is the round at which the last client opens
	// (Open concurrent with the other clients' calls, and with the faults);
	// the others open first.
	LateOpen int
	// Defaults runs the system with its own defaults (every timing above
	// left zero in its options; the fields hold the defaults' values, for
	// the checks).
	Defaults bool
	// Text makes some writes store text rather than a number, so that an
	// increment can meet a value it cannot add to.
	Text bool

	// fault breaks the workload's own code or the system on purpose, for
	// the tests that show the checks can fail: "blind-retry" (the connector
	// retries writes after failures that leave them unknown, as upstream
	// does), "lose-write" (a caller records a Set it never made),
	// "late-return" (a call is recorded as returning long after its
	// deadline), "leak-conn" (the administrator's code never closes its
	// connections to meta), "skip-close" (a client is never closed),
	// "no-lease" (replica servers serve without meta's lease),
	// "eager-join" (meta makes a rejoining replica server a secondary
	// before it is synced), "hold-listener" (a server keeps a listener
	// open until just after it returned), "stats-back" (a read of a
	// client's Stats counts a session fewer than the read before),
	// "leak-timer" (a client's goroutine arms a ticker it never stops),
	// "hide-request" (the refresh requests of the clients go unrecorded:
	// their refreshes look unasked), "late-request" (each refresh request
	// is recorded later than it was made, so that no refresh serves it),
	// "rest-timer" (a replica server arms a timer it stops only once it
	// returned), "twin-dial" (a replica server holds two connections to
	// each peer it dials), "open-timer" (a deadline derived from Open's
	// context is left armed after a failed Open), "peer-deadline" (a
	// replica server's first dial to a peer leaves a deadline armed),
	// "meta-keeps" (meta's connections ignore Close: they stay open),
	// "close-hang" (a call that fails because its client closed returns
	// only at its deadline), "fail-call" (a caller records a read that succeeded as
	// failed), "hide-join" (meta's upgrades of learners go unrecorded),
	// "no-redial" (a replica server never dials meta again once its first
	// connection is gone).
	fault string
}

// The operations a caller draws, in Config.Mix's order.
const (
	opGet = iota
	opSet
	opDel
	opIncr
)

var opNames = [4]string{"get", "set", "del", "incr"}

// pick returns one of vs, from rng.
func pick[T any](rng *rand.Rand, vs ...T) T { return vs[rng.IntN(len(vs))] }

// seedRand returns the generator of one use (stream) of a seed's draws,
// outside the World: the same seed, the same draws, whatever the schedule.
func seedRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x7265706c696361^stream)) // "replica"
}

// ConfigFor draws seed's configuration. The ranges hold the upstream
// defaults (apache/incubator-pegasus):
//   - partitions 4 and replica count 3: the shell's `create` defaults
//     (src/shell/commands/table_management.cpp);
//   - failure detection: fd_beacon_interval_seconds 3, fd_check_interval_seconds 2,
//     fd_lease_seconds 20 and fd_grace_seconds 22 (src/common/replication_common.cpp):
//     the same ratios at a shorter scale (beacon = grace/7, check =
//     grace/11, lease = grace·10/11), beside faster and slower ones;
//   - the Go client: configuration refresh at most once a second and a
//     first retry backoff of one second (go-client/pegasus/table_connector.go
//     loopForAutoUpdate, retry_failover.go), a 3s dial timeout
//     (go-client/rpc/rpc_conn.go ConnDialTimeout), a 60s interval between
//     dials of one session (go-client/session/session.go kDialInterval),
//     10s for a configuration query (selfUpdate).
func ConfigFor(seed int64) Config {
	rng := seedRand(seed, 0)
	c := Config{
		Replicas:     pick(rng, 3, 3, 4, 5),
		Partitions:   pick(rng, 1, 2, 4, 4, 8),
		ReplicaCount: pick(rng, 2, 3, 3, 3),
		Grace:        pick(rng, 500*time.Millisecond, time.Second, time.Second, 2*time.Second),
	}
	c.ReplicaCount = min(c.ReplicaCount, c.Replicas)
	switch rng.IntN(4) {
	case 0: // Pegasus's ratios
		c.Beacon, c.Check, c.Lease = c.Grace/7, c.Grace/11, c.Grace*10/11
	case 1:
		c.Beacon, c.Check, c.Lease = c.Grace/4, c.Grace/5, c.Grace*3/4
	default:
		c.Beacon, c.Check, c.Lease = c.Grace/3, c.Grace/10, c.Grace/2
	}
	c.ReplicationTimeout = pick(rng, 500*time.Millisecond, 2*time.Second)
	c.OpTimeout = pick(rng, 500*time.Millisecond, time.Second, time.Second, 2*time.Second)
	c.RefreshInterval = pick(rng, 500*time.Millisecond, time.Second, time.Second)
	c.MetaTimeout = pick(rng, time.Second, 10*time.Second)
	c.DialTimeout = pick(rng, 200*time.Millisecond, time.Second, 3*time.Second)
	c.DialInterval = pick(rng, 100*time.Millisecond, time.Second, 60*time.Second)
	switch rng.IntN(3) {
	case 0: // upstream: one second, doubling
		c.RetryBackoff, c.MaxRetryBackoff = time.Second, 4*time.Second
	case 1:
		c.RetryBackoff, c.MaxRetryBackoff = 10*time.Millisecond, 200*time.Millisecond
	default:
		c.RetryBackoff, c.MaxRetryBackoff = 50*time.Millisecond, time.Second
	}
	c.Clients = pick(rng, 1, 2, 2, 3)
	c.Callers = pick(rng, 1, 2, 2)
	if c.Clients*c.Callers < 2 {
		c.Callers = 2
	}
	c.Keys = pick(rng, 1, 2, 3, 4)
	for {
		for i := range c.Mix {
			c.Mix[i] = rng.IntN(4)
		}
		if c.Mix[opGet] > 0 && c.Mix[opSet]+c.Mix[opDel]+c.Mix[opIncr] > 0 {
			break
		}
	}
	c.Gap = pick(rng, 150*time.Millisecond, 250*time.Millisecond, 400*time.Millisecond)
	c.Jitter = pick(rng, time.Duration(0), time.Millisecond, 3*time.Millisecond)
	c.Active = pick(rng, 0.4, 0.6)
	c.Busy = pick(rng, 0.6, 0.9)
	c.Quiet = 6 + rng.IntN(8)
	c.CloseEarly, c.CloseAhead = rng.IntN(4) == 0, rng.IntN(4)
	if c.Clients > 1 && rng.IntN(3) == 0 {
		c.LateOpen = 2 + rng.IntN(6)
	}
	c.Text = rng.IntN(4) == 0
	if c.Defaults = rng.IntN(5) == 0; c.Defaults {
		// systems/replica's defaults (MetaConfig, ReplicaConfig, Options).
		c.ReplicaCount = min(3, c.Replicas)
		c.Grace, c.Check, c.Beacon, c.Lease = time.Second, 100*time.Millisecond, 200*time.Millisecond, 900*time.Millisecond
		c.ReplicationTimeout = 2 * time.Second
		c.RefreshInterval, c.MetaTimeout, c.DialTimeout, c.DialInterval = time.Second, time.Second, time.Second, 100*time.Millisecond
		c.RetryBackoff, c.MaxRetryBackoff = 10*time.Millisecond, 200*time.Millisecond
	}
	return c
}

// or0 returns d, or zero when the system is to use its own default.
func (c Config) or0(d time.Duration) time.Duration {
	if c.Defaults {
		return 0
	}
	return d
}

// String describes the configuration in one line, for reports.
func (c Config) String() string {
	return fmt.Sprintf("%d replica servers, %d partitions x %d replicas; grace %v, lease %v, beacon %v, check %v; "+
		"call timeout %v, refresh interval %v, backoff %v..%v; %d clients x %d callers, %d keys, mix get:set:del:incr %d:%d:%d:%d, rounds every %v (active %v, busy %v)",
		c.Replicas, c.Partitions, c.ReplicaCount, c.Grace, c.Lease, c.Beacon, c.Check,
		c.OpTimeout, c.RefreshInterval, c.RetryBackoff, c.MaxRetryBackoff, c.Clients, c.Callers, c.Keys,
		c.Mix[0], c.Mix[1], c.Mix[2], c.Mix[3], c.Gap, c.Active, c.Busy)
}

// metaRTT bounds one round trip between the client and meta: twice the
// largest link latency plus its jitter.
const metaRTT = 2 * (harness.MaxLatency + harness.MaxLatency/4)

// epsilon is the slack a call gets past its deadline: the work of the
// wake-up at the deadline, which the runtime may charge up to a
// millisecond of virtual time (a timer due within a millisecond may fire
// while goroutines run, once between two moments at which every goroutine
// was blocked). Over 2,000 Fixed seeds calls returned up to exactly 1ms
// late; the 10ms this was absorbed nine more of a late return.
const epsilon = time.Millisecond

// settle is when the clients open, once the first primaries have synced
// their secondaries.
const settle = 50 * time.Millisecond

// recoveryBound is how long after a client first calls a partition whose
// configuration changed (or after the change, if later) its calls must
// succeed again: the call timeout (a call to a vanished node times out),
// the refresh interval (the refresh the failure asks for may wait for the
// rate limit) and one round trip to meta.
func (c Config) recoveryBound() time.Duration {
	return c.OpTimeout + c.RefreshInterval + metaRTT
}

// refreshBound is how long after a refresh request the refresh that
// serves it may start: the rate limit (a refresh waits for the refresh
// interval since the one before), or, if a refresh is under way, the rest
// of its query (at most the meta timeout), and a wake-up's work.
func (c Config) refreshBound() time.Duration {
	return max(c.RefreshInterval, c.MetaTimeout) + epsilon
}

// window is how long the callers go on after the fault plan ends: meta's
// failure detection, the recovery bound, and a few rounds to check it on.
func (c Config) window() time.Duration {
	return c.Grace + c.Check + c.recoveryBound() + 2*c.Gap
}

// key returns the name of key i.
func key(i int) string { return fmt.Sprintf("k%d", i) }

// keyPartitions returns the partitions the keys fall in, without repeats,
// in order.
func (c Config) keyPartitions() []int {
	var out []int
	seen := map[int]bool{}
	for i := range c.Keys {
		if p := sys.PartitionOf(key(i), c.Partitions); !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// replicaAddrs returns the replica servers' node names and addresses.
func (c Config) replicaAddrs() (names, addrs []string) {
	for i := 1; i <= c.Replicas; i++ {
		names = append(names, fmt.Sprintf("r%d", i))
		addrs = append(addrs, fmt.Sprintf("r%d:%d", i, sys.ReplicaPort))
	}
	return names, addrs
}
