package duplicator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestDisk(t *testing.T) {
	d := NewDisk(2)
	require.Equal(t, 2, d.Partitions())
	require.Zero(t, d.MaxDecreeOnDisk(0))
	require.Zero(t, d.MaxCommitOnDisk(0))
	d.open(1)
	require.NoError(t, d.append(0, 1, Mutation{Decree: 1, LastCommitted: 0, Empty: true}))
	require.NoError(t, d.append(0, 1, Mutation{Decree: 2, LastCommitted: 1, Key: "a", Value: "1"}))
	require.NoError(t, d.append(0, 1, Mutation{Decree: 3, LastCommitted: 1, Key: "b", Value: "2"}))
	require.NoError(t, d.append(1, 1, Mutation{Decree: 1, Empty: true}))
	require.Equal(t, int64(3), d.MaxDecreeOnDisk(0))
	require.Equal(t, int64(1), d.MaxCommitOnDisk(0), "decrees 2 and 3 are on disk, but nothing says they are committed")
	require.Equal(t, int64(1), d.MaxDecreeOnDisk(1))
	require.Len(t, d.Log(0), 3)
	require.Equal(t, []Mutation{{Decree: 2, LastCommitted: 1, Key: "a", Value: "1"}, {Decree: 3, LastCommitted: 1, Key: "b", Value: "2"}}, d.ReadFrom(0, 2))
	require.Empty(t, d.ReadFrom(0, 4))
	require.NoError(t, d.setConfirmed(1, 1, 5))
	require.Equal(t, int64(5), d.Confirmed(1))
	require.Zero(t, d.Confirmed(0))

	// A newer incarnation fences the old one off.
	d.open(2)
	require.ErrorIs(t, d.append(0, 1, Mutation{Decree: 4}), ErrFenced)
	require.ErrorIs(t, d.setConfirmed(1, 1, 6), ErrFenced)
	require.NoError(t, d.append(0, 2, Mutation{Decree: 4, LastCommitted: 3}))
	require.Equal(t, int64(4), d.MaxDecreeOnDisk(0))
}

// TestBatch drives the prepare list directly: it commits by
// last_committed_decree, drops empty writes, and (Fixed, Merged) commits
// what the replica applied.
func TestBatch(t *testing.T) {
	log := []Mutation{
		{Decree: 1, LastCommitted: 0, Empty: true},
		{Decree: 2, LastCommitted: 1, Key: "a", Value: "1"},
		{Decree: 3, LastCommitted: 2, Key: "b", Value: "2"},
	}
	for _, v := range []Variant{Buggy, Fixed, Merged} {
		t.Run(v.String(), func(t *testing.T) {
			b := newBatch(0)
			for _, m := range log {
				b.add(v, m, 3)
			}
			muts, last := b.take()
			if v == Buggy {
				require.Equal(t, int64(2), last, "only the log's last_committed_decree counts")
				require.Equal(t, log[1:2], muts)
			} else {
				require.Equal(t, int64(3), last, "applied means committed")
				require.Equal(t, log[1:3], muts)
			}
			b.add(v, log[2], 3) // loaded again: no change
			muts, _ = b.take()
			require.Empty(t, muts)
		})
	}

	// A mutation loaded before it was applied: Merged commits it only with
	// a later mutation, Fixed as soon as it is applied.
	for _, v := range []Variant{Fixed, Merged} {
		b := newBatch(0)
		b.add(v, log[0], 1)
		b.add(v, log[1], 1) // on disk, not applied yet
		_, last := b.take()
		require.Equal(t, int64(1), last, v.String())
		b.add(v, log[1], 2) // loaded again after it was applied
		if v == Fixed {
			b.commit(2)
		}
		_, last = b.take()
		if v == Fixed {
			require.Equal(t, int64(2), last)
		} else {
			require.Equal(t, int64(1), last, "the merged fix waits for a later mutation")
		}
	}
}

// recorder keeps what a test needs from the observer: when each write
// committed at the primary and reached the remote. Its lock is a plain
// sync.Mutex and no critical section of it reaches a scheduling point, as
// the Observer's contract asks (RemoteApplied runs under the RemoteStore's
// lock, which outlives a crash of the remote).
type recorder struct {
	mu        sync.Mutex
	committed map[[2]int64]time.Time
	remote    map[[2]int64]time.Time
	dups      int
	order     map[int][]int64 // remote-applied decrees per partition
	badShip   []string
	progress  map[[2]int][]Progress
	held      map[Role]map[Resource]int // the live incarnations' (see holds)
	inc       map[Role]int              // the last incarnation that reported
	total     int                       // every incarnation's resources
}

// open returns how many resources every incarnation of every node holds.
func (r *recorder) open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

func newRecorder() *recorder {
	return &recorder{committed: map[[2]int64]time.Time{}, remote: map[[2]int64]time.Time{},
		order: map[int][]int64{}, progress: map[[2]int][]Progress{}, held: map[Role]map[Resource]int{}, inc: map[Role]int{}}
}

func (r *recorder) observer() *Observer {
	return &Observer{
		Committed: func(p int, m Mutation) {
			if m.Empty {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if _, ok := r.committed[[2]int64{int64(p), m.Decree}]; !ok {
				r.committed[[2]int64{int64(p), m.Decree}] = harness.Now()
			}
		},
		Shipped: func(p, inc int, muts []Mutation, last, applied int64) {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, m := range muts {
				if m.Decree > applied || m.Decree > last {
					r.badShip = append(r.badShip, fmt.Sprintf("p%d %v applied=%d last=%d", p, m, applied, last))
				}
			}
		},
		Progressed: func(p, inc int, pr Progress) {
			r.mu.Lock()
			defer r.mu.Unlock()
			k := [2]int{p, inc}
			r.progress[k] = append(r.progress[k], pr)
		},
		Resource: func(role Role, inc int, res Resource, delta int) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if inc > r.inc[role] {
				r.inc[role] = inc
				r.held[role] = map[Resource]int{}
			}
			if inc == r.inc[role] {
				r.held[role][res] += delta
			}
			r.total += delta
		},
		RemoteApplied: func(p int, m Mutation) {
			r.mu.Lock()
			defer r.mu.Unlock()
			k := [2]int64{int64(p), m.Decree}
			if _, ok := r.remote[k]; ok {
				r.dups++
				return
			}
			r.remote[k] = harness.Now()
			r.order[p] = append(r.order[p], m.Decree)
		},
	}
}

// lag returns how long after its commit the write (p, decree) reached the
// remote, and whether it did.
func (r *recorder) lag(p int, decree int64) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok1 := r.committed[[2]int64{int64(p), decree}]
	s, ok2 := r.remote[[2]int64{int64(p), decree}]
	return s.Sub(c), ok1 && ok2
}

func (r *recorder) delivered(p int, decree int64) bool {
	_, ok := r.lag(p, decree)
	return ok
}

// check asserts the safety properties: every shipped write applied, the
// remote has each write once, in decree order, and progress never went back
// within an incarnation.
func (r *recorder) check(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Empty(t, r.badShip, "shipped beyond last_applied_decree")
	assert.Zero(t, r.dups, "the remote applied a write twice")
	for p, ds := range r.order {
		for i := 1; i < len(ds); i++ {
			assert.Greater(t, ds[i], ds[i-1], "partition %d: remote order", p)
		}
	}
	for k, prs := range r.progress {
		for i := 1; i < len(prs); i++ {
			assert.GreaterOrEqual(t, prs[i].LastDecree, prs[i-1].LastDecree, "last_decree went back: %v", k)
			assert.GreaterOrEqual(t, prs[i].ConfirmedDecree, prs[i-1].ConfirmedDecree, "confirmed_decree went back: %v", k)
		}
	}
	for k := range r.committed {
		if _, ok := r.remote[k]; !ok {
			t.Errorf("write %v committed, never reached the remote", k)
		}
	}
}

// cluster is a primary, a remote and a client node in a World.
type cluster struct {
	rec                     *recorder
	disk                    *Disk
	store                   *RemoteStore
	real                    bool // the World runs in real mode
	primary, remote, client *harness.Node
}

func startCluster(t *testing.T, v Variant, cfg Config) *cluster {
	c := &cluster{rec: newRecorder(), disk: NewDisk(cfg.Partitions)}
	obs := c.rec.observer()
	c.primary = harness.NewNode("primary", Primary(v, cfg, c.disk, obs))
	c.store = NewRemoteStore()
	c.remote = harness.NewNode("remote", Remote(cfg, c.store, obs))
	c.client = harness.NewNode("client", nil)
	require.NoError(t, c.remote.Start())
	require.NoError(t, c.primary.Start())
	require.NoError(t, c.client.Start())
	return c
}

// stop crashes every node: their goroutines end (deterministic mode) or
// return once their context is done (real mode).
//
// In real mode it then waits (at most 5 s) until every goroutine and
// connection the nodes reported has ended, so that none outlives the World.
func (c *cluster) stop() {
	for _, n := range []*harness.Node{c.primary, c.remote, c.client} {
		if n.Alive() {
			_ = n.Crash(harness.CrashReset)
		}
	}
	for start := harness.Now(); c.real && c.rec.open() > 0 && harness.Since(start) < 5*time.Second; {
		harness.Sleep(5 * time.Millisecond)
	}
}

// dialPrimary dials the primary from the client node, retrying while it is
// not listening.
func (c *cluster) dialPrimary(ctx context.Context) (*Client, error) {
	for {
		cl, err := Dial(ctx, c.client, "primary:34801")
		if err == nil || ctx.Err() != nil {
			return cl, err
		}
		harness.Sleep(10 * time.Millisecond)
	}
}

// writes writes n keys to partition p from a goroutine of the client node
// and returns their decrees.
func (c *cluster) writes(t *testing.T, p, n int, prefix string) []int64 {
	var ds []int64
	var werr error
	var wg harness.WaitGroup
	wg.Add(1)
	require.NoError(t, c.client.Go(func() {
		defer wg.Done()
		ctx, cancel := harness.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl, err := c.dialPrimary(ctx)
		if err != nil {
			werr = err
			return
		}
		defer cl.Close()
		for i := range n {
			d, err := cl.Write(ctx, p, fmt.Sprintf("%s%d", prefix, i), "v")
			if err != nil {
				werr = err
				return
			}
			ds = append(ds, d)
			harness.Sleep(time.Duration(harness.IntN(20)) * time.Millisecond)
		}
	}))
	wg.Wait()
	require.NoError(t, werr)
	return ds
}

// waitDelivered waits until the write reached the remote or limit passed.
func (c *cluster) waitDelivered(p int, decree int64, limit, step time.Duration) {
	start := harness.Now()
	for !c.rec.delivered(p, decree) && harness.Since(start) < limit {
		harness.Sleep(step)
	}
}

// lastWriteLag writes a burst to each partition, goes silent and returns
// the lag of the last write of each partition.
func lastWriteLag(t *testing.T, v Variant, cfg Config, mode harness.Mode, seed int64) []time.Duration {
	var lags []time.Duration
	res := harness.Run(harness.Options{Seed: seed, Mode: mode}, func() {
		c := startCluster(t, v, cfg)
		c.real = mode == harness.Real
		defer c.stop()
		var last []int64
		for p := range cfg.Partitions {
			ds := c.writes(t, p, 5, fmt.Sprintf("p%d-", p))
			last = append(last, ds[len(ds)-1])
		}
		for p, d := range last {
			c.waitDelivered(p, d, 3*cfg.GroupCheckInterval, cfg.LoadDelay)
			lag, ok := c.rec.lag(p, d)
			require.True(t, ok, "partition %d: last write %d never reached the remote", p, d)
			lags = append(lags, lag)
		}
		c.rec.check(t)
	})
	require.NoError(t, res.Err())
	return lags
}

// TestLastWriteLag is the bug on the virtual clock: Buggy ships the last
// write only after the group check's empty write, Fixed within a poll.
func TestLastWriteLag(t *testing.T) {
	cfg := DefaultConfig()
	for seed := int64(1); seed <= 3; seed++ {
		for _, v := range []Variant{Buggy, Fixed} {
			lags := lastWriteLag(t, v, cfg, harness.Deterministic, seed)
			t.Logf("seed %d %s: lag of each partition's last write: %v", seed, v, lags)
			for _, lag := range lags {
				if v == Buggy {
					assert.GreaterOrEqual(t, lag, cfg.GroupCheckInterval, "buggy: the last write waits for an empty write")
					assert.Less(t, lag, 2*cfg.GroupCheckInterval+time.Second)
				} else {
					assert.Less(t, lag, cfg.LoadDelay+50*time.Millisecond, "fixed: within one poll")
				}
			}
		}
	}
}

// TestCrashRestart crashes the primary between two bursts: the new
// incarnation replays the private log, resumes duplication from the
// confirmed decree, and the remote still gets each write once, in order.
func TestCrashRestart(t *testing.T) {
	cfg := DefaultConfig()
	for _, v := range []Variant{Buggy, Fixed} {
		for seed := int64(1); seed <= 5; seed++ {
			res := harness.Run(harness.Options{Seed: seed}, func() {
				c := startCluster(t, v, cfg)
				defer c.stop()
				c.writes(t, 0, 10, "a")
				c.writes(t, 1, 3, "b")
				harness.Sleep(time.Duration(harness.IntN(3000)) * time.Millisecond)
				require.NoError(t, c.primary.Crash(harness.CrashReset))
				harness.Sleep(500 * time.Millisecond)
				require.NoError(t, c.primary.Start())
				ds := c.writes(t, 0, 5, "c")
				ds1 := c.writes(t, 1, 5, "d")
				c.waitDelivered(0, ds[len(ds)-1], 3*cfg.GroupCheckInterval, time.Second)
				c.waitDelivered(1, ds1[len(ds1)-1], 3*cfg.GroupCheckInterval, time.Second)
				harness.Sleep(time.Second)
				c.rec.check(t)
				require.Equal(t, 2, c.primary.Incarnation())
			})
			require.NoError(t, res.Err(), "%s seed %d", v, seed)
		}
	}
}

// TestPartitionHeals cuts the remote off during a burst: the writes ship
// once the link heals, each once.
func TestPartitionHeals(t *testing.T) {
	cfg := DefaultConfig()
	res := harness.Run(harness.Options{Seed: 7}, func() {
		c := startCluster(t, Fixed, cfg)
		defer c.stop()
		c.writes(t, 0, 3, "a")
		harness.Sleep(time.Second)
		down := harness.Link{Down: true}
		require.NoError(t, harness.SetLink("primary", "remote", down))
		require.NoError(t, harness.SetLink("remote", "primary", down))
		ds := c.writes(t, 0, 5, "b")
		harness.Sleep(3 * time.Second)
		require.False(t, c.rec.delivered(0, ds[0]), "nothing crosses a partition")
		require.NoError(t, harness.ResetLinks())
		healed := harness.Now()
		c.waitDelivered(0, ds[len(ds)-1], cfg.ShipTimeout+cfg.ShipRetry+time.Second, 10*time.Millisecond)
		require.True(t, c.rec.delivered(0, ds[len(ds)-1]))
		require.Less(t, harness.Since(healed), cfg.ShipTimeout+cfg.ShipRetry+100*time.Millisecond)
		c.rec.check(t)
	})
	require.NoError(t, res.Err())
}

// TestBadPartition: a write to an unknown partition is refused.
func TestBadPartition(t *testing.T) {
	cfg := DefaultConfig()
	res := harness.Run(harness.Options{Seed: 1}, func() {
		c := startCluster(t, Fixed, cfg)
		defer c.stop()
		var err error
		var wg harness.WaitGroup
		wg.Add(1)
		require.NoError(t, c.client.Go(func() {
			defer wg.Done()
			ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
			defer cancel()
			cl, derr := c.dialPrimary(ctx)
			if derr != nil {
				err = derr
				return
			}
			defer cl.Close()
			_, err = cl.Write(ctx, 5, "k", "v")
		}))
		wg.Wait()
		require.True(t, errors.Is(err, ErrBadPartition), "%v", err)
	})
	require.NoError(t, res.Err())
}

func TestDisksMustMatch(t *testing.T) {
	err := ServePrimary(context.Background(), nil, 1, Fixed, DefaultConfig(), NewDisk(1), nil)
	require.Error(t, err)
}

// realConfig shrinks the timings for runs on the wall clock.
func realConfig() Config {
	cfg := DefaultConfig()
	cfg.GroupCheckInterval = 600 * time.Millisecond
	cfg.LoadDelay = 5 * time.Millisecond
	cfg.AckDelay = time.Millisecond
	cfg.ShipTimeout = 200 * time.Millisecond
	cfg.ShipRetry = 5 * time.Millisecond
	cfg.ConfirmInterval = 20 * time.Millisecond
	return cfg
}

// TestRealMode runs both variants with real goroutines under the race
// detector: the same lag, on the wall clock, and no goroutine left behind.
func TestRealMode(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := realConfig()
	for _, v := range []Variant{Buggy, Fixed} {
		lags := lastWriteLag(t, v, cfg, harness.Real, 0)
		t.Logf("%s: lag of each partition's last write: %v", v, lags)
		for _, lag := range lags {
			if v == Buggy {
				assert.GreaterOrEqual(t, lag, cfg.GroupCheckInterval-50*time.Millisecond, "buggy waits for an empty write")
			} else {
				assert.Less(t, lag, cfg.GroupCheckInterval/2, "fixed ships within a few polls")
			}
		}
	}
}

// TestRealModeCrash restarts the primary with real goroutines: the old
// incarnation's goroutines return, the new one resumes.
func TestRealModeCrash(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := realConfig()
	res := harness.Run(harness.Options{Mode: harness.Real, Perturb: 0.1}, func() {
		c := startCluster(t, Fixed, cfg)
		c.real = true
		defer c.stop()
		c.writes(t, 0, 5, "a")
		require.NoError(t, c.primary.Restart())
		ds := c.writes(t, 0, 5, "b")
		c.waitDelivered(0, ds[len(ds)-1], 5*time.Second, 5*time.Millisecond)
		c.rec.check(t)
	})
	require.NoError(t, res.Err())
}

// holds returns what the last incarnation of role holds.
func (r *recorder) holds(role Role) map[Resource]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[Resource]int{}
	for k, v := range r.held[role] {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// TestRemoteSurvivesCrash: the remote cluster's node crashes and restarts
// between two bursts; its store survives, the writes shipped before are
// not applied again, and the later ones arrive.
func TestRemoteSurvivesCrash(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Partitions = 1
	res := harness.Run(harness.Options{Seed: 3}, func() {
		c := startCluster(t, Fixed, cfg)
		defer c.stop()
		ds := c.writes(t, 0, 4, "a")
		c.waitDelivered(0, ds[len(ds)-1], time.Second, 10*time.Millisecond)
		require.NoError(t, c.remote.Crash(harness.CrashReset))
		harness.Sleep(200 * time.Millisecond)
		require.NoError(t, c.remote.Start())
		ds = c.writes(t, 0, 3, "b")
		c.waitDelivered(0, ds[len(ds)-1], time.Minute, 10*time.Millisecond)
		c.rec.check(t)
		require.Equal(t, ds[len(ds)-1], c.store.Seen(0))
		v, ok := c.store.Get("a0")
		require.True(t, ok)
		require.Equal(t, "v", v)
	})
	require.NoError(t, res.Err())
}

// TestStaleConnection: a duplication's connection broke while it sat idle
// (the remote cluster restarted); the next write ships within a load
// poll, on a new connection, not after a ship retry (1 s). Before the fix
// the first ship on the dead connection failed and waited ShipRetry.
func TestStaleConnection(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Partitions = 1
	res := harness.Run(harness.Options{Seed: 5}, func() {
		c := startCluster(t, Fixed, cfg)
		defer c.stop()
		ds := c.writes(t, 0, 2, "a")
		c.waitDelivered(0, ds[len(ds)-1], time.Second, 10*time.Millisecond)
		require.NoError(t, c.remote.Restart())
		harness.Sleep(time.Second)
		ds = c.writes(t, 0, 1, "b")
		c.waitDelivered(0, ds[0], time.Minute, time.Millisecond)
		lag, ok := c.rec.lag(0, ds[0])
		require.True(t, ok)
		require.Less(t, lag, cfg.LoadDelay+20*time.Millisecond)
		c.rec.check(t)
	})
	require.NoError(t, res.Err())
}

// TestDuplicatedAck: while the link from the remote cluster duplicates
// every message, a batch's acknowledgement arrives twice; the second one,
// read by the next ship, is skipped, and that ship does not wait a retry.
func TestDuplicatedAck(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Partitions = 1
	res := harness.Run(harness.Options{Seed: 5}, func() {
		c := startCluster(t, Fixed, cfg)
		defer c.stop()
		require.NoError(t, harness.SetLink("remote", "primary", harness.Link{Latency: time.Millisecond, Duplicate: 1}))
		ds := c.writes(t, 0, 1, "a")
		c.waitDelivered(0, ds[0], time.Second, 10*time.Millisecond)
		harness.Sleep(100 * time.Millisecond)
		require.NoError(t, harness.ResetLinks())
		// The next ship reads the stale acknowledgement first; the write
		// after it must not wait for that ship to be retried.
		ds = c.writes(t, 0, 1, "b")
		c.waitDelivered(0, ds[0], time.Minute, time.Millisecond)
		ds = append(ds, c.writes(t, 0, 1, "c")...)
		c.waitDelivered(0, ds[1], time.Minute, time.Millisecond)
		for _, d := range ds {
			lag, ok := c.rec.lag(0, d)
			require.True(t, ok)
			require.Less(t, lag, cfg.LoadDelay+20*time.Millisecond, "decree %d", d)
		}
		c.rec.check(t)
	})
	require.NoError(t, res.Err())
}

// TestResources: the observer hears of every resource a node opens and
// releases: a live primary holds its listener and three goroutines per
// partition, one client connection per client until the client hangs up,
// and a ship connection per partition that shipped; the remote serves the
// ship connections.
func TestResources(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Partitions = 2
	res := harness.Run(harness.Options{Seed: 2}, func() {
		c := startCluster(t, Fixed, cfg)
		defer c.stop()
		harness.Sleep(10 * time.Millisecond)
		base := map[Resource]int{ResListener: 1, ResGroupCheck: 2, ResDuplication: 2, ResConfirm: 2}
		require.Equal(t, base, c.rec.holds(RolePrimary))
		require.Equal(t, map[Resource]int{ResListener: 1}, c.rec.holds(RoleRemote))

		var wg harness.WaitGroup
		wg.Add(1)
		require.NoError(t, c.client.Go(func() {
			defer wg.Done()
			ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
			defer cancel()
			cl, err := c.dialPrimary(ctx)
			require.NoError(t, err)
			_, err = cl.Write(ctx, 0, "k", "v")
			require.NoError(t, err)
			require.Equal(t, 1, c.rec.holds(RolePrimary)[ResClientConn])
			require.NoError(t, cl.Close())
			require.ErrorIs(t, cl.Close(), net.ErrClosed)
		}))
		wg.Wait()
		harness.Sleep(time.Second)
		want := maps.Clone(base)
		want[ResShipConn] = 1 // partition 0 shipped
		require.Equal(t, want, c.rec.holds(RolePrimary))
		require.Equal(t, map[Resource]int{ResListener: 1, ResServedShip: 1}, c.rec.holds(RoleRemote))

		// A restarted primary starts afresh (and ships again what was not
		// confirmed yet, on a connection of its own); the remote ends the
		// old incarnation's connection once the reset reaches it.
		require.NoError(t, c.primary.Restart())
		harness.Sleep(time.Second)
		require.Equal(t, want, c.rec.holds(RolePrimary))
		require.Equal(t, map[Resource]int{ResListener: 1, ResServedShip: 1}, c.rec.holds(RoleRemote))
		require.Equal(t, 2, c.rec.inc[RolePrimary])
	})
	require.NoError(t, res.Err())
}
