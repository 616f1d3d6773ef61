package duplicator

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

func sec(s float64) time.Duration { return time.Duration(s*1000) * time.Millisecond }

func write(d int64, key string) sys.Mutation {
	return sys.Mutation{Decree: d, LastCommitted: d - 1, Key: key, Value: "v"}
}

// recordedRun is a run of one partition that passes every check: an empty
// write (the primary's first) and two writes, delivered 50 ms after their
// commits, with the resources a live primary and remote hold at the end.
func recordedRun() *run {
	cfg := ConfigFor(0)
	cfg.System.Partitions = 1
	cfg.System.LoadDelay = 100 * time.Millisecond
	cfg.System.ShipTimeout, cfg.System.ShipRetry = time.Second, 100*time.Millisecond
	cfg.LagBound = 150 * time.Millisecond
	cfg.System.GroupCheckInterval = 10 * time.Second
	rec := newRecorder(1)
	empty := sys.Mutation{Decree: 1, Empty: true}
	rec.logged[[2]int{0, 1}] = []stamped{{empty, 0, 1}, {write(2, "a"), sec(1), 2}, {write(3, "b"), sec(2), 4}}
	rec.committed[0][1] = stamped{empty, 0, 1}
	rec.committed[0][2] = stamped{write(2, "a"), sec(1), 2}
	rec.committed[0][3] = stamped{write(3, "b"), sec(2), 4}
	rec.remote[0] = []stamped{{write(2, "a"), sec(1.05), 3}, {write(3, "b"), sec(2.05), 5}}
	rec.delivered[0] = map[int64]int{2: 3, 3: 5}
	rec.deliveredMax[0] = 3
	rec.shipped[[2]int{0, 1}] = []int64{2, 3}
	rec.lasts[[2]int{0, 1}] = []int64{1, 2, 3}
	rec.confirmed[0] = []int64{0, 3}
	rec.confirmedMax[0] = 3
	rec.acked = []ackedWrite{{client: "c1", key: "a", value: "v", p: 0, decree: 2}, {client: "c1", key: "b", value: "v", p: 0, decree: 3}}
	r := &run{cfg: cfg, rec: rec, quiet: []time.Duration{sec(3)}}
	r.final = finalState{
		logs:              [][]sys.Mutation{{empty, write(2, "a"), write(3, "b")}},
		seen:              []int64{3},
		confirmed:         []int64{3},
		reportedConfirmed: []int64{3}, delivered: []int64{3},
		remoteValues: map[string]remoteValue{"a": {"v", true}, "b": {"v", true}},
		primaryInc:   1, remoteInc: 1,
		primaryHeld: map[sys.Resource]int{sys.ResListener: 1, sys.ResGroupCheck: 1, sys.ResDuplication: 1,
			sys.ResConfirm: 1, sys.ResShipConn: 1},
		remoteHeld: map[sys.Resource]int{sys.ResListener: 1, sys.ResServedShip: 1},
	}
	return r
}

// TestChecks feeds the checks recorded runs that break each property, to
// show that each one fires, with the right kind and a message naming the
// property; and runs a fault excuses, to show they do not. It is one table
// with a row per property, hence its length.
func TestChecks(t *testing.T) {
	vs, lags, writes := recordedRun().check()
	require.Empty(t, vs)
	require.Equal(t, 2, writes)
	require.Equal(t, []time.Duration{sec(0.05)}, lags)

	partition := func(from, to float64) []step {
		return []step{{f: faults.Partition("primary", "remote"), at: sec(from), done: sec(from)}, {f: faults.Heal(), at: sec(to), done: sec(to)}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(r *run)
		kind   harness.Kind // "": no violation
		text   string
	}{
		{"late", func(r *run) { r.rec.remote[0][1].at = sec(2.3) }, checkers.Timeliness, lagMessage},
		{"never", func(r *run) {
			r.rec.remote[0] = r.rec.remote[0][:1]
			delete(r.rec.delivered[0], 3)
		}, checkers.Timeliness, "never delivered"},
		{"late, but a partition was in the way", func(r *run) {
			r.rec.remote[0][1].at = sec(2.3)
			r.steps = partition(1.9, 2.1)
		}, "", ""},
		{"late, a partition long over", func(r *run) {
			r.rec.remote[0][1].at = sec(2.3)
			r.steps = partition(0.1, 0.2)
		}, checkers.Timeliness, "due by 2.15s"},
		{"late, a restart of the primary long over", func(r *run) {
			r.rec.remote[0][1].at = sec(2.3)
			r.steps = []step{{f: faults.Restart("primary"), at: sec(1.8), done: sec(1.8)}}
		}, checkers.Timeliness, lagMessage},
		{"duplicate", func(r *run) {
			r.rec.remote[0] = append(r.rec.remote[0], stamped{write(3, "b"), sec(2.1), 6})
		}, checkers.Invariant, "consecutive"},
		{"gap", func(r *run) { r.rec.remote[0] = r.rec.remote[0][1:] }, checkers.Invariant, "prefix"},
		{"not committed", func(r *run) {
			r.rec.remote[0] = append(r.rec.remote[0], stamped{write(4, "c"), sec(2.1), 6})
		}, checkers.Invariant, "prefix"},
		{"before commit", func(r *run) { r.rec.remote[0][0].seq = 1 }, checkers.Invariant, "only apply committed writes"},
		{"shipped twice", func(r *run) { r.rec.shipped[[2]int{0, 1}] = []int64{2, 3, 3} }, checkers.Invariant, "decrees shipped by partition 0"},
		{"progress back", func(r *run) { r.rec.lasts[[2]int{0, 1}] = []int64{1, 3, 2} }, checkers.Invariant, "last_decree of partition 0"},
		{"confirmed back", func(r *run) { r.rec.confirmed[0] = []int64{3, 2} }, checkers.Invariant, "confirmed_decree of partition 0"},
		{"acked another write", func(r *run) { r.rec.acked[1].value = "x" }, checkers.Invariant, "acknowledged as decree 3"},
		{"acked decrees back", func(r *run) { r.rec.acked[0], r.rec.acked[1] = r.rec.acked[1], r.rec.acked[0] }, checkers.Invariant, "after its write there"},
		{"log holds an uncommitted write", func(r *run) {
			r.final.logs[0] = append(r.final.logs[0], write(4, "c"))
		}, checkers.Invariant, "never committed"},
		{"log holds an empty write under way", func(r *run) {
			r.final.logs[0] = append(r.final.logs[0], sys.Mutation{Decree: 4, LastCommitted: 3, Empty: true})
		}, "", ""},
		{"log lost a committed write", func(r *run) { r.final.logs[0] = r.final.logs[0][:2] }, checkers.Invariant, "committed history"},
		{"auditor read another log", func(r *run) {
			r.rec.audits = []auditRead{{op: "Disk.Log", p: 0, got: []sys.Mutation{{Decree: 1, Empty: true}, write(3, "b")}}}
		}, checkers.Invariant, "Disk.Log(0) read"},
		{"auditor read from the middle", func(r *run) {
			r.rec.audits = []auditRead{{op: "Disk.ReadFrom", p: 0, from: 2, got: []sys.Mutation{write(2, "a")}}}
		}, "", ""},
		{"remote has another value", func(r *run) { r.final.remoteValues["a"] = remoteValue{"zz", true} }, checkers.Invariant, "remote cluster's value of a"},
		{"confirmed decree not persisted", func(r *run) { r.final.confirmed[0] = 2 }, checkers.Invariant, "reported a decree it had not persisted"},
		{"remote's last decree behind", func(r *run) { r.final.seen[0] = 2 }, checkers.Invariant, "last decree of partition 0"},
		{"a client connection left open", func(r *run) { r.final.primaryHeld[sys.ResClientConn] = 1 }, harness.Leak, "client connection"},
		{"a client's hang-up lost on a cut link", func(r *run) {
			r.final.primaryHeld[sys.ResClientConn] = 1
			r.rec.orphans[sys.RolePrimary] = 1
		}, "", ""},
		{"a ship connection served after the primary closed it", func(r *run) { r.final.remoteHeld[sys.ResServedShip] = 2 }, harness.Leak, "serves 2 ship connection"},
		{"a ship connection's close lost on a cut link", func(r *run) {
			r.final.remoteHeld[sys.ResServedShip] = 2
			r.rec.orphans[sys.RoleRemote] = 1
		}, "", ""},
		{"a group check missing", func(r *run) { r.final.primaryHeld[sys.ResGroupCheck] = 0 }, checkers.Invariant, "group-check goroutine"},
		{"two duplications", func(r *run) { r.final.primaryHeld[sys.ResDuplication] = 2 }, harness.Leak, "duplication goroutine"},
		{"a group check wrote into a busy partition", func(r *run) {
			r.rec.logged[[2]int{0, 1}] = append(r.rec.logged[[2]int{0, 1}], stamped{sys.Mutation{Decree: 4, LastCommitted: 3, Empty: true}, sec(7), 6})
		}, checkers.Invariant, "group checks"},
		{"a group check an interval after the last write", func(r *run) {
			r.rec.logged[[2]int{0, 1}] = append(r.rec.logged[[2]int{0, 1}], stamped{sys.Mutation{Decree: 4, LastCommitted: 3, Empty: true}, sec(12), 6})
		}, "", ""},
		{"a write prepared as the group check looked", func(r *run) {
			r.rec.logged[[2]int{0, 1}] = append(r.rec.logged[[2]int{0, 1}], stamped{sys.Mutation{Decree: 4, LastCommitted: 3, Empty: true}, sec(2.001), 6})
		}, "", ""},
		{"ship connections past one a partition", func(r *run) {
			r.final.primaryHeld[sys.ResShipConn] = 2
			r.final.remoteHeld[sys.ResServedShip] = 2
		}, harness.Leak, "ship connections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := recordedRun()
			tc.mutate(r)
			vs, _, _ := r.check()
			if tc.kind == "" {
				require.Empty(t, vs)
				return
			}
			require.NotEmpty(t, vs)
			found := false
			for _, v := range vs {
				found = found || v.Kind == tc.kind && strings.Contains(v.Message, tc.text)
			}
			require.True(t, found, "no %s violation mentions %q: %v", tc.kind, tc.text, vs)
		})
	}
}

// TestObserverChecks: the checks that run while the system runs fire: a
// changed history, a ship beyond last_applied or of another mutation,
// confirmed past last, progress past what the remote has, a resource
// released twice; and the auditors' checks of what they read.
func TestObserverChecks(t *testing.T) {
	res := harness.Run(harness.Options{}, func() {
		rec := newRecorder(1)
		obs := rec.observer()
		// The observer records on a goroutine of its own: read what it
		// found under the recorder's lock.
		found := func() []checkers.Violation {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return slices.Clone(rec.bad)
		}
		m := write(2, "a")
		obs.Committed(0, sys.Mutation{Decree: 1, Empty: true})
		obs.Committed(0, m)
		obs.Committed(0, m) // replayed, same: fine
		require.Empty(t, found())
		obs.Committed(0, sys.Mutation{Decree: 2, LastCommitted: 1, Key: "a", Value: "2"})
		obs.Shipped(0, 1, []sys.Mutation{m}, 2, 1)
		obs.Shipped(0, 1, []sys.Mutation{write(2, "z")}, 2, 2)
		obs.Progressed(0, 1, sys.Progress{LastDecree: 1, ConfirmedDecree: 2})
		obs.Progressed(0, 1, sys.Progress{LastDecree: 2, ConfirmedDecree: 1})
		obs.Resource(sys.RolePrimary, 1, sys.ResShipConn, +1)
		obs.Resource(sys.RolePrimary, 1, sys.ResShipConn, -1)
		obs.Resource(sys.RolePrimary, 1, sys.ResShipConn, -1)
		for i, text := range []string{"must never change", "<= last_applied_decree at ship time", "must be the one the primary committed",
			"must not pass last_decree", "remote cluster never got", "released more ship connections"} {
			require.Greater(t, len(found()), i, "no violation for %q", text)
			assert.Contains(t, found()[i].Message, text)
		}
		assert.Equal(t, harness.Leak, found()[5].Kind)

		rec.mu.Lock()
		rec.bad = nil
		rec.mu.Unlock()
		f := floors{logged: 3, lc: 2, confirmed: 2, delivered: 2}
		rec.checkRead("Disk.MaxDecreeOnDisk", 0, 2, f, 1)
		rec.checkRead("Disk.MaxCommitOnDisk", 0, 1, f, 1)
		rec.checkRead("Disk.Confirmed", 0, 2, floors{}, 1) // decree 2 was never delivered
		rec.checkRead("Disk.Partitions", 0, 2, f, 1)
		rec.checkLogRead(auditRead{op: "Disk.Log", got: []sys.Mutation{{Decree: 1, Empty: true}, write(3, "b")}}, floors{})
		rec.checkLogRead(auditRead{op: "Disk.Log", got: []sys.Mutation{{Decree: 1, LastCommitted: 1}}}, floors{})
		rec.checkLogRead(auditRead{op: "Disk.ReadFrom", from: 2, got: []sys.Mutation{m}}, floors{logged: 3})
		for i, text := range []string{"but 3 was already logged", "but 2 was already logged as committed", "has not got decree 2",
			"Disk.Partitions() = 2", "is decree 3, want 2", "below its decree", "but decree 3 was logged"} {
			require.Greater(t, len(rec.bad), i, "no violation for %q", text)
			assert.Contains(t, rec.bad[i].Message, text)
		}
	})
	require.NoError(t, res.Err())

	r := &run{}
	r.checkGet("a", "v", "", false, true)
	r.checkGet("never-written", "", "v", true, false)
	require.Len(t, r.Violations(), 2)
}

// TestBrokenWorkloads: a workload or a system broken on purpose is caught,
// as the right kind, within a few seeds: clients that never hang up (the
// primary serves their connections for ever), and a primary whose ship
// connections never close (the remote cluster serves them for ever).
func TestBrokenWorkloads(t *testing.T) {
	broken := func(change func(r *run)) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
		return scenarios.Check(func(opts harness.Options, plan faults.Plan) (scenarios.Workload, error) {
			r := newRun(sys.Fixed, ConfigFor(opts.Seed), plan, opts)
			change(r)
			return r, nil
		})
	}
	for _, tc := range []struct {
		name   string
		change func(r *run)
		text   string
	}{
		{"clients never hang up", func(r *run) { r.keepConns = true }, "client connection"},
		{"ship connections never close", dialing(func(c harness.Conn) harness.Conn { return neverClosed{c} }), "ship connection"},
		{"the accept loop ignores a graceful stop", listening(func(l harness.Listener) harness.Listener { return deafAccept{l} }), "graceful stop"},
		{"a ticker the primary never stops", listening(func(l harness.Listener) harness.Listener {
			harness.NewTicker(time.Hour) // on the listening node, and never stopped
			return l
		}), "timer(s) it armed are still pending"},
		{"the listener is never closed", listening(func(l harness.Listener) harness.Listener { return neverClosedListener{l} }), "is still bound"},
		{"every send leaves a deadline armed", dialing(func(c harness.Conn) harness.Conn { return deadlineConn{c} }), "pending timers, more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Only the check meant to see the break counts.
			check := broken(tc.change)
			caughtBy := func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
				res, vs := check(opts, plan)
				return res, slices.DeleteFunc(vs, func(x checkers.Violation) bool {
					return x.Kind != harness.Leak || !strings.Contains(x.Message, tc.text)
				})
			}
			seed, v := scenarios.FirstCaught(t, caughtBy, Faults, 100, nil)
			t.Logf("caught at seed %d: %s", seed, v.Violations[0].Message)
		})
	}
}

// dialing breaks the primary's network: every connection it dials is
// wrapped.
func dialing(wrap func(harness.Conn) harness.Conn) func(r *run) {
	return func(r *run) { r.primaryHost = func(h harness.Host) harness.Host { return wrappedDials{h, wrap} } }
}

// listening breaks the primary's network: every listener it opens is
// wrapped.
func listening(wrap func(harness.Listener) harness.Listener) func(r *run) {
	return func(r *run) { r.primaryHost = func(h harness.Host) harness.Host { return wrappedListeners{h, wrap} } }
}

type wrappedDials struct {
	harness.Host
	wrap func(harness.Conn) harness.Conn
}

func (w wrappedDials) Dial(ctx context.Context, addr string) (harness.Conn, error) {
	c, err := w.Host.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return w.wrap(c), nil
}

type wrappedListeners struct {
	harness.Host
	wrap func(harness.Listener) harness.Listener
}

func (w wrappedListeners) Listen(port int) (harness.Listener, error) {
	l, err := w.Host.Listen(port)
	if err != nil {
		return nil, err
	}
	return w.wrap(l), nil
}

// neverClosed is a connection that ignores Close.
type neverClosed struct{ harness.Conn }

func (neverClosed) Close() error { return nil }

// deafAccept is a listener whose Accept does not watch its context: a
// graceful stop never ends the accept loop.
type deafAccept struct{ harness.Listener }

func (d deafAccept) Accept(ctx context.Context) (harness.Conn, error) {
	return d.Listener.Accept(context.WithoutCancel(ctx))
}

// neverClosedListener is a listener that ignores Close (Accept still ends
// with its context).
type neverClosedListener struct{ harness.Listener }

func (neverClosedListener) Close() error { return nil }

// deadlineConn is a connection that arms, at every Send, a context
// deadline a minute away that nobody cancels (a dropped cancel).
type deadlineConn struct{ harness.Conn }

func (c deadlineConn) Send(ctx context.Context, b []byte) error {
	// Apart from ctx, whose own deadline is sooner and whose cancel would
	// stop it.
	dctx, cancel := harness.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	_ = cancel // dropped, as a forgotten defer cancel() would
	return c.Conn.Send(dctx, b)
}
