package mq

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/mq"
)

// span is the part of the run's event sequence (harness.Operation's Call
// and Return) in which one incarnation served: after its restart marker,
// before the crash that ended it.
type span struct{ from, to int64 }

func (s span) holds(seq int64) bool { return seq > s.from && seq < s.to }

// diskState is what a log's records describe, replayed by the checks on
// their own (not by the system's recovery).
type diskState struct {
	logs   map[string][]sys.Message // by topic
	groups map[string]int64         // cursor, by key
}

func replay(recs []sys.Record) diskState {
	st := diskState{logs: map[string][]sys.Message{}, groups: map[string]int64{}}
	for _, r := range recs {
		k := key(r.Topic, r.Group)
		switch r.Op {
		case sys.RecTopic:
			st.logs[r.Topic] = []sys.Message{}
		case sys.RecAppend:
			st.logs[r.Topic] = append(st.logs[r.Topic], r.Msgs...)
		case sys.RecCreateGroup:
			st.groups[k] = 0
		case sys.RecDestroyGroup:
			delete(st.groups, k)
		case sys.RecCursor:
			if _, ok := st.groups[k]; ok {
				st.groups[k] = r.Pos
			}
		}
	}
	return st
}

// below counts the messages of log whose id is less than pos: where a
// cursor at pos stands in the log.
func below(log []sys.Message, pos int64) int {
	n := 0
	for n < len(log) && log[n].ID < pos {
		n++
	}
	return n
}

// Check runs the checks over the finished run's histories (see the package
// doc).
func (r *run) Check() []checkers.Violation {
	ops := r.ops.Operations()
	spans := r.spans(ops)
	vs := registry.Check(effective(r.reg.Operations()), checkers.LinOptions{Name: r.name + "-registry"})
	vs = append(vs, r.checkFinal()...)
	vs = append(vs, r.checkRestarts(spans)...)
	durable := durableCalls(ops)
	for _, t := range r.topics {
		vs = append(vs, r.checkQueue(t, spans)...)
		vs = append(vs, r.checkResume(t, spans, durable)...)
	}
	vs = append(vs, r.checkCursorLog()...)
	vs = append(vs, r.checkReads()...)
	vs = append(vs, r.checkClients()...)
	if f := r.disk.Fenced(); len(f) > 0 {
		vs = append(vs, checkers.Violationf(harness.Leak, "a goroutine of a crashed incarnation of %s used the disk after the crash:%s", node, scenarios.Lines(f)))
	}
	return vs
}

// spans finds each incarnation's span from the restart and crash markers.
func (r *run) spans(ops []harness.Operation) []span {
	var out []span
	for _, op := range ops {
		switch op.Input.(opInfo).Name {
		case "restart":
			out = append(out, span{from: op.Call, to: math.MaxInt64})
		case "crash":
			if n := len(out); n > 0 && out[n-1].to == math.MaxInt64 {
				out[n-1].to = op.Call
			}
		}
	}
	return out
}

// checkFinal checks what the topics hold at the end: ids in order, every
// payload sent by a producer to that topic and held once, and every
// acknowledged message there, under its id.
func (r *run) checkFinal() []checkers.Violation {
	var vs []checkers.Violation
	held := map[int64]sys.Message{}
	for _, t := range r.topics {
		seen := map[string]bool{}
		for i, m := range r.final[t] {
			if i > 0 && m.ID <= r.final[t][i-1].ID {
				vs = append(vs, checkers.Violationf(checkers.Invariant, "topic %s holds id %d after id %d", t, m.ID, r.final[t][i-1].ID))
			}
			if r.produced[m.Payload] != t || seen[m.Payload] {
				vs = append(vs, checkers.Violationf(checkers.Invariant, "topic %s holds message %d %q, which no producer sent to it, or twice", t, m.ID, m.Payload))
			}
			seen[m.Payload] = true
			held[m.ID] = m
		}
	}
	var lost []string
	for _, id := range slices.Sorted(maps.Keys(r.acked)) {
		if p := r.acked[id]; held[id].Payload != p {
			lost = append(lost, fmt.Sprintf("%d %q (the topic holds %q under that id)", id, p, held[id].Payload))
		}
	}
	if len(lost) > 0 {
		vs = append(vs, checkers.Violationf(checkers.Invariant, "%d acknowledged message(s) lost by the end of the run:%s", len(lost), scenarios.Lines(lost)))
	}
	return vs
}

// checkRestarts checks each restart against the disk it recovered from:
// every message acknowledged before the crash is on it, the log it holds is
// how each topic still begins at the end, and the server recovered exactly
// the groups it holds.
func (r *run) checkRestarts(spans []span) []checkers.Violation {
	var vs []checkers.Violation
	for i := 1; i < len(r.incs) && i < len(spans); i++ {
		ic := r.incs[i]
		st := replay(ic.recs)
		var lost []string
		for _, t := range r.topics {
			onDisk := map[int64]string{}
			for _, m := range st.logs[t] {
				onDisk[m.ID] = m.Payload
			}
			for _, op := range effective(r.q[t].Operations()) {
				in := op.Input.(checkers.QueueInput[int64])
				if in.Op != checkers.QProduce || op.Unknown || op.Return > spans[i-1].to {
					continue
				}
				for _, id := range op.Output.(checkers.QueueOutput[int64]).Msgs {
					if p, ok := onDisk[id]; !ok || p != r.acked[id] {
						lost = append(lost, fmt.Sprintf("%s: %d %q, acknowledged at %v", t, id, r.acked[id], op.ReturnTime))
					}
				}
			}
			if n := len(st.logs[t]); n > len(r.final[t]) || !slices.Equal(st.logs[t], r.final[t][:n]) {
				vs = append(vs, checkers.Violationf(checkers.Invariant, "topic %s: incarnation %d recovered the log %v; at the end the topic begins %v",
					t, ic.inc, msgIDs(st.logs[t]), msgIDs(r.final[t][:min(n, len(r.final[t]))])))
			}
		}
		if len(lost) > 0 {
			vs = append(vs, checkers.Violationf(checkers.Invariant, "%d acknowledged message(s) are not on the disk incarnation %d recovered from:%s", len(lost), ic.inc, scenarios.Lines(lost)))
		}
		if want := slices.Sorted(maps.Keys(st.groups)); !slices.Equal(ic.recovered, want) {
			vs = append(vs, checkers.Violationf(checkers.Invariant, "incarnation %d recovered the groups %v; its disk holds %v", ic.inc, ic.recovered, want))
		}
	}
	return vs
}

// checkQueue checks topic t's never-sought groups as FIFO queues, one
// incarnation at a time: each incarnation after the first starts from what
// its disk held, a synthetic produce of the recovered log and, for every
// group it resumed, a synthetic consume up to the recovered cursor, placed
// at its restart, before any call it served.
func (r *run) checkQueue(t string, spans []span) []checkers.Violation {
	const scale = 16 // room between two events for the synthetic ones
	qops := effective(r.q[t].Operations())
	var vs []checkers.Violation
	for i, sp := range spans {
		var sub []harness.Operation
		if i > 0 {
			st := replay(r.incs[i].recs)
			base := sp.from * scale
			if log := st.logs[t]; len(log) > 0 {
				sub = append(sub, harness.Operation{Client: -1, Input: queues.Produce(msgIDs(log)...),
					Call: base + 1, Return: base + 2})
			}
			for j, k := range slices.Sorted(maps.Keys(r.incs[i].labels)) {
				label := r.incs[i].labels[k]
				if label == "" || !strings.HasPrefix(k, t+"/") {
					continue
				}
				if prefix := msgIDs(st.logs[t][:below(st.logs[t], st.groups[k])]); len(prefix) > 0 {
					sub = append(sub, harness.Operation{Client: -2 - j, Input: queues.Consume(label, len(prefix)),
						Output: queues.Consumed(prefix...), Call: base + 3, Return: base + 4})
				}
			}
		}
		for _, op := range qops {
			if !sp.holds(op.Call) {
				continue
			}
			op.Call *= scale
			if op.Return >= 0 {
				op.Return *= scale
			}
			sub = append(sub, op)
		}
		if err := orderProduces(sub); err != nil {
			vs = append(vs, checkers.Violationf(checkers.NotLinearizable, "topic %s, incarnation %d: %v", t, r.incs[i].inc, err))
			continue
		}
		vs = append(vs, queues.Check(sub, checkers.LinOptions{Name: fmt.Sprintf("%s-queue-%s-incarnation%d", r.name, t, r.incs[i].inc)})...)
	}
	return vs
}

// orderProduces narrows the intervals of the produces whose ids are known
// so that they can only take effect in the order of their ids, which is
// the order of the topic's log (checkFinal checks that the log holds
// increasing ids): a produce cannot take effect after one with larger ids
// returned, nor before one with smaller ids was called. This leaves every
// linearization in log order and spares the search the orders the log
// rules out (without it, a few produces left pending long make it
// exponential). It fails if a produce was called after one with larger ids
// returned: ids that go back in time.
func orderProduces(ops []harness.Operation) error {
	var ps []int
	for i, op := range ops {
		if in := op.Input.(checkers.QueueInput[int64]); in.Op == checkers.QProduce && in.Msgs == nil && !op.Unknown {
			ps = append(ps, i)
		}
	}
	first := func(i int) int64 { return ops[i].Output.(checkers.QueueOutput[int64]).Msgs[0] }
	slices.SortFunc(ps, func(a, b int) int { return cmp.Compare(first(a), first(b)) })
	for j := 1; j < len(ps); j++ {
		a, b := &ops[ps[j-1]], &ops[ps[j]]
		if a.Call >= b.Return {
			return fmt.Errorf("a produce called at %v got ids %v, smaller than the ids %v of a produce that returned before, at %v",
				a.CallTime, a.Output.(checkers.QueueOutput[int64]).Msgs, b.Output.(checkers.QueueOutput[int64]).Msgs, b.ReturnTime)
		}
		b.Call = max(b.Call, a.Call+1)
	}
	for j := len(ps) - 1; j > 0; j-- {
		a, b := &ops[ps[j-1]], &ops[ps[j]]
		a.Return = min(a.Return, b.Return-1)
	}
	return nil
}

// durableCalls returns the calls that made everything written before them
// durable: the successful ones that sync.
func durableCalls(ops []harness.Operation) []harness.Operation {
	var out []harness.Operation
	for _, op := range ops {
		switch op.Input.(opInfo).Name {
		case "CreateTopic", "Produce", "CreateConsumerGroup", "DestroyConsumerGroup", "Seek":
			if ok, _ := op.Output.(bool); ok && !op.Unknown {
				out = append(out, op)
			}
		}
	}
	return out
}

// checkResume checks where each never-sought group of topic t resumed
// after each restart: at the position its disk kept (checkQueue), which
// must lie between the last position a completed sync covered (a
// successful CreateTopic, Produce, CreateConsumerGroup,
// DestroyConsumerGroup or Seek called after the Consume returned, and
// returned before the crash) and the end of what the group had been handed
// before the crash, plus one batch if a Consume was cut short by it.
func (r *run) checkResume(t string, spans []span, durable []harness.Operation) []checkers.Violation {
	qops := effective(r.q[t].Operations())
	var vs []checkers.Violation
	for i := 1; i < len(spans) && i < len(r.incs); i++ {
		now, before := replay(r.incs[i].recs), replay(r.incs[i-1].recs)
		log := now.logs[t]
		for _, k := range slices.Sorted(maps.Keys(r.incs[i].labels)) {
			label := r.incs[i].labels[k]
			if label == "" || !strings.HasPrefix(k, t+"/") {
				continue
			}
			start := int64(0) // where the group stood when incarnation i-1 began
			if r.incs[i-1].labels[k] == label {
				start = before.groups[k]
			}
			handed, covered, cut := start, start, false
			for _, op := range qops {
				in := op.Input.(checkers.QueueInput[int64])
				if in.Op != checkers.QConsume || in.Group != label || !spans[i-1].holds(op.Call) {
					continue
				}
				if op.Return < 0 {
					cut = true
					continue
				}
				msgs := op.Output
				if op.Unknown || msgs == nil {
					continue
				}
				ids := msgs.(checkers.QueueOutput[int64]).Msgs
				if len(ids) == 0 {
					continue
				}
				handed = max(handed, ids[len(ids)-1]+1)
				if syncedAfter(durable, op.Return, spans[i-1].to) {
					covered = max(covered, ids[len(ids)-1]+1)
				}
			}
			pos := below(log, now.groups[k])
			lo, hi := below(log, covered), below(log, handed)
			if cut {
				hi = min(len(log), hi+r.cfg.ConsumeBatch)
			}
			switch {
			case pos < lo:
				vs = append(vs, checkers.Violationf(checkers.Invariant, "group %s (%s) resumed after restart %d at id %d, before id %d, which a completed sync had made durable: a persisted position was lost",
					k, label, r.incs[i].inc, now.groups[k], covered))
			case pos > hi:
				vs = append(vs, checkers.Violationf(checkers.Invariant, "group %s (%s) resumed after restart %d at id %d, past the messages it had been handed (up to id %d%s): messages skipped",
					k, label, r.incs[i].inc, now.groups[k], handed-1, map[bool]string{true: ", and one interrupted batch", false: ""}[cut]))
			}
		}
	}
	return vs
}

// checkCursorLog checks the cursor moves the disk holds at the end: within
// one life of a never-sought group (from its create record to its destroy
// record) they only go forward, as its Consumes do. A move that goes back
// is one a Consume or Seek of an earlier life wrote after the group was
// destroyed and made again: after a crash it would take the new life back
// to where the old one stood.
func (r *run) checkCursorLog() []checkers.Violation {
	var bad []string
	at := map[string]int64{}
	for i, rec := range r.disk.Records() {
		k := key(rec.Topic, rec.Group)
		switch rec.Op {
		case sys.RecCreateGroup:
			at[k] = 0
		case sys.RecDestroyGroup:
			delete(at, k)
		case sys.RecCursor:
			pos, live := at[k]
			if g := r.groups[k]; live && g != nil && g.fifo && rec.Pos < pos {
				bad = append(bad, fmt.Sprintf("record %d moves %s back from %d to %d", i+1, k, pos, rec.Pos))
			}
			at[k] = rec.Pos
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Invariant,
		"the log moves the cursor of a never-sought group back within one of its lives (a move of a former life written after the group was made again?):%s", scenarios.Lines(bad))}
}

// syncedAfter reports whether a durable call began after seq and returned
// before until.
func syncedAfter(durable []harness.Operation, seq, until int64) bool {
	for _, d := range durable {
		if d.Call > seq && d.Return >= 0 && d.Return < until {
			return true
		}
	}
	return false
}

// checkReads checks every batch a consumer read: each message is the one
// the topic holds under its id at the end (no consumer saw a message that
// a crash took away), and a sought group's batch is a run of consecutive
// messages of the topic.
func (r *run) checkReads() []checkers.Violation {
	var vs []checkers.Violation
	index := map[int64]int{}
	for _, t := range r.topics {
		for i, m := range r.final[t] {
			index[m.ID] = i
		}
	}
	for _, rd := range r.reads {
		g := rd.c.g
		final := r.final[g.topic]
		for i, m := range rd.msgs {
			if r.late[m.Payload] { // produced after the audit, while the broker closed
				break
			}
			j, ok := index[m.ID]
			if !ok || j >= len(final) || final[j] != m {
				vs = append(vs, checkers.Violationf(checkers.Invariant, "group %s read message %d %q, which the topic does not hold at the end: it was visible before it was durable",
					g.key, m.ID, m.Payload))
				break
			}
			if i > 0 && j != index[rd.msgs[i-1].ID]+1 && !g.fifo {
				vs = append(vs, checkers.Violationf(checkers.NotLinearizable, "group %s consumed the batch %v: not consecutive messages of the topic %v", g.key, msgIDs(rd.msgs), msgIDs(final)))
				break
			}
		}
	}
	return vs
}

// checkClients checks every consumer loop: it delivered what it consumed,
// once and in order (a loop that a crash stopped may have missed
// delivering its last batch); it exited within exitBound of the Destroy
// that had to stop it.
func (r *run) checkClients() []checkers.Violation {
	var vs []checkers.Violation
	last := r.incs[len(r.incs)-1].inc
	consumed := map[*client][]int64{}
	batch := map[*client]int{}
	for _, rd := range r.reads {
		consumed[rd.c] = append(consumed[rd.c], msgIDs(rd.msgs)...)
		batch[rd.c] = len(rd.msgs)
	}
	for _, c := range r.clients {
		got, want := c.delivered, consumed[c]
		killed := c.inc < last && c.exited < 0
		if !slices.Equal(got, want) && !(killed && slices.Equal(got, want[:len(want)-batch[c]])) {
			vs = append(vs, checkers.Violationf(checkers.NotLinearizable, "the consumer of %s (client %d, incarnation %d) delivered %v; it consumed %v: each message once, in order",
				c.g.key, c.cid, c.inc, got, want))
		}
	}
	var destroyed, exited []time.Duration
	for _, w := range r.exits {
		switch {
		case w.c.exited >= 0:
			destroyed, exited = append(destroyed, w.destroyed), append(exited, w.c.exited)
		case w.c.inc == last:
			vs = append(vs, checkers.Violationf(harness.Leak, "the consumer goroutine of %s (client %d) never exited after its group's Destroy returned at %v", w.c.g.key, w.c.cid, w.destroyed))
		}
	}
	for i := range destroyed {
		vs = append(vs, checkers.Within("Destroy returned", destroyed[i:i+1], "the consumer goroutine exited", exited[i:i+1], exitBound)...)
	}
	return vs
}
