package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// timings are a test cluster's: meta's grace (the replica servers' lease
// is one beacon shorter), the beacon and check interval, the client's
// refresh interval, and its meta, dial and call timeouts.
type timings struct {
	lease, beacon, refresh, timeout time.Duration
}

var (
	// detTimings are short: the virtual clock makes them cost nothing, and
	// it is exact (up to wakeCost per wake-up).
	detTimings = timings{lease: 300 * time.Millisecond, beacon: 50 * time.Millisecond,
		refresh: 200 * time.Millisecond, timeout: 400 * time.Millisecond}
	// realTimings leave room for a loaded machine: a replica server keeps
	// its lease, and meta declares none dead, unless they go 900ms without
	// a beacon answered (with 300ms, a machine running -race tests on
	// every core starved the beacons, and meta moved primaries under a
	// fault-free workload); a call that must fail at once has 500ms to.
	realTimings = timings{lease: time.Second, beacon: 100 * time.Millisecond,
		refresh: 200 * time.Millisecond, timeout: time.Second}
)

// wakeCost is what the runtime may charge, in virtual time, for the work a
// goroutine does once woken: a timer due within a millisecond may fire
// while goroutines run, once between two moments at which every goroutine
// was blocked (see harness.Strategy).
const wakeCost = time.Millisecond

// cluster is a meta server, four replica servers and a client node.
type cluster struct {
	t       *testing.T
	variant Variant
	tm      timings
	meta    *harness.Node
	reps    []*harness.Node
	client  *harness.Node
	c       *Client
	start   time.Time

	mu      harness.Mutex
	changes []Change
}

// runCluster runs body on a goroutine of the client node, with an open
// client, in a World of the given mode; then it closes the client and
// shuts every node down.
func runCluster(t *testing.T, mode harness.Mode, seed int64, v Variant, body func(cl *cluster)) *harness.Result {
	t.Helper()
	var bodyErr any
	res := harness.Run(harness.Options{Seed: seed, Mode: mode}, func() {
		cl := &cluster{t: t, variant: v, tm: detTimings, start: harness.Now()}
		if mode == harness.Real {
			cl.tm = realTimings
		}
		// In real mode, the servers' goroutines must be gone before Run
		// returns: wait for each server's main to return after the crash.
		var servers harness.WaitGroup
		served := func(main func(*harness.Node)) func(*harness.Node) {
			servers.Add(1)
			return func(n *harness.Node) {
				defer servers.Done()
				main(n)
			}
		}
		var addrs []string
		for i := 1; i <= 4; i++ {
			addrs = append(addrs, fmt.Sprintf("r%d:%d", i, ReplicaPort))
		}
		cl.meta = harness.NewNode("meta", served(MetaMain(MetaConfig{Replicas: addrs, Partitions: 4,
			Grace: cl.tm.lease, CheckInterval: cl.tm.beacon, OnChange: func(c Change) {
				cl.mu.Lock()
				cl.changes = append(cl.changes, c)
				cl.mu.Unlock()
			}})))
		nodes := []*harness.Node{cl.meta}
		for i := 1; i <= 4; i++ {
			n := harness.NewNode(fmt.Sprintf("r%d", i), served(ReplicaMain(ReplicaConfig{
				Meta: fmt.Sprintf("meta:%d", MetaPort), BeaconInterval: cl.tm.beacon, Lease: cl.tm.lease - cl.tm.beacon})))
			cl.reps = append(cl.reps, n)
			nodes = append(nodes, n)
		}
		cl.client = harness.NewNode("client", nil)
		nodes = append(nodes, cl.client)
		for _, n := range nodes {
			if err := n.Start(); err != nil {
				bodyErr = err
				return
			}
		}
		done := harness.NewChan[struct{}](0)
		err := cl.client.Go(func() {
			defer done.Close()
			defer func() { bodyErr = recover() }()
			harness.Sleep(50 * time.Millisecond) // primaries sync their secondaries
			ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
			c, err := Open(ctx, Options{Variant: v, Host: cl.client, Meta: fmt.Sprintf("meta:%d", MetaPort),
				RefreshInterval: cl.tm.refresh, MetaTimeout: cl.tm.timeout, DialTimeout: cl.tm.timeout})
			cancel()
			if err != nil {
				panic(err)
			}
			cl.c = c
			defer c.Close()
			body(cl)
		})
		if err != nil {
			bodyErr = err
			return
		}
		done.Recv()
		for _, n := range nodes {
			if n.Alive() {
				_ = n.Crash(harness.CrashReset)
			}
		}
		if mode == harness.Real {
			servers.Wait()
		}
	})
	if bodyErr != nil {
		t.Fatalf("seed %d (%v, %v): %v", seed, mode, v, bodyErr)
	}
	require.NoError(t, res.Err())
	return res
}

// ctx returns a context with the test call timeout.
func (cl *cluster) ctx() (context.Context, context.CancelFunc) {
	return harness.WithTimeout(context.Background(), cl.tm.timeout)
}

// check panics (failing the test from the World's goroutine) unless ok.
func (cl *cluster) check(ok bool, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf(format, args...))
	}
}

// node returns the replica node of address addr.
func (cl *cluster) node(addr string) *harness.Node {
	name, _, err := harness.SplitAddr(addr)
	cl.check(err == nil, "bad address %q", addr)
	return harness.LookupNode(name)
}

// keyOn returns a key of partition p.
func keyOn(p int) string { return keysOn(p, 1)[0] }

// keysOn returns n keys of partition p.
func keysOn(p, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if k := fmt.Sprintf("key%d", i); PartitionOf(k, 4) == p {
			out = append(out, k)
		}
	}
	return out
}

// waitChange waits until meta has moved partition p's primary away from
// addr, and returns when it did.
func (cl *cluster) waitChange(p int, from string, limit time.Duration) time.Time {
	deadline := harness.Now().Add(limit)
	for harness.Now().Before(deadline) {
		cl.mu.Lock()
		for _, c := range cl.changes {
			if c.Partition == p && c.From == from && c.To != from {
				cl.mu.Unlock()
				return c.At
			}
		}
		cl.mu.Unlock()
		harness.Sleep(10 * time.Millisecond)
	}
	panic(fmt.Sprintf("meta did not move partition %d away from %s within %v", p, from, limit))
}

func modes() []harness.Mode { return []harness.Mode{harness.Deterministic, harness.Real} }

func TestPartitionOf(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 100; i++ {
		p := PartitionOf(fmt.Sprint(i), 4)
		require.True(t, p >= 0 && p < 4)
		seen[p] = true
	}
	require.Len(t, seen, 4)
	require.Equal(t, PartitionOf("x", 4), PartitionOf("x", 4))
	require.Equal(t, 0, PartitionOf("x", 0))
}

func TestInitialConfig(t *testing.T) {
	cfg := InitialConfig([]string{"a", "b", "c", "d"}, 4, 3)
	require.Equal(t, PartitionConfig{Index: 1, Ballot: 1, Primary: "b", Secondaries: []string{"c", "d"}}, cfg[1])
	require.Equal(t, PartitionConfig{Index: 3, Ballot: 1, Primary: "d", Secondaries: []string{"a", "b"}}, cfg[3])
}

func TestAmbiguous(t *testing.T) {
	assert.False(t, Ambiguous(nil))
	assert.True(t, Ambiguous(fmt.Errorf("x: %w", ErrSessionReset)))
	assert.True(t, Ambiguous(context.DeadlineExceeded))
	assert.True(t, Ambiguous(&ReplicaError{Code: CodeAborted}))
	assert.False(t, Ambiguous(&ReplicaError{Code: CodeInvalidState}))
	assert.False(t, Ambiguous(fmt.Errorf("x: %w", ErrSessionClosed)))
	assert.False(t, Ambiguous(fmt.Errorf("x: %w", ErrSendFailed)))
}

// TestOperations runs every operation on every partition, in both modes,
// with both variants: without faults they behave the same.
func TestOperations(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, mode := range modes() {
		for _, v := range []Variant{Buggy, Fixed} {
			t.Run(fmt.Sprintf("%v/%v", mode, v), func(t *testing.T) {
				runCluster(t, mode, 1, v, func(cl *cluster) {
					c := cl.c
					// A bound on the whole script, so that a hang fails: the
					// checks are on the answers, not on their speed.
					ctx, cancel := harness.WithTimeout(context.Background(), 30*cl.tm.timeout)
					defer cancel()
					for p := 0; p < 4; p++ {
						k := keyOn(p)
						cl.check(c.Partition(k) == p, "partition of %s", k)
						_, found, err := c.Get(ctx, k)
						cl.check(err == nil && !found, "get of a new key: %v %v", found, err)
						cl.check(c.Set(ctx, k, "v1") == nil, "set")
						v, found, err := c.Get(ctx, k)
						cl.check(err == nil && found && v == "v1", "get after set: %q %v %v", v, found, err)
						cl.check(c.Del(ctx, k) == nil, "del")
						_, found, err = c.Get(ctx, k)
						cl.check(err == nil && !found, "get after del: %v %v", found, err)
						for i := int64(1); i <= 3; i++ {
							n, err := c.Incr(ctx, "ctr"+k, 1)
							cl.check(err == nil && n == i, "incr %d: %d %v", i, n, err)
						}
						cl.check(c.Set(ctx, k, "text") == nil, "set")
						_, err = c.Incr(ctx, k, 1)
						var re *ReplicaError
						cl.check(errors.As(err, &re) && re.Code == CodeInvalidData && !Ambiguous(err), "incr of text: %v", err)
					}
					st := c.Stats()
					for i := 1; i < len(st.Refreshes); i++ {
						// A primary still syncing at startup may answer
						// ERR_INVALID_STATE: a refresh, rate limited.
						cl.check(st.Refreshes[i].Sub(st.Refreshes[i-1]) >= cl.tm.refresh, "refreshes: %v", st.Refreshes)
					}
					cl.check(st.MaxPending == 1, "one caller, max pending %d", st.MaxPending)
				})
			})
		}
	}
}

// TestCrashWithPendingCalls crashes the primary of a partition while an
// Incr and a Set wait for its answer. Fixed fails both at once with
// ErrSessionReset (not retried: their outcome is unknown), and routes every
// later call to the new primary once meta has moved it. Buggy lets both
// wait for their deadline, and keeps routing to the dead node after meta
// has moved the primary.
func TestCrashWithPendingCalls(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, mode := range modes() {
		for _, v := range []Variant{Buggy, Fixed} {
			t.Run(fmt.Sprintf("%v/%v", mode, v), func(t *testing.T) {
				runCluster(t, mode, 7, v, func(cl *cluster) {
					crashWithPendingCalls(cl)
				})
			})
		}
	}
}

func crashWithPendingCalls(cl *cluster) {
	c := cl.c
	const p = 2
	keys := keysOn(p, 2)
	k, ctr := keys[0], keys[1]
	primary := c.Config()[p].Primary
	x := cl.node(primary)
	ctx, cancel := cl.ctx()
	cl.check(c.Set(ctx, k, "before") == nil, "set before")
	cancel()

	// Replies from the primary are lost: the calls below wait for them.
	// The link comes back just before the crash, so the reset gets through.
	cl.check(harness.SetLink(x.Name(), "client", harness.Link{Latency: time.Millisecond, Down: true}) == nil, "cut the link")
	type outcome struct {
		err  error
		took time.Duration
	}
	incrDone, setDone := harness.NewChan[outcome](1), harness.NewChan[outcome](1)
	cl.client.Go(func() {
		ctx, cancel := cl.ctx()
		defer cancel()
		t0 := harness.Now()
		_, err := c.Incr(ctx, ctr, 1)
		incrDone.Send(outcome{err, harness.Since(t0)})
	})
	// The Set's deadline outlasts meta's move of the primary (a grace
	// after the crash) and a refresh after it: Fixed fails it long before,
	// Buggy lets it wait for it even though the client could have moved on.
	long := cl.tm.lease + cl.tm.timeout + cl.tm.refresh
	cl.client.Go(func() {
		ctx, cancel := harness.WithTimeout(context.Background(), long)
		defer cancel()
		t0 := harness.Now()
		err := c.Set(ctx, k, "during")
		setDone.Send(outcome{err, harness.Since(t0)})
	})
	harness.Sleep(50 * time.Millisecond)
	cl.check(harness.ResetLinks() == nil, "heal")
	cl.check(x.Crash(harness.CrashReset) == nil, "crash")

	inc, _ := incrDone.Recv()
	if cl.variant == Fixed {
		cl.check(errors.Is(inc.err, ErrSessionReset) && Ambiguous(inc.err), "fixed: the pending Incr fails with a session reset, got %v", inc.err)
		cl.check(inc.took < cl.tm.timeout/2, "fixed: the pending Incr fails at once, took %v", inc.took)
	} else {
		cl.check(errors.Is(inc.err, context.DeadlineExceeded), "buggy: the pending Incr waits for its deadline, got %v", inc.err)
	}

	moved := cl.waitChange(p, primary, 10*cl.tm.lease)
	set, _ := setDone.Recv()
	if cl.variant == Fixed {
		// Not retried: it may have been applied.
		cl.check(errors.Is(set.err, ErrSessionReset) && Ambiguous(set.err), "fixed: the pending Set fails with a session reset, got %v", set.err)
		cl.check(set.took < cl.tm.timeout/2, "fixed: the pending Set fails at once, took %v", set.took)
	} else {
		cl.check(errors.Is(set.err, context.DeadlineExceeded), "buggy: the pending Set waits for its deadline, got %v", set.err)
	}

	// Calls issued once the bounded-recovery time has passed.
	if d := cl.tm.timeout + cl.tm.refresh + 50*time.Millisecond - harness.Since(moved); d > 0 {
		harness.Sleep(d)
	}
	ctx, cancel = cl.ctx()
	defer cancel()
	val, found, err := c.Get(ctx, k)
	if cl.variant == Fixed {
		cl.check(err == nil && found && (val == "before" || val == "during"), "fixed: recovered: %q %v %v", val, found, err)
		cl.check(c.Config()[p].Primary != primary, "fixed: routes to the new primary")
	} else {
		cl.check(errors.Is(err, context.DeadlineExceeded), "buggy: still routes to the dead node, got %v", err)
		cl.check(c.Config()[p].Primary == primary, "buggy: its routing table still names %s", primary)
	}
}

// TestBlackHole makes the primary of a partition vanish: calls to it time
// out. Fixed refreshes the configuration on those timeouts and recovers
// once meta has moved the primary; Buggy never does.
func TestBlackHole(t *testing.T) {
	for _, v := range []Variant{Buggy, Fixed} {
		t.Run(v.String(), func(t *testing.T) {
			runCluster(t, harness.Deterministic, 3, v, func(cl *cluster) {
				c := cl.c
				const p = 1
				k := keyOn(p)
				primary := c.Config()[p].Primary
				cl.check(cl.node(primary).Crash(harness.CrashBlackHole) == nil, "black hole")
				ctx, cancel := cl.ctx()
				t0 := harness.Now()
				err := c.Set(ctx, k, "x")
				cancel()
				// Deterministic mode: the virtual clock is exact, but the
				// work of the wake-up at the deadline may take up to a
				// millisecond of it (the runtime may fire a timer due
				// within a millisecond while goroutines run, once between
				// two moments at which everything blocked).
				took := harness.Since(t0)
				cl.check(errors.Is(err, context.DeadlineExceeded) && took >= cl.tm.timeout && took <= cl.tm.timeout+wakeCost,
					"a call to the black hole returns at its deadline: %v after %v", err, took)
				moved := cl.waitChange(p, primary, 10*cl.tm.lease)
				harness.Sleep(cl.tm.timeout + cl.tm.refresh - harness.Since(moved))
				// One more call to the dead node in Fixed triggers the refresh
				// if the timeouts before the move only fetched the old routing.
				ctx, cancel = cl.ctx()
				_ = c.Set(ctx, k, "y")
				cancel()
				harness.Sleep(cl.tm.refresh)
				ctx, cancel = cl.ctx()
				err = c.Set(ctx, k, "z")
				cancel()
				if cl.variant == Fixed {
					cl.check(err == nil, "fixed: recovered: %v", err)
				} else {
					cl.check(errors.Is(err, context.DeadlineExceeded), "buggy: still routes to the black hole: %v", err)
				}
			})
		})
	}
}

// TestAdministratorMove moves a primary while the node stays up: both
// variants get ERR_INVALID_STATE from the old primary, refresh and retry,
// and the data moved with the primary.
func TestAdministratorMove(t *testing.T) {
	for _, v := range []Variant{Buggy, Fixed} {
		t.Run(v.String(), func(t *testing.T) {
			runCluster(t, harness.Deterministic, 5, v, func(cl *cluster) {
				c := cl.c
				const p = 3
				k := keyOn(p)
				ctx, cancel := harness.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				cl.check(c.Set(ctx, k, "v") == nil, "set")
				pc := c.Config()[p]
				to := pc.Secondaries[0]
				cl.check(MovePrimary(ctx, cl.client, fmt.Sprintf("meta:%d", MetaPort), p, to) == nil, "move")
				err := MovePrimary(ctx, cl.client, fmt.Sprintf("meta:%d", MetaPort), p, "r9:1")
				cl.check(err != nil, "moving to a non-member fails")
				harness.Sleep(cl.tm.refresh) // the refresh rate limit
				val, found, err := c.Get(ctx, k)
				cl.check(err == nil && found && val == "v", "get after the move: %q %v %v", val, found, err)
				cl.check(c.Config()[p].Primary == to, "routes to %s: %+v", to, c.Config()[p])
				cl.check(c.Set(ctx, k, "w") == nil, "set after the move")
			})
		})
	}
}

// TestRefreshRateLimited hammers a partition whose primary is down, from
// several goroutines: refreshes stay RefreshInterval apart, and
// pendingResp never holds more calls than there are callers.
func TestRefreshRateLimited(t *testing.T) {
	runCluster(t, harness.Deterministic, 11, Fixed, func(cl *cluster) {
		c := cl.c
		const p, callers = 0, 5
		k := keyOn(p)
		cl.check(cl.node(c.Config()[p].Primary).Crash(harness.CrashReset) == nil, "crash")
		var wg harness.WaitGroup
		for i := 0; i < callers; i++ {
			wg.Go(func() {
				for j := 0; j < 10; j++ {
					ctx, cancel := cl.ctx()
					_ = c.Set(ctx, k, "x")
					_, _, _ = c.Get(ctx, keyOn(1))
					cancel()
				}
			})
		}
		wg.Wait()
		st := c.Stats()
		cl.check(len(st.Refreshes) >= 3, "refreshes: %v", st.Refreshes)
		for i := 1; i < len(st.Refreshes); i++ {
			gap := st.Refreshes[i].Sub(st.Refreshes[i-1])
			cl.check(gap >= cl.tm.refresh, "refreshes %v apart", gap)
		}
		cl.check(st.MaxPending <= callers, "max pending %d", st.MaxPending)
	})
}

// TestDeterministic: the same seed runs the same, crash and failover
// included.
func TestDeterministic(t *testing.T) {
	for _, v := range []Variant{Buggy, Fixed} {
		a := runCluster(t, harness.Deterministic, 42, v, crashWithPendingCalls)
		b := runCluster(t, harness.Deterministic, 42, v, crashWithPendingCalls)
		require.Equal(t, a.TraceHash, b.TraceHash, "%v", v)
		require.Equal(t, a.Steps, b.Steps)
	}
}

// TestCodec: every field of a message survives the wire, a message cut
// short or with bytes left over is an error, and a map is written in key
// order (the same message, the same bytes).
func TestCodec(t *testing.T) {
	m := &msg{Type: tConfig, Seq: 7, Part: 3, Ballot: -2, Decree: 9, Op: opIncr, Key: "k", Value: "v", Found: true,
		Delta: -5, N: 1 << 40, OK: true, Err: CodeAborted, From: "r1:1", To: "r2:2", Sent: 123, Boot: 456, Version: 8,
		Config: []PartitionConfig{{Index: 1, Ballot: 4, Primary: "a", Secondaries: []string{"b", "c"}, Learners: []string{"d"}}, {Index: 2}},
		Data:   map[string]string{"x": "1", "y": "", "z": "3"}}
	b := encode(m)
	got, err := decode(b)
	require.NoError(t, err)
	require.Equal(t, m, got)
	require.Equal(t, b, encode(got), "the same bytes")
	empty, err := decode(encode(&msg{Type: tResp}))
	require.NoError(t, err)
	require.Equal(t, &msg{Type: tResp}, empty, "no config, no data: nil, as sent")
	for i := range b {
		_, err := decode(b[:i])
		require.Error(t, err, "cut at %d of %d", i, len(b))
	}
	_, err = decode(append(b, 0))
	require.ErrorContains(t, err, "left over")
}

// TestNotApplied: a call that gives up before any attempt reached a server
// says so; one that may have been applied does not.
func TestNotApplied(t *testing.T) {
	assert.False(t, Ambiguous(fmt.Errorf("%w: %w", ErrNotApplied, context.DeadlineExceeded)))
	assert.True(t, errors.Is(outcome(context.DeadlineExceeded, false), context.DeadlineExceeded))
	assert.False(t, Ambiguous(outcome(context.DeadlineExceeded, false)))
	assert.True(t, Ambiguous(outcome(context.DeadlineExceeded, true)))
	runCluster(t, harness.Deterministic, 13, Fixed, func(cl *cluster) {
		c := cl.c
		const p = 2
		k := keyOn(p)
		// A crashed primary refuses connections: nothing is sent, and the
		// retries wait for a refresh that still names it.
		cl.check(cl.node(c.Config()[p].Primary).Crash(harness.CrashReset) == nil, "crash")
		ctx, cancel := cl.ctx()
		err := c.Set(ctx, k, "x")
		cancel()
		cl.check(errors.Is(err, ErrNotApplied) && errors.Is(err, context.DeadlineExceeded) && !Ambiguous(err),
			"a set that never reached a server: %v", err)
	})
}

// TestLease cuts a partition's primary from meta while the client still
// reaches it: once its lease has run out it serves nothing (no stale read
// of what the new primary took), meta moves the partition, and after the
// cut heals the server rejoins as a learner, is synced, and becomes a
// secondary again.
func TestLease(t *testing.T) {
	runCluster(t, harness.Deterministic, 17, Fixed, func(cl *cluster) {
		c := cl.c
		const p = 0
		k := keyOn(p)
		ctx, cancel := harness.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.check(c.Set(ctx, k, "old") == nil, "set")
		old := c.Config()[p].Primary
		name, _, _ := harness.SplitAddr(old)
		for _, dir := range [][2]string{{name, "meta"}, {"meta", name}} {
			l, err := harness.LinkOf(dir[0], dir[1])
			cl.check(err == nil, "link: %v", err)
			l.Down = true
			cl.check(harness.SetLink(dir[0], dir[1], l) == nil, "cut")
		}
		moved := cl.waitChange(p, old, 10*cl.tm.lease)
		// The old primary no longer serves: its lease ran out before meta
		// moved the partition.
		conn, err := cl.client.Dial(ctx, old)
		cl.check(err == nil, "dial the old primary: %v", err)
		cl.check(conn.Send(ctx, encode(&msg{Type: tReq, Seq: 1, Part: p, Op: opGet, Key: k})) == nil, "send")
		b, err := conn.Recv(ctx)
		cl.check(err == nil, "recv: %v", err)
		resp, err := decode(b)
		cl.check(err == nil && resp.Err == CodeInvalidState, "the cut primary answers %+v %v", resp, err)
		conn.Close()
		harness.Sleep(cl.tm.refresh)
		cl.check(c.Set(ctx, k, "new") == nil, "set on the new primary")
		v, _, err := c.Get(ctx, k)
		cl.check(err == nil && v == "new", "get: %q %v", v, err)
		cl.check(harness.ResetLinks() == nil, "heal")
		deadline := moved.Add(20 * cl.tm.lease)
		for harness.Now().Before(deadline) {
			if slices.Contains(c.Config()[p].Secondaries, old) {
				break
			}
			harness.Sleep(cl.tm.beacon)
			_, _, _ = c.Get(ctx, k) // refreshes the routing table now and then
		}
		cl.mu.Lock()
		var reasons []string
		for _, ch := range cl.changes {
			if ch.Partition == p && (ch.Dead == old || ch.Joined == old) {
				reasons = append(reasons, ch.Reason)
			}
		}
		cl.mu.Unlock()
		cl.check(slices.Equal(reasons, []string{"dead", "learn", "join"}), "the cut primary was declared dead, learned and joined: %v", reasons)
	})
}
