package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoServer is a node's main: it answers every message with the same bytes.
func echoServer(n *Node) {
	l, err := n.Listen(7)
	if err != nil {
		panic(err)
	}
	ctx := n.Context()
	for {
		c, err := l.Accept(ctx)
		if err != nil {
			return
		}
		Go(func() {
			defer c.Close()
			for {
				m, err := c.Recv(ctx)
				if err != nil {
					return
				}
				if c.Send(ctx, m) != nil {
					return
				}
			}
		})
	}
}

// call sends msg on c and waits for the answer.
func call(ctx context.Context, c Conn, msg string) (string, error) {
	if err := c.Send(ctx, []byte(msg)); err != nil {
		return "", err
	}
	b, err := c.Recv(ctx)
	return string(b), err
}

// dial dials addr from n, retrying while nothing listens there yet.
func dial(ctx context.Context, n *Node, addr string) (Conn, error) {
	for {
		c, err := n.Dial(ctx, addr)
		if !errors.Is(err, ErrConnRefused) {
			return c, err
		}
		Sleep(time.Millisecond)
	}
}

// both runs f as a subtest in each mode.
func both(t *testing.T, f func(t *testing.T, mode Mode)) {
	for _, m := range []Mode{Deterministic, Real} {
		t.Run(m.String(), func(t *testing.T) { f(t, m) })
	}
}

func TestNetEcho(t *testing.T) {
	both(t, func(t *testing.T, mode Mode) {
		var got []string
		var elapsed time.Duration
		res := Run(Options{Seed: 1, Mode: mode}, func() {
			srv := NewNode("server", echoServer)
			cli := NewNode("client", nil)
			require.NoError(t, srv.Start())
			require.NoError(t, cli.Start())
			ctx, cancel := WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := Now()
			c, err := dial(ctx, cli, "server:7")
			require.NoError(t, err)
			for i := 0; i < 3; i++ {
				s, err := call(ctx, c, fmt.Sprint("hello ", i))
				require.NoError(t, err)
				got = append(got, s)
			}
			elapsed = Since(start)
			require.NoError(t, c.Close())
			require.ErrorIs(t, c.Close(), net.ErrClosed)
			require.NoError(t, srv.Crash(CrashReset))
		})
		require.NoError(t, res.Err())
		require.Equal(t, []string{"hello 0", "hello 1", "hello 2"}, got)
		// Four round trips (dial and three calls), each of 2*[0.5ms, 2.5ms).
		require.GreaterOrEqual(t, elapsed, 4*time.Millisecond)
		if mode == Deterministic {
			require.Less(t, elapsed, 20*time.Millisecond)
		}
	})
}

// echoPair starts an echo server and a client node, and returns the client
// with a connection to the server.
func echoPair(t *testing.T, ctx context.Context) (srv, cli *Node, c Conn) {
	srv = NewNode("server", echoServer)
	cli = NewNode("client", nil)
	require.NoError(t, srv.Start())
	require.NoError(t, cli.Start())
	c, err := dial(ctx, cli, "server:7")
	require.NoError(t, err)
	return srv, cli, c
}

func TestNetCrashReset(t *testing.T) {
	both(t, func(t *testing.T, mode Mode) {
		res := Run(Options{Seed: 2, Mode: mode}, func() {
			ctx, cancel := WithTimeout(context.Background(), time.Second)
			defer cancel()
			srv, cli, c := echoPair(t, ctx)
			_, err := call(ctx, c, "a")
			require.NoError(t, err)
			require.NoError(t, srv.Crash(CrashReset))
			require.False(t, srv.Alive())
			require.Error(t, srv.Crash(CrashReset), "crashing a crashed node")
			// The reset reaches the client after the link's latency.
			start := Now()
			_, err = c.Recv(ctx)
			require.ErrorIs(t, err, ErrConnReset)
			require.ErrorIs(t, c.Send(ctx, []byte("b")), ErrConnReset)
			if mode == Deterministic {
				require.Less(t, Since(start), 5*time.Millisecond)
			}
			_, err = cli.Dial(ctx, "server:7")
			require.ErrorIs(t, err, ErrConnRefused)
			// Restart: main runs again and serves new connections.
			require.NoError(t, srv.Restart())
			require.Equal(t, 2, srv.Incarnation())
			c2, err := dial(ctx, cli, "server:7")
			require.NoError(t, err)
			s, err := call(ctx, c2, "c")
			require.NoError(t, err)
			require.Equal(t, "c", s)
			require.NoError(t, srv.Crash(CrashReset))
		})
		require.NoError(t, res.Err())
	})
}

func TestNetCrashBlackHole(t *testing.T) {
	both(t, func(t *testing.T, mode Mode) {
		res := Run(Options{Seed: 3, Mode: mode}, func() {
			ctx, cancel := WithTimeout(context.Background(), time.Second)
			defer cancel()
			srv, cli, c := echoPair(t, ctx)
			require.NoError(t, srv.Crash(CrashBlackHole))
			// Nothing comes back: calls wait until their deadline.
			short, cancel2 := WithTimeout(ctx, 50*time.Millisecond)
			defer cancel2()
			start := Now()
			_, err := call(short, c, "a")
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.GreaterOrEqual(t, Since(start), 50*time.Millisecond)
			_, err = cli.Dial(short, "server:7")
			require.ErrorIs(t, err, context.DeadlineExceeded)
			// After a restart the old connection is reset, new ones work.
			require.NoError(t, srv.Restart())
			_, err = c.Recv(ctx)
			require.ErrorIs(t, err, ErrConnReset)
			c2, err := dial(ctx, cli, "server:7")
			require.NoError(t, err)
			_, err = call(ctx, c2, "b")
			require.NoError(t, err)
			require.NoError(t, srv.Crash(CrashReset))
		})
		require.NoError(t, res.Err())
	})
}

// A crashed node's goroutines never run again, its timers never fire, and
// none of them is reported as a leak; their defers run only when the World is
// unwound, with heddle's primitives disabled.
func TestNetCrashStopsGoroutines(t *testing.T) {
	ticks, fired, deferred := 0, false, 0
	var after int
	var mu Mutex
	res := Run(Options{Seed: 4}, func() {
		n := NewNode("worker", func(n *Node) {
			AfterFunc(time.Second, func() { fired = true })
			for i := 0; i < 3; i++ {
				Go(func() {
					defer func() { deferred++ }()
					defer Yield() // a primitive in a defer: exits at once when unwound
					for {
						mu.Lock()
						ticks++
						mu.Unlock()
						Sleep(time.Millisecond)
					}
				})
			}
			l, _ := n.Listen(1)
			defer l.Close()
			_, _ = l.Accept(context.Background())
		})
		require.NoError(t, n.Start())
		Sleep(10 * time.Millisecond)
		require.NoError(t, n.Crash(CrashReset))
		mu.Lock()
		after = ticks
		mu.Unlock()
		Sleep(2 * time.Second)
		mu.Lock()
		require.Equal(t, after, ticks, "no code of a crashed node runs")
		mu.Unlock()
	})
	require.NoError(t, res.Err())
	require.Greater(t, after, 20)
	require.False(t, fired, "a crashed node's timer callback never runs")
	require.Equal(t, 3, deferred, "defers run when the World unwinds")
}

// A node that restarts itself: the old incarnation stops at once, the new
// one runs main again.
func TestNetRestartSelf(t *testing.T) {
	runs, reached := 0, false
	res := Run(Options{Seed: 5}, func() {
		n := NewNode("phoenix", func(self *Node) {
			runs++
			if runs == 1 {
				_ = self.Restart()
				reached = true
			}
		})
		require.NoError(t, n.Start())
		Sleep(time.Millisecond)
		require.True(t, n.Alive())
		require.Equal(t, 2, n.Incarnation())
		require.NoError(t, n.Crash(CrashReset))
	})
	require.NoError(t, res.Err())
	require.Equal(t, 2, runs)
	require.False(t, reached)
}

// A node that crashes itself stops at once.
func TestNetCrashSelf(t *testing.T) {
	both(t, func(t *testing.T, mode Mode) {
		reached := false
		res := Run(Options{Seed: 5, Mode: mode}, func() {
			n := NewNode("suicidal", func(n *Node) {
				_ = n.Crash(CrashReset)
				if mode == Deterministic {
					reached = true
				}
			})
			require.NoError(t, n.Start())
			Sleep(time.Millisecond)
			require.False(t, n.Alive())
		})
		require.NoError(t, res.Err())
		require.False(t, reached)
	})
}

func TestNetPartition(t *testing.T) {
	both(t, func(t *testing.T, mode Mode) {
		res := Run(Options{Seed: 6, Mode: mode}, func() {
			ctx, cancel := WithTimeout(context.Background(), time.Second)
			defer cancel()
			srv, _, c := echoPair(t, ctx)
			require.NoError(t, SetLink("client", "server", Link{Latency: time.Millisecond, Down: true}))
			short, cancel2 := WithTimeout(ctx, 20*time.Millisecond)
			defer cancel2()
			_, err := call(short, c, "lost")
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.NoError(t, ResetLinks())
			s, err := call(ctx, c, "after heal")
			require.NoError(t, err)
			require.Equal(t, "after heal", s, "the message sent across the partition is never delivered")
			// One-way the other direction: requests arrive, answers do not.
			require.NoError(t, SetLink("server", "client", Link{Down: true}))
			short3, cancel3 := WithTimeout(ctx, 20*time.Millisecond)
			defer cancel3()
			_, err = call(short3, c, "one way")
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.NoError(t, ResetLinks())
			s, err = call(ctx, c, "healed")
			if mode == Real && s == "one way" {
				// On the wall clock the answer to the lost call may leave
				// after the heal (a slow machine): it arrives first.
				var b []byte
				b, err = c.Recv(ctx)
				s = string(b)
			}
			require.NoError(t, err)
			require.Equal(t, "healed", s)
			require.NoError(t, srv.Crash(CrashReset))
		})
		require.NoError(t, res.Err())
	})
}

func TestNetLinkFaults(t *testing.T) {
	both(t, func(t *testing.T, mode Mode) {
		res := Run(Options{Seed: 7, Mode: mode}, func() {
			ctx, cancel := WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv, _, c := echoPair(t, ctx)
			// Drop everything: nothing comes back.
			require.NoError(t, SetLink("client", "server", Link{Latency: time.Millisecond, Drop: 1}))
			short, cancel2 := WithTimeout(ctx, 20*time.Millisecond)
			_, err := call(short, c, "dropped")
			cancel2()
			require.ErrorIs(t, err, context.DeadlineExceeded)
			// Duplicate everything: two answers per request.
			require.NoError(t, SetLink("client", "server", Link{Latency: time.Millisecond, Duplicate: 1}))
			s, err := call(ctx, c, "dup")
			require.NoError(t, err)
			require.Equal(t, "dup", s)
			b, err := c.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, "dup", string(b))
			// Delay: a slow link.
			require.NoError(t, SetLink("client", "server", Link{Latency: 30 * time.Millisecond}))
			start := Now()
			_, err = call(ctx, c, "slow")
			require.NoError(t, err)
			require.GreaterOrEqual(t, Since(start), 30*time.Millisecond)
			// Reorder: a burst of messages does not come back in order.
			require.NoError(t, SetLink("client", "server", Link{Latency: time.Millisecond, Jitter: time.Millisecond, Reorder: 0.5}))
			for i := 0; i < 20; i++ {
				require.NoError(t, c.Send(ctx, []byte{byte(i)}))
			}
			inOrder := true
			for i := 0; i < 20; i++ {
				b, err := c.Recv(ctx)
				require.NoError(t, err)
				inOrder = inOrder && b[0] == byte(i)
			}
			require.False(t, inOrder)
			require.NoError(t, srv.Crash(CrashReset))
		})
		require.NoError(t, res.Err())
	})
}

func TestNetErrors(t *testing.T) {
	res := Run(Options{Seed: 8}, func() {
		ctx := context.Background()
		n := NewNode("a", nil)
		_, err := n.Dial(ctx, "a:1")
		require.ErrorIs(t, err, ErrNodeDown)
		require.NoError(t, n.Start())
		_, err = n.Dial(ctx, "nowhere:1")
		require.ErrorIs(t, err, ErrNoSuchHost)
		require.Contains(t, err.Error(), `"nowhere"`)
		_, err = n.Dial(ctx, "no-port")
		require.ErrorContains(t, err, "host:port")
		_, err = n.Dial(ctx, "a:1")
		require.ErrorIs(t, err, ErrConnRefused)
		l, err := n.Listen(1)
		require.NoError(t, err)
		_, err = n.Listen(1)
		require.ErrorIs(t, err, ErrAddrInUse)
		require.Equal(t, "a:1", l.Addr())
		require.NoError(t, l.Close())
		require.ErrorIs(t, l.Close(), net.ErrClosed)
		_, err = l.Accept(ctx)
		require.ErrorIs(t, err, net.ErrClosed)
		require.Error(t, n.Start(), "already running")
		require.ErrorContains(t, SetLink("a", "b", Link{}), `unknown node "b"`)
		require.ErrorContains(t, SetLink("a", "a", Link{Drop: 2}), "outside [0, 1]")
		require.ErrorContains(t, SetLink("a", "a", Link{Latency: -1}), "negative")
		require.Panics(t, func() { NewNode("a", nil) })
		require.Panics(t, func() { NewNode("x:1", nil) })
		require.NoError(t, n.Crash(CrashReset))
		require.ErrorIs(t, n.Go(func() {}), ErrNodeDown)
	})
	require.NoError(t, res.Err())
}

// A client that dials itself through its own listener (a cluster member
// talking to itself) works like any other link.
func TestNetSelfDial(t *testing.T) {
	res := Run(Options{Seed: 9}, func() {
		ctx := context.Background()
		n := NewNode("m", echoServer)
		require.NoError(t, n.Start())
		c, err := dial(ctx, n, "m:7")
		require.NoError(t, err)
		s, err := call(ctx, c, "me")
		require.NoError(t, err)
		require.Equal(t, "me", s)
		require.NoError(t, n.Crash(CrashReset))
	})
	require.NoError(t, res.Err())
}

// The same seed gives the same run, faults included.
func TestNetDeterministic(t *testing.T) {
	run := func(seed int64) uint64 {
		res := Run(Options{Seed: seed}, func() {
			ctx, cancel := WithTimeout(context.Background(), time.Second)
			defer cancel()
			srv, cli, _ := echoPair(t, ctx)
			var wg WaitGroup
			for i := 0; i < 3; i++ {
				_ = cli.Go(func() {
					c, err := dial(ctx, cli, "server:7")
					if err != nil {
						return
					}
					for j := 0; j < 5; j++ {
						if _, err := call(ctx, c, "x"); err != nil {
							return
						}
					}
				})
			}
			_ = SetLink("client", "server", Link{Latency: time.Millisecond, Jitter: time.Millisecond, Drop: 0.1, Reorder: 0.2})
			Sleep(3 * time.Millisecond)
			_ = srv.Restart()
			wg.Wait()
			Sleep(2 * time.Second)
			_ = srv.Crash(CrashReset)
			_ = cli.Crash(CrashReset)
		})
		require.NoError(t, res.Err())
		return res.TraceHash
	}
	for seed := int64(0); seed < 5; seed++ {
		require.Equal(t, run(seed), run(seed), "seed %d", seed)
	}
	require.NotEqual(t, run(1), run(2))
}

// BenchmarkNetRoundTrip measures one request/response on the simulated
// network in deterministic mode (Send, Recv on each side).
func BenchmarkNetRoundTrip(b *testing.B) {
	res := Run(Options{Seed: 1, MaxSteps: 100 * (b.N + 100)}, func() {
		ctx := context.Background()
		srv := NewNode("server", echoServer)
		cli := NewNode("client", nil)
		_ = srv.Start()
		_ = cli.Start()
		c, err := dial(ctx, cli, "server:7")
		if err != nil {
			b.Fatal(err)
		}
		msg := []byte("ping")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := call(ctx, c, string(msg)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = srv.Crash(CrashReset)
	})
	if res.Failed() {
		b.Fatal(res.Err())
	}
}

// TestPendingTimers: a node's pending timers are the ones its goroutines
// armed and nobody stopped, cancelled or let fire; other nodes' do not count,
// and Real mode says it cannot count them.
func TestPendingTimers(t *testing.T) {
	type counts struct{ armed, stopped, other int }
	var got counts
	res := Run(Options{Seed: 1}, func() {
		done := NewChan[struct{}](0)
		a := NewNode("a", func(n *Node) {
			tk := NewTicker(time.Second)
			ctx, cancel := WithTimeout(context.Background(), time.Minute)
			tm := NewTimer(time.Hour)
			got.armed, _ = n.PendingTimers()
			tk.Stop()
			cancel()
			tm.Stop()
			_ = ctx
			got.stopped, _ = n.PendingTimers()
			done.Send(struct{}{})
		})
		b := NewNode("b", func(n *Node) {
			NewTicker(time.Second) // never stopped: b's, not a's
			done.Send(struct{}{})
		})
		require.NoError(t, b.Start())
		done.Recv()
		require.NoError(t, a.Start())
		done.Recv()
		got.other, _ = a.PendingTimers()
		require.NoError(t, b.Crash(CrashReset))
	})
	require.False(t, res.Failed(), "%v", res.Err())
	require.Equal(t, counts{armed: 3, stopped: 0, other: 0}, got)

	var counted bool
	res = Run(Options{Mode: Real}, func() {
		n := NewNode("r", nil)
		_, counted = n.PendingTimers()
	})
	require.False(t, res.Failed(), "%v", res.Err())
	require.False(t, counted, "Real mode cannot count timers")
}
