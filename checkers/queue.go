package checkers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/heddle-go/heddle/harness"
)

// QueueOp is an operation on a message queue (a topic with consumer groups).
type QueueOp uint8

const (
	// QProduce appends messages to the topic, atomically and in order:
	// those of the input (Queue.Produce; the output is ignored), or, when
	// the system assigns them (ids), N messages named by the output
	// (Queue.ProduceN, Queue.Produced).
	QProduce QueueOp = iota + 1
	// QConsume reads, for one consumer group, the next messages after the
	// group's cursor, up to Max: output QueueOutput{Msgs}.
	QConsume
)

// String returns the operation's name, as descriptions show it.
func (o QueueOp) String() string {
	switch o {
	case QProduce:
		return "produce"
	case QConsume:
		return "consume"
	}
	return fmt.Sprintf("QueueOp(%d)", int(o))
}

// QueueInput is the recorded input of a queue operation.
type QueueInput[M comparable] struct {
	Op    QueueOp
	Msgs  []M    // produce: the messages, or nil if the system assigns them
	N     int    // produce with system-assigned messages: how many
	Group string // consume
	Max   int    // consume: at most this many messages; 0 means 1
}

// QueueOutput is the recorded output of a consume (the messages received),
// or of a produce whose messages the system assigned (the messages made).
type QueueOutput[M comparable] struct {
	Msgs []M
}

// Queue is the specification of a topic consumed by consumer groups: every
// group receives every message produced, each exactly once and in the order
// of the topic. A produce appends its messages together; a consume of up to
// Max messages returns exactly the next min(Max, available) messages after
// the group's cursor (possibly none) and moves the cursor past them. Every
// group starts at the topic's first message.
//
// By default the history is checked group by group (each group's consumes
// with every produce), which is fast but does not require two groups to see
// concurrent produces in the same order; SharedOrder checks every group
// against one topic order, slower.
//
// Messages must be distinct (ids) for "exactly once" to mean anything. The
// zero value is ready; its methods build the inputs and outputs to record:
//
//	var q checkers.Queue[int64]
//	p := h.Call(producer, q.ProduceN(len(payloads)))
//	ids, err := mq.Produce(topic, payloads...) // the server assigns ids
//	if err != nil { p.Unknown() } else { p.Return(q.Produced(ids...)) }
//	...
//	p = h.Call(consumer, q.Consume("group1", 10))
//	msgs, err := mq.Consume(topic, "group1", 10)
//	p.Return(q.Consumed(idsOf(msgs)...))
//	vs := q.Check(h.Operations(), checkers.LinOptions{})
//
// A produce whose outcome is unknown may or may not have appended its
// messages (if the system assigns them, they are unknown too, and match any
// message a consume returns); a consume whose outcome is unknown may or may
// not have moved its group's cursor.
type Queue[M comparable] struct {
	// SharedOrder checks all groups at once against a single topic order.
	SharedOrder bool
}

// Produce returns the input of producing msgs, in order, in one call.
func (Queue[M]) Produce(msgs ...M) QueueInput[M] { return QueueInput[M]{Op: QProduce, Msgs: msgs} }

// ProduceN returns the input of producing n messages that the system names
// (assigns ids to); record them with Produced.
func (Queue[M]) ProduceN(n int) QueueInput[M] { return QueueInput[M]{Op: QProduce, N: n} }

// Produced returns the output of a ProduceN: the messages the system made.
func (Queue[M]) Produced(msgs ...M) QueueOutput[M] { return QueueOutput[M]{Msgs: msgs} }

// Consume returns the input of consuming up to max messages for group.
func (Queue[M]) Consume(group string, max int) QueueInput[M] {
	return QueueInput[M]{Op: QConsume, Group: group, Max: max}
}

// Consumed returns the output of a consume that returned msgs, in order.
func (Queue[M]) Consumed(msgs ...M) QueueOutput[M] { return QueueOutput[M]{Msgs: msgs} }

// Check checks that ops, recorded with this Queue's inputs and outputs, are
// linearizable. It returns nil, or one NotLinearizable violation naming the
// failing groups and operations, with the path of porcupine's visualisation.
func (q Queue[M]) Check(ops []harness.Operation, opts LinOptions) []Violation {
	return q.spec(ops).check(ops, opts)
}

// qEntry is a message of the topic; a wild one is a message of a produce
// whose outcome is unknown and whose messages the system named.
type qEntry[M comparable] struct {
	msg  M
	wild bool
}

func (e qEntry[M]) matches(m M) bool { return e.wild || e.msg == m }

// GoString renders the entry in descriptions (%#v).
func (e qEntry[M]) GoString() string {
	if e.wild {
		return "?"
	}
	return fmt.Sprintf("%#v", e.msg)
}

// queueState holds the messages no group has consumed yet and, per group,
// its cursor into them. Steps never modify a state's slices.
type queueState[M comparable] struct {
	log []qEntry[M]
	cur []int
}

// spec builds the queue's model for ops, whose consumer groups it needs to
// know beforehand.
func (q Queue[M]) spec(ops []harness.Operation) *spec {
	m := newQueueModel[M](ops, q.SharedOrder)
	sp := &spec{
		name:          "queue",
		init:          m.init,
		step:          m.step,
		equal:         equalQueueStates[M],
		hash:          hashQueueState[M],
		describeOp:    describeQueueOp[M],
		describeState: m.describeState,
		convert:       convertQueueOp[M],
	}
	if !q.SharedOrder {
		sp.partition = m.partition
	}
	return sp
}

// queueModel is the queue's sequential specification for one history: the
// consumer groups it holds and, with SharedOrder, each group's slot in
// queueState.cur. Checked group by group, a sub-history has one group, in
// slot 0.
type queueModel[M comparable] struct {
	shared bool
	groups map[string]int // group -> its index in names
	names  []string       // the groups, sorted
}

// newQueueModel finds the consumer groups of ops.
func newQueueModel[M comparable](ops []harness.Operation, shared bool) *queueModel[M] {
	m := &queueModel[M]{shared: shared, groups: map[string]int{}}
	for _, op := range ops {
		if in, ok := op.Input.(QueueInput[M]); ok && in.Op == QConsume {
			if _, ok := m.groups[in.Group]; !ok {
				m.groups[in.Group] = 0
				m.names = append(m.names, in.Group)
			}
		}
	}
	sort.Strings(m.names)
	for i, g := range m.names {
		m.groups[g] = i
	}
	return m
}

// init is the empty topic, every group at its start.
func (m *queueModel[M]) init() any {
	slots := 1
	if m.shared {
		slots = max(1, len(m.names))
	}
	return queueState[M]{cur: make([]int, slots)}
}

// slot is the index of group's cursor in queueState.cur.
func (m *queueModel[M]) slot(group string) int {
	if !m.shared {
		return 0
	}
	return m.groups[group]
}

// step applies a produce or a consume.
func (m *queueModel[M]) step(state, input, output any) (bool, any) {
	st := state.(queueState[M])
	in := input.(QueueInput[M])
	if in.Op == QProduce {
		return true, produceStep(st, in, output)
	}
	return m.consumeStep(st, in, output)
}

// produceStep appends the produce's messages to the topic: those of the
// input, those the system named (the output), or, when the system named
// them and the outcome is unknown, wild entries that match any message.
func produceStep[M comparable](st queueState[M], in QueueInput[M], output any) queueState[M] {
	n := len(st.log)
	log := st.log[:n:n]
	switch {
	case in.Msgs != nil:
		for _, m := range in.Msgs {
			log = append(log, qEntry[M]{msg: m})
		}
	case isUnknown(output):
		for range in.N {
			log = append(log, qEntry[M]{wild: true})
		}
	default:
		for _, m := range output.(QueueOutput[M]).Msgs {
			log = append(log, qEntry[M]{msg: m})
		}
	}
	return queueState[M]{log: log, cur: st.cur}
}

// consumeStep checks that a consume returned exactly the next messages
// after its group's cursor, as many as Max and the topic allow (any, for an
// unknown outcome), and moves the cursor past them.
func (m *queueModel[M]) consumeStep(st queueState[M], in QueueInput[M], output any) (bool, any) {
	s := m.slot(in.Group)
	c := st.cur[s]
	k := min(max(in.Max, 1), len(st.log)-c)
	if !isUnknown(output) {
		got := output.(QueueOutput[M]).Msgs
		if len(got) != k {
			return false, st
		}
		for i, msg := range got {
			if !st.log[c+i].matches(msg) {
				return false, st
			}
		}
	}
	if k == 0 {
		return true, st
	}
	return true, advance(st, s, k)
}

// advance moves cursor s forward by k and drops the messages every group
// has consumed, leaving st as it was.
func advance[M comparable](st queueState[M], s, k int) queueState[M] {
	cur := make([]int, len(st.cur))
	copy(cur, st.cur)
	cur[s] += k
	low := cur[0]
	for _, x := range cur {
		low = min(low, x)
	}
	for i := range cur {
		cur[i] -= low
	}
	return queueState[M]{log: st.log[low:], cur: cur}
}

// equalQueueStates compares two queue states: the same cursors over the
// same unconsumed messages.
func equalQueueStates[M comparable](a, b any) bool {
	x, y := a.(queueState[M]), b.(queueState[M])
	if len(x.log) != len(y.log) {
		return false
	}
	for i := range x.cur {
		if x.cur[i] != y.cur[i] {
			return false
		}
	}
	for i := range x.log {
		if x.log[i] != y.log[i] {
			return false
		}
	}
	return true
}

// hashQueueState hashes a queue state consistently with equalQueueStates.
func hashQueueState[M comparable](state any) uint64 {
	st := state.(queueState[M])
	h := uint64(len(st.log))
	for _, c := range st.cur {
		h = h*1099511628211 + uint64(c)
	}
	for _, e := range st.log {
		h = h*1099511628211 ^ hashOf(e)
	}
	return h
}

// describeQueueOp renders a produce or consume and its outcome.
func describeQueueOp[M comparable](input, output any) string {
	in := input.(QueueInput[M])
	var s string
	switch {
	case in.Op == QProduce && in.Msgs != nil:
		return "produce(" + strings.Trim(describeSeq(in.Msgs), "[]") + ")"
	case in.Op == QProduce:
		s = fmt.Sprintf("produce(%d)", in.N)
	default:
		s = fmt.Sprintf("consume(%q, %d)", in.Group, max(in.Max, 1))
	}
	if isUnknown(output) {
		return s + " -> ?"
	}
	return s + " -> " + describeSeq(output.(QueueOutput[M]).Msgs)
}

// describeState renders what each group has yet to consume.
func (m *queueModel[M]) describeState(state any) string {
	st := state.(queueState[M])
	if !m.shared {
		return "unconsumed " + describeSeq(st.log[st.cur[0]:])
	}
	parts := make([]string, len(m.names))
	for i, g := range m.names {
		parts[i] = fmt.Sprintf("%s: %s", g, describeSeq(st.log[st.cur[i]:]))
	}
	return strings.Join(parts, "; ")
}

// convertQueueOp checks a recorded queue operation's types (and that a
// produce of system-named messages returned as many as it asked for).
func convertQueueOp[M comparable](op harness.Operation) (any, any, bool, error) {
	in, ok := op.Input.(QueueInput[M])
	if !ok {
		return nil, nil, false, typeError("input", op.Input, fmt.Sprintf("%T", in))
	}
	switch in.Op {
	case QProduce:
		if in.Msgs != nil || op.Unknown {
			return in, nil, true, nil
		}
		out, ok := op.Output.(QueueOutput[M])
		if !ok {
			return nil, nil, false, typeError("output of a produce of system-named messages", op.Output, fmt.Sprintf("%T", out))
		}
		if len(out.Msgs) != in.N {
			return nil, nil, false, fmt.Errorf("a produce of %d messages returned %d", in.N, len(out.Msgs))
		}
		return in, out, true, nil
	case QConsume:
		if op.Unknown {
			return in, nil, true, nil
		}
		out, ok := op.Output.(QueueOutput[M])
		if !ok {
			return nil, nil, false, typeError("output", op.Output, fmt.Sprintf("%T", out))
		}
		return in, out, true, nil
	}
	return nil, nil, false, fmt.Errorf("unknown operation %v", in.Op)
}

// partition gives each group its sub-history: every produce and the
// group's own consumes.
func (m *queueModel[M]) partition(ops []harness.Operation, kept []int) []part {
	parts := make([]part, len(m.names))
	for g, name := range m.names {
		parts[g].label = fmt.Sprintf("group %q", name)
		for _, i := range kept {
			in := ops[i].Input.(QueueInput[M])
			if in.Op == QProduce || m.groups[in.Group] == g {
				parts[g].idx = append(parts[g].idx, i)
			}
		}
	}
	return parts
}

// describeSeq renders a sequence of messages, eliding the middle of a long
// one.
func describeSeq[M any](ms []M) string {
	const show = 6
	ss := make([]string, 0, show+1)
	for i, m := range ms {
		if len(ms) > show && i == show/2 {
			ss = append(ss, fmt.Sprintf("...(%d more)", len(ms)-show))
		}
		if len(ms) > show && i >= show/2 && i < len(ms)-show/2 {
			continue
		}
		ss = append(ss, fmt.Sprintf("%#v", m))
	}
	return "[" + strings.Join(ss, " ") + "]"
}
