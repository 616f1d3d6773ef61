package checkers

import (
	"fmt"

	"github.com/heddle-go/heddle/harness"
)

// KVOp is an operation on a key-value map.
type KVOp uint8

const (
	// KVGet reads a key: output KVOutput{Value, Found}.
	KVGet KVOp = iota + 1
	// KVPut writes a key; its output is ignored (nil or KVOutput{}).
	KVPut
	// KVDelete removes a key; its output is ignored.
	KVDelete
	// KVCAS sets a key to Value if it currently holds Old: output
	// KVOutput{OK: swapped}.
	KVCAS
)

// String returns the operation's name, as descriptions show it.
func (o KVOp) String() string {
	switch o {
	case KVGet:
		return "get"
	case KVPut:
		return "put"
	case KVDelete:
		return "delete"
	case KVCAS:
		return "cas"
	}
	return fmt.Sprintf("KVOp(%d)", int(o))
}

// KVInput is the recorded input of a key-value operation.
type KVInput[K, V comparable] struct {
	Op    KVOp
	Key   K
	Value V // the value a put or a successful cas writes
	Old   V // the value a cas expects
}

// KVOutput is the recorded output of a key-value operation.
type KVOutput[V comparable] struct {
	Value V    // get: the value read
	Found bool // get: whether the key was present
	OK    bool // cas: whether it swapped
}

// KV is the sequential specification of a key-value map from K to V with
// get, put, delete and compare-and-set, checked key by key (every operation
// touches one key, so the history is linearizable exactly when each key's
// sub-history is). The zero value is ready; its methods build the inputs
// and outputs to record:
//
//	var kv checkers.KV[string, int]
//	p := h.Call(client, kv.Put("x", 1))
//	if err := store.Put(ctx, "x", 1); err != nil {
//		p.Unknown()
//	} else {
//		p.Return(kv.Done())
//	}
//	p = h.Call(client, kv.Get("x"))
//	v, ok, err := store.Get(ctx, "x")
//	...
//	p.Return(kv.Got(v, ok))
//	vs := kv.Check(h.Operations(), checkers.LinOptions{Name: "replica-seed7"})
//
// A key starts absent. A write whose outcome is unknown may or may not have
// happened, at any moment after its call; a read whose outcome is unknown is
// ignored.
type KV[K, V comparable] struct{}

// Get returns the input of a read of key.
func (KV[K, V]) Get(key K) KVInput[K, V] { return KVInput[K, V]{Op: KVGet, Key: key} }

// Put returns the input of a write of value to key.
func (KV[K, V]) Put(key K, value V) KVInput[K, V] {
	return KVInput[K, V]{Op: KVPut, Key: key, Value: value}
}

// Delete returns the input of a removal of key.
func (KV[K, V]) Delete(key K) KVInput[K, V] { return KVInput[K, V]{Op: KVDelete, Key: key} }

// CAS returns the input of a compare-and-set: key becomes value if it holds
// old.
func (KV[K, V]) CAS(key K, old, value V) KVInput[K, V] {
	return KVInput[K, V]{Op: KVCAS, Key: key, Old: old, Value: value}
}

// Got returns the output of a read that found value (found true) or found
// the key absent (found false; value is ignored).
func (KV[K, V]) Got(value V, found bool) KVOutput[V] {
	if !found {
		var zero V
		value = zero
	}
	return KVOutput[V]{Value: value, Found: found}
}

// Done returns the output of a put or delete that completed.
func (KV[K, V]) Done() KVOutput[V] { return KVOutput[V]{} }

// Swapped returns the output of a compare-and-set that did (ok) or did not
// swap.
func (KV[K, V]) Swapped(ok bool) KVOutput[V] { return KVOutput[V]{OK: ok} }

// Check checks that ops, recorded with this KV's inputs and outputs, are
// linearizable. It returns nil, or one NotLinearizable violation naming the
// failing keys and operations, with the path of porcupine's visualisation.
func (kv KV[K, V]) Check(ops []harness.Operation, opts LinOptions) []Violation {
	return kv.spec().check(ops, opts)
}

// kvState is one key's state.
type kvState[V comparable] struct {
	Value   V
	Present bool
}

// spec builds the map's model, checked key by key.
func (KV[K, V]) spec() *spec {
	return &spec{
		name:          "kv",
		init:          func() any { return kvState[V]{} },
		step:          kvStep[K, V],
		hash:          func(state any) uint64 { return hashOf(state.(kvState[V])) },
		describeOp:    describeKVOp[K, V],
		describeState: describeKVState[V],
		convert:       convertKVOp[K, V],
		partition:     partitionKV[K, V],
	}
}

// kvStep applies one operation to a key's state.
func kvStep[K, V comparable](state, input, output any) (bool, any) {
	st := state.(kvState[V])
	in := input.(KVInput[K, V])
	switch in.Op {
	case KVGet:
		out := output.(KVOutput[V])
		return out.Found == st.Present && (!out.Found || out.Value == st.Value), st
	case KVPut:
		return true, kvState[V]{Value: in.Value, Present: true}
	case KVDelete:
		return true, kvState[V]{}
	case KVCAS:
		return casStep(st, in, output)
	}
	return false, st
}

// casStep sets the key if it holds the expected value, checking that the
// output (unless unknown) says whether it did.
func casStep[K, V comparable](st kvState[V], in KVInput[K, V], output any) (bool, any) {
	swap := st.Present && st.Value == in.Old
	if !isUnknown(output) && output.(KVOutput[V]).OK != swap {
		return false, st
	}
	if swap {
		return true, kvState[V]{Value: in.Value, Present: true}
	}
	return true, st
}

// describeKVOp renders a key-value operation and its outcome.
func describeKVOp[K, V comparable](input, output any) string {
	in := input.(KVInput[K, V])
	var s string
	switch in.Op {
	case KVGet:
		s = fmt.Sprintf("get(%#v)", in.Key)
	case KVPut:
		s = fmt.Sprintf("put(%#v, %#v)", in.Key, in.Value)
	case KVDelete:
		s = fmt.Sprintf("delete(%#v)", in.Key)
	case KVCAS:
		s = fmt.Sprintf("cas(%#v, %#v → %#v)", in.Key, in.Old, in.Value)
	}
	switch {
	case isUnknown(output):
		return s + " -> ?"
	case in.Op == KVGet:
		out := output.(KVOutput[V])
		if !out.Found {
			return s + " -> absent"
		}
		return fmt.Sprintf("%s -> %#v", s, out.Value)
	case in.Op == KVCAS:
		return fmt.Sprintf("%s -> %v", s, output.(KVOutput[V]).OK)
	}
	return s
}

// describeKVState renders a key's value, or "absent".
func describeKVState[V comparable](state any) string {
	st := state.(kvState[V])
	if !st.Present {
		return "absent"
	}
	return fmt.Sprintf("%#v", st.Value)
}

// convertKVOp checks a recorded key-value operation's types. A put or
// delete without output is fine (KV.Done); a get or cas needs one. Of the
// operations whose outcome is unknown, reads do not matter.
func convertKVOp[K, V comparable](op harness.Operation) (any, any, bool, error) {
	in, ok := op.Input.(KVInput[K, V])
	if !ok {
		return nil, nil, false, typeError("input", op.Input, fmt.Sprintf("%T", in))
	}
	if in.Op < KVGet || in.Op > KVCAS {
		return nil, nil, false, fmt.Errorf("unknown operation %v", in.Op)
	}
	if op.Unknown {
		return in, nil, in.Op != KVGet, nil
	}
	var out KVOutput[V]
	switch o := op.Output.(type) {
	case KVOutput[V]:
		out = o
	case nil:
		if in.Op == KVGet || in.Op == KVCAS {
			return nil, nil, false, fmt.Errorf("%v has no output", in.Op)
		}
	default:
		return nil, nil, false, typeError("output", op.Output, fmt.Sprintf("%T", out))
	}
	return in, out, true, nil
}

// partitionKV gives each key its sub-history.
func partitionKV[K, V comparable](ops []harness.Operation, kept []int) []part {
	return partitionBy(ops, kept,
		func(op harness.Operation) K { return op.Input.(KVInput[K, V]).Key },
		func(k K) string { return fmt.Sprintf("key %#v", k) })
}
