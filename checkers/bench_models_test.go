package checkers

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

// workload simulates clients running operations against a linearizable
// object, as kvWorkload does for the map: each operation is called, takes
// effect (apply, which returns its output) and returns at separate events,
// interleaved at random with the other clients' events; a fraction ends
// with an unknown outcome. next draws an operation's input.
func workload(seed uint64, n, clients int, unknownRate float64, next func(r *rand.Rand) any, apply func(in any) any) []harness.Operation {
	r := rand.New(rand.NewPCG(seed, 2))
	idx := make([]int, clients) // in ops, or -1 when idle
	applied := make([]bool, clients)
	for i := range idx {
		idx[i] = -1
	}
	ops := make([]harness.Operation, 0, n)
	var seq int64
	started, done := 0, 0
	for done < n {
		c := r.IntN(clients)
		seq++
		at := time.Duration(seq) * time.Millisecond
		switch {
		case idx[c] < 0:
			if started == n {
				continue
			}
			ops = append(ops, harness.Operation{Client: c, Input: next(r), Call: seq, CallTime: at})
			idx[c], applied[c] = len(ops)-1, false
			started++
		case !applied[c]:
			ops[idx[c]].Output = apply(ops[idx[c]].Input)
			applied[c] = true
		default:
			op := &ops[idx[c]]
			op.Return, op.ReturnTime = seq, at
			if r.Float64() < unknownRate {
				op.Output, op.Unknown = nil, true
			}
			idx[c] = -1
			done++
		}
	}
	return ops
}

// queueWorkload produces distinct messages (some named by the system) and
// consumes them in groups.
func queueWorkload(seed uint64, n, clients, groups int, unknownRate float64) []harness.Operation {
	var q Queue[int]
	var log []int
	cursor := map[string]int{}
	next := 0
	return workload(seed, n, clients, unknownRate, func(r *rand.Rand) any {
		switch p := r.IntN(100); {
		case p < 20:
			k := 1 + r.IntN(3)
			msgs := make([]int, k)
			for i := range msgs {
				msgs[i] = next
				next++
			}
			return q.Produce(msgs...)
		case p < 30:
			return q.ProduceN(1 + r.IntN(2))
		default: // consumers keep up, so that few messages wait in any order
			return q.Consume(fmt.Sprintf("g%d", r.IntN(groups)), 2+r.IntN(8))
		}
	}, func(in any) any {
		op := in.(QueueInput[int])
		switch {
		case op.Op == QConsume:
			c := cursor[op.Group]
			k := min(max(op.Max, 1), len(log)-c)
			cursor[op.Group] = c + k
			return q.Consumed(log[c : c+k : c+k]...)
		case op.Msgs != nil:
			log = append(log, op.Msgs...)
			return nil
		}
		made := make([]int, op.N)
		for i := range made {
			made[i] = next
			next++
		}
		log = append(log, made...)
		return q.Produced(made...)
	})
}

// setWorkload adds, removes and looks up elements; members lists the set
// now and then.
func setWorkload(seed uint64, n, clients, elems int, members bool, unknownRate float64) []harness.Operation {
	var set Set[int]
	st := map[int]bool{}
	return workload(seed, n, clients, unknownRate, func(r *rand.Rand) any {
		e := r.IntN(elems)
		switch p := r.IntN(100); {
		case members && p < 10:
			return set.Members()
		case p < 40:
			return set.Add(e)
		case p < 60:
			return set.Remove(e)
		default:
			return set.Contains(e)
		}
	}, func(in any) any {
		op := in.(SetInput[int])
		switch op.Op {
		case SetAdd:
			changed := !st[op.Elem]
			st[op.Elem] = true
			return set.Changed(changed)
		case SetRemove:
			changed := st[op.Elem]
			delete(st, op.Elem)
			return set.Changed(changed)
		case SetContains:
			return set.Present(st[op.Elem])
		}
		var es []int
		for e := range st {
			es = append(es, e)
		}
		return set.Listed(es)
	})
}

// registerWorkload writes increasing versions to keys and reads them.
func registerWorkload(seed uint64, n, clients, keys int, unknownRate float64) []harness.Operation {
	var reg Register[int]
	type cell struct {
		version int64
		value   int
	}
	cells := map[string]cell{}
	var version int64
	return workload(seed, n, clients, unknownRate, func(r *rand.Rand) any {
		key := fmt.Sprintf("t%d", r.IntN(keys))
		if r.IntN(100) < 30 {
			version++
			return reg.Write(key, version, r.IntN(100))
		}
		return reg.Read(key)
	}, func(in any) any {
		op := in.(RegisterInput[int])
		c := cells[op.Key]
		if op.Op == RegWrite {
			if op.Version > c.version {
				cells[op.Key] = cell{op.Version, op.Value}
			}
			return nil
		}
		return reg.Returned(c.version, c.value)
	})
}

func TestModelWorkloadsAreLinearizable(t *testing.T) {
	require.Empty(t, Queue[int]{}.Check(queueWorkload(1, 1000, 6, 3, 0.02), LinOptions{}))
	require.Empty(t, Queue[int]{SharedOrder: true}.Check(queueWorkload(1, 500, 4, 2, 0.02), LinOptions{}))
	require.Empty(t, Set[int]{}.Check(setWorkload(1, 2000, 8, 20, false, 0.02), LinOptions{}))
	require.Empty(t, Set[int]{}.Check(setWorkload(1, 300, 3, 6, true, 0.02), LinOptions{}))
	require.Empty(t, Register[int]{}.Check(registerWorkload(1, 2000, 8, 10, 0.02), LinOptions{}))
	require.Empty(t, Register[int]{Strict: true}.Check(registerWorkload(1, 2000, 8, 10, 0.02), LinOptions{}))
}

// benchCheck measures a check of a linearizable history.
func benchCheck(b *testing.B, check func([]harness.Operation, LinOptions) []Violation, ops []harness.Operation) {
	for b.Loop() {
		if vs := check(ops, LinOptions{}); len(vs) > 0 {
			b.Fatal(vs)
		}
	}
}

// BenchmarkQueueCheck checks 3,000 operations of 8 clients on 2 groups,
// group by group.
func BenchmarkQueueCheck(b *testing.B) {
	benchCheck(b, Queue[int]{}.Check, queueWorkload(42, 3000, 8, 2, 0.01))
}

// BenchmarkQueueCheckShared checks 2,000 operations of 6 clients on 2
// groups against one topic order.
func BenchmarkQueueCheckShared(b *testing.B) {
	benchCheck(b, Queue[int]{SharedOrder: true}.Check, queueWorkload(42, 2000, 6, 2, 0.01))
}

// BenchmarkSetCheck checks 10,000 operations of 8 clients on 50 elements,
// element by element.
func BenchmarkSetCheck(b *testing.B) {
	benchCheck(b, Set[int]{}.Check, setWorkload(42, 10_000, 8, 50, false, 0.01))
}

// BenchmarkSetCheckMembers checks 1,000 operations of 4 clients on 6
// elements, with listings: as a whole.
func BenchmarkSetCheckMembers(b *testing.B) {
	benchCheck(b, Set[int]{}.Check, setWorkload(42, 1000, 4, 6, true, 0.01))
}

// BenchmarkRegisterCheck checks 10,000 operations of 8 clients on 20
// registers, monotonic and strict.
func BenchmarkRegisterCheck(b *testing.B) {
	ops := registerWorkload(42, 10_000, 8, 20, 0.01)
	b.Run("monotonic", func(b *testing.B) { benchCheck(b, Register[int]{}.Check, ops) })
	b.Run("strict", func(b *testing.B) { benchCheck(b, Register[int]{Strict: true}.Check, ops) })
}
