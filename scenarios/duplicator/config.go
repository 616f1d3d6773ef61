package duplicator

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

// Config is one seed's workload: the system's configuration, the clients,
// and the bursts of writes they make. ConfigFor draws it from a seed; the
// fault plan of the seed (Faults) is drawn from the same Config, so that it
// can aim at the bursts.
type Config struct {
	// System is the duplicator's own configuration.
	System sys.Config
	// Clients is the number of clients; client i runs on node ClientNode(i).
	Clients int
	// Bursts are the bursts of writes, in order.
	Bursts []Burst
	// ClientTimeout bounds each client call (a dial, a write).
	ClientTimeout time.Duration
	// Churn is the chance that a client hangs up after a write and dials
	// again for the next.
	Churn float64
	// CloseTogether makes the clients of a burst hang up at once, when the
	// last of them is done.
	CloseTogether bool
	// RetryDelay is a client's pause after a call failed.
	RetryDelay time.Duration
	// Auditors is the number of goroutines that read the private logs and
	// the remote cluster's state during each burst (Disk's and
	// RemoteStore's exported reads), and Audits how many reads each makes.
	Auditors, Audits int
	// LagBound is the timeliness property: a committed write reaches the
	// remote cluster within LagBound of its commit, unless a fault on the
	// way struck in between (then within LagBound of the recovery; see
	// disruptions).
	LagBound time.Duration
	// FinalWait bounds the wait, after the last burst and the fault plan,
	// for every committed write to reach the remote cluster.
	FinalWait time.Duration
}

// Burst is one burst of writes.
type Burst struct {
	// Start is when the burst starts, since the workload started (later if
	// the burst before it is still going on).
	Start time.Duration
	// Writes lists, per client, the writes it makes in this burst (none:
	// the client sits this burst out).
	Writes [][]Write
	// Silence is how long the writes stop after the burst: at least three
	// lag bounds, sometimes more than a group check.
	Silence time.Duration
}

// Write is one write a client makes.
type Write struct {
	// Partition is the partition written; one past the last partition is a
	// write the primary must refuse (ErrBadPartition).
	Partition int
	// Gap is the pause before the write.
	Gap time.Duration
}

// ClientNode names client i's node: c1, c2, ...
func ClientNode(i int) string { return fmt.Sprintf("c%d", i+1) }

// configSalt keeps the configuration's random stream apart from the plan's.
const configSalt = 0x6475702d636f6e66 // "dup-conf"

// between draws a duration in [lo, hi].
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// ConfigFor draws seed's workload. The system's settings come from
// realistic ranges with Pegasus' defaults (sys.DefaultConfig, which cites
// them) the most likely: partitions, group-check interval, load poll,
// secondaries' acknowledgement, ship timeout and retry, progress sync.
// Then the clients (1-3), how they share the partitions (all on one, each
// write anywhere, or each client on its own), and 1-4 bursts of 1-6 writes
// per client with gaps of none to 200 ms, separated by silences of a few
// lag bounds (sometimes longer than a group check, when that is short).
func ConfigFor(seed int64) Config {
	rng := rand.New(rand.NewPCG(uint64(seed), configSalt))
	s := sys.DefaultConfig()
	s.Partitions = scenarios.Weighted(rng, []int{4, 2, 1, 3}, []int{2, 3, 2, 1})
	s.GroupCheckInterval = scenarios.Weighted(rng, []time.Duration{100 * time.Second, 10 * time.Second, 2 * time.Second}, []int{3, 2, 1})
	s.LoadDelay = scenarios.Weighted(rng, []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 50 * time.Millisecond}, []int{3, 1, 1})
	s.AckDelay = scenarios.Weighted(rng, []time.Duration{2 * time.Millisecond, 10 * time.Millisecond, 500 * time.Microsecond}, []int{2, 1, 1})
	s.ShipTimeout = scenarios.Weighted(rng, []time.Duration{100 * time.Second, time.Second, 5 * time.Second}, []int{1, 3, 1})
	s.ShipRetry = scenarios.Weighted(rng, []time.Duration{time.Second, 100 * time.Millisecond, 300 * time.Millisecond}, []int{2, 2, 1})
	s.ConfirmInterval = scenarios.Weighted(rng, []time.Duration{10 * time.Second, time.Second, 3 * time.Second}, []int{2, 2, 1})
	// The first group check: at a random phase (-1), or as the primary
	// starts.
	s.GroupCheckPhase = scenarios.Weighted(rng, []time.Duration{-1, 0}, []int{3, 1})

	c := Config{
		System:        s,
		Clients:       scenarios.Weighted(rng, []int{1, 2, 3}, []int{1, 2, 2}),
		ClientTimeout: scenarios.Weighted(rng, []time.Duration{time.Second, 300 * time.Millisecond, 3 * time.Second}, []int{2, 1, 1}),
		RetryDelay:    scenarios.Weighted(rng, []time.Duration{100 * time.Millisecond, 20 * time.Millisecond, 300 * time.Millisecond}, []int{2, 1, 1}),
		Churn:         scenarios.Weighted(rng, []float64{0, 0.3}, []int{2, 1}),
		CloseTogether: rng.IntN(2) == 0,
		Auditors:      scenarios.Weighted(rng, []int{0, 1, 2}, []int{1, 2, 2}),
		Audits:        1 + rng.IntN(3),
		// Fixed ships a write within a load poll and a ship's round trip
		// of its commit (LoadDelay plus a few milliseconds, over 2,000
		// seeds); half a poll more leaves room for the round trip.
		LagBound: s.LoadDelay + s.LoadDelay/2,
	}
	// Buggy's last write waits for the next group check's empty write, at
	// most two intervals away; a ship stuck in a fault waits its timeout.
	c.FinalWait = 2*s.GroupCheckInterval + s.ShipTimeout + s.ShipRetry + 5*time.Second
	c.Bursts = drawBursts(rng, c)
	return c
}

// drawBursts draws the bursts: which partitions each client writes, the
// writes, the gaps, and the silences.
func drawBursts(rng *rand.Rand, c Config) []Burst {
	parts := c.System.Partitions
	// Sharing: "one" puts every client on one partition (their writes meet
	// on one replica), "any" lets each write pick, "own" gives client i the
	// partition i (mod the number of partitions).
	sharing := scenarios.Weighted(rng, []string{"one", "any", "own"}, []int{2, 3, 1})
	shared := rng.IntN(parts)
	bad := rng.IntN(4) == 0 // some writes go to a partition that does not exist
	maxGap := scenarios.Weighted(rng, []time.Duration{20 * time.Millisecond, 200 * time.Millisecond, 0}, []int{2, 2, 1})
	n := scenarios.Weighted(rng, []int{1, 2, 3, 4}, []int{1, 3, 3, 1})
	var bursts []Burst
	at := between(rng, 0, 300*time.Millisecond)
	for range n {
		b := Burst{Start: at, Writes: make([][]Write, c.Clients)}
		active := 0
		for i := range c.Clients {
			if rng.IntN(5) == 0 && (active > 0 || i < c.Clients-1) {
				continue // this client sits the burst out
			}
			active++
			for range 1 + rng.IntN(6) {
				w := Write{Gap: between(rng, 0, maxGap)}
				switch sharing {
				case "one":
					w.Partition = shared
				case "any":
					w.Partition = rng.IntN(parts)
				default:
					w.Partition = i % parts
				}
				if bad && rng.IntN(8) == 0 {
					w.Partition = parts
				}
				b.Writes[i] = append(b.Writes[i], w)
			}
		}
		b.Silence = between(rng, 3*c.LagBound, 3*c.LagBound+1500*time.Millisecond)
		if rng.IntN(4) == 0 && c.System.GroupCheckInterval <= 10*time.Second {
			// Long enough for a group check to come: its empty write commits
			// the burst's last write on disk.
			b.Silence = between(rng, c.System.GroupCheckInterval, c.System.GroupCheckInterval+2*time.Second)
		}
		bursts = append(bursts, b)
		at += b.estimate(c) + b.Silence
	}
	return bursts
}

// estimate is how long the burst should take without faults: the longest
// client's gaps and round trips.
func (b Burst) estimate(c Config) time.Duration {
	var longest time.Duration
	for _, ws := range b.Writes {
		var d time.Duration
		for _, w := range ws {
			d += w.Gap + c.System.AckDelay + 6*time.Millisecond
		}
		longest = max(longest, d)
	}
	return longest
}

// horizon is when the last burst should end, without faults.
func (c Config) horizon() time.Duration {
	last := c.Bursts[len(c.Bursts)-1]
	return last.Start + last.estimate(c)
}

// scaledForReal shrinks the durations so that a run on the wall clock
// takes seconds: a group check every 2 s, a load poll every 5 ms, a lag
// bound of 500 ms (generous: real runs share the processors), and the
// bursts and silences a tenth of their virtual length.
func (c Config) scaledForReal() Config {
	s := &c.System
	s.GroupCheckInterval = 2 * time.Second
	s.LoadDelay = 5 * time.Millisecond
	s.AckDelay = time.Millisecond
	s.ShipTimeout = 100 * time.Millisecond
	s.ShipRetry = 5 * time.Millisecond
	s.ConfirmInterval = 50 * time.Millisecond
	c.ClientTimeout = time.Second
	c.RetryDelay = 5 * time.Millisecond
	c.LagBound = 500 * time.Millisecond
	c.FinalWait = 5 * time.Second
	bursts := make([]Burst, len(c.Bursts))
	for i, b := range c.Bursts {
		b.Start /= realScale
		b.Silence = min(b.Silence/realScale, 300*time.Millisecond)
		ws := make([][]Write, len(b.Writes))
		for j, cw := range b.Writes {
			for _, w := range cw {
				w.Gap /= realScale
				ws[j] = append(ws[j], w)
			}
		}
		b.Writes = ws
		bursts[i] = b
	}
	c.Bursts = bursts
	return c
}

// realScale divides virtual durations (bursts, silences, fault plans) in
// real mode.
const realScale = 10
