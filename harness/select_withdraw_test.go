package harness

import (
	"context"
	"testing"
	"time"
)

// TestSelectLeavesNoWaiterBehind checks that a select woken by one case
// takes its waiters off the other cases' channels and context, as Go's
// select does: a select in a loop must not grow those queues by one waiter
// a round (each later operation on them would scan the stale ones).
func TestSelectLeavesNoWaiterBehind(t *testing.T) {
	const rounds = 50
	var idle *Chan[int]
	var ctxWaiters, recvWaiters, idleWaiters int
	res := Run(Options{Seed: 3}, func() {
		work := NewChan[int](0)
		idle = NewChan[int](0)
		cx, cancel := WithCancel(context.Background())
		defer cancel()
		done := NewChan[struct{}](0)
		Go(func() {
			for i := 0; i < rounds; i++ {
				var v int
				Select(work.RecvCase(&v, nil), idle.RecvCase(nil, nil), Done(cx))
			}
			done.Send(struct{}{})
		})
		for i := 0; i < rounds; i++ {
			work.Send(i)
		}
		done.Recv()
		ctxWaiters = len(cx.(*ctx).waiters)
		recvWaiters = len(work.recvq)
		idleWaiters = len(idle.recvq)
	})
	if res.Failed() {
		t.Fatal(res.Err())
	}
	if ctxWaiters != 0 || recvWaiters != 0 || idleWaiters != 0 {
		t.Fatalf("after %d selects: %d waiters left on the context, %d on the channel that fired, %d on the idle channel; want none",
			rounds, ctxWaiters, recvWaiters, idleWaiters)
	}
}

// TestNetWaitLeavesNoWaiterBehind checks the same of the network's waits:
// a server that receives with its node's context, which lives as long as
// the node, leaves no waiter on it per message; and a context cancelled on
// its own leaves its parent's children.
func TestNetWaitLeavesNoWaiterBehind(t *testing.T) {
	const rounds = 50
	var nodeWaiters, children int
	res := Run(Options{Seed: 5}, func() {
		server := NewNode("server", func(n *Node) {
			l, _ := n.Listen(7)
			c, err := l.Accept(n.Context())
			if err != nil {
				return
			}
			for {
				m, err := c.Recv(n.Context())
				if err != nil {
					return
				}
				_ = c.Send(n.Context(), m)
			}
		})
		client := NewNode("client", nil)
		_ = server.Start()
		_ = client.Start()
		Sleep(time.Millisecond)
		parent, cancelParent := WithCancel(context.Background())
		defer cancelParent()
		c, err := client.Dial(parent, "server:7")
		if err != nil {
			panic(err)
		}
		for i := 0; i < rounds; i++ {
			ctx, cancel := WithTimeout(parent, time.Second)
			_ = c.Send(ctx, []byte("x"))
			_, _ = c.Recv(ctx)
			cancel()
		}
		nodeWaiters = len(server.Context().(*ctx).waiters)
		children = len(parent.(*ctx).children)
		_ = server.Crash(CrashReset)
	})
	if res.Failed() {
		t.Fatal(res.Err())
	}
	// The server's goroutine waits in Recv: one waiter.
	if nodeWaiters > 1 || children != 0 {
		t.Fatalf("after %d round trips: %d waiters on the server node's context (want at most 1), %d children left on the parent context (want 0)",
			rounds, nodeWaiters, children)
	}
}
