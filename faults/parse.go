package faults

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParsePlan reads a plan in the notation Plan.String writes:
//
//	plan   = "none" | "" | step { sep step }
//	sep    = ";" | newline
//	step   = "+" TIME fault                  (TIME as in time.ParseDuration: 1.5s, 293ms)
//	fault  = ("crash" | "blackhole" | "restart" | "isolate") NODE
//	       | "heal"
//	       | "partition" link
//	       | "delay" link TIME
//	       | ("drop" | "duplicate" | "reorder") link "p=" PROBABILITY
//	       | ACTION [ARG ...]                (a case's action: Act(ACTION, "ARG ..."))
//	link   = NODE "<->" NODE                 (both ways)
//	       | NODE "->" NODE                  (one way)
//
// for example "+293ms move p2; +642ms crash r1; +1.5s drop r1->r2 p=0.25".
// Words are separated by any run of spaces, empty steps (a trailing ';', a
// blank line) are skipped, and the steps must come in order of time. A plan
// without steps parses to nil. Every error names the step (counted from 1),
// quotes it, and says what was expected. ParsePlan(p.String()) gives p back
// for every plan p that Validate accepts.
func ParsePlan(text string) (Plan, error) {
	if t := strings.TrimSpace(text); t == "" || t == NoFaults {
		return nil, nil
	}
	var p Plan
	for _, raw := range strings.FieldsFunc(text, func(r rune) bool { return r == ';' || r == '\n' }) {
		src := strings.TrimSpace(raw)
		if src == "" {
			continue
		}
		n := len(p) + 1
		s, err := parseStep(src)
		if err != nil {
			return nil, fmt.Errorf("faults: plan step %d %q: %w", n, src, err)
		}
		if n > 1 && s.At < p[n-2].At {
			return nil, fmt.Errorf("faults: plan step %d %q: at %v it comes before step %d at %v: want the steps in order of time", n, src, s.At, n-1, p[n-2].At)
		}
		p = append(p, s)
	}
	return p, nil
}

// parseStep reads one step, "+TIME FAULT".
func parseStep(src string) (Step, error) {
	words := strings.Fields(src)
	if words[0] == "+" && len(words) > 1 { // "+ 1s crash a"
		words = append([]string{"+" + words[1]}, words[2:]...)
	}
	at, ok := strings.CutPrefix(words[0], "+")
	if !ok {
		return Step{}, fmt.Errorf(`want "+TIME FAULT", such as "+1.5s crash a", not %q at the start`, words[0])
	}
	d, err := time.ParseDuration(at)
	if err != nil || d < 0 {
		return Step{}, fmt.Errorf("bad time %q: want a duration since the plan started, such as +0s, +293ms or +1.5s", words[0])
	}
	if len(words) < 2 {
		return Step{}, fmt.Errorf(`no fault after the time: want a fault such as "crash a", "partition a<->b" or an action`)
	}
	f, err := parseFault(words[1], words[2:])
	if err != nil {
		return Step{}, err
	}
	if err := f.Validate(); err != nil {
		return Step{}, err
	}
	return Step{At: d, Fault: f}, nil
}

// parseFault reads a fault from its first word and the words after it.
func parseFault(kind string, args []string) (Fault, error) {
	f := Fault{Kind: Kind(kind)}
	want := func(form string) error {
		return fmt.Errorf("%s takes %d word(s) after it, %q given: want %q", kind, strings.Count(form, " "), strings.Join(args, " "), form)
	}
	switch f.Kind {
	case KindCrash, KindBlackHole, KindRestart, KindIsolate:
		if len(args) != 1 {
			return f, want(kind + " NODE")
		}
		f.Node = args[0]
	case KindHeal:
		if len(args) != 0 {
			return f, want("heal")
		}
	case KindPartition:
		if len(args) != 1 {
			return f, want("partition A<->B")
		}
		return f, parseLink(&f, args[0])
	case KindDelay:
		if len(args) != 2 {
			return f, want("delay A<->B TIME")
		}
		if err := parseLink(&f, args[0]); err != nil {
			return f, err
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return f, fmt.Errorf("delay: bad latency %q: want a duration such as 20ms", args[1])
		}
		f.Delay = d
	case KindDrop, KindDuplicate, KindReorder:
		if len(args) != 2 {
			return f, want(kind + " A<->B p=PROBABILITY")
		}
		if err := parseLink(&f, args[0]); err != nil {
			return f, err
		}
		num, ok := strings.CutPrefix(args[1], "p=")
		prob, err := strconv.ParseFloat(num, 64)
		if !ok || err != nil {
			return f, fmt.Errorf("%s: bad probability %q: want p= and a number in [0, 1], such as p=0.5", kind, args[1])
		}
		f.P = prob
	default:
		if err := ValidActionName(kind); err != nil {
			return f, fmt.Errorf("unknown fault %q: want a built-in kind (%s) or an action: %w", kind, kindList(), err)
		}
		f = Act(kind, strings.Join(args, " "))
	}
	return f, nil
}

// parseLink reads "A<->B" (both ways) or "A->B" (one way) into f.
func parseLink(f *Fault, link string) error {
	if a, b, ok := strings.Cut(link, "<->"); ok {
		f.From, f.To = a, b
		return nil
	}
	if a, b, ok := strings.Cut(link, "->"); ok {
		f.From, f.To, f.OneWay = a, b, true
		return nil
	}
	return fmt.Errorf("%s: bad link %q: want A<->B (both ways) or A->B (one way)", f.Kind, link)
}

// kindList lists the built-in kinds for error messages.
func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
