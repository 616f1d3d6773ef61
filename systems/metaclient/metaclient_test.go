package metaclient

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const table = "temp"

// cluster starts meta0..meta<n-1> and an admin node, makes leader the
// leader holding table at version 1, and tells every other live meta that
// leader leads (stale, if set, maps a follower to the leader it is told
// instead). It returns the admin.
func cluster(t *testing.T, n int, leader string, stale map[string]string) Admin {
	t.Helper()
	for i := 0; i < n; i++ {
		require.NoError(t, harness.NewNode(fmt.Sprintf("meta%d", i), MetaMain).Start())
	}
	zk := harness.NewNode("zk", nil)
	require.NoError(t, zk.Start())
	admin := Admin{Host: zk}
	ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.NoError(t, admin.Promote(ctx, MetaAddr(leader), map[string]TableConfig{table: {Version: 1, Primary: "r1"}}))
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("meta%d", i)
		if name == leader {
			continue
		}
		told := leader
		if s, ok := stale[name]; ok {
			told = s
		}
		require.NoError(t, admin.SetLeader(ctx, MetaAddr(name), MetaAddr(told)))
	}
	return admin
}

// stopAll crashes every node, so that no server goroutine outlives the run.
func stopAll() {
	for _, n := range harness.Nodes() {
		if n.Alive() {
			_ = n.Crash(harness.CrashReset)
		}
	}
}

var clientList = []string{MetaAddr("meta0"), MetaAddr("meta1"), MetaAddr("meta2")}

// query runs one QueryConfig from a fresh client node and returns its
// report and how long it took.
func query(t *testing.T, v Variant, delay, timeout time.Duration) (CallReport, time.Duration) {
	t.Helper()
	cli := harness.NewNode("client", nil)
	require.NoError(t, cli.Start())
	var rep CallReport
	m := NewMetaManager(cli, clientList, Options{Variant: v, BackupDelay: delay, Observe: func(_ context.Context, r CallReport) { rep = r }})
	ctx, cancel := harness.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := harness.Now()
	resp, err := m.QueryConfig(ctx, table)
	took := harness.Since(start)
	assert.Equal(t, rep.Resp, resp)
	assert.Equal(t, rep.Err, err)
	return rep, took
}

// assertConsistent checks a successful call's report: the answer is an
// ERR_OK from the meta the recorded leader index points at, and the two
// lists agree entry by entry.
func assertConsistent(t *testing.T, rep CallReport, from string) {
	t.Helper()
	require.NoError(t, rep.Err)
	require.Equal(t, ErrOK, rep.Resp.Err)
	assert.Equal(t, from, rep.Resp.From)
	require.Less(t, rep.Leader, len(rep.Metas))
	assert.Equal(t, from, rep.Metas[rep.Leader])
	assert.Equal(t, rep.Metas, rep.Addrs)
	assert.Equal(t, TableConfig{Version: 1, Primary: "r1"}, rep.Resp.Config)
}

func both(t *testing.T, f func(t *testing.T, mode harness.Mode)) {
	for _, m := range []harness.Mode{harness.Deterministic, harness.Real} {
		t.Run(m.String(), func(t *testing.T) { f(t, m) })
	}
}

// TestLiveLeader: the believed leader answers; both variants take one
// query and start no backup.
func TestLiveLeader(t *testing.T) {
	defer goleak.VerifyNone(t)
	both(t, func(t *testing.T, mode harness.Mode) {
		for _, v := range []Variant{Buggy, Fixed} {
			var rep CallReport
			var took time.Duration
			res := harness.Run(harness.Options{Seed: 1, Mode: mode}, func() {
				cluster(t, 3, "meta0", nil)
				rep, took = query(t, v, time.Second, 5*time.Second)
				stopAll()
			})
			require.NoError(t, res.Err(), v)
			assertConsistent(t, rep, MetaAddr("meta0"))
			assert.Equal(t, 0, rep.Leader)
			assert.Equal(t, 0, rep.Running)
			assert.Less(t, took, 500*time.Millisecond, "no backup delay with a live leader")
			if mode == harness.Deterministic {
				assert.Less(t, took, 15*time.Millisecond, "one dial and one request")
			}
		}
	})
}

// TestForwardToUnknown: the believed leader forwards to a meta not in the
// list; the call appends it, asks it and records it as leader.
func TestForwardToUnknown(t *testing.T) {
	defer goleak.VerifyNone(t)
	both(t, func(t *testing.T, mode harness.Mode) {
		for _, v := range []Variant{Buggy, Fixed} {
			var rep CallReport
			res := harness.Run(harness.Options{Seed: 2, Mode: mode}, func() {
				cluster(t, 4, "meta3", nil)
				rep, _ = query(t, v, time.Second, 5*time.Second)
				stopAll()
			})
			require.NoError(t, res.Err(), v)
			assertConsistent(t, rep, MetaAddr("meta3"))
			assert.Equal(t, append(clientList[:3:3], MetaAddr("meta3")), rep.Addrs)
			assert.Equal(t, 3, rep.Leader)
		}
	})
}

// TestDeadLeaderFixed is the reported interleaving on the Fixed variant:
// the believed leader is black-holed; after the backup delay both backups
// are asked: meta1 leads and answers ERR_OK, meta2 (stale) forwards to
// meta3, not yet in the list, which the call appends and asks. Run waits
// for every goroutine it started.
func TestDeadLeaderFixed(t *testing.T) {
	defer goleak.VerifyNone(t)
	both(t, func(t *testing.T, mode harness.Mode) {
		delay := time.Second
		if mode == harness.Real {
			delay = 100 * time.Millisecond
		}
		for seed := int64(0); seed < 20; seed++ {
			var rep CallReport
			var took time.Duration
			res := harness.Run(harness.Options{Seed: seed, Mode: mode}, func() {
				cluster(t, 4, "meta1", map[string]string{"meta2": "meta3"})
				require.NoError(t, harness.LookupNode("meta0").Crash(harness.CrashBlackHole))
				rep, took = query(t, Fixed, delay, 5*time.Second)
				stopAll()
			})
			require.NoError(t, res.Err())
			assertConsistent(t, rep, MetaAddr("meta1"))
			assert.Equal(t, 0, rep.Running, "goroutines of Run still running after it returned")
			assert.GreaterOrEqual(t, took, delay)
			if mode == harness.Deterministic {
				assert.Less(t, took, delay+50*time.Millisecond)
			}
			if mode == harness.Real {
				break
			}
		}
	})
}

// TestCancel: with the believed leader black-holed and a context cancelled
// before the backup delay, Run returns the context's error at once.
func TestCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	both(t, func(t *testing.T, mode harness.Mode) {
		for _, v := range []Variant{Buggy, Fixed} {
			var rep CallReport
			var took time.Duration
			res := harness.Run(harness.Options{Seed: 3, Mode: mode}, func() {
				cluster(t, 3, "meta1", nil)
				require.NoError(t, harness.LookupNode("meta0").Crash(harness.CrashBlackHole))
				rep, took = query(t, v, time.Second, 200*time.Millisecond)
				stopAll()
			})
			require.NoError(t, res.Err(), v)
			require.True(t, errors.Is(rep.Err, context.DeadlineExceeded), rep.Err)
			assert.Equal(t, -1, rep.Leader)
			assert.Equal(t, 0, rep.Running)
			assert.GreaterOrEqual(t, took, 200*time.Millisecond)
			if mode == harness.Deterministic {
				assert.Equal(t, 200*time.Millisecond, took, "returns when the context is done")
			} else {
				assert.Less(t, took, 500*time.Millisecond)
			}
		}
	})
}

// TestConcurrentSharedManager: several goroutines share one Fixed manager
// while the leader moves out of the list and the believed leader dies;
// under -race this is clean, and the manager's lists stay consistent.
func TestConcurrentSharedManager(t *testing.T) {
	defer goleak.VerifyNone(t)
	both(t, func(t *testing.T, mode harness.Mode) {
		delay := time.Second
		if mode == harness.Real {
			delay = 50 * time.Millisecond
		}
		seeds := int64(10)
		if mode == harness.Real {
			seeds = 2
		}
		for seed := int64(0); seed < seeds; seed++ {
			var reports []CallReport
			var mu harness.Mutex
			var metas, addrs []string
			res := harness.Run(harness.Options{Seed: seed, Mode: mode}, func() {
				admin := cluster(t, 4, "meta3", nil)
				cli := harness.NewNode("client", nil)
				require.NoError(t, cli.Start())
				m := NewMetaManager(cli, clientList, Options{Variant: Fixed, BackupDelay: delay, Observe: func(_ context.Context, r CallReport) {
					mu.Lock()
					reports = append(reports, r)
					mu.Unlock()
				}})
				var wg harness.WaitGroup
				for g := 0; g < 3; g++ {
					wg.Go(func() {
						for i := 0; i < 3; i++ {
							ctx, cancel := harness.WithTimeout(context.Background(), 5*delay)
							_, _ = m.QueryConfig(ctx, table)
							cancel()
						}
					})
				}
				// Meanwhile the leader moves to meta2 and meta0 dies.
				harness.Sleep(delay / 100)
				ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
				require.NoError(t, admin.Demote(ctx, MetaAddr("meta3"), MetaAddr("meta2")))
				require.NoError(t, admin.Promote(ctx, MetaAddr("meta2"), map[string]TableConfig{table: {Version: 1, Primary: "r1"}}))
				require.NoError(t, admin.SetLeader(ctx, MetaAddr("meta1"), MetaAddr("meta2")))
				cancel()
				require.NoError(t, harness.LookupNode("meta0").Crash(harness.CrashBlackHole))
				wg.Wait()
				metas, addrs = m.Lists()
				stopAll()
			})
			require.NoError(t, res.Err())
			require.Len(t, reports, 9)
			ok := 0
			for _, r := range reports {
				assert.Equal(t, 0, r.Running)
				if r.Err != nil {
					// A call begun while leadership moves may find no
					// leader (meta3 forwards to meta2, which still forwards
					// to meta3): a meta call does not retry, it waits for
					// its context.
					require.ErrorIs(t, r.Err, context.DeadlineExceeded)
					continue
				}
				ok++
				require.Equal(t, ErrOK, r.Resp.Err)
				assert.Equal(t, r.Resp.From, r.Metas[r.Leader])
				assert.Equal(t, r.Metas, r.Addrs)
			}
			assert.Positive(t, ok)
			assert.Equal(t, metas, addrs)
			seen := map[string]bool{}
			for _, a := range addrs {
				assert.False(t, seen[a], "address %s twice in %v", a, addrs)
				seen[a] = true
			}
		}
	})
}

// TestBuggyOutlivesRun shows the bug without the race detector (which
// would fail this test): with the believed leader dead, backup goroutines
// of the Buggy call are still running after Run returned, in some seeds.
// Under -race the explorer's worker processes see the data race instead.
func TestBuggyOutlivesRun(t *testing.T) {
	if harness.RaceEnabled() {
		t.Skip("Buggy races by design: run without -race (the scenario's explorer runs it under -race in worker processes)")
	}
	leaked := 0
	for seed := int64(0); seed < 30; seed++ {
		var rep CallReport
		res := harness.Run(harness.Options{Seed: seed}, func() {
			cluster(t, 4, "meta1", map[string]string{"meta2": "meta3"})
			require.NoError(t, harness.LookupNode("meta0").Crash(harness.CrashBlackHole))
			rep, _ = query(t, Buggy, time.Second, 5*time.Second)
			stopAll()
		})
		require.NoError(t, res.Err())
		require.NoError(t, rep.Err)
		if rep.Running > 0 {
			leaked++
		}
	}
	assert.Positive(t, leaked, "no seed left a backup goroutine running after Run returned")
	t.Logf("%d of 30 seeds left goroutines of Run running after it returned", leaked)
}

// TestAdmin checks the meta servers' administrative answers.
func TestAdmin(t *testing.T) {
	res := harness.Run(harness.Options{Seed: 4}, func() {
		admin := cluster(t, 2, "meta0", nil)
		ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.NoError(t, admin.Write(ctx, MetaAddr("meta0"), table, TableConfig{Version: 3, Primary: "r3"}))
		require.NoError(t, admin.Write(ctx, MetaAddr("meta0"), table, TableConfig{Version: 2, Primary: "old"}), "an older version changes nothing")
		require.Error(t, admin.Write(ctx, MetaAddr("meta1"), table, TableConfig{Version: 4}), "writes go to the leader")
		require.Error(t, admin.SetLeader(ctx, MetaAddr("meta0"), MetaAddr("meta1")), "the leader is demoted, not told")
		rep, _ := query(t, Fixed, time.Second, time.Second)
		require.NoError(t, rep.Err)
		assert.Equal(t, TableConfig{Version: 3, Primary: "r3"}, rep.Resp.Config)
		m := NewMetaManager(harness.LookupNode("client"), clientList[:2], Options{Variant: Fixed})
		resp, err := m.QueryConfig(ctx, "nope")
		require.NoError(t, err)
		assert.Equal(t, ErrObjectNotFound, resp.Err)
		i, addr := m.Leader()
		assert.Equal(t, 0, i)
		assert.Equal(t, MetaAddr("meta0"), addr)
		harness.Sleep(10 * time.Millisecond) // the hang-ups arrive
		for _, meta := range []string{"meta0", "meta1"} {
			open, err := admin.OpenConns(ctx, MetaAddr(meta))
			require.NoError(t, err)
			assert.Equal(t, 1, open, "%s: only the asking connection is open", meta)
		}
		stopAll()
	})
	require.NoError(t, res.Err())
}
