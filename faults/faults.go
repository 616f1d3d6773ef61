// Package faults injects faults into a running heddle World and describes
// them as plans that every race case shares: one notation, one parser, one
// generator and one shrinker.
//
// A fault (Fault) crashes or restarts a node, or partitions, slows, drops,
// duplicates or reorders the messages between nodes; Apply injects one at
// once. A case may also define faults that only it can carry out, actions
// ("move the primary of partition 2", "make member n3 leave"): a Fault of
// KindAction names the action and its argument, and the case hands Run a
// handler for it (Actions).
//
// A Plan is a schedule of faults over time. It is written on one line, a
// step each "+TIME FAULT", steps separated by "; ":
//
//	+293ms move p2; +642ms crash r1; +1.234s partition r2<->r3; +2s heal
//
// and a plan without steps is written "none". String writes that notation
// and ParsePlan (which documents its grammar) reads it back exactly, so a
// plan can be saved with a failing schedule and replayed. A plan is written by
// hand, or made from a seed by Gen; Run (or Go) runs it on the World's
// virtual clock and records a harness.Note "nemesis: FAULT" for every step,
// so that the trace shows the fault timeline. Shrink takes a failing plan
// and finds a smaller one that still fails, by dropping steps and moving them
// earlier.
//
// Faults name nodes (harness.NewNode) by name. A fault that names an unknown
// node, carries a negative delay or a probability outside [0, 1], or cannot
// be written in the notation, is rejected with an error, never a panic.
package faults

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

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
	// KindAction is a fault that only the case can carry out: Action names
	// it and Arg is its argument. Run hands it to the case's handler
	// (Actions); Apply cannot inject it.
	KindAction Kind = "action"
)

// Kinds lists the built-in kinds of fault, the ones Apply injects by itself
// (every kind but KindAction).
var Kinds = []Kind{KindCrash, KindBlackHole, KindRestart, KindPartition, KindIsolate, KindHeal,
	KindDelay, KindDrop, KindDuplicate, KindReorder}

// Fault is one fault. Make faults with the functions of this package (Crash,
// Partition, Drop, Act, ...) or fill in the fields; a kind uses only its own
// fields, and Validate rejects a fault that sets another.
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
	// Action names a KindAction fault: lower-case words joined by dashes
	// ("move", "refresh-crash"), never the name of a built-in kind.
	Action string
	// Arg is a KindAction fault's argument, for the case's handler to read
	// ("p2"): empty, or words separated by single spaces, without ';'.
	Arg string
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

// Act returns the case-defined fault named action with argument arg ("" for
// none), carried out by the handler the case gives Run: Act("move", "p2") is
// written "move p2" in a plan.
func Act(action, arg string) Fault { return Fault{Kind: KindAction, Action: action, Arg: arg} }

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

func (f Fault) probFault() bool {
	return f.Kind == KindDrop || f.Kind == KindDuplicate || f.Kind == KindReorder
}

// String renders the fault as it appears in a plan and in the trace:
// "crash a", "partition a<->b", "delay a->b 20ms", "drop a->b p=0.5",
// "heal", and for an action its name and argument, "move p2".
func (f Fault) String() string {
	switch {
	case f.nodeFault():
		return string(f.Kind) + " " + f.Node
	case f.linkFault():
		arrow := "<->"
		if f.OneWay {
			arrow = "->"
		}
		s := string(f.Kind) + " " + f.From + arrow + f.To
		switch {
		case f.Kind == KindDelay:
			s += " " + f.Delay.String()
		case f.probFault():
			s += " p=" + strconv.FormatFloat(f.P, 'g', -1, 64)
		}
		return s
	case f.Kind == KindAction:
		if f.Arg == "" {
			return f.Action
		}
		return f.Action + " " + f.Arg
	}
	return string(f.Kind)
}

// Validate checks the fault on its own, without a World: a known kind, the
// names it needs (written so that a plan can carry them: no spaces, ';',
// '<' or '>' in a node's name), no field its kind does not use, a
// non-negative delay, a probability in [0, 1], and for an action a valid
// name (ValidActionName) and argument.
func (f Fault) Validate() error {
	switch {
	case f.nodeFault():
		if err := checkNodeName(f.Node); err != nil {
			return fmt.Errorf("faults: %s: %w", f.Kind, err)
		}
	case f.linkFault():
		if f.From == "" || f.To == "" {
			return fmt.Errorf("faults: %s: a link needs two nodes (From %q, To %q)", f.Kind, f.From, f.To)
		}
		for _, n := range []string{f.From, f.To} {
			if err := checkNodeName(n); err != nil {
				return fmt.Errorf("faults: %s: %w", f.Kind, err)
			}
		}
		if f.From == f.To {
			return fmt.Errorf("faults: %s: From and To are the same node %q", f.Kind, f.From)
		}
		if f.Kind == KindDelay && f.Delay < 0 {
			return fmt.Errorf("faults: %s: negative delay %v", f, f.Delay)
		}
		if f.probFault() && !(f.P >= 0 && f.P <= 1) {
			return fmt.Errorf("faults: %s: probability %v outside [0, 1]", f, f.P)
		}
	case f.Kind == KindHeal:
	case f.Kind == KindAction:
		if err := ValidActionName(f.Action); err != nil {
			return err
		}
		if err := checkArg(f.Arg); err != nil {
			return fmt.Errorf("faults: action %s: %w", f.Action, err)
		}
	default:
		return fmt.Errorf("faults: unknown fault kind %q", f.Kind)
	}
	if field := f.unusedField(); field != "" {
		return fmt.Errorf("faults: %s: field %s is set, but a %s fault does not use it", f, field, f.Kind)
	}
	return nil
}

// unusedField names the first field that f sets although its kind does not
// use it ("" if none): such a field would be lost by the plan notation, and
// is most likely a mistake.
func (f Fault) unusedField() string {
	node, link := f.nodeFault(), f.linkFault()
	action := f.Kind == KindAction
	switch {
	case !node && f.Node != "":
		return "Node"
	case !link && f.From != "":
		return "From"
	case !link && f.To != "":
		return "To"
	case !link && f.OneWay:
		return "OneWay"
	case f.Kind != KindDelay && f.Delay != 0:
		return "Delay"
	case !f.probFault() && f.P != 0:
		return "P"
	case !action && f.Action != "":
		return "Action"
	case !action && f.Arg != "":
		return "Arg"
	}
	return ""
}

// checkNodeName accepts a node name that a plan can carry: not empty, and
// without white space, ';' (between steps), '<' or '>' (in a link's arrow).
func checkNodeName(name string) error {
	if name == "" {
		return fmt.Errorf("no node named")
	}
	if strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(";<>", r) }) {
		return fmt.Errorf("node name %q cannot be written in a plan (it holds a space, ';', '<' or '>')", name)
	}
	return nil
}

// checkArg accepts an action's argument that a plan can carry as it is:
// words separated by single spaces, no ';'.
func checkArg(arg string) error {
	if strings.ContainsRune(arg, ';') || arg != strings.Join(strings.Fields(arg), " ") {
		return fmt.Errorf("argument %q cannot be written in a plan: want words separated by single spaces, without ';'", arg)
	}
	return nil
}

// ValidActionName reports whether name can name a case-defined action:
// lower-case letters and digits in words joined by single dashes, starting
// with a letter, such as "move" or "refresh-crash", and not the name of a
// built-in kind ("crash", "heal", ...), so that a plan reads unambiguously.
func ValidActionName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("faults: action name %q: %s: want lower-case words joined by dashes, such as \"move\" or \"refresh-crash\"", name, why)
	}
	if name == "" {
		return bad("empty")
	}
	if name[0] < 'a' || name[0] > 'z' {
		return bad("it does not start with a lower-case letter")
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return bad(fmt.Sprintf("character %q", c))
		}
	}
	if strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return bad("an empty word between dashes")
	}
	if slices.Contains(Kinds, Kind(name)) {
		return fmt.Errorf("faults: action name %q is a built-in kind of fault; pick another name", name)
	}
	return nil
}

// Apply injects f into the running World, at once. Call it from a goroutine
// of the World (a test's main, or the goroutine Run uses). It returns an
// error, and changes nothing, for an invalid fault or an unknown node; it
// also fails when the fault cannot apply (crashing a node that is down), and
// for an action, which only the case's handler can carry out (use Run).
func Apply(f Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	switch {
	case f.Kind == KindAction:
		return fmt.Errorf("faults: %s: an action is carried out by its case's handler: run it in a plan (Run or Go with Actions), not with Apply", f)
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
