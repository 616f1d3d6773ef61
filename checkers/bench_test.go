package checkers

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

// kvWorkload simulates clients running operations against a linearizable
// map: each operation is called, takes effect and returns at separate
// events, interleaved at random with the other clients' events. A fraction
// of the operations ends with an unknown outcome (some of them after taking
// effect, some without).
func kvWorkload(seed uint64, n, clients, keys int, unknownRate float64) []harness.Operation {
	r := rand.New(rand.NewPCG(seed, 1))
	var kv KV[int, int]
	type kvs = kvState[int]
	store := make([]kvs, keys)
	type inflight struct {
		idx     int // in ops, or -1 when idle
		applied bool
	}
	cl := make([]inflight, clients)
	for i := range cl {
		cl[i].idx = -1
	}
	ops := make([]harness.Operation, 0, n)
	var seq int64
	started, done := 0, 0
	for done < n {
		c := r.IntN(clients)
		st := &cl[c]
		seq++
		at := time.Duration(seq) * time.Millisecond
		switch {
		case st.idx < 0:
			if started == n {
				continue
			}
			key := r.IntN(keys)
			var in KVInput[int, int]
			switch p := r.IntN(100); {
			case p < 50:
				in = kv.Get(key)
			case p < 85:
				in = kv.Put(key, r.IntN(10))
			case p < 95:
				in = kv.CAS(key, r.IntN(10), r.IntN(10))
			default:
				in = kv.Delete(key)
			}
			ops = append(ops, harness.Operation{Client: c, Input: in, Call: seq, CallTime: at})
			st.idx, st.applied = len(ops)-1, false
			started++
		case !st.applied:
			op := &ops[st.idx]
			in := op.Input.(KVInput[int, int])
			s := &store[in.Key]
			switch in.Op {
			case KVGet:
				op.Output = kv.Got(s.Value, s.Present)
			case KVPut:
				*s = kvs{Value: in.Value, Present: true}
				op.Output = kv.Done()
			case KVDelete:
				*s = kvs{}
				op.Output = kv.Done()
			case KVCAS:
				ok := s.Present && s.Value == in.Old
				if ok {
					s.Value = in.Value
				}
				op.Output = kv.Swapped(ok)
			}
			st.applied = true
		default:
			op := &ops[st.idx]
			op.Return, op.ReturnTime = seq, at
			if r.Float64() < unknownRate {
				op.Output, op.Unknown = nil, true
			}
			st.idx = -1
			done++
		}
	}
	return ops
}

func TestKVWorkloadIsLinearizable(t *testing.T) {
	ops := kvWorkload(1, 2000, 8, 20, 0.02)
	var kv KV[int, int]
	require.Empty(t, kv.Check(ops, LinOptions{}))
	// Corrupt one read: now it is not.
	for i := len(ops) / 2; i < len(ops); i++ {
		if in := ops[i].Input.(KVInput[int, int]); in.Op == KVGet && !ops[i].Unknown {
			out := ops[i].Output.(KVOutput[int])
			ops[i].Output = kv.Got(out.Value+100, true)
			break
		}
	}
	vs := kv.Check(ops, LinOptions{Dir: t.TempDir()})
	require.Len(t, vs, 1)
	require.Contains(t, vs[0].Message, "1 of 20 partitions fail")
}

// BenchmarkKVCheck10k checks a linearizable history of 10,000 operations
// from 8 clients over 100 keys (1% unknown outcomes). Target: under 1 s on
// one core (go test -run '^$' -bench . -cpu 1 ./checkers/).
func BenchmarkKVCheck10k(b *testing.B) {
	ops := kvWorkload(42, 10_000, 8, 100, 0.01)
	var kv KV[int, int]
	for b.Loop() {
		if vs := kv.Check(ops, LinOptions{}); len(vs) > 0 {
			b.Fatal(vs)
		}
	}
}

// BenchmarkKVCheck10kViolation is the same history with one stale read: the
// check finds it, explains it and writes the visualisation.
func BenchmarkKVCheck10kViolation(b *testing.B) {
	ops := kvWorkload(42, 10_000, 8, 100, 0.01)
	var kv KV[int, int]
	for i := len(ops) - 1; i >= 0; i-- {
		if in := ops[i].Input.(KVInput[int, int]); in.Op == KVGet && !ops[i].Unknown {
			ops[i].Output = kv.Got(-1, true)
			break
		}
	}
	dir := b.TempDir()
	for b.Loop() {
		if vs := kv.Check(ops, LinOptions{Dir: dir}); len(vs) != 1 {
			b.Fatal("violation not found")
		}
	}
}
