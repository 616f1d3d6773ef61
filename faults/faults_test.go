package faults_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// echo is the server node's main: every message comes back as it is.
func echo(n *harness.Node) {
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
		harness.Go(func() {
			defer c.Close()
			for {
				m, err := c.Recv(ctx)
				if err != nil || c.Send(ctx, m) != nil {
					return
				}
			}
		})
	}
}

// pair is a two-node echo service seen from its client.
type pair struct {
	srv, cli *harness.Node
	c        harness.Conn
}

func newPair(t *testing.T) *pair {
	p := &pair{srv: harness.NewNode("server", echo), cli: harness.NewNode("client", nil)}
	require.NoError(t, p.srv.Start())
	require.NoError(t, p.cli.Start())
	p.c = p.dial(t)
	return p
}

func (p *pair) dial(t *testing.T) harness.Conn {
	ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for {
		c, err := p.cli.Dial(ctx, "server:7")
		if !errors.Is(err, harness.ErrConnRefused) {
			require.NoError(t, err)
			return c
		}
		harness.Sleep(time.Millisecond)
	}
}

// call sends msg and waits up to timeout for the echo.
func (p *pair) call(msg string, timeout time.Duration) (string, error) {
	ctx, cancel := harness.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.c.Send(ctx, []byte(msg)); err != nil {
		return "", err
	}
	b, err := p.c.Recv(ctx)
	return string(b), err
}

// both runs f in each mode, as subtests.
func both(t *testing.T, f func(t *testing.T, mode harness.Mode)) {
	for _, m := range []harness.Mode{harness.Deterministic, harness.Real} {
		t.Run(m.String(), func(t *testing.T) { f(t, m) })
	}
}

// Every fault on a two-node echo service: what the client sees while the
// fault lasts, and that the service works again after recovery. It is
// longer than 80 lines because the table is, one case per fault kind, each
// read on its own.
func TestEveryFault(t *testing.T) {
	const short = 30 * time.Millisecond
	cases := []struct {
		fault   faults.Fault
		during  func(t *testing.T, p *pair)
		recover faults.Fault
		redial  bool // the old connection is gone: recover on a new one
	}{
		{faults.Crash("server"), func(t *testing.T, p *pair) {
			_, err := p.call("x", short)
			require.ErrorIs(t, err, harness.ErrConnReset)
		}, faults.Restart("server"), true},
		{faults.BlackHole("server"), func(t *testing.T, p *pair) {
			_, err := p.call("x", short)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}, faults.Restart("server"), true},
		{faults.Restart("server"), func(t *testing.T, p *pair) {
			_, err := p.call("x", short)
			require.ErrorIs(t, err, harness.ErrConnReset)
		}, faults.Heal(), true},
		{faults.Partition("client", "server"), func(t *testing.T, p *pair) {
			_, err := p.call("x", short)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}, faults.Heal(), false},
		{faults.PartitionOneWay("server", "client"), func(t *testing.T, p *pair) {
			_, err := p.call("x", short)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}, faults.Heal(), false},
		{faults.Isolate("client"), func(t *testing.T, p *pair) {
			_, err := p.call("x", short)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}, faults.Heal(), false},
		{faults.Delay("client", "server", 20*time.Millisecond), func(t *testing.T, p *pair) {
			start := harness.Now()
			_, err := p.call("x", time.Second)
			require.NoError(t, err)
			require.GreaterOrEqual(t, harness.Since(start), 40*time.Millisecond)
		}, faults.Heal(), false},
		{faults.Drop("client", "server", 1), func(t *testing.T, p *pair) {
			_, err := p.call("x", short)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}, faults.Heal(), false},
		{faults.Fault{Kind: faults.KindDuplicate, From: "client", To: "server", OneWay: true, P: 1}, func(t *testing.T, p *pair) {
			for i := 0; i < 2; i++ {
				ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
				if i == 0 {
					require.NoError(t, p.c.Send(ctx, []byte("x")))
				}
				b, err := p.c.Recv(ctx)
				cancel()
				require.NoError(t, err)
				require.Equal(t, "x", string(b))
			}
		}, faults.Heal(), false},
		{faults.Reorder("client", "server", 1), func(t *testing.T, p *pair) {
			ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
			defer cancel()
			for i := 0; i < 10; i++ {
				require.NoError(t, p.c.Send(ctx, []byte{byte(i)}))
			}
			var got []byte
			for i := 0; i < 10; i++ {
				b, err := p.c.Recv(ctx)
				require.NoError(t, err)
				got = append(got, b[0])
			}
			require.NotEqual(t, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, got)
		}, faults.Heal(), false},
	}
	both(t, func(t *testing.T, mode harness.Mode) {
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.fault.String(), "/", "_"), func(t *testing.T) {
				res := harness.Run(harness.Options{Seed: 1, Mode: mode}, func() {
					p := newPair(t)
					_, err := p.call("before", time.Second)
					require.NoError(t, err)
					require.NoError(t, faults.Apply(c.fault))
					c.during(t, p)
					require.NoError(t, faults.Apply(c.recover))
					if c.redial {
						p.c = p.dial(t)
					}
					s, err := p.call("after", time.Second)
					require.NoError(t, err)
					require.Equal(t, "after", s)
					require.NoError(t, faults.Apply(faults.Crash("server")))
				})
				require.NoError(t, res.Err())
			})
		}
	})
}

// A message sent across a partition is never delivered; after the heal, new
// messages are. The plan runs on its own goroutine and notes every fault.
func TestPlanPartitionThenHeal(t *testing.T) {
	plan := faults.Plan{
		{At: 10 * time.Millisecond, Fault: faults.Partition("client", "server")},
		{At: 50 * time.Millisecond, Fault: faults.Heal()},
	}
	var got, want []string
	res := harness.Run(harness.Options{Seed: 3, Trace: true}, func() {
		srv := harness.NewNode("server", nil)
		cli := harness.NewNode("client", nil)
		require.NoError(t, srv.Start())
		require.NoError(t, cli.Start())
		l, err := srv.Listen(1)
		require.NoError(t, err)
		ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := harness.Now()
		require.NoError(t, faults.Go(ctx, plan, nil))
		var wg harness.WaitGroup
		wg.Add(1)
		require.NoError(t, srv.Go(func() {
			defer wg.Done()
			c, err := l.Accept(ctx)
			require.NoError(t, err)
			for len(got) == 0 || got[len(got)-1] != "9" {
				b, err := c.Recv(ctx)
				require.NoError(t, err)
				got = append(got, string(b))
			}
		}))
		c, err := cli.Dial(ctx, "server:1")
		require.NoError(t, err)
		for i := 0; i < 10; i++ { // one message every 10ms
			if at := harness.Since(start); at < 10*time.Millisecond || at >= 50*time.Millisecond {
				want = append(want, fmt.Sprint(i))
			}
			require.NoError(t, c.Send(ctx, []byte(fmt.Sprint(i))))
			harness.Sleep(10 * time.Millisecond)
		}
		wg.Wait()
	})
	require.NoError(t, res.Err())
	require.Equal(t, want, got, "exactly the messages sent outside the partition arrive")
	require.Less(t, len(got), 8)
	var notes []string
	for _, e := range res.Trace {
		if e.Kind == harness.EvNote && strings.HasPrefix(e.Detail, "nemesis:") {
			notes = append(notes, fmt.Sprintf("%v %s", e.Time, e.Detail))
		}
	}
	require.Equal(t, []string{"10ms nemesis: partition client<->server", "50ms nemesis: heal"}, notes)
}

// The same seed gives the same plan and the same run, fault timeline included.
func TestSameSeedSameTimeline(t *testing.T) {
	gen := faults.Gen{Nodes: []string{"server", "client"}, Horizon: 200 * time.Millisecond, MaxSteps: 6, Recover: true}
	run := func(seed int64) (faults.Plan, uint64) {
		plan, err := gen.Example(seed)
		require.NoError(t, err)
		res := harness.Run(harness.Options{Seed: seed}, func() {
			p := newPair(t)
			ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = faults.Run(ctx, plan, nil)
			_, _ = p.call("x", 10*time.Millisecond)
			_ = faults.Apply(faults.Crash("server"))
		})
		require.False(t, res.Failed(), "%v", res.Err())
		return plan, res.TraceHash
	}
	distinct := map[string]bool{}
	for seed := int64(0); seed < 8; seed++ {
		p1, h1 := run(seed)
		p2, h2 := run(seed)
		require.Equal(t, p1, p2, "seed %d", seed)
		require.Equal(t, h1, h2, "seed %d: trace hash", seed)
		require.NoError(t, p1.Validate())
		distinct[p1.String()] = true
	}
	require.Greater(t, len(distinct), 4, "seeds give different plans")
}

// Inside rapid.Check a failing plan shrinks: here the property "a call made
// every 20ms always succeeds" fails under most plans, and the plan rapid
// reports is a single fault.
func TestPlanShrinks(t *testing.T) {
	gen, err := faults.Gen{Nodes: []string{"server", "client"}, Horizon: 100 * time.Millisecond, MaxSteps: 6,
		Kinds: []faults.Kind{faults.KindCrash, faults.KindPartition, faults.KindDelay, faults.KindHeal}}.Generator()
	require.NoError(t, err)
	// The failure is expected: rapid must not save it as a fail file.
	old := flag.Lookup("rapid.nofailfile").Value.String()
	require.NoError(t, flag.Set("rapid.nofailfile", "true"))
	t.Cleanup(func() { _ = flag.Set("rapid.nofailfile", old) })
	var last faults.Plan
	tb := &captureTB{name: t.Name()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rapid.Check(tb, func(rt *rapid.T) {
			plan := gen.Draw(rt, "plan")
			ok := true
			res := harness.Run(harness.Options{Seed: 1}, func() {
				p := newPair(t)
				ctx, cancel := harness.WithCancel(context.Background())
				defer cancel()
				require.NoError(t, faults.Go(ctx, plan, nil))
				for i := 0; i < 6 && ok; i++ {
					_, err := p.call("x", 15*time.Millisecond)
					ok = err == nil
					harness.Sleep(20 * time.Millisecond)
				}
				cancel()
				harness.Sleep(time.Millisecond)
				_ = faults.Apply(faults.Crash("server"))
			})
			require.NoError(t, res.Err())
			if !ok {
				last = plan
				rt.Fatalf("a call failed under\n%s", plan)
			}
		})
	}()
	<-done
	require.True(t, tb.failed, "some plan breaks the service")
	require.Len(t, last, 1, "shrunk to one fault:\n%s", last)
	t.Logf("minimal failing plan: %s", last)
}

// captureTB is a rapid.TB that records a failure instead of failing the test.
type captureTB struct {
	name   string
	failed bool
}

func (c *captureTB) Helper()               {}
func (c *captureTB) Name() string          { return c.name }
func (c *captureTB) Logf(string, ...any)   {}
func (c *captureTB) Log(...any)            {}
func (c *captureTB) Skipf(string, ...any)  { runtime.Goexit() }
func (c *captureTB) Skip(...any)           { runtime.Goexit() }
func (c *captureTB) SkipNow()              { runtime.Goexit() }
func (c *captureTB) Errorf(string, ...any) { c.failed = true }
func (c *captureTB) Error(...any)          { c.failed = true }
func (c *captureTB) Fatalf(string, ...any) { c.failed = true; runtime.Goexit() }
func (c *captureTB) Fatal(...any)          { c.failed = true; runtime.Goexit() }
func (c *captureTB) FailNow()              { c.failed = true; runtime.Goexit() }
func (c *captureTB) Fail()                 { c.failed = true }
func (c *captureTB) Failed() bool          { return c.failed }

func TestBadInput(t *testing.T) {
	res := harness.Run(harness.Options{}, func() {
		newPair(t)
		for _, c := range []struct {
			f    faults.Fault
			want string
		}{
			{faults.Crash("nope"), `unknown node "nope"`},
			{faults.Restart(""), "no node named"},
			{faults.Partition("client", "nope"), `unknown node "nope"`},
			{faults.Partition("client", "client"), "same node"},
			{faults.Delay("client", "server", -time.Second), "negative delay"},
			{faults.Drop("client", "server", 1.5), "outside [0, 1]"},
			{faults.Duplicate("client", "server", -0.1), "outside [0, 1]"},
			{faults.Reorder("client", "server", 2), "outside [0, 1]"},
			{faults.Fault{Kind: "flood"}, `unknown fault kind "flood"`},
		} {
			require.ErrorContains(t, faults.Apply(c.f), c.want, "%s", c.f)
		}
		require.NoError(t, faults.Apply(faults.Crash("server")))
		require.ErrorContains(t, faults.Apply(faults.Crash("server")), "not running")
		ctx := context.Background()
		require.ErrorContains(t, faults.Run(ctx, faults.Plan{{At: -1, Fault: faults.Heal()}}, nil), "negative time")
		require.ErrorContains(t, faults.Go(ctx, faults.Plan{{At: 2, Fault: faults.Heal()}, {At: 1, Fault: faults.Heal()}}, nil), "comes before")
		require.ErrorContains(t, faults.Run(ctx, faults.Plan{{Fault: faults.Drop("a", "b", 7)}}, nil), "outside [0, 1]")
		// A step that cannot apply is reported, and the plan goes on.
		err := faults.Run(ctx, faults.Plan{{Fault: faults.Crash("server")}, {Fault: faults.Restart("server")}}, nil)
		require.ErrorContains(t, err, "not running")
		require.True(t, harness.LookupNode("server").Alive())
		require.NoError(t, faults.Apply(faults.Crash("server")))
	})
	require.NoError(t, res.Err())
	for _, g := range []faults.Gen{
		{Horizon: time.Second},
		{Nodes: []string{"a"}},
		{Nodes: []string{"a", "a"}, Horizon: time.Second},
		{Nodes: []string{"a"}, Horizon: time.Second, Kinds: []faults.Kind{"flood"}},
		{Nodes: []string{"a"}, Horizon: time.Second, MaxSteps: -1},
	} {
		_, err := g.Generator()
		require.Error(t, err, "%+v", g)
		_, err = g.Example(1)
		require.Error(t, err, "%+v", g)
	}
}
