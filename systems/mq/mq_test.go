package mq

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestServerSequential runs every operation of both variants on one
// goroutine: without concurrency the variants behave the same.
func TestServerSequential(t *testing.T) {
	for _, v := range []Variant{Buggy, Fixed} {
		t.Run(v.String(), func(t *testing.T) {
			s := New(v)
			require.NoError(t, s.CreateTopic("t"))
			require.ErrorIs(t, s.CreateTopic("t"), ErrTopicExists)
			_, err := s.Produce("nope", "x")
			require.ErrorIs(t, err, ErrTopicNotFound)
			require.ErrorIs(t, s.CreateConsumerGroup("nope", "g"), ErrTopicNotFound)

			ids, err := s.Produce("t", "m1", "m2", "m3")
			require.NoError(t, err)
			require.Equal(t, []int64{1, 2, 3}, ids)

			require.NoError(t, s.CreateConsumerGroup("t", "g"))
			require.ErrorIs(t, s.CreateConsumerGroup("t", "g"), ErrGroupExists)
			require.True(t, s.ExistConsumerGroup("t", "g"))
			require.False(t, s.HasConsumer("t", "g"))
			require.ErrorIs(t, s.RegisterConsumer(NewConsumer("t", "none")), ErrGroupNotFound)
			c := NewConsumer("t", "g")
			require.NoError(t, s.RegisterConsumer(c))
			require.ErrorIs(t, s.RegisterConsumer(NewConsumer("t", "g")), ErrConsumerExists)
			require.True(t, s.HasConsumer("t", "g"))

			msgs, err := s.Consume("t", "g", 2)
			require.NoError(t, err)
			require.Equal(t, []Message{{1, "m1"}, {2, "m2"}}, msgs, "a new group starts at the first message")
			pos, err := s.Position("t", "g")
			require.NoError(t, err)
			require.Equal(t, int64(3), pos)

			// Produce wakes the consumer; a second wake-up coalesces.
			_, err = s.Produce("t", "m4")
			require.NoError(t, err)
			_, err = s.Produce("t", "m5")
			require.NoError(t, err)
			require.Equal(t, 1, c.MsgMutex.Len())
			c.MsgMutex.Recv()

			require.NoError(t, s.Seek("t", "g", 2))
			require.Equal(t, 1, s.Notify("t", "g"))
			require.Equal(t, 1, c.MsgMutex.Len())
			require.Equal(t, 0, s.Notify("t", "other"))
			msgs, err = s.Consume("t", "g", 10)
			require.NoError(t, err)
			require.Equal(t, []int64{2, 3, 4, 5}, idsOf(msgs))
			msgs, err = s.Consume("t", "g", 10)
			require.NoError(t, err)
			require.Empty(t, msgs)
			last, err := s.LastID("t")
			require.NoError(t, err)
			require.Equal(t, int64(5), last)

			require.NoError(t, s.DestroyConsumerGroup("t", "g"))
			require.ErrorIs(t, s.DestroyConsumerGroup("t", "g"), ErrGroupNotFound)
			require.False(t, s.ExistConsumerGroup("t", "g"))
			require.False(t, s.HasConsumer("t", "g"))
			_, ok := c.MsgMutex.Recv() // the pending wake-up
			require.True(t, ok)
			_, ok = c.MsgMutex.Recv()
			require.False(t, ok, "Destroy closed the consumer's channel")
			require.Equal(t, 0, s.Notify("t", "g"), "Notify after Destroy does nothing")
			_, err = s.Consume("t", "g", 1)
			require.ErrorIs(t, err, ErrGroupNotFound)
			require.ErrorIs(t, s.Seek("t", "g", 1), ErrGroupNotFound)
			_, err = s.Position("t", "g")
			require.ErrorIs(t, err, ErrGroupNotFound)

			// The group can be made again, from the start, with a new consumer.
			require.NoError(t, s.CreateConsumerGroup("t", "g"))
			require.NoError(t, s.RegisterConsumer(NewConsumer("t", "g")))
			msgs, err = s.Consume("t", "g", 10)
			require.NoError(t, err)
			require.Len(t, msgs, 5)
		})
	}
}

func TestConsumerList(t *testing.T) {
	var l ConsumerList
	a, b, c := NewConsumer("t", "a"), NewConsumer("t", "b"), NewConsumer("t", "c")
	require.NoError(t, l.Add(a))
	require.NoError(t, l.Add(b))
	require.NoError(t, l.Add(c))
	require.ErrorIs(t, l.Add(NewConsumer("t", "b")), ErrConsumerExists)
	require.Same(t, b, l.Get("b"))
	require.Equal(t, 3, l.NotifyAll())
	require.Equal(t, 1, l.Notify("b"), "coalesces with the pending wake-up")
	require.Equal(t, 1, b.MsgMutex.Len())

	require.True(t, l.Remove("b"))
	require.False(t, l.Remove("b"))
	require.Nil(t, l.Get("b"))
	require.Equal(t, 0, l.Notify("b"))
	require.Equal(t, 2, l.NotifyAll(), "a and c are left")
	require.Same(t, a, l.Get("a"))
	require.Same(t, c, l.Get("c"))
	b.MsgMutex.Recv()
	_, ok := b.MsgMutex.Recv()
	require.False(t, ok)
}

func idsOf(msgs []Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// workload runs consumers, producers, a seeker and a group that is
// destroyed and recreated, all at once, and reports what went wrong. It
// runs as ordinary Go, in real mode and in a deterministic World.
func workload(v Variant) error {
	s := New(v)
	if err := s.CreateTopic("t"); err != nil {
		return err
	}
	var mu harness.Mutex
	got := map[string][]int64{}
	deliver := func(g string) func([]Message) {
		return func(msgs []Message) {
			mu.Lock()
			got[g] = append(got[g], idsOf(msgs)...)
			mu.Unlock()
		}
	}
	var stable []*Client // a slice, not a map: map order is not seeded
	for _, g := range []string{"a", "b"} {
		cl, err := Subscribe(s, "t", g, ClientOptions{Batch: 3, Deliver: deliver(g)})
		if err != nil {
			return err
		}
		stable = append(stable, cl)
	}

	var wg harness.WaitGroup
	errs := harness.NewChan[error](16)
	for p := 0; p < 2; p++ {
		wg.Go(func() {
			for i := 0; i < 10; i++ {
				if _, err := s.Produce("t", fmt.Sprintf("p%d-%d", p, i), "x"); err != nil {
					errs.Send(err)
					return
				}
				harness.Yield()
			}
		})
	}
	wg.Go(func() { // destroys and recreates group c
		for round := 0; round < 3; round++ {
			cl, err := Subscribe(s, "t", "c", ClientOptions{Batch: 2})
			if err != nil {
				errs.Send(err)
				return
			}
			harness.Sleep(time.Millisecond)
			if err := cl.Close(); err != nil {
				errs.Send(err)
				return
			}
			if s.ExistConsumerGroup("t", "c") || s.HasConsumer("t", "c") {
				errs.Send(errors.New("group c survived its Destroy"))
				return
			}
		}
	})
	wg.Go(func() { // seeks and notifies b and c
		for i := 0; i < 10; i++ {
			for _, g := range []string{"b", "c"} {
				if s.Seek("t", g, int64(1+harness.IntN(5))) == nil {
					s.Notify("t", g)
				}
			}
			harness.Yield()
		}
	})
	wg.Wait()
	errs.Close()
	for err := range chanValues(errs) {
		return err
	}
	return settled(s, stable, got)
}

// settled checks the end of workload: no lost wake-up (every live consumer
// reaches the end of the topic), group a consumed every message once, in
// order, and group b ends at the last message.
func settled(s *Server, stable []*Client, got map[string][]int64) error {
	last, err := s.LastID("t")
	if err != nil {
		return err
	}
	if last != 40 {
		return fmt.Errorf("last id %d, want 40", last)
	}
	deadline := harness.Now().Add(5 * time.Second)
	for _, g := range []string{"a", "b"} {
		for {
			pos, err := s.Position("t", g)
			if err != nil {
				return err
			}
			if pos == last+1 {
				break
			}
			if harness.Now().After(deadline) {
				return fmt.Errorf("group %s sleeps at %d while messages up to %d wait", g, pos, last)
			}
			harness.Sleep(time.Millisecond)
		}
	}
	for _, cl := range stable {
		if err := cl.Close(); err != nil {
			return err
		}
	}
	// Group a was never sought: it consumed every message once, in order.
	// (Its loop has exited: what it wrote is visible.)
	for i, id := range got["a"] {
		if id != int64(i+1) {
			return fmt.Errorf("group a consumed %v, want 1..%d in order", got["a"], last)
		}
	}
	if len(got["a"]) != int(last) {
		return fmt.Errorf("group a consumed %d messages, want %d", len(got["a"]), last)
	}
	if n := len(got["b"]); n == 0 || got["b"][n-1] != last { // seeks move b back and forth
		return fmt.Errorf("group b consumed %v, must end with %d", got["b"], last)
	}
	return nil
}

// chanValues drains a closed channel.
func chanValues[T any](c *harness.Chan[T]) func(func(T) bool) {
	return func(yield func(T) bool) {
		for {
			v, ok := c.Recv()
			if !ok || !yield(v) {
				return
			}
		}
	}
}

// TestFixedReal runs the workload with real goroutines and the standard
// library's primitives (no World), under -race when the test is.
func TestFixedReal(t *testing.T) {
	defer goleak.VerifyNone(t)
	for i := 0; i < 20; i++ {
		require.NoError(t, workload(Fixed))
	}
}

// TestFixedRealPerturbed runs it in a real-mode World that perturbs the
// schedule at primitive calls.
func TestFixedRealPerturbed(t *testing.T) {
	defer goleak.VerifyNone(t)
	for seed := int64(0); seed < 20; seed++ {
		var err error
		res := harness.Run(harness.Options{Seed: seed, Mode: harness.Real, Perturb: 0.2}, func() { err = workload(Fixed) })
		require.NoError(t, res.Err())
		require.NoError(t, err, "seed %d", seed)
	}
}

// TestFixedDeterministic runs it under heddle's scheduler, and checks that
// a seed replays to the same trace.
func TestFixedDeterministic(t *testing.T) {
	for seed := int64(0); seed < 100; seed++ {
		var err error
		res := harness.Run(harness.Options{Seed: seed}, func() { err = workload(Fixed) })
		require.NoError(t, res.Err())
		require.NoError(t, err, "seed %d", seed)
		if seed%10 == 0 {
			again := harness.Run(harness.Options{Seed: seed}, func() { err = workload(Fixed) })
			require.Equal(t, res.TraceHash, again.TraceHash, "seed %d replays", seed)
		}
	}
}

// notifyVsDestroy is the smallest program of the bug's panic: a Notify of
// group g (after a Seek) while g is destroyed. With g the only consumer,
// Buggy's in-place shift copies nothing, so the run panics without a data
// race and can run in this process even under -race.
func notifyVsDestroy(v Variant) func() {
	return func() {
		s := New(v)
		_ = s.CreateTopic("t")
		cl, _ := Subscribe(s, "t", "g", ClientOptions{})
		var wg harness.WaitGroup
		wg.Go(func() { s.Notify("t", "g") })
		wg.Go(func() { _ = cl.Close() })
		wg.Wait()
	}
}

func TestBuggyNotifySendsOnClosedChannel(t *testing.T) {
	if harness.RaceEnabled() {
		t.Skip("under -race the close racing Notify's send is reported first, as plain Go reports it; the explorer attributes it in child processes")
	}
	found := -1
	for seed := int64(0); seed < 200 && found < 0; seed++ {
		res := harness.Run(harness.Options{Seed: seed}, notifyVsDestroy(Buggy))
		if !res.Failed() {
			continue
		}
		require.Len(t, res.Failures, 1, "%v", res.Err())
		f := res.Failures[0]
		require.Equal(t, harness.Panic, f.Kind, "%v", res.Err())
		require.Contains(t, f.Message, "send on closed channel")
		require.True(t, strings.Contains(f.Stack, "racyConsumers).notify"), "panics in Notify:\n%s", f.Stack)
		found = int(seed)
		// The same seed fails the same way again; the fixed variant passes it.
		again := harness.Run(harness.Options{Seed: seed}, notifyVsDestroy(Buggy))
		require.Equal(t, res.TraceHash, again.TraceHash)
		require.NoError(t, harness.Run(harness.Options{Seed: seed}, notifyVsDestroy(Fixed)).Err())
	}
	require.GreaterOrEqual(t, found, 0, "no seed in 200 made Notify send on the closed channel")
	t.Logf("first panicking seed: %d", found)
	for seed := int64(0); seed < 200; seed++ {
		assert.NoError(t, harness.Run(harness.Options{Seed: seed}, notifyVsDestroy(Fixed)).Err(), "fixed, seed %d", seed)
	}
}
