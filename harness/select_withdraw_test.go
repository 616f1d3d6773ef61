package harness

import (
	"context"
	"testing"
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
