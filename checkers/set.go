package checkers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/heddle-go/heddle/harness"
)

// SetOp is an operation on a set.
type SetOp uint8

const (
	// SetAdd adds an element. Its output may report whether the set
	// changed (Set.Changed) or not (nil, Set.Done).
	SetAdd SetOp = iota + 1
	// SetRemove removes an element; output as for SetAdd.
	SetRemove
	// SetContains asks whether an element is present: output
	// SetOutput{Present}.
	SetContains
	// SetMembers lists every element: output SetOutput{Members}, in any
	// order. A history with SetMembers is checked as a whole, not element
	// by element, which is much slower: keep such histories short.
	SetMembers
)

// String returns the operation's name, as descriptions show it.
func (o SetOp) String() string {
	switch o {
	case SetAdd:
		return "add"
	case SetRemove:
		return "remove"
	case SetContains:
		return "contains"
	case SetMembers:
		return "members"
	}
	return fmt.Sprintf("SetOp(%d)", int(o))
}

// SetInput is the recorded input of a set operation.
type SetInput[T comparable] struct {
	Op   SetOp
	Elem T // for add, remove, contains
}

// SetOutput is the recorded output of a set operation.
type SetOutput[T comparable] struct {
	Present bool // contains
	Members []T  // members
	// ReportsChange says that Changed is meaningful, for an add or remove:
	// Changed is whether the element was added (was absent) or removed (was
	// present).
	ReportsChange, Changed bool
}

// Set is the specification of a set of T with add, remove, contains and an
// optional listing of all members. Without listings the history is checked
// element by element. The zero value is ready, an empty set; its methods
// build the inputs and outputs to record:
//
//	var set checkers.Set[string]
//	p := h.Call(client, set.Add("group1"))
//	err := mq.CreateConsumerGroup(topic, "group1")
//	p.Return(set.Changed(err == nil)) // or set.Done() if the call says nothing
//	p = h.Call(client, set.Contains("group1"))
//	p.Return(set.Present(mq.ExistConsumerGroup(topic, "group1")))
//	vs := set.Check(h.Operations(), checkers.LinOptions{})
type Set[T comparable] struct{}

// Add returns the input of adding e.
func (Set[T]) Add(e T) SetInput[T] { return SetInput[T]{Op: SetAdd, Elem: e} }

// Remove returns the input of removing e.
func (Set[T]) Remove(e T) SetInput[T] { return SetInput[T]{Op: SetRemove, Elem: e} }

// Contains returns the input of asking whether e is present.
func (Set[T]) Contains(e T) SetInput[T] { return SetInput[T]{Op: SetContains, Elem: e} }

// Members returns the input of listing the set.
func (Set[T]) Members() SetInput[T] { return SetInput[T]{Op: SetMembers} }

// Present returns the output of a contains that answered present.
func (Set[T]) Present(present bool) SetOutput[T] { return SetOutput[T]{Present: present} }

// Listed returns the output of a members listing.
func (Set[T]) Listed(members []T) SetOutput[T] { return SetOutput[T]{Members: members} }

// Changed returns the output of an add or remove that reports whether it
// changed the set.
func (Set[T]) Changed(changed bool) SetOutput[T] {
	return SetOutput[T]{ReportsChange: true, Changed: changed}
}

// Done returns the output of an add or remove that reports nothing.
func (Set[T]) Done() SetOutput[T] { return SetOutput[T]{} }

// Check checks that ops, recorded with this Set's inputs and outputs, are
// linearizable. It returns nil, or one NotLinearizable violation naming the
// failing elements and operations, with the path of porcupine's
// visualisation.
func (s Set[T]) Check(ops []harness.Operation, opts LinOptions) []Violation {
	return s.spec(ops).check(ops, opts)
}

// setState is an immutable set: steps copy it.
type setState[T comparable] map[T]struct{}

// spec builds the set's model. A history with listings is checked as a
// whole; without, element by element.
func (s Set[T]) spec(ops []harness.Operation) *spec {
	sp := &spec{
		name:          "set",
		init:          func() any { return setState[T]{} },
		step:          setStep[T],
		equal:         equalSetStates[T],
		hash:          hashSetState[T],
		describeOp:    describeSetOp[T],
		describeState: describeSetState[T],
		convert:       convertSetOp[T],
	}
	if !hasMembers[T](ops) {
		sp.partition = partitionSet[T]
	}
	return sp
}

// hasMembers reports whether ops list the set (SetMembers).
func hasMembers[T comparable](ops []harness.Operation) bool {
	for _, op := range ops {
		if in, ok := op.Input.(SetInput[T]); ok && in.Op == SetMembers {
			return true
		}
	}
	return false
}

// setStep applies an add, remove, contains or members.
func setStep[T comparable](state, input, output any) (bool, any) {
	st := state.(setState[T])
	in := input.(SetInput[T])
	unk := isUnknown(output)
	var out SetOutput[T]
	if !unk {
		out = output.(SetOutput[T])
	}
	switch in.Op {
	case SetAdd, SetRemove:
		return changeStep(st, in, out, unk)
	case SetContains:
		_, present := st[in.Elem]
		return unk || out.Present == present, st
	case SetMembers:
		return unk || membersMatch(st, out.Members), st
	}
	return false, st
}

// changeStep adds or removes an element, checking the change the output
// reports, if any. The state is copied, not modified.
func changeStep[T comparable](st setState[T], in SetInput[T], out SetOutput[T], unk bool) (bool, any) {
	_, present := st[in.Elem]
	changed := present == (in.Op == SetRemove)
	if !unk && out.ReportsChange && out.Changed != changed {
		return false, st
	}
	if !changed {
		return true, st
	}
	next := make(setState[T], len(st)+1)
	for e := range st {
		next[e] = struct{}{}
	}
	if in.Op == SetAdd {
		next[in.Elem] = struct{}{}
	} else {
		delete(next, in.Elem)
	}
	return true, next
}

// membersMatch reports whether a listing holds every element of the set,
// each once, and nothing else.
func membersMatch[T comparable](st setState[T], members []T) bool {
	if len(members) != len(st) {
		return false
	}
	seen := make(map[T]bool, len(members))
	for _, e := range members {
		if _, ok := st[e]; !ok || seen[e] {
			return false
		}
		seen[e] = true
	}
	return true
}

// equalSetStates compares two sets.
func equalSetStates[T comparable](a, b any) bool {
	x, y := a.(setState[T]), b.(setState[T])
	if len(x) != len(y) {
		return false
	}
	for e := range x {
		if _, ok := y[e]; !ok {
			return false
		}
	}
	return true
}

// hashSetState hashes a set, whatever the order of its elements.
func hashSetState[T comparable](state any) uint64 {
	var h uint64
	for e := range state.(setState[T]) {
		h ^= hashOf(e)
	}
	return h
}

// describeSetOp renders a set operation and its outcome.
func describeSetOp[T comparable](input, output any) string {
	in := input.(SetInput[T])
	var s string
	if in.Op == SetMembers {
		s = "members()"
	} else {
		s = fmt.Sprintf("%v(%#v)", in.Op, in.Elem)
	}
	if isUnknown(output) {
		return s + " -> ?"
	}
	out := output.(SetOutput[T])
	switch in.Op {
	case SetContains:
		return fmt.Sprintf("%s -> %v", s, out.Present)
	case SetMembers:
		return fmt.Sprintf("%s -> %s", s, describeElems(out.Members))
	}
	if out.ReportsChange {
		return fmt.Sprintf("%s -> changed=%v", s, out.Changed)
	}
	return s
}

// describeSetState renders a set's elements, sorted.
func describeSetState[T comparable](state any) string {
	var es []T
	for e := range state.(setState[T]) {
		es = append(es, e)
	}
	return describeElems(es)
}

// convertSetOp checks a recorded set operation's types. An add or remove
// without output is fine (Set.Done); a contains or members needs one. Of
// the operations whose outcome is unknown, only adds and removes matter.
func convertSetOp[T comparable](op harness.Operation) (any, any, bool, error) {
	in, ok := op.Input.(SetInput[T])
	if !ok {
		return nil, nil, false, typeError("input", op.Input, fmt.Sprintf("%T", in))
	}
	if in.Op < SetAdd || in.Op > SetMembers {
		return nil, nil, false, fmt.Errorf("unknown operation %v", in.Op)
	}
	if op.Unknown {
		return in, nil, in.Op == SetAdd || in.Op == SetRemove, nil
	}
	var out SetOutput[T]
	switch o := op.Output.(type) {
	case SetOutput[T]:
		out = o
	case nil:
		if in.Op == SetContains || in.Op == SetMembers {
			return nil, nil, false, fmt.Errorf("%v has no output", in.Op)
		}
	default:
		return nil, nil, false, typeError("output", op.Output, fmt.Sprintf("%T", out))
	}
	return in, out, true, nil
}

// partitionSet gives each element its sub-history.
func partitionSet[T comparable](ops []harness.Operation, kept []int) []part {
	return partitionBy(ops, kept,
		func(op harness.Operation) T { return op.Input.(SetInput[T]).Elem },
		func(e T) string { return fmt.Sprintf("element %#v", e) })
}

// describeElems renders elements in a stable order.
func describeElems[T any](es []T) string {
	ss := make([]string, len(es))
	for i, e := range es {
		ss[i] = fmt.Sprintf("%#v", e)
	}
	sort.Strings(ss)
	return "{" + strings.Join(ss, ", ") + "}"
}
