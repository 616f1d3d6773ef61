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
