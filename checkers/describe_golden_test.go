package checkers

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

// updateMessages rewrites testdata/messages_golden.txt from the checkers as
// they are. Use it only when a change to the messages is intended.
var updateMessages = flag.Bool("update-messages", false, "rewrite checkers/testdata/messages_golden.txt")

// goldenHistory is a history and the checker that judges it.
type goldenHistory struct {
	name  string
	check func(ops []harness.Operation, opts LinOptions) []Violation
	ops   []harness.Operation
}

// goldenHistories are histories whose verdicts, messages and
// visualisations are pinned: every model, every operation's description
// (known, unknown, never returned), the partition labels, and the limits
// of the explanation (long sequences, many operations, many partitions).
func goldenHistories() []goldenHistory {
	var hs goldenList
	kvGolden(&hs)
	registerGolden(&hs)
	setGolden(&hs)
	queueGolden(&hs)
	return hs
}

// goldenList collects golden histories.
type goldenList []goldenHistory

// add appends the history ops, judged by check, under name.
func (hs *goldenList) add(name string, check func([]harness.Operation, LinOptions) []Violation, ops ...harness.Operation) {
	*hs = append(*hs, goldenHistory{name, check, ops})
}

// kvGolden adds the key-value map's histories.
func kvGolden(hs *goldenList) {
	var kv KV[string, int]
	add := hs.add
	kvOps := []harness.Operation{
		op(0, 1, 2, kv.Put("x", 1), kv.Done()),
		op(0, 3, 4, kv.Put("x", 2), nil),
		op(1, 5, 6, kv.Get("x"), kv.Got(1, true)),
		op(2, 5, 8, kv.CAS("x", 2, 3), kv.Swapped(true)),
		op(3, 5, 9, kv.CAS("x", 2, 4), kv.Swapped(true)),
		unk(4, 6, 7, kv.Delete("x")),
		pending(5, 7, kv.Put("y", 9)),
		op(6, 10, 11, kv.Get("y"), kv.Got(0, false)),
		op(6, 12, 13, kv.Get("z"), kv.Got(0, false)),
	}
	add("kv", kv.Check, kvOps...)
	add("kv-ok", kv.Check, kvOps[:2]...)
	add("kv-misuse-input", kv.Check, op(0, 1, 2, "put x", nil))
	add("kv-misuse-op", kv.Check, op(0, 1, 2, KVInput[string, int]{Op: 9}, nil))
	add("kv-misuse-output", kv.Check, op(0, 1, 2, kv.CAS("x", 1, 2), nil))
	add("kv-misuse-output-type", kv.Check, op(0, 1, 2, kv.Get("x"), 3))
	add("kv-workload", KV[int, int]{}.Check, corruptedWorkload()...)
}

// registerGolden adds the monotonic and strict registers' histories.
func registerGolden(hs *goldenList) {
	var reg Register[string]
	strict := Register[string]{Strict: true, InitialVersion: 1, InitialValue: "init"}
	add := hs.add
	regOps := []harness.Operation{
		op(9, 1, 2, reg.Write("t", 2, "b"), nil),
		op(9, 3, 4, reg.Write("", 3, "c"), nil),
		op(0, 5, 6, reg.Read("t"), reg.Returned(2, "b")),
		op(1, 7, 8, reg.Read("t"), reg.Returned(1, "a")),
		unk(2, 7, 8, reg.Read("t")),
		op(3, 9, 10, reg.Read(""), reg.Returned(4, "d")),
		unk(9, 11, 12, reg.Write("u", 5, "e")),
	}
	add("register", reg.Check, regOps...)
	add("register-strict", strict.Check, regOps...)
	add("register-misuse-output", reg.Check, op(0, 1, 2, reg.Read("t"), "v1"))
	add("register-misuse-op", reg.Check, op(0, 1, 2, RegisterInput[string]{Op: 7}, nil))
}

// setGolden adds the set's histories, with and without listings.
func setGolden(hs *goldenList) {
	var set Set[string]
	add := hs.add
	setOps := []harness.Operation{
		op(0, 1, 2, set.Add("a"), set.Changed(true)),
		op(0, 3, 4, set.Add("b"), set.Done()),
		unk(1, 3, 4, set.Remove("b")),
		op(2, 5, 6, set.Contains("a"), set.Present(false)),
		op(3, 5, 6, set.Remove("c"), set.Changed(true)),
		unk(4, 5, 6, set.Contains("b")),
	}
	add("set", set.Check, setOps...)
	add("set-members", set.Check, append(setOps[:3:3],
		op(2, 5, 6, set.Members(), set.Listed([]string{"b", "a", "c"})),
		unk(3, 7, 8, set.Members()),
		op(4, 9, 10, set.Members(), set.Listed([]string{"a"})))...)
	add("set-misuse-output", set.Check, op(0, 1, 2, set.Members(), nil))
	add("set-misuse-output-type", set.Check, op(0, 1, 2, set.Add("a"), true))
	add("set-misuse-op", set.Check, op(0, 1, 2, SetInput[string]{Op: 0}, nil))
}

// queueGolden adds the queue's histories, group by group and in one order.
func queueGolden(hs *goldenList) {
	var q Queue[int]
	shared := Queue[int]{SharedOrder: true}
	add := hs.add
	var qOps []harness.Operation
	for g := range 10 { // more failing groups than a message names or explains
		qOps = append(qOps, op(10+g, 3, 4, q.Consume(fmt.Sprintf("g%d", g), 20), q.Consumed(1, 2, 3, 4, 5, 6, 7, 9, 8)))
	}
	qOps = append(qOps,
		op(0, 1, 2, q.Produce(1, 2, 3, 4, 5, 6, 7, 8, 9), nil),
		unk(1, 1, 2, q.ProduceN(2)),
		op(2, 1, 2, q.ProduceN(1), q.Produced(10)),
		unk(3, 5, 6, q.Consume("g0", 1)),
		pending(4, 5, q.Produce(11)))
	add("queue", q.Check, qOps...)
	add("queue-shared", shared.Check, qOps...)
	add("queue-ok", q.Check, qOps[10:12]...)
	long := []harness.Operation{
		op(0, 1, 2, q.Produce(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), nil),
		unk(1, 3, 4, q.Consume("g", 1)),
	}
	for i := range 9 { // more operations than an explanation lists
		long = append(long, op(2, int64(5+2*i), int64(6+2*i), q.Consume("g", 0), q.Consumed(i+1)))
	}
	long = append(long, op(2, 30, 31, q.Consume("g", 2), q.Consumed(11, 10)))
	add("queue-long", q.Check, long...)
	add("queue-long-shared", shared.Check, long...)
	add("queue-misuse-output", q.Check, op(0, 1, 2, q.ProduceN(2), q.Produced(3)))
	add("queue-misuse-output-type", q.Check, op(0, 1, 2, q.Consume("g", 1), []int{1}))
	add("queue-misuse-produced-type", q.Check, op(0, 1, 2, q.ProduceN(1), 1))
	add("queue-misuse-op", q.Check, op(0, 1, 2, QueueInput[int]{Op: 3}, nil))
}

// corruptedWorkload is a long linearizable KV history with one stale read.
func corruptedWorkload() []harness.Operation {
	ops := kvWorkload(7, 3000, 8, 20, 0.02)
	var kv KV[int, int]
	for i := len(ops) / 2; i < len(ops); i++ {
		if in := ops[i].Input.(KVInput[int, int]); in.Op == KVGet && !ops[i].Unknown {
			ops[i].Output = kv.Got(-1, true)
			break
		}
	}
	return ops
}

// visualisationHash hashes the data of the visualisation at path: every
// operation's description, metadata and interval, and every partial
// linearization with its states' descriptions. porcupine lists a
// partition's partial linearizations in map order (and marks the largest
// by its index in that order): they are sorted, and the marks left out.
func visualisationHash(t *testing.T, path string) [32]byte {
	html, err := os.ReadFile(path)
	require.NoError(t, err)
	i := bytes.Index(html, []byte(`{"Partitions":`))
	require.GreaterOrEqual(t, i, 0, "no data in %s", path)
	var data struct {
		Partitions []struct {
			History               []map[string]any
			PartialLinearizations [][]map[string]any
		}
		Annotations []map[string]any
	}
	require.NoError(t, json.NewDecoder(bytes.NewReader(html[i:])).Decode(&data))
	for _, p := range data.Partitions {
		slices.SortFunc(p.PartialLinearizations, func(a, b []map[string]any) int {
			x, _ := json.Marshal(a)
			y, _ := json.Marshal(b)
			return bytes.Compare(x, y)
		})
	}
	canonical, err := json.Marshal(data)
	require.NoError(t, err)
	return sha256.Sum256(canonical)
}

// TestMessagesGolden checks every golden history's violations, with their
// messages word for word and a hash of each visualisation, against
// testdata/messages_golden.txt.
func TestMessagesGolden(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for _, h := range goldenHistories() {
		fmt.Fprintf(&b, "=== %s\n", h.name)
		vs := h.check(h.ops, LinOptions{Dir: dir, Name: h.name})
		if len(vs) == 0 {
			b.WriteString("linearizable\n")
		}
		for _, v := range vs {
			msg := v.Message
			if i := strings.Index(msg, "\nvisualisation: "); i >= 0 {
				path := msg[i+len("\nvisualisation: "):]
				msg = fmt.Sprintf("%s\nvisualisation sha256 %x", msg[:i], visualisationHash(t, path))
			}
			fmt.Fprintf(&b, "%s: %s\n", v.Kind, msg)
		}
	}
	path := filepath.Join("testdata", "messages_golden.txt")
	if *updateMessages {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), b.String())
}

// TestMessageIsDeterministic checks a history whose failing partition has
// several longest partial linearizations many times: the message (without
// the visualisation's file name) is the same every time.
func TestMessageIsDeterministic(t *testing.T) {
	h := goldenHistories()[0] // "kv": two cas, either of which may come first
	require.Equal(t, "kv", h.name)
	var first string
	for i := range 40 {
		vs := h.check(h.ops, LinOptions{NoVisualization: true})
		require.Len(t, vs, 1)
		if i == 0 {
			first = vs[0].Message
		}
		require.Equal(t, first, vs[0].Message, "check %d", i)
	}
}
