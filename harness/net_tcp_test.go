package harness

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serveEcho answers every message on l with the same bytes until l closes.
func serveEcho(l Listener) {
	for {
		c, err := l.Accept(context.Background())
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				m, err := c.Recv(context.Background())
				if err != nil || c.Send(context.Background(), m) != nil {
					return
				}
			}
		}()
	}
}

func TestTCPHost(t *testing.T) {
	var h Host = TCP()
	l, err := h.Listen(0)
	require.NoError(t, err)
	go serveEcho(l)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := h.Dial(ctx, l.Addr())
	require.NoError(t, err)
	for _, m := range []string{"a", "", "hello"} {
		require.NoError(t, c.Send(ctx, []byte(m)))
		b, err := c.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, m, string(b))
	}
	// A Recv with nothing to read ends with its context.
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = c.Recv(short)
	cancel2()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	cancelled, cancel3 := context.WithCancel(ctx)
	go func() { time.Sleep(10 * time.Millisecond); cancel3() }()
	_, err = c.Recv(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	// The connection still works after a timed-out Recv.
	require.NoError(t, c.Send(ctx, []byte("again")))
	b, err := c.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "again", string(b))
	require.NoError(t, c.Close())
	require.NoError(t, l.Close())

	// Closed listener: refused. Peer closed: EOF.
	_, err = h.Dial(ctx, l.Addr())
	require.ErrorIs(t, err, ErrConnRefused)
	l2, err := h.Listen(0)
	require.NoError(t, err)
	defer l2.Close()
	go func() {
		c, err := l2.Accept(ctx)
		if err == nil {
			_ = c.Close()
		}
	}()
	c2, err := h.Dial(ctx, l2.Addr())
	require.NoError(t, err)
	_, err = c2.Recv(ctx)
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, ErrConnReset), "%v", err)
}
