package mq

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

// A power loss keeps what was synced and drops a suffix of the rest; it
// fences the handle that wrote, and so does the next Open.
func TestDiskPowerLoss(t *testing.T) {
	for lose := 0; lose <= 4; lose++ {
		d := NewDisk(DiskConfig{})
		l := d.Open("one")
		for i := 1; i <= 5; i++ {
			r := Record{Op: RecCursor, Topic: "t", Group: "g", Pos: int64(i)}
			if i == 2 {
				require.NoError(t, l.Commit(r))
			} else {
				require.NoError(t, l.Write(r))
			}
		}
		lost := d.PowerLoss(lose)
		kept := max(2, 5-lose)
		require.Len(t, lost, 5-kept, "lose=%d", lose)
		recs := d.Records()
		require.Len(t, recs, kept)
		for i, r := range recs {
			require.Equal(t, int64(i+1), r.Pos, "what survives is a prefix")
		}
		require.ErrorIs(t, l.Write(Record{Op: RecTopic, Topic: "x"}), ErrFenced)
		require.ErrorIs(t, l.Commit(Record{Op: RecTopic, Topic: "z"}), ErrFenced)
		_, err := l.Records()
		require.ErrorIs(t, err, ErrFenced)
		require.Len(t, d.Fenced(), 3)
		require.Contains(t, d.Fenced()[0], "one: write topic x")

		l2 := d.Open("two")
		require.Empty(t, d.PowerLoss(10), "recovery makes what it read durable")
		require.ErrorIs(t, l2.Write(Record{Op: RecTopic, Topic: "y"}), ErrFenced)
	}
}

// A lying disk acknowledges syncs it did not do: a power loss takes
// everything since the last Open.
func TestDiskLyingSync(t *testing.T) {
	d := NewDisk(DiskConfig{LyingSync: true})
	l := d.Open("one")
	require.NoError(t, l.Commit(Record{Op: RecTopic, Topic: "t"}))
	require.Len(t, d.PowerLoss(1), 1)
}

// Open recovers topics, messages, groups and cursors from the log; a
// destroyed group stays destroyed, and a group made again after a Destroy
// starts afresh even though a cursor move of its former self follows the
// Destroy in the log.
func TestOpenRecovers(t *testing.T) {
	for _, v := range []Variant{Buggy, Fixed} {
		d := NewDisk(DiskConfig{})
		s, err := Open(v, d.Open("first"))
		require.NoError(t, err)
		require.NoError(t, s.CreateTopic("a"))
		require.NoError(t, s.CreateTopic("b"))
		_, err = s.Produce("a", "a1", "a2", "a3")
		require.NoError(t, err)
		_, err = s.Produce("b", "b1")
		require.NoError(t, err)
		for _, g := range []string{"g", "h", "gone"} {
			require.NoError(t, s.CreateConsumerGroup("a", g))
		}
		msgs, err := s.Consume("a", "g", 2)
		require.NoError(t, err)
		require.Equal(t, []int64{1, 2}, idsOf(msgs))
		require.NoError(t, s.Seek("a", "h", 3))
		_, err = s.Consume("a", "gone", 5)
		require.NoError(t, err)
		require.NoError(t, s.DestroyConsumerGroup("a", "gone"))
		// The cursor move of a Consume that read before the Destroy.
		require.NoError(t, s.log.Write(Record{Op: RecCursor, Topic: "a", Group: "gone", Pos: 99}))
		require.NoError(t, s.CreateConsumerGroup("a", "gone"))

		r, err := Open(v, d.Open("second"))
		require.NoError(t, err)
		_, err = s.Produce("a", "late")
		require.ErrorIs(t, err, ErrFenced, "the first server's handle is stale")
		require.Equal(t, []string{"a", "b"}, r.Topics())
		groups, err := r.Groups("a")
		require.NoError(t, err)
		require.Equal(t, []string{"g", "gone", "h"}, groups)
		for g, want := range map[string]int64{"g": 3, "h": 3, "gone": 0} {
			pos, err := r.Position("a", g)
			require.NoError(t, err)
			require.Equal(t, want, pos, "group %s", g)
		}
		msgs, err = r.Consume("a", "g", 10)
		require.NoError(t, err)
		require.Equal(t, []Message{{3, "a3"}}, msgs)
		ids, err := r.Produce("b", "b2")
		require.NoError(t, err)
		require.Equal(t, []int64{5}, ids, "ids go on after the largest recovered")
		require.False(t, r.HasConsumer("a", "g"), "registrations do not survive")
	}
}

// Open refuses a log it cannot make sense of.
func TestOpenRejectsBadLog(t *testing.T) {
	for _, recs := range [][]Record{
		{{Op: RecAppend, Topic: "nope", Msgs: []Message{{1, "x"}}}},
		{{Op: RecTopic, Topic: "t"}, {Op: RecTopic, Topic: "t"}},
		{{Op: RecTopic, Topic: "t"}, {Op: RecDestroyGroup, Topic: "t", Group: "g"}},
		{{Op: RecTopic, Topic: "t"}, {Op: RecAppend, Topic: "t", Msgs: []Message{{2, "x"}, {1, "y"}}}},
		{{Op: RecTopic, Topic: "t"}, {Op: 99, Topic: "t"}},
	} {
		d := NewDisk(DiskConfig{})
		l := d.Open("writer")
		for _, r := range recs {
			require.NoError(t, l.Write(r))
		}
		_, err := Open(Fixed, d.Open("reader"))
		require.Error(t, err, "%v", recs)
		require.Contains(t, err.Error(), "mq: open: record")
	}
}

// brokerRun starts a broker on a fresh disk and runs f against it in a
// World; f's error fails the test.
func brokerRun(t *testing.T, seed int64, cfg DiskConfig, onStart func(*Server, int), f func(b *Broker, d *Disk) error) {
	t.Helper()
	var err error
	res := harness.Run(harness.Options{Seed: seed}, func() {
		d := NewDisk(cfg)
		b := NewBroker("rmq", BrokerConfig{Variant: Fixed, Disk: d, OnStart: onStart})
		if err = b.Start(); err != nil {
			return
		}
		for b.CreateTopic("t") != nil { // wait for the first incarnation to serve
			harness.Sleep(time.Millisecond)
		}
		err = f(b, d)
		if b.Node().Alive() {
			_ = b.Close()
		}
	})
	require.NoError(t, res.Err(), "seed %d", seed)
	require.NoError(t, err, "seed %d", seed)
}

// A crash in the middle of a Produce, with a power loss that drops what
// was not synced: the calls fail while the node is down; after the restart
// every acknowledged message is there, the interrupted one may or may not
// be, and a consumer goes on from its persisted cursor.
func TestBrokerCrashDuringProduce(t *testing.T) {
	for seed := int64(0); seed < 30; seed++ {
		brokerRun(t, seed, DiskConfig{SyncDelay: time.Millisecond}, nil, func(b *Broker, d *Disk) error {
			if err := b.CreateConsumerGroup("t", "g"); err != nil {
				return err
			}
			acked, err := b.Produce("t", "m1", "m2")
			if err != nil {
				return err
			}
			if _, err := b.Consume("t", "g", 1); err != nil {
				return err
			}
			hit, cancel := d.Arm(RecAppend, true)
			defer cancel()
			produced := harness.NewChan[error](1)
			harness.Go(func() {
				_, err := b.Produce("t", "m3")
				produced.Send(err)
			})
			hit.Recv()
			if err := b.Node().Crash(harness.CrashReset); err != nil {
				return err
			}
			// The sync's timer may fire before the crash (the clock is a
			// scheduling choice): then m3 is acknowledged and durable.
			lost := d.PowerLoss(1)
			interrupted, _ := produced.Recv()
			switch {
			case interrupted == nil && len(lost) > 0:
				return errors.New("an acknowledged Produce lost its record in the power loss")
			case interrupted != nil && !errors.Is(interrupted, ErrInterrupted):
				return fmt.Errorf("the interrupted Produce failed with %v, not ErrInterrupted", interrupted)
			}
			if _, err := b.Produce("t", "x"); !errors.Is(err, ErrUnavailable) {
				return errors.New("a Produce while the node is down did not fail with ErrUnavailable")
			}
			if err := b.Node().Start(); err != nil {
				return err
			}
			for {
				if _, err := b.LastID("t"); err == nil {
					break
				}
				harness.Sleep(time.Millisecond)
			}
			msgs, err := b.Consume("t", "g", 10)
			if err != nil {
				return err
			}
			ids := idsOf(msgs)
			if len(ids) == 0 || ids[0] > acked[1] || ids[0] < acked[0] {
				return errors.New("the consumer did not resume from its persisted cursor")
			}
			// m3 survives exactly when its record was durable at the crash.
			switch last := ids[len(ids)-1]; {
			case len(lost) > 0 && last != acked[1]:
				return errors.New("the interrupted Produce survived a power loss that dropped its unsynced record")
			case len(lost) == 0 && last != acked[1]+1:
				return errors.New("a Produce whose record was synced before the crash did not survive it")
			}
			if len(d.Fenced()) != 0 {
				return errors.New("a stale handle wrote: " + d.Fenced()[0])
			}
			return nil
		})
	}
}

// OnStart runs on every incarnation before the broker serves, and a client
// started through the broker runs on the node: a crash stops it.
func TestBrokerOnStartAndClients(t *testing.T) {
	var incs []int
	onStart := func(s *Server, inc int) {
		incs = append(incs, inc)
		if groups, _ := s.Groups("t"); len(groups) == 1 {
			_, _ = StartClient(s, NewConsumer("t", groups[0]), ClientOptions{})
		}
	}
	brokerRun(t, 1, DiskConfig{}, onStart, func(b *Broker, d *Disk) error {
		if err := b.CreateConsumerGroup("t", "g"); err != nil {
			return err
		}
		cl, err := b.StartClient("t", "g", ClientOptions{})
		if err != nil {
			return err
		}
		if err := b.Node().Restart(); err != nil {
			return err
		}
		if harness.Select(cl.Done().RecvCase(nil, nil), harness.After(time.Second).RecvCase(nil, nil)) == 0 {
			return errors.New("a crashed client's loop exited through its defer: it ran after the crash")
		}
		for {
			ok, err := b.HasConsumer("t", "g")
			if err == nil {
				if !ok {
					return errors.New("OnStart did not register the consumer again")
				}
				break
			}
			harness.Sleep(time.Millisecond)
		}
		return nil
	})
	require.Equal(t, []int{1, 2}, incs)
}

// The broker is ordinary Go: in a real-mode World (real goroutines, which
// a crash cannot stop) it serves, restarts and recovers, and the disk
// fences whatever the crashed incarnation still tries to write.
func TestBrokerRealMode(t *testing.T) {
	var err error
	res := harness.Run(harness.Options{Mode: harness.Real, Perturb: 0.1}, func() {
		d := NewDisk(DiskConfig{SyncDelay: 10 * time.Microsecond})
		b := NewBroker("rmq", BrokerConfig{Variant: Fixed, Disk: d})
		if err = b.Start(); err != nil {
			return
		}
		retry := func(f func() error) error {
			for {
				err := f()
				if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrInterrupted) {
					return err
				}
				harness.Sleep(100 * time.Microsecond)
			}
		}
		if err = retry(func() error { return b.CreateTopic("t") }); err != nil {
			return
		}
		var acked []int64
		for i := 0; i < 20; i++ {
			if i == 10 {
				if err = b.Node().Restart(); err != nil {
					return
				}
			}
			if ids, perr := b.Produce("t", fmt.Sprint(i)); perr == nil {
				acked = append(acked, ids...)
			}
		}
		var last int64
		if err = retry(func() (err error) { last, err = b.LastID("t"); return err }); err != nil {
			return
		}
		if len(acked) == 0 || last < acked[len(acked)-1] {
			err = fmt.Errorf("last id %d, acknowledged %v", last, acked)
			return
		}
		err = b.Close()
	})
	require.NoError(t, res.Err())
	require.NoError(t, err)
}
