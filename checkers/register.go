package checkers

import (
	"fmt"

	"github.com/heddle-go/heddle/harness"
)

// RegisterOp is an operation on a versioned register.
type RegisterOp uint8

const (
	// RegRead reads the register: output RegisterOutput{Version, Value}.
	RegRead RegisterOp = iota + 1
	// RegWrite installs a version; its output is ignored.
	RegWrite
)

// String returns the operation's name, as descriptions show it.
func (o RegisterOp) String() string {
	switch o {
	case RegRead:
		return "read"
	case RegWrite:
		return "write"
	}
	return fmt.Sprintf("RegisterOp(%d)", int(o))
}

// RegisterInput is the recorded input of a versioned-register operation.
type RegisterInput[V comparable] struct {
	Op RegisterOp
	// Key names the register (a table, a partition); registers with
	// different keys are independent. "" is fine for a single one.
	Key     string
	Version int64 // a write's version
	Value   V     // a write's value
}

// RegisterOutput is the recorded output of a read.
type RegisterOutput[V comparable] struct {
	Version int64
	Value   V
}

// Register is the specification of a versioned register: a configuration
// that only moves forward. Writes install a version (a write of a version
// not newer than the current one changes nothing); reads return a version
// and its value. Two strengths:
//
//   - default (monotonic): a read never returns a version older than one
//     already returned to a read that finished before it began, and, when
//     the history holds writes, never a version newer than every write
//     begun so far. Reads may lag writes (a client asking a stale replica).
//   - Strict: a linearizable register: a read returns exactly the newest
//     version written, with its value.
//
// The zero value is a monotonic register whose initial version is 0. Its
// methods build the inputs and outputs to record:
//
//	reg := checkers.Register[string]{}
//	p := h.Call(client, reg.Read("table1"))
//	cfg, err := meta.QueryConfig(ctx, "table1")
//	...
//	p.Return(reg.Returned(cfg.Version, cfg.Primary))
//	vs := reg.Check(h.Operations(), checkers.LinOptions{})
type Register[V comparable] struct {
	// Strict requires linearizable reads (see above).
	Strict bool
	// InitialVersion and InitialValue are what the register holds before
	// any write.
	InitialVersion int64
	InitialValue   V
}

// Read returns the input of a read of the register key.
func (Register[V]) Read(key string) RegisterInput[V] { return RegisterInput[V]{Op: RegRead, Key: key} }

// Write returns the input of a write of (version, value) to the register key.
func (Register[V]) Write(key string, version int64, value V) RegisterInput[V] {
	return RegisterInput[V]{Op: RegWrite, Key: key, Version: version, Value: value}
}

// Returned returns the output of a read that returned (version, value).
func (Register[V]) Returned(version int64, value V) RegisterOutput[V] {
	return RegisterOutput[V]{Version: version, Value: value}
}

// Check checks ops, recorded with this Register's inputs and outputs. It
// returns nil, or one NotLinearizable violation naming the failing
// registers and operations, with the path of porcupine's visualisation.
func (r Register[V]) Check(ops []harness.Operation, opts LinOptions) []Violation {
	return r.spec(ops).check(ops, opts)
}

// regState is one register's state. Strict: Floor is the current version
// and Value its value. Monotonic: Floor is the newest version a read
// returned and Max the newest version written.
type regState[V comparable] struct {
	Floor, Max int64
	Value      V
}

// spec builds the register's model for ops, which it needs to know the
// registers written to.
func (r Register[V]) spec(ops []harness.Operation) *spec {
	m := regModel[V]{strict: r.Strict, writes: writtenRegisters[V](ops)}
	name := "register"
	if r.Strict {
		name = "strict-register"
	}
	return &spec{
		name: name,
		init: func() any {
			return regState[V]{Floor: r.InitialVersion, Max: r.InitialVersion, Value: r.InitialValue}
		},
		step:          m.step,
		hash:          func(state any) uint64 { return hashOf(state.(regState[V])) },
		describeOp:    describeRegisterOp[V],
		describeState: m.describeState,
		convert:       convertRegisterOp[V],
		partition:     partitionRegisters[V],
	}
}

// regModel is the register's sequential specification for one history.
type regModel[V comparable] struct {
	strict bool
	writes map[string]bool // registers whose history holds writes
}

// writtenRegisters returns the keys of the registers ops write to.
func writtenRegisters[V comparable](ops []harness.Operation) map[string]bool {
	writes := map[string]bool{}
	for _, op := range ops {
		if in, ok := op.Input.(RegisterInput[V]); ok && in.Op == RegWrite {
			writes[in.Key] = true
		}
	}
	return writes
}

// step applies a write or checks a read.
func (m regModel[V]) step(state, input, output any) (bool, any) {
	st := state.(regState[V])
	in := input.(RegisterInput[V])
	if in.Op == RegWrite {
		return true, m.writeStep(st, in)
	}
	if isUnknown(output) {
		return true, st
	}
	return m.readStep(st, in, output.(RegisterOutput[V]))
}

// writeStep installs a newer version (Strict) or records the newest version
// written (monotonic).
func (m regModel[V]) writeStep(st regState[V], in RegisterInput[V]) regState[V] {
	if !m.strict {
		st.Max = max(st.Max, in.Version)
	} else if in.Version > st.Floor {
		st.Floor, st.Value = in.Version, in.Value
	}
	return st
}

// readStep checks a read: exactly the current version (Strict), or a
// version no older than the last read and, if the register is written
// to, no newer than the newest write (monotonic), which then becomes the
// floor.
func (m regModel[V]) readStep(st regState[V], in RegisterInput[V], out RegisterOutput[V]) (bool, any) {
	if m.strict {
		return out.Version == st.Floor && out.Value == st.Value, st
	}
	if out.Version < st.Floor || (m.writes[in.Key] && out.Version > st.Max) {
		return false, st
	}
	st.Floor = out.Version
	return true, st
}

// describeRegisterOp renders a read or write and its outcome.
func describeRegisterOp[V comparable](input, output any) string {
	in := input.(RegisterInput[V])
	key := ""
	if in.Key != "" {
		key = fmt.Sprintf("%q", in.Key)
	}
	if in.Op == RegWrite {
		if key != "" {
			key += ", "
		}
		return fmt.Sprintf("write(%sv%d: %#v)", key, in.Version, in.Value)
	}
	if isUnknown(output) {
		return fmt.Sprintf("read(%s) -> ?", key)
	}
	out := output.(RegisterOutput[V])
	return fmt.Sprintf("read(%s) -> v%d: %#v", key, out.Version, out.Value)
}

// describeState renders the current version (Strict) or the bounds of the
// next read (monotonic).
func (m regModel[V]) describeState(state any) string {
	st := state.(regState[V])
	if m.strict {
		return fmt.Sprintf("v%d: %#v", st.Floor, st.Value)
	}
	return fmt.Sprintf("reads at v%d or newer, newest written v%d", st.Floor, st.Max)
}

// convertRegisterOp checks a recorded register operation's types. A read
// whose outcome is unknown constrains nothing and is left out.
func convertRegisterOp[V comparable](op harness.Operation) (any, any, bool, error) {
	in, ok := op.Input.(RegisterInput[V])
	if !ok {
		return nil, nil, false, typeError("input", op.Input, fmt.Sprintf("%T", in))
	}
	switch in.Op {
	case RegWrite:
		return in, nil, true, nil
	case RegRead:
		if op.Unknown {
			return nil, nil, false, nil
		}
		out, ok := op.Output.(RegisterOutput[V])
		if !ok {
			return nil, nil, false, typeError("output", op.Output, fmt.Sprintf("%T", out))
		}
		return in, out, true, nil
	}
	return nil, nil, false, fmt.Errorf("unknown operation %v", in.Op)
}

// partitionRegisters gives each register its sub-history.
func partitionRegisters[V comparable](ops []harness.Operation, kept []int) []part {
	return partitionBy(ops, kept,
		func(op harness.Operation) string { return op.Input.(RegisterInput[V]).Key },
		func(k string) string { return fmt.Sprintf("register %q", k) })
}
