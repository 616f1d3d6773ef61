package replica

import (
	"fmt"
	"hash/maphash"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
)

// The table's sequential specification: a map from keys to strings with
// get, set, del and incr, checked key by key. checkers.KV has get, put,
// delete and compare-and-set, but no increment, and an increment cannot be
// written as a compare-and-set whose expected value is known before the
// call (an absent key counts as 0); so the case checks its history against
// its own porcupine model, the same way.

// kvIn is the recorded input of one call.
type kvIn struct {
	Op     int // opGet, opSet, opDel, opIncr
	Key    string
	Value  string // set
	Delta  int64  // incr
	Client int    // the client object called (-1: the audit's)
	Part   int    // the key's partition
}

// kvOut is the recorded output of a call that returned. A call that
// failed has Err; NotApplied marks a failure that proves the call was not
// applied (sys.Ambiguous is false: it must not take effect), and the
// others leave the outcome unknown (Unknown, set by the check).
type kvOut struct {
	Value      string // get
	Found      bool   // get
	N          int64  // incr: the new value
	Err        string
	NotApplied bool
	Invalid    bool // incr failed: the value is not an integer
	Unknown    bool
}

// kvState is one key's value.
type kvState struct {
	Value   string
	Present bool
}

// kvStep is the sequential specification of one call.
func kvStep(state, input, output any) (bool, any) {
	st, in, out := state.(kvState), input.(kvIn), output.(kvOut)
	if out.Invalid {
		_, err := strconv.ParseInt(st.Value, 10, 64)
		return in.Op == opIncr && st.Present && err != nil, st
	}
	if out.NotApplied {
		return true, st
	}
	switch in.Op {
	case opGet:
		return out.Unknown || (out.Found == st.Present && (!out.Found || out.Value == st.Value)), st
	case opSet:
		return true, kvState{Value: in.Value, Present: true}
	case opDel:
		return true, kvState{}
	case opIncr:
		n := int64(0)
		if st.Present {
			var err error
			if n, err = strconv.ParseInt(st.Value, 10, 64); err != nil {
				// It fails and changes nothing: fine for an increment
				// whose outcome is unknown, wrong for one that returned.
				return out.Unknown, st
			}
		}
		n += in.Delta
		return out.Unknown || out.N == n, kvState{Value: strconv.FormatInt(n, 10), Present: true}
	}
	return false, st
}

func describeCall(in kvIn, out kvOut) string {
	s := describeIn(in)
	switch {
	case out.Unknown && out.Err != "":
		return s + " -> ? (" + out.Err + ")"
	case out.Unknown:
		return s + " -> ?"
	case out.Invalid:
		return s + " -> not an integer (" + out.Err + ")"
	case out.NotApplied:
		return s + " -> not applied (" + out.Err + ")"
	case in.Op == opGet && !out.Found:
		return s + " -> absent"
	case in.Op == opGet:
		return s + " -> " + out.Value
	case in.Op == opIncr:
		return fmt.Sprintf("%s -> %d", s, out.N)
	}
	return s + " -> ok"
}

func describeIn(in kvIn) string {
	var s string
	switch in.Op {
	case opGet:
		s = fmt.Sprintf("get(%s)", in.Key)
	case opSet:
		s = fmt.Sprintf("set(%s, %s)", in.Key, in.Value)
	case opDel:
		s = fmt.Sprintf("del(%s)", in.Key)
	case opIncr:
		s = fmt.Sprintf("incr(%s, %d)", in.Key, in.Delta)
	}
	return s
}

var hashSeed = maphash.MakeSeed()

var kvModel = porcupine.Model{
	Init: func() any { return kvState{} },
	Step: kvStep,
	Equal: func(a, b any) bool {
		return a.(kvState) == b.(kvState)
	},
	Hash:              func(s any) uint64 { return maphash.Comparable(hashSeed, s.(kvState)) },
	DescribeOperation: func(in, out any) string { return describeCall(in.(kvIn), out.(kvOut)) },
	DescribeState: func(s any) string {
		if st := s.(kvState); st.Present {
			return st.Value
		}
		return "absent"
	},
}

// checkLinearizable checks the table's history key by key, and returns one
// NotLinearizable violation naming each failing key with its calls.
func checkLinearizable(name string, ops []harness.Operation) []checkers.Violation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range ops {
		in := op.Input.(kvIn)
		out, _ := op.Output.(kvOut)
		ret := op.Return
		if op.Unknown || !op.Returned() || (out.Err != "" && !out.NotApplied) {
			if in.Op == opGet {
				continue // an unknown read constrains nothing
			}
			// It may take effect at any moment after its call, or never
			// (after everything else, where nothing observes it).
			ret, out = math.MaxInt64, kvOut{Unknown: true, Err: out.Err}
		}
		byKey[in.Key] = append(byKey[in.Key], porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Output: out, Return: ret,
			Metadata: op})
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var bad []string
	for _, k := range keys {
		if porcupine.CheckOperations(kvModel, byKey[k]) {
			continue
		}
		bad = append(bad, explainKey(k, byKey[k]))
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.NotLinearizable,
		"%s: the history of %d calls is not linearizable (keys %s); each failing key's calls, in call order:%s",
		name, len(ops), strings.Join(keysOf(bad), ", "), strings.Join(bad, ""))}
}

// explainKey lists a failing key's calls with their times.
func explainKey(k string, ops []porcupine.Operation) string {
	sorted := append([]porcupine.Operation(nil), ops...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
	lines := make([]string, 0, len(sorted))
	for _, op := range sorted {
		h := op.Metadata.(harness.Operation)
		when := fmt.Sprintf("%v -> %v", h.CallTime, h.ReturnTime)
		if !h.Returned() {
			when = fmt.Sprintf("%v -> never returned", h.CallTime)
		}
		lines = append(lines, fmt.Sprintf("client %d %s [%s]", op.ClientId, describeCall(op.Input.(kvIn), op.Output.(kvOut)), when))
	}
	const most = 40
	if len(lines) > most {
		lines = append(lines[:most], fmt.Sprintf("... and %d more", len(lines)-most))
	}
	return "\n  key " + k + ":\n    " + strings.Join(lines, "\n    ")
}

// keysOf returns the key names of explainKey's texts.
func keysOf(texts []string) []string {
	out := make([]string, len(texts))
	for i, t := range texts {
		t = strings.TrimPrefix(t, "\n  key ")
		out[i] = t[:strings.IndexByte(t, ':')]
	}
	return out
}
