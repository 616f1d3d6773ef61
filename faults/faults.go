// Package faults injects faults into a running heddle World: it crashes and
// restarts nodes, and partitions, slows, drops, duplicates and reorders the
// messages between them. A fault is a value (Fault), applied with Apply from
// a goroutine of the World; a Plan is a schedule of faults over time, written
// by hand or generated from a seed (Gen), run by Run or Go, which record a
// harness.Note for every fault so that the trace shows the fault timeline.
//
// Faults name nodes (harness.NewNode) by name. A fault that names an unknown
// node, or carries a negative delay or a probability outside [0, 1], is
// rejected with an error, never a panic.
package faults

import (
	"fmt"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Kind says what a fault does.
type Kind string

// The kinds of fault.
const (
	// KindCrash crashes Node: its goroutines stop, peers see resets
	// (harness.CrashReset).
	KindCrash Kind = "crash"
	// KindBlackHole crashes Node without a trace: peers' calls wait until
	// their deadline (harness.CrashBlackHole).
	KindBlackHole Kind = "blackhole"
	// KindRestart restarts Node (crashing it first if it runs): its main runs
	// again with fresh memory.
	KindRestart Kind = "restart"
	// KindPartition cuts the link From->To (and To->From unless OneWay).
	KindPartition Kind = "partition"
	// KindIsolate cuts every link between Node and the other nodes, both ways.
	KindIsolate Kind = "isolate"
	// KindHeal gives every link back its original state: no partition,
	// delay, drop, duplication or reordering.
	KindHeal Kind = "heal"
	// KindDelay sets the latency of From->To (and back unless OneWay) to Delay.
	KindDelay Kind = "delay"
	// KindDrop makes From->To (and back unless OneWay) lose each message
	// with probability P.
	KindDrop Kind = "drop"
	// KindDuplicate makes From->To (and back unless OneWay) deliver each
	// message twice with probability P.
	KindDuplicate Kind = "duplicate"
	// KindReorder makes From->To (and back unless OneWay) take each message
	// out of order with probability P.
	KindReorder Kind = "reorder"
)

// Kinds lists every kind of fault.
var Kinds = []Kind{KindCrash, KindBlackHole, KindRestart, KindPartition, KindIsolate, KindHeal,
	KindDelay, KindDrop, KindDuplicate, KindReorder}

// Fault is one fault. Make faults with the functions of this package (Crash,
// Partition, Drop, ...) or fill in the fields.
type Fault struct {
	Kind Kind
	// Node is the node hit by Crash, BlackHole, Restart and Isolate.
	Node string
	// From and To name the link of Partition, Delay, Drop, Duplicate and
	// Reorder.
	From, To string
	// OneWay limits a link fault to From->To; otherwise it hits both
	// directions.
	OneWay bool
	// Delay is the latency a Delay fault gives the link.
	Delay time.Duration
	// P is the probability of a Drop, Duplicate or Reorder fault.
	P float64
}

// Crash returns a fault that crashes node; peers see their connections reset.
func Crash(node string) Fault { return Fault{Kind: KindCrash, Node: node} }

// BlackHole returns a fault that crashes node silently: peers see nothing.
func BlackHole(node string) Fault { return Fault{Kind: KindBlackHole, Node: node} }

// Restart returns a fault that restarts node.
func Restart(node string) Fault { return Fault{Kind: KindRestart, Node: node} }

// Partition returns a fault that cuts a from b, both ways.
func Partition(a, b string) Fault { return Fault{Kind: KindPartition, From: a, To: b} }

// PartitionOneWay returns a fault that cuts the link from->to only: messages
// from `from` are lost, those from `to` still arrive.
func PartitionOneWay(from, to string) Fault {
	return Fault{Kind: KindPartition, From: from, To: to, OneWay: true}
}

// Isolate returns a fault that cuts node from every other node, both ways.
func Isolate(node string) Fault { return Fault{Kind: KindIsolate, Node: node} }

// Heal returns a fault that gives every link back its original state.
func Heal() Fault { return Fault{Kind: KindHeal} }

// Delay returns a fault that sets the latency between a and b, both ways, to d.
func Delay(a, b string, d time.Duration) Fault {
	return Fault{Kind: KindDelay, From: a, To: b, Delay: d}
}

// Drop returns a fault that loses each message between a and b, both ways,
// with probability p.
func Drop(a, b string, p float64) Fault { return Fault{Kind: KindDrop, From: a, To: b, P: p} }

// Duplicate returns a fault that delivers each message between a and b, both
// ways, twice with probability p.
func Duplicate(a, b string, p float64) Fault {
	return Fault{Kind: KindDuplicate, From: a, To: b, P: p}
}

// Reorder returns a fault that takes each message between a and b, both
// ways, out of order with probability p.
func Reorder(a, b string, p float64) Fault { return Fault{Kind: KindReorder, From: a, To: b, P: p} }

func (f Fault) nodeFault() bool {
	return f.Kind == KindCrash || f.Kind == KindBlackHole || f.Kind == KindRestart || f.Kind == KindIsolate
}

func (f Fault) linkFault() bool {
	switch f.Kind {
	case KindPartition, KindDelay, KindDrop, KindDuplicate, KindReorder:
		return true
	}
	return false
}

// String renders the fault as it appears in a plan and in the trace:
// "crash a", "partition a<->b", "drop a->b p=0.5".
func (f Fault) String() string {
	switch {
	case f.nodeFault():
		return fmt.Sprintf("%s %s", f.Kind, f.Node)
	case f.linkFault():
		arrow := "<->"
		if f.OneWay {
			arrow = "->"
		}
		s := fmt.Sprintf("%s %s%s%s", f.Kind, f.From, arrow, f.To)
		switch f.Kind {
		case KindDelay:
			s += " " + f.Delay.String()
		case KindDrop, KindDuplicate, KindReorder:
			s += fmt.Sprintf(" p=%g", f.P)
		}
		return s
	}
	return string(f.Kind)
}

// Validate checks the fault on its own, without a World: a known kind, the
// names it needs, a non-negative delay, a probability in [0, 1].
func (f Fault) Validate() error {
	switch {
	case f.nodeFault():
		if f.Node == "" {
			return fmt.Errorf("faults: %s: no node named", f.Kind)
		}
	case f.linkFault():
		if f.From == "" || f.To == "" {
			return fmt.Errorf("faults: %s: a link needs two nodes (From %q, To %q)", f.Kind, f.From, f.To)
		}
		if f.From == f.To {
			return fmt.Errorf("faults: %s: From and To are the same node %q", f.Kind, f.From)
		}
		if f.Kind == KindDelay && f.Delay < 0 {
			return fmt.Errorf("faults: %s: negative delay %v", f, f.Delay)
		}
		if (f.Kind == KindDrop || f.Kind == KindDuplicate || f.Kind == KindReorder) && !(f.P >= 0 && f.P <= 1) {
			return fmt.Errorf("faults: %s: probability %v outside [0, 1]", f, f.P)
		}
	case f.Kind == KindHeal:
	default:
		return fmt.Errorf("faults: unknown fault kind %q", f.Kind)
	}
	return nil
}

// Apply injects f into the running World, at once. Call it from a goroutine
// of the World (a test's main, or the goroutine Run uses). It returns an
// error, and changes nothing, for an invalid fault or an unknown node; it
// also fails when the fault cannot apply (crashing a node that is down).
func Apply(f Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	switch {
	case f.nodeFault():
		n := harness.LookupNode(f.Node)
		if n == nil {
			return fmt.Errorf("faults: %s: unknown node %q", f, f.Node)
		}
		var err error
		switch f.Kind {
		case KindCrash:
			err = n.Crash(harness.CrashReset)
		case KindBlackHole:
			err = n.Crash(harness.CrashBlackHole)
		case KindRestart:
			err = n.Restart()
		case KindIsolate:
			err = isolate(n)
		}
		if err != nil {
			return fmt.Errorf("faults: %s: %w", f, err)
		}
		return nil
	case f.linkFault():
		for _, name := range []string{f.From, f.To} {
			if harness.LookupNode(name) == nil {
				return fmt.Errorf("faults: %s: unknown node %q", f, name)
			}
		}
		if err := changeLink(f.From, f.To, f); err != nil {
			return err
		}
		if !f.OneWay {
			return changeLink(f.To, f.From, f)
		}
		return nil
	default: // KindHeal
		if err := harness.ResetLinks(); err != nil {
			return fmt.Errorf("faults: heal: %w", err)
		}
		return nil
	}
}

func isolate(n *harness.Node) error {
	for _, m := range harness.Nodes() {
		if m == n {
			continue
		}
		for _, pair := range [][2]string{{n.Name(), m.Name()}, {m.Name(), n.Name()}} {
			if err := changeLink(pair[0], pair[1], Fault{Kind: KindPartition}); err != nil {
				return err
			}
		}
	}
	return nil
}

// changeLink applies a link fault to one direction, keeping the link's other
// settings (a delayed link may also drop).
func changeLink(from, to string, f Fault) error {
	l, err := harness.LinkOf(from, to)
	if err != nil {
		return fmt.Errorf("faults: %s: %w", f, err)
	}
	switch f.Kind {
	case KindPartition:
		l.Down = true
	case KindDelay:
		l.Latency = f.Delay
	case KindDrop:
		l.Drop = f.P
	case KindDuplicate:
		l.Duplicate = f.P
	case KindReorder:
		l.Reorder = f.P
	}
	if err := harness.SetLink(from, to, l); err != nil {
		return fmt.Errorf("faults: %s: %w", f, err)
	}
	return nil
}
