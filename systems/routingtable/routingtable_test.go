package routingtable

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heddle-go/heddle/harness"
)

func TestDistribute(t *testing.T) {
	var ms []Member
	for i := 1; i <= 5; i++ {
		ms = append(ms, Member{Name: fmt.Sprintf("m%d", i), ID: uint64(i)})
	}
	tb := distribute(ms, nil, 271, 2)
	owned := map[string]int{}
	for p := 0; p < 271; p++ {
		require.Len(t, tb.Owners[p], 1)
		require.Len(t, tb.Backups[p], 1)
		require.NotEqual(t, tb.Owners[p][0], tb.Backups[p][0])
		owned[tb.Owner(p).Name]++
	}
	for _, m := range ms {
		require.Greater(t, owned[m.Name], 20, "placement is balanced enough: %v", owned)
	}
	// A member leaves: its partitions move, and partitions whose primary
	// changed keep the previous one (if still a member) before it.
	tb2 := distribute(ms[:4], tb, 271, 2)
	for p := 0; p < 271; p++ {
		prev, now := tb.Owner(p), tb2.Owner(p)
		require.NotEqual(t, "m5", now.Name)
		if prev.Name != "m5" {
			require.Equal(t, prev, now, "partition %d moved though its owner stayed", p)
		}
	}
	// Encoding round trip.
	b, sig, err := tb2.encode()
	require.NoError(t, err)
	require.Equal(t, signatureOf(b), sig)
	back, err := decodeTable(b)
	require.NoError(t, err)
	require.Equal(t, tb2, back)
	_, err = decodeTable(b[:len(b)-1])
	require.Error(t, err)
}

// cluster runs n members on simulated nodes, started at the given offsets,
// and returns them once every Start returned.
type cluster struct {
	insts []*Instance
	errs  []error
	nodes []*harness.Node
}

func startCluster(v Variant, n int, offsets func(i int) time.Duration, tune func(*Config)) *cluster {
	c := &cluster{insts: make([]*Instance, n), errs: make([]error, n)}
	var peers []string
	for i := 0; i < n; i++ {
		peers = append(peers, fmt.Sprintf("m%d:7320", i+1))
	}
	done := harness.NewChan[int](n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%d", i+1)
		c.nodes = append(c.nodes, harness.NewNode(name, func(nd *harness.Node) {
			cfg := Config{Variant: v, Name: name, Host: nd, Port: 7320, Peers: peers, PushPeriod: 5 * time.Second}
			if tune != nil {
				tune(&cfg)
			}
			in := New(nd.Context(), cfg)
			c.insts[i] = in
			c.errs[i] = in.Start()
			done.Send(i)
		}))
	}
	start := harness.Now()
	for i := 0; i < n; i++ {
		if d := offsets(i) - harness.Since(start); d > 0 {
			harness.Sleep(d)
		}
		if err := c.nodes[i].Start(); err != nil {
			panic(err)
		}
	}
	for i := 0; i < n; i++ {
		done.Recv()
	}
	return c
}

// owned counts the partitions of v's table whose primary owner is id.
func owned(v View, id uint64) uint64 {
	var n uint64
	for p := range v.Table.Owners {
		if v.Table.Owner(p).ID == id {
			n++
		}
	}
	return n
}

func (c *cluster) shutdown() error {
	var errs []error
	for _, in := range c.insts {
		ctx, cancel := harness.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, in.Shutdown(ctx))
		cancel()
	}
	return errors.Join(errs...)
}

// TestFixedCluster: five members join one after the other while the
// coordinator pushes; each ends bootstrapped, on the same table, with the
// right ownedPartitionCount; Shutdown leaves no goroutine behind.
func TestFixedCluster(t *testing.T) {
	for seed := int64(0); seed < 30; seed++ {
		var problems []string
		res := harness.Run(harness.Options{Seed: seed}, func() {
			c := startCluster(Fixed, 5, func(i int) time.Duration { return time.Duration(i) * 1500 * time.Millisecond }, nil)
			harness.Sleep(time.Second)
			var sig uint64
			for i, in := range c.insts {
				if c.errs[i] != nil {
					problems = append(problems, fmt.Sprintf("m%d: Start: %v", i+1, c.errs[i]))
					continue
				}
				v := in.View()
				if sig == 0 {
					sig = v.Signature
				}
				if v.Signature != sig || v.NumMembers != 5 || !v.Bootstrapped || !v.Joined {
					problems = append(problems, fmt.Sprintf("m%d: %+v", i+1, v))
				}
				if want := owned(v, in.Self().ID); v.OwnedPartitionCount != want || want == 0 {
					problems = append(problems, fmt.Sprintf("m%d: ownedPartitionCount %d, owns %d", i+1, v.OwnedPartitionCount, want))
				}
				require.Equal(t, in.Self().ID, in.RoutingTable().This().ID)
			}
			if err := c.shutdown(); err != nil {
				problems = append(problems, err.Error())
			}
		})
		require.NoError(t, res.Err())
		require.Empty(t, problems, "seed %d", seed)
	}
}

// TestBuggyZeroThis shows the consequence of #247 without the race
// detector: the member that joins last applies the push that its join
// caused before Start has set this, and counts no partition as its own.
// Under -race the race detector would fail the test: it runs without.
func TestBuggyZeroThis(t *testing.T) {
	if harness.RaceEnabled() {
		t.Skip("the buggy variant races on purpose; scenarios/ attributes that race in child processes")
	}
	wrong := 0
	for seed := int64(0); seed < 20; seed++ {
		res := harness.Run(harness.Options{Seed: seed}, func() {
			c := startCluster(Buggy, 5, func(i int) time.Duration { return time.Duration(i) * 1500 * time.Millisecond }, nil)
			harness.Sleep(100 * time.Millisecond) // less than the push period
			for i, in := range c.insts {
				require.NoError(t, c.errs[i])
				v := in.View()
				if v.OwnedPartitionCount != owned(v, in.Self().ID) {
					require.Zero(t, v.OwnedPartitionCount)
					wrong++
				}
			}
			require.NoError(t, c.shutdown())
		})
		require.NoError(t, res.Err())
	}
	require.Greater(t, wrong, 0, "no member counted its partitions against a zero this")
}

// TestStartBeforeJoin: #248's Start refuses to run before Join; the buggy
// variant has no Join.
func TestStartBeforeJoin(t *testing.T) {
	res := harness.Run(harness.Options{}, func() {
		nd := harness.NewNode("m1", func(nd *harness.Node) {
			in := New(nd.Context(), Config{Variant: Fixed, Name: "m1", Host: nd, Port: 7320})
			require.ErrorIs(t, in.RoutingTable().Start(), ErrNotJoinedYet)
			b := New(nd.Context(), Config{Variant: Buggy, Name: "m1", Host: nd, Port: 7321})
			require.Error(t, b.RoutingTable().Join())
			require.NoError(t, in.Shutdown(context.Background()))
			require.NoError(t, b.Shutdown(context.Background()))
		})
		require.NoError(t, nd.Start())
	})
	require.NoError(t, res.Err())
}

// TestFixedFailedJoinReleasesHandlers: a push reaches a member whose Join
// hangs (its only peer is a black hole); the handler waits for joined. The
// member is shut down during its Join: Join fails, and the handler answers
// ErrNotJoinedYet instead of blocking for ever (upstream's #248 waits on
// joined alone); no goroutine is left.
func TestFixedFailedJoinReleasesHandlers(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		res := harness.Run(harness.Options{Seed: seed}, func() {
			ghost := harness.NewNode("ghost", nil)
			require.NoError(t, ghost.Start())
			require.NoError(t, ghost.Crash(harness.CrashBlackHole))

			startErr := harness.NewChan[error](1)
			var in *Instance
			made := harness.NewChan[struct{}](0)
			m1 := harness.NewNode("m1", func(nd *harness.Node) {
				in = New(nd.Context(), Config{Variant: Fixed, Name: "m1", Host: nd, Port: 7320, Peers: []string{"ghost:7320"}})
				made.Close()
				startErr.Send(in.Start())
			})
			require.NoError(t, m1.Start())
			made.Recv()

			pushed := harness.NewChan[error](1)
			client := harness.NewNode("client", nil)
			require.NoError(t, client.Start())
			require.NoError(t, client.Go(func() {
				harness.Sleep(50 * time.Millisecond)
				cl := newClient(client)
				defer cl.close()
				ctx, cancel := harness.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, err := cl.do(ctx, "m1:7320", request{Cmd: cmdUpdateRouting, Coordinator: 1})
				pushed.Send(err)
			}))
			harness.Sleep(500 * time.Millisecond)
			require.Zero(t, pushed.Len(), "the push was answered before Join finished")
			require.NoError(t, in.Shutdown(context.Background()))
			serr, _ := startErr.Recv()
			require.ErrorIs(t, serr, ErrServerGone)
			perr, _ := pushed.Recv()
			require.ErrorContains(t, perr, ErrNotJoinedYet.Error())
		})
		require.NoError(t, res.Err(), "seed %d", seed)
	}
}

// TestDeterministicReplay: a seed gives the same run twice.
func TestDeterministicReplay(t *testing.T) {
	run := func() uint64 {
		res := harness.Run(harness.Options{Seed: 7}, func() {
			c := startCluster(Fixed, 3, func(i int) time.Duration { return time.Duration(i) * 300 * time.Millisecond }, nil)
			require.NoError(t, c.shutdown())
		})
		require.NoError(t, res.Err())
		return res.TraceHash
	}
	require.Equal(t, run(), run())
}

// fast tunes a real-time cluster.
func fast(cfg *Config) {
	cfg.JoinRetryInterval = 50 * time.Millisecond
	cfg.PushPeriod = 300 * time.Millisecond
	cfg.ProbeInterval = 100 * time.Millisecond
	cfg.ProbeTimeout = 300 * time.Millisecond
	cfg.BootstrapTimeout = 5 * time.Second
}

// converge polls until every instance has the same signature, counts n
// members and the right ownedPartitionCount.
func converge(t *testing.T, insts []*Instance, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var bad []string
		sig := insts[0].View().Signature
		for _, in := range insts {
			v := in.View()
			if v.Table == nil || v.Signature != sig || v.NumMembers != n || v.OwnedPartitionCount != owned(v, in.Self().ID) {
				bad = append(bad, fmt.Sprintf("%s: sig %x members %d owned %d", in.Self().Name, v.Signature, v.NumMembers, v.OwnedPartitionCount))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no agreement: %s", strings.Join(bad, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRealModeTCP runs the Fixed variant as plain Go over loopback
// sockets: three members join, agree, one leaves, the rest agree, and
// Shutdown leaves no goroutine.
func TestRealModeTCP(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after the shutdowns
	var peers []string
	for i := 0; i < 3; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		peers = append(peers, ln.Addr().String())
		require.NoError(t, ln.Close())
	}
	// Each member is made just before it starts, so that birth dates (and
	// so who coordinates) follow the order of the starts: a member made
	// first but joining last would take over as coordinator during the
	// first one's bootstrap, which fails Start in Olric as here.
	insts := make([]*Instance, 3)
	errs := make(chan error, 3)
	t.Cleanup(func() {
		for _, in := range insts {
			if in != nil {
				in.Shutdown(context.Background())
			}
		}
	})
	for i := range insts {
		_, port, err := harness.SplitAddr(peers[i])
		require.NoError(t, err)
		cfg := Config{Variant: Fixed, Name: fmt.Sprintf("m%d", i+1), Host: harness.TCP(), Port: port, Peers: peers}
		fast(&cfg)
		in := New(context.Background(), cfg)
		insts[i] = in
		go func() { errs <- in.Start() }()
		time.Sleep(30 * time.Millisecond)
	}
	for range insts {
		require.NoError(t, <-errs)
	}
	converge(t, insts, 3)

	// Owner lookups agree with the table.
	cl := NewClient(harness.TCP())
	res, err := cl.Lookup(context.Background(), peers[1], 42)
	require.NoError(t, err)
	require.Equal(t, insts[1].View().Table.Owner(42), res.Owner)
	cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, insts[2].Shutdown(ctx))
	converge(t, insts[:2], 2)
	for _, in := range insts[:2] {
		require.NoError(t, in.Shutdown(ctx))
	}
}

// TestRealModeNodes runs the Fixed variant in a real-mode World on the
// simulated network: five members with real goroutines.
func TestRealModeNodes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	res := harness.Run(harness.Options{Mode: harness.Real, Perturb: 0.05}, func() {
		c := startCluster(Fixed, 5, func(i int) time.Duration { return time.Duration(i) * 20 * time.Millisecond }, fast)
		for i := range c.insts {
			require.NoError(t, c.errs[i])
		}
		converge(t, c.insts, 5)
		require.NoError(t, c.shutdown())
	})
	require.NoError(t, res.Err())
}

// TestClientRetriesOnNewConnection: the pool holds two connections to a
// member that has since restarted; a request fails on the first, and its
// retry must dial rather than take the second, as dead as the first. (It
// took the second: a probe then failed, and a live member that had just
// rejoined was declared dead for ever.)
func TestClientRetriesOnNewConnection(t *testing.T) {
	for seed := int64(0); seed < 10; seed++ {
		res := harness.Run(harness.Options{Seed: seed}, func() {
			srv := harness.NewNode("m1", func(nd *harness.Node) {
				s := newServer(nd.Context(), nd, 7320)
				s.handle(cmdPing, func(context.Context, request) response { return response{} })
				if _, err := s.start(); err != nil {
					panic(err)
				}
			})
			require.NoError(t, srv.Start())
			client := harness.NewNode("client", nil)
			require.NoError(t, client.Start())
			done := harness.NewChan[error](1)
			require.NoError(t, client.Go(func() {
				cl := newClient(client)
				defer cl.close()
				ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
				defer cancel()
				// Two requests at once: two connections, both idle after.
				var wg harness.WaitGroup
				for range 2 {
					wg.Go(func() { _, _ = cl.do(ctx, "m1:7320", request{Cmd: cmdPing}) })
				}
				wg.Wait()
				cl.mu.Lock()
				idle := len(cl.idle["m1:7320"])
				cl.mu.Unlock()
				if idle != 2 {
					done.Send(fmt.Errorf("%d idle connections, want 2", idle))
					return
				}
				if err := srv.Restart(); err != nil {
					done.Send(err)
					return
				}
				harness.Sleep(10 * time.Millisecond) // the resets arrive
				_, err := cl.do(ctx, "m1:7320", request{Cmd: cmdPing})
				done.Send(err)
			}))
			err, _ := done.Recv()
			require.NoError(t, err)
			require.NoError(t, srv.Crash(harness.CrashReset))
		})
		require.NoError(t, res.Err(), "seed %d", seed)
	}
}

// TestFixedPushesHeldByTheBarrierKeepTheirOrder: m1 joins m0 (the
// coordinator) slowly: it asks a black-holed peer first. Two pushes
// claiming m0 for their coordinator, of versions (m0's epoch, 1000) and
// (1001), reach m1 while it joins; the joined barrier holds both and
// releases them together once Join returns, in any order, while m0's own
// pushes (smaller versions) come too. m1 must end with version 1001.
func TestFixedPushesHeldByTheBarrierKeepTheirOrder(t *testing.T) {
	for seed := int64(0); seed < 30; seed++ {
		res := harness.Run(harness.Options{Seed: seed}, func() {
			ghost := harness.NewNode("ghost", nil)
			require.NoError(t, ghost.Start())
			require.NoError(t, ghost.Crash(harness.CrashBlackHole))
			made := harness.NewChan[*Instance](2)
			started := harness.NewChan[error](2)
			member := func(name string, peers ...string) *harness.Node {
				return harness.NewNode(name, func(nd *harness.Node) {
					in := New(nd.Context(), Config{Variant: Fixed, Name: name, Host: nd, Port: 7320, Peers: peers,
						MaxJoinAttempts: 1, RequestTimeout: 100 * time.Millisecond, PartitionCount: 7})
					made.Send(in)
					started.Send(in.Start())
				})
			}
			m0 := member("m0")
			require.NoError(t, m0.Start())
			in0, _ := made.Recv()
			err0, _ := started.Recv()
			m1 := member("m1", "ghost:7320", "m0:7320")
			require.NoError(t, m1.Start())
			in1, _ := made.Recv()
			c := in0.Self()
			payload, _, err := distribute([]Member{c, in1.Self()}, nil, 7, 1).encode()
			require.NoError(t, err)
			client := harness.NewNode("client", nil)
			require.NoError(t, client.Start())
			pushed := harness.NewChan[error](2)
			for _, seq := range []int64{1000, 1001} {
				require.NoError(t, client.Go(func() {
					cl := newClient(client)
					defer cl.close()
					ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
					defer cancel()
					harness.Sleep(10 * time.Millisecond) // within m1's Join
					_, err := cl.do(ctx, "m1:7320", request{Cmd: cmdUpdateRouting, From: c, Coordinator: c.ID,
						Version: Version{Epoch: c.Birthdate, Seq: seq}, Payload: payload})
					pushed.Send(err)
				}))
			}
			err1, _ := started.Recv()
			e1, _ := pushed.Recv()
			e2, _ := pushed.Recv()
			harness.Sleep(time.Second)
			v := in1.View()
			require.NoError(t, in1.Shutdown(context.Background()))
			require.NoError(t, in0.Shutdown(context.Background()))
			require.NoError(t, err0)
			require.NoError(t, err1)
			require.Equal(t, Version{Epoch: c.Birthdate, Seq: 1001}, v.Version, "seed %d: an older push won (%v, %v)", seed, e1, e2)
		})
		require.NoError(t, res.Err(), "seed %d", seed)
	}
}

// TestShutdownTwiceAtOnce: a member's Shutdown is called twice at once;
// both return without error, and once they have, the other member no
// longer lists it: the leave was announced. (The second call used to
// cancel the member's context under the first, whose leave messages were
// then lost.)
func TestShutdownTwiceAtOnce(t *testing.T) {
	for seed := int64(0); seed < 30; seed++ {
		var problems []string
		res := harness.Run(harness.Options{Seed: seed}, func() {
			c := startCluster(Fixed, 2, func(i int) time.Duration { return time.Duration(i) * 100 * time.Millisecond }, nil)
			harness.Sleep(time.Second)
			gone := c.insts[0].Self()
			errs := harness.NewChan[error](2)
			for range 2 {
				require.NoError(t, c.nodes[0].Go(func() { errs.Send(c.insts[0].Shutdown(context.Background())) }))
			}
			for range 2 {
				if err, _ := errs.Recv(); err != nil {
					problems = append(problems, err.Error())
				}
			}
			for _, m := range c.insts[1].Members() {
				if m.ID == gone.ID {
					problems = append(problems, "m2 still lists m1 once both Shutdowns returned")
				}
			}
			if err := c.shutdown(); err != nil {
				problems = append(problems, err.Error())
			}
		})
		require.NoError(t, res.Err(), "seed %d", seed)
		require.Empty(t, problems, "seed %d", seed)
	}
}
