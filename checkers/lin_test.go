package checkers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

// op builds a recorded operation: call and ret are positions on the event
// sequence (and, in seconds, on the clock).
func op(client int, call, ret int64, in, out any) harness.Operation {
	return harness.Operation{Client: client, Input: in, Output: out, Call: call, Return: ret,
		CallTime: time.Duration(call) * time.Second, ReturnTime: time.Duration(ret) * time.Second}
}

// unk builds an operation whose outcome is unknown: the client gave up at ret.
func unk(client int, call, ret int64, in any) harness.Operation {
	o := op(client, call, ret, in, nil)
	o.Unknown = true
	return o
}

// pending builds an operation that never returned.
func pending(client int, call int64, in any) harness.Operation {
	o := op(client, call, -1, in, nil)
	o.ReturnTime = -1
	o.Unknown = true
	return o
}

func mustPass(t *testing.T, vs []Violation) {
	t.Helper()
	require.Empty(t, vs)
}

// mustFail checks one NotLinearizable violation whose message holds every
// fragment, and that its visualisation was written.
func mustFail(t *testing.T, vs []Violation, fragments ...string) string {
	t.Helper()
	require.Len(t, vs, 1)
	require.Equal(t, NotLinearizable, vs[0].Kind)
	msg := vs[0].Message
	for _, f := range fragments {
		require.Contains(t, msg, f)
	}
	i := strings.Index(msg, "visualisation: ")
	require.GreaterOrEqual(t, i, 0, msg)
	path := strings.TrimSpace(msg[i+len("visualisation: "):])
	require.Equal(t, path, vs[0].Visualization, "the violation carries the visualisation's path")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(data), "<html")
	return msg
}

// TestKVLinearizable checks the map's verdicts and messages on a table of
// histories, one per behaviour. It is longer than 80 lines because the
// table is: each case reads on its own, and splitting it would only scatter
// them.
func TestKVLinearizable(t *testing.T) {
	var kv KV[string, int]
	dir := t.TempDir()
	opts := LinOptions{Dir: dir, Name: "kv-test"}
	cases := []struct {
		name string
		ops  []harness.Operation
		ok   bool
		frag []string
	}{
		{"sequential", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			op(1, 3, 4, kv.Get("x"), kv.Got(1, true)),
			op(0, 5, 6, kv.Delete("x"), nil),
			op(1, 7, 8, kv.Get("x"), kv.Got(0, false)),
		}, true, nil},
		{"concurrent read may see either", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			op(0, 3, 6, kv.Put("x", 2), kv.Done()),
			op(1, 4, 5, kv.Get("x"), kv.Got(1, true)),
			op(2, 4, 7, kv.Get("x"), kv.Got(2, true)),
		}, true, nil},
		{"stale read", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			op(0, 3, 4, kv.Put("x", 2), kv.Done()),
			op(1, 5, 6, kv.Get("x"), kv.Got(1, true)),
		}, false, []string{`key "x"`, `get("x") -> 1`, "client 1", "5s → 6s"}},
		{"read of a value never written", []harness.Operation{
			op(1, 1, 2, kv.Get("y"), kv.Got(7, true)),
		}, false, []string{`key "y"`}},
		{"keys are independent; only the bad one is named", []harness.Operation{
			op(0, 1, 2, kv.Put("a", 1), kv.Done()),
			op(1, 1, 2, kv.Put("b", 2), kv.Done()),
			op(2, 3, 4, kv.Get("a"), kv.Got(1, true)),
			op(3, 3, 4, kv.Get("b"), kv.Got(0, false)),
		}, false, []string{`1 of 2 partitions fail: key "b"`, `get("b") -> absent`}},
		{"cas", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			op(1, 3, 6, kv.CAS("x", 1, 5), kv.Swapped(true)),
			op(2, 4, 7, kv.CAS("x", 1, 9), kv.Swapped(false)),
			op(0, 8, 9, kv.Get("x"), kv.Got(5, true)),
		}, true, nil},
		{"two cas both succeed", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			op(1, 3, 6, kv.CAS("x", 1, 5), kv.Swapped(true)),
			op(2, 4, 7, kv.CAS("x", 1, 9), kv.Swapped(true)),
		}, false, []string{"cas(\"x\", 1 → 9) -> true"}},
		{"unknown put may have happened", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			unk(1, 3, 4, kv.Put("x", 2)),
			op(2, 10, 11, kv.Get("x"), kv.Got(2, true)),
		}, true, nil},
		{"unknown put may not have happened", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			unk(1, 3, 4, kv.Put("x", 2)),
			op(2, 10, 11, kv.Get("x"), kv.Got(1, true)),
		}, true, nil},
		{"unknown put takes effect late, but only once", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			unk(1, 3, 4, kv.Put("x", 2)),
			op(2, 10, 11, kv.Get("x"), kv.Got(2, true)),
			op(2, 12, 13, kv.Get("x"), kv.Got(1, true)),
		}, false, []string{"outcome unknown"}},
		{"a call that never returned may take effect", []harness.Operation{
			pending(1, 1, kv.Put("x", 3)),
			op(2, 10, 11, kv.Get("x"), kv.Got(3, true)),
		}, true, nil},
		{"unknown put cannot take effect before its call", []harness.Operation{
			op(2, 1, 2, kv.Get("x"), kv.Got(3, true)),
			unk(1, 3, 4, kv.Put("x", 3)),
		}, false, []string{`get("x") -> 3`}},
		{"unknown read is ignored", []harness.Operation{
			unk(2, 1, 2, kv.Get("x")),
		}, true, nil},
		{"unknown cas", []harness.Operation{
			op(0, 1, 2, kv.Put("x", 1), kv.Done()),
			unk(1, 3, 4, kv.CAS("x", 1, 5)),
			op(2, 10, 11, kv.Get("x"), kv.Got(5, true)),
		}, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := kv.Check(c.ops, opts)
			if c.ok {
				mustPass(t, vs)
			} else {
				msg := mustFail(t, vs, c.frag...)
				require.Contains(t, msg, "kv-test")
				require.Equal(t, dir, filepath.Dir(msg[strings.Index(msg, "visualisation: ")+len("visualisation: "):]))
			}
		})
	}
}

func TestKVMisuse(t *testing.T) {
	var kv KV[string, int]
	vs := kv.Check([]harness.Operation{op(0, 1, 2, "put x", nil)}, LinOptions{NoVisualization: true})
	require.Len(t, vs, 1)
	require.Equal(t, Invariant, vs[0].Kind)
	require.Contains(t, vs[0].Message, "checker misuse")
	vs = kv.Check([]harness.Operation{op(0, 1, 2, kv.Get("x"), nil)}, LinOptions{NoVisualization: true})
	require.Contains(t, vs[0].Message, "get has no output")
}

func TestKVNoVisualizationDefaultDir(t *testing.T) {
	var kv KV[int, int]
	bad := []harness.Operation{op(0, 1, 2, kv.Get(1), kv.Got(1, true))}
	vs := kv.Check(bad, LinOptions{NoVisualization: true})
	require.Len(t, vs, 1)
	require.NotContains(t, vs[0].Message, "visualisation")
	require.Empty(t, vs[0].Visualization)
}

func TestRegister(t *testing.T) {
	reg := Register[string]{}
	strict := Register[string]{Strict: true}
	dir := t.TempDir()
	cases := []struct {
		name          string
		ops           []harness.Operation
		monotonic, ok bool // verdicts of the default and the strict register
		frag          string
	}{
		{"reads move forward", []harness.Operation{
			op(9, 1, 2, reg.Write("t", 1, "a"), nil),
			op(0, 3, 4, reg.Read("t"), reg.Returned(1, "a")),
			op(9, 5, 6, reg.Write("t", 2, "b"), nil),
			op(1, 7, 8, reg.Read("t"), reg.Returned(2, "b")),
		}, true, true, ""},
		{"a read goes back after another read finished", []harness.Operation{
			op(9, 1, 2, reg.Write("t", 1, "a"), nil),
			op(9, 3, 4, reg.Write("t", 2, "b"), nil),
			op(0, 5, 6, reg.Read("t"), reg.Returned(2, "b")),
			op(1, 7, 8, reg.Read("t"), reg.Returned(1, "a")),
		}, false, false, `read("t") -> v1`},
		{"concurrent reads may disagree", []harness.Operation{
			op(9, 1, 2, reg.Write("t", 1, "a"), nil),
			op(9, 3, 10, reg.Write("t", 2, "b"), nil),
			op(0, 4, 6, reg.Read("t"), reg.Returned(2, "b")),
			op(1, 5, 7, reg.Read("t"), reg.Returned(1, "a")),
		}, true, true, ""},
		{"a stale read is allowed unless strict", []harness.Operation{
			op(9, 1, 2, reg.Write("t", 1, "a"), nil),
			op(9, 3, 4, reg.Write("t", 2, "b"), nil),
			op(1, 7, 8, reg.Read("t"), reg.Returned(1, "a")),
		}, true, false, `read("t") -> v1`},
		{"a read from the future", []harness.Operation{
			op(0, 1, 2, reg.Read("t"), reg.Returned(3, "c")),
			op(9, 3, 4, reg.Write("t", 3, "c"), nil),
		}, false, false, "v3"},
		{"an unknown write may have happened", []harness.Operation{
			unk(9, 1, 2, reg.Write("t", 3, "c")),
			op(0, 3, 4, reg.Read("t"), reg.Returned(3, "c")),
			op(0, 5, 6, reg.Read("t"), reg.Returned(3, "c")),
		}, true, true, ""},
		{"an unknown write may not have happened", []harness.Operation{
			unk(9, 1, 2, reg.Write("t", 3, "c")),
			op(0, 3, 4, reg.Read("t"), reg.Returned(0, "")),
		}, true, true, ""},
		{"an older write does not move it back", []harness.Operation{
			op(9, 1, 2, reg.Write("t", 2, "b"), nil),
			op(9, 3, 4, reg.Write("t", 1, "a"), nil),
			op(0, 5, 6, reg.Read("t"), reg.Returned(2, "b")),
		}, true, true, ""},
		{"registers are independent", []harness.Operation{
			op(9, 1, 2, reg.Write("t", 2, "b"), nil),
			op(0, 3, 4, reg.Read("u"), reg.Returned(0, "")),
			op(0, 5, 6, reg.Read("t"), reg.Returned(2, "b")),
		}, true, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := LinOptions{Dir: dir}
			if c.monotonic {
				mustPass(t, reg.Check(c.ops, opts))
			} else {
				mustFail(t, reg.Check(c.ops, opts), c.frag, `register "t"`)
			}
			if c.ok {
				mustPass(t, strict.Check(c.ops, opts))
			} else {
				mustFail(t, strict.Check(c.ops, opts), c.frag)
			}
		})
	}
}

func TestRegisterWithoutWrites(t *testing.T) {
	// Only reads recorded: versions are free, but never go back.
	reg := Register[int]{InitialVersion: 5}
	ok := []harness.Operation{
		op(0, 1, 2, reg.Read(""), reg.Returned(5, 0)),
		op(1, 3, 4, reg.Read(""), reg.Returned(9, 1)),
	}
	mustPass(t, reg.Check(ok, LinOptions{}))
	bad := []harness.Operation{
		op(1, 3, 4, reg.Read(""), reg.Returned(4, 1)),
	}
	mustFail(t, reg.Check(bad, LinOptions{Dir: t.TempDir()}), "v4")
}

func TestSet(t *testing.T) {
	var set Set[string]
	dir := t.TempDir()
	cases := []struct {
		name string
		ops  []harness.Operation
		ok   bool
		frag string
	}{
		{"add, contains, remove", []harness.Operation{
			op(0, 1, 2, set.Add("g1"), set.Done()),
			op(1, 3, 4, set.Contains("g1"), set.Present(true)),
			op(0, 5, 6, set.Remove("g1"), set.Changed(true)),
			op(1, 7, 8, set.Contains("g1"), set.Present(false)),
		}, true, ""},
		{"contains after remove returned", []harness.Operation{
			op(0, 1, 2, set.Add("g1"), set.Changed(true)),
			op(0, 3, 4, set.Remove("g1"), set.Done()),
			op(1, 5, 6, set.Contains("g1"), set.Present(true)),
		}, false, `element "g1"`},
		{"added twice", []harness.Operation{
			op(0, 1, 3, set.Add("g1"), set.Changed(true)),
			op(1, 2, 4, set.Add("g1"), set.Changed(true)),
		}, false, "changed=true"},
		{"concurrent add and remove", []harness.Operation{
			op(0, 1, 2, set.Add("g1"), set.Changed(true)),
			op(0, 3, 6, set.Remove("g1"), set.Changed(true)),
			op(1, 4, 5, set.Contains("g1"), set.Present(true)),
			op(2, 4, 7, set.Contains("g1"), set.Present(false)),
		}, true, ""},
		{"unknown remove", []harness.Operation{
			op(0, 1, 2, set.Add("g1"), set.Changed(true)),
			unk(0, 3, 4, set.Remove("g1")),
			op(1, 5, 6, set.Contains("g1"), set.Present(true)),
			op(1, 7, 8, set.Contains("g1"), set.Present(false)),
		}, true, ""},
		{"unknown remove happens once", []harness.Operation{
			op(0, 1, 2, set.Add("g1"), set.Changed(true)),
			unk(0, 3, 4, set.Remove("g1")),
			op(1, 5, 6, set.Contains("g1"), set.Present(false)),
			op(1, 7, 8, set.Contains("g1"), set.Present(true)),
		}, false, "outcome unknown"},
		{"members", []harness.Operation{
			op(0, 1, 2, set.Add("a"), set.Done()),
			op(1, 1, 2, set.Add("b"), set.Done()),
			op(2, 3, 4, set.Members(), set.Listed([]string{"b", "a"})),
			op(0, 5, 8, set.Remove("a"), set.Done()),
			op(2, 6, 7, set.Members(), set.Listed([]string{"b"})),
		}, true, ""},
		{"members lists a removed element", []harness.Operation{
			op(0, 1, 2, set.Add("a"), set.Done()),
			op(1, 1, 2, set.Add("b"), set.Done()),
			op(0, 3, 4, set.Remove("a"), set.Done()),
			op(2, 5, 6, set.Members(), set.Listed([]string{"b", "a"})),
		}, false, `members() -> {"a", "b"}`},
		{"members lists an element twice", []harness.Operation{
			op(0, 1, 2, set.Add("a"), set.Done()),
			op(0, 3, 4, set.Add("b"), set.Done()),
			op(2, 5, 6, set.Members(), set.Listed([]string{"a", "a"})),
		}, false, "members()"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := set.Check(c.ops, LinOptions{Dir: dir})
			if c.ok {
				mustPass(t, vs)
			} else {
				mustFail(t, vs, c.frag)
			}
		})
	}
}

// TestQueue checks the queue's verdicts, group by group and in one order,
// on a table of histories, one per behaviour. It is longer than 80 lines
// because the table is: each case reads on its own.
func TestQueue(t *testing.T) {
	var q Queue[int]
	dir := t.TempDir()
	cases := []struct {
		name       string
		ops        []harness.Operation
		ok, shared bool // verdicts per group and with SharedOrder
		frag       string
	}{
		{"each group gets every message in order", []harness.Operation{
			op(0, 1, 2, q.Produce(1), nil),
			op(0, 3, 4, q.Produce(2), nil),
			op(1, 5, 6, q.Consume("g1", 1), q.Consumed(1)),
			op(2, 5, 6, q.Consume("g2", 5), q.Consumed(1, 2)),
			op(1, 7, 8, q.Consume("g1", 1), q.Consumed(2)),
			op(1, 9, 10, q.Consume("g1", 1), q.Consumed()),
		}, true, true, ""},
		{"a message consumed twice", []harness.Operation{
			op(0, 1, 2, q.Produce(1), nil),
			op(0, 3, 4, q.Produce(2), nil),
			op(1, 5, 6, q.Consume("g1", 1), q.Consumed(1)),
			op(1, 7, 8, q.Consume("g1", 1), q.Consumed(1)),
		}, false, false, `consume("g1", 1) -> [1]  [op #3`},
		{"out of order", []harness.Operation{
			op(0, 1, 2, q.Produce(1), nil),
			op(0, 3, 4, q.Produce(2), nil),
			op(1, 5, 6, q.Consume("g1", 2), q.Consumed(2, 1)),
		}, false, false, `consume("g1", 2) -> [2 1]`},
		{"a message skipped", []harness.Operation{
			op(0, 1, 2, q.Produce(1), nil),
			op(0, 3, 4, q.Produce(2), nil),
			op(1, 5, 6, q.Consume("g1", 1), q.Consumed(2)),
		}, false, false, `consume("g1", 1) -> [2]`},
		{"empty while a message waits", []harness.Operation{
			op(0, 1, 2, q.Produce(1), nil),
			op(1, 3, 4, q.Consume("g1", 1), q.Consumed()),
		}, false, false, `consume("g1", 1) -> []`},
		{"concurrent produces in either order", []harness.Operation{
			op(0, 1, 4, q.Produce(1), nil),
			op(3, 1, 4, q.Produce(2), nil),
			op(1, 5, 6, q.Consume("g1", 2), q.Consumed(2, 1)),
		}, true, true, ""},
		{"two groups disagree on the order of concurrent produces", []harness.Operation{
			op(0, 1, 4, q.Produce(1), nil),
			op(3, 1, 4, q.Produce(2), nil),
			op(1, 5, 6, q.Consume("g1", 2), q.Consumed(2, 1)),
			op(2, 5, 6, q.Consume("g2", 2), q.Consumed(1, 2)),
		}, true, false, `consume("g2", 2) -> [1 2]`},
		{"an unknown produce may have happened", []harness.Operation{
			unk(0, 1, 2, q.Produce(1)),
			op(0, 3, 4, q.Produce(2), nil),
			op(1, 5, 6, q.Consume("g1", 2), q.Consumed(1, 2)),
		}, true, true, ""},
		{"an unknown produce may not have happened", []harness.Operation{
			unk(0, 1, 2, q.Produce(1)),
			op(0, 3, 4, q.Produce(2), nil),
			op(1, 5, 6, q.Consume("g1", 2), q.Consumed(2)),
		}, true, true, ""},
		{"an unknown consume may have taken a message", []harness.Operation{
			op(0, 1, 2, q.Produce(1), nil),
			op(0, 3, 4, q.Produce(2), nil),
			unk(1, 5, 6, q.Consume("g1", 1)),
			op(1, 7, 8, q.Consume("g1", 1), q.Consumed(2)),
		}, true, true, ""},
		{"an unknown consume cannot reorder", []harness.Operation{
			op(0, 1, 2, q.Produce(1), nil),
			op(0, 3, 4, q.Produce(2), nil),
			unk(1, 5, 6, q.Consume("g1", 1)),
			op(1, 7, 8, q.Consume("g1", 1), q.Consumed(2)),
			op(1, 9, 10, q.Consume("g1", 1), q.Consumed(1)),
		}, false, false, `consume("g1", 1) -> [1]  [op #4`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := LinOptions{Dir: dir}
			if c.ok {
				mustPass(t, q.Check(c.ops, opts))
			} else {
				mustFail(t, q.Check(c.ops, opts), c.frag, `group "g`)
			}
			shared := Queue[int]{SharedOrder: true}
			if c.shared {
				mustPass(t, shared.Check(c.ops, opts))
			} else {
				mustFail(t, shared.Check(c.ops, opts), c.frag)
			}
		})
	}
}

// TestHistoryToChecker records a KV history in a deterministic World and
// checks it. The buggy store acknowledges a write before its read cache
// reflects it, so a read that starts after the write returned can miss it.
func TestHistoryToChecker(t *testing.T) {
	run := func(seed int64, buggy bool) []Violation {
		var h harness.History
		var kv KV[string, int]
		res := harness.Run(harness.Options{Seed: seed}, func() {
			var mu harness.Mutex
			val, cache := 0, 0
			var wg harness.WaitGroup
			for c := 0; c < 3; c++ {
				wg.Go(func() {
					for i := 0; i < 4; i++ {
						if (c+i)%2 == 0 {
							v := c*10 + i + 1
							p := h.Call(c, kv.Put("x", v))
							mu.Lock()
							val = v
							if !buggy {
								cache = v
							}
							mu.Unlock()
							p.Return(kv.Done())
							if buggy {
								mu.Lock()
								cache = val
								mu.Unlock()
							}
							continue
						}
						p := h.Call(c, kv.Get("x"))
						mu.Lock()
						v := cache
						mu.Unlock()
						p.Return(kv.Got(v, v != 0))
					}
				})
			}
			wg.Wait()
		})
		require.False(t, res.Failed(), "%v", res.Err())
		return kv.Check(h.Operations(), LinOptions{Dir: t.TempDir()})
	}
	found := 0
	for seed := int64(0); seed < 30; seed++ {
		mustPass(t, run(seed, false))
		if vs := run(seed, true); len(vs) > 0 {
			mustFail(t, vs, `key "x"`)
			found++
		}
	}
	require.Positive(t, found, "the stale cache is found by some seed")
	t.Logf("stale cache found by %d of 30 seeds", found)
}

func TestQueueBatchesAndAssignedMessages(t *testing.T) {
	var q Queue[int64]
	dir := t.TempDir()
	ok := []harness.Operation{
		op(0, 1, 2, q.Produce(1, 2), nil),
		op(1, 3, 6, q.ProduceN(2), q.Produced(3, 4)),
		op(2, 4, 5, q.Consume("g", 3), q.Consumed(1, 2)), // before the second produce took effect
		op(2, 7, 8, q.Consume("g", 3), q.Consumed(3, 4)),
	}
	mustPass(t, q.Check(ok, LinOptions{Dir: dir}))

	// A batch is appended at once: a consume cannot see half of it.
	torn := []harness.Operation{
		op(0, 1, 4, q.Produce(1, 2), nil),
		op(1, 1, 4, q.Produce(3), nil),
		op(2, 5, 6, q.Consume("g", 3), q.Consumed(1, 3, 2)),
	}
	mustFail(t, q.Check(torn, LinOptions{Dir: dir}), `consume("g", 3) -> [1 3 2]`, "produce(1 2)")

	// A produce of system-named messages with an unknown outcome: its
	// messages, whatever they are, may appear once, in place.
	unknownNamed := []harness.Operation{
		op(0, 1, 2, q.Produce(1), nil),
		unk(1, 3, 4, q.ProduceN(2)),
		op(0, 5, 6, q.Produce(9), nil),
		op(2, 7, 8, q.Consume("g", 10), q.Consumed(1, 7, 8, 9)),
	}
	mustPass(t, q.Check(unknownNamed, LinOptions{Dir: dir}))
	notHappened := append(unknownNamed[:3:3], op(2, 7, 8, q.Consume("g", 10), q.Consumed(1, 9)))
	mustPass(t, q.Check(notHappened, LinOptions{Dir: dir}))
	tooMany := append(unknownNamed[:3:3], op(2, 7, 8, q.Consume("g", 10), q.Consumed(1, 7, 8, 6, 9)))
	mustFail(t, q.Check(tooMany, LinOptions{Dir: dir}), "produce(2) -> ?")

	bad := []harness.Operation{op(1, 3, 6, q.ProduceN(2), q.Produced(3))}
	vs := q.Check(bad, LinOptions{})
	require.Len(t, vs, 1)
	require.Contains(t, vs[0].Message, "a produce of 2 messages returned 1")
}
