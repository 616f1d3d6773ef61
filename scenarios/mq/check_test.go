package mq

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/mq"
)

// fabricated is a finished run made by hand (in a World, for one event
// sequence across its histories: see inWorld): one topic
// t0, whose producer got ids 1 and 2 ("a" and "b") acknowledged in
// incarnation 1, which crashed; incarnation 2 recovered from recs, with
// group g0. The checks of the tests below judge it, each after breaking
// one thing a broken system could have done.
func fabricated(recs []sys.Record) *run {
	r, _ := newRun(sys.Fixed, Config{Topics: 1, ConsumeBatch: 2}, nil, 0)
	g := &group{key: "t0/g0", topic: "t0", name: "g0", fifo: true, label: "t0/g0"}
	r.groups[g.key] = g
	r.begin(0, "restart", "", "1").Return(true)
	r.incs = append(r.incs, &incarnation{inc: 1, labels: map[string]string{}})
	p := r.q["t0"].Call(1, queues.ProduceN(2))
	p.Return(queues.Produced(1, 2))
	r.produced["a"], r.produced["b"] = "t0", "t0"
	r.acked[1], r.acked[2] = "a", "b"
	r.begin(0, "crash", "", "now lose=0 down=0s").Return(true)
	r.begin(0, "restart", "", "2").Return(true)
	st := replay(recs)
	var recovered []string
	for k := range st.groups {
		recovered = append(recovered, k)
	}
	r.incs = append(r.incs, &incarnation{inc: 2, recs: recs, recovered: recovered, labels: map[string]string{"t0/g0": "t0/g0"}})
	r.final["t0"] = []sys.Message{{ID: 1, Payload: "a"}, {ID: 2, Payload: "b"}}
	return r
}

// goodDisk is what the disk of a correct broker holds at the restart.
var goodDisk = []sys.Record{
	{Op: sys.RecTopic, Topic: "t0"},
	{Op: sys.RecCreateGroup, Topic: "t0", Group: "g0"},
	{Op: sys.RecAppend, Topic: "t0", Msgs: []sys.Message{{ID: 1, Payload: "a"}, {ID: 2, Payload: "b"}}},
}

func TestCheckFabricated(t *testing.T) {
	good := inWorld(func() *run { return fabricated(goodDisk) })
	require.Empty(t, good.checkRestarts(good.spans(good.ops.Operations())))
	require.Empty(t, good.checkFinal())
	for _, c := range []struct {
		name  string
		spoil func(r *run) []checkers.Violation
		says  string
	}{
		{"an acknowledged message missing at the end", func(r *run) []checkers.Violation {
			r.final["t0"] = r.final["t0"][:1]
			return r.checkFinal()
		}, "acknowledged message(s) lost"},
		{"a message no producer sent", func(r *run) []checkers.Violation {
			r.final["t0"] = append(r.final["t0"], sys.Message{ID: 3, Payload: "zz"})
			return r.checkFinal()
		}, "which no producer sent"},
		{"ids out of order", func(r *run) []checkers.Violation {
			r.final["t0"][0].ID = 5
			return r.checkFinal()
		}, "after id"},
		{"an acknowledged message not on the disk at the restart", func(r *run) []checkers.Violation {
			r.incs[1].recs = goodDisk[:2]
			return r.checkRestarts(r.spans(r.ops.Operations()))
		}, "not on the disk incarnation 2 recovered from"},
		{"a recovered group the disk does not hold", func(r *run) []checkers.Violation {
			r.incs[1].recovered = append(r.incs[1].recovered, "t0/g9")
			return r.checkRestarts(r.spans(r.ops.Operations()))
		}, "recovered the groups"},
		{"a read of a message that vanished", func(r *run) []checkers.Violation {
			r.reads = append(r.reads, read{c: &client{g: r.groups["t0/g0"]}, msgs: []sys.Message{{ID: 3, Payload: "gone"}}})
			return r.checkReads()
		}, "visible before it was durable"},
		{"a sought group's batch with a gap", func(r *run) []checkers.Violation {
			r.final["t0"] = append(r.final["t0"], sys.Message{ID: 3, Payload: "c"})
			r.produced["c"] = "t0"
			g := &group{key: "t0/g1", topic: "t0", name: "g1"}
			r.reads = append(r.reads, read{c: &client{g: g}, msgs: []sys.Message{{ID: 1, Payload: "a"}, {ID: 3, Payload: "c"}}})
			return r.checkReads()
		}, "not consecutive"},
		{"a consumer that delivered what it did not consume", func(r *run) []checkers.Violation {
			c := &client{g: r.groups["t0/g0"], inc: 2, exited: 1, delivered: []int64{1, 1}}
			r.clients = append(r.clients, c)
			r.reads = append(r.reads, read{c: c, msgs: []sys.Message{{ID: 1, Payload: "a"}}})
			return r.checkClients()
		}, "each message once, in order"},
		{"a cursor move of a former life in a new one", func(r *run) []checkers.Violation {
			r.disk = sys.NewDisk(sys.DiskConfig{})
			l := r.disk.Open("test")
			for _, rec := range append(append([]sys.Record(nil), goodDisk...), sys.Record{Op: sys.RecCursor, Topic: "t0", Group: "g0", Pos: 2},
				sys.Record{Op: sys.RecDestroyGroup, Topic: "t0", Group: "g0"}, sys.Record{Op: sys.RecCreateGroup, Topic: "t0", Group: "g0"},
				sys.Record{Op: sys.RecCursor, Topic: "t0", Group: "g0", Pos: 3}, sys.Record{Op: sys.RecCursor, Topic: "t0", Group: "g0", Pos: 2}) {
				if err := l.Write(rec); err != nil {
					panic(err)
				}
			}
			return r.checkCursorLog()
		}, "moves t0/g0 back from 3 to 2"},
		{"a consumer that never exited after its Destroy", func(r *run) []checkers.Violation {
			c := &client{g: r.groups["t0/g0"], inc: 2, exited: -1}
			r.exits = append(r.exits, exitWait{c: c, destroyed: 1})
			return r.checkClients()
		}, "never exited"},
	} {
		t.Run(c.name, func(t *testing.T) {
			vs := c.spoil(inWorld(func() *run { return fabricated(goodDisk) }))
			require.NotEmpty(t, vs)
			require.Contains(t, checkers.Verdict{Violations: vs}.String(), c.says)
		})
	}
}

// The resume check bounds where a never-sought group may resume: not
// before a position a completed sync covered, not past what it had been
// handed.
func TestCheckResumeBounds(t *testing.T) {
	at := func(pos int64) string {
		r := inWorld(func() *run {
			return resumed(append(append([]sys.Record(nil), goodDisk...), sys.Record{Op: sys.RecCursor, Topic: "t0", Group: "g0", Pos: pos}))
		})
		vs := r.checkResume("t0", r.spans(r.ops.Operations()), durableCalls(r.ops.Operations()))
		return checkers.Verdict{Violations: vs}.String()
	}
	require.Equal(t, checkers.Verdict{}.String(), at(2))
	require.Contains(t, at(1), "a persisted position was lost")
	require.Contains(t, at(3), "messages skipped")
}

// resumed is fabricated(recs) with g0 in incarnation 1: it was handed
// message 1, then a Produce synced (and returned) before the crash.
func resumed(recs []sys.Record) *run {
	r := fabricated(recs)
	r.ops, r.q["t0"] = harness.History{}, &harness.History{}
	r.begin(0, "restart", "", "1").Return(true)
	r.q["t0"].Call(1, queues.ProduceN(2)).Return(queues.Produced(1, 2))
	r.q["t0"].Call(2, queues.Consume("t0/g0", 1)).Return(queues.Consumed(1))
	r.begin(1, "Produce", "t0", "").Return(true)
	r.begin(0, "crash", "", "now lose=0 down=0s").Return(true)
	r.begin(0, "restart", "", "2").Return(true)
	r.incs[0].labels = map[string]string{"t0/g0": "t0/g0"}
	return r
}

// inWorld builds a fabricated run inside a World: outside one, each history
// numbers its events on its own, and the checks compare the numbers of
// several.
func inWorld(build func() *run) *run {
	var r *run
	harness.Run(harness.Options{}, func() { r = build() })
	return r
}
