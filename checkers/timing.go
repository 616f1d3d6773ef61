package checkers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Stamped is a value observed at a moment of the run, as a duration since
// the run began: harness.Since(start) with start := harness.Now() taken
// when main begins. In deterministic mode that is virtual time since the
// World started, the clock of Operation.CallTime and ReturnTime.
type Stamped[T any] struct {
	At    time.Duration
	Value T
}

// Stamp pairs a value with a time.
func Stamp[T any](at time.Duration, v T) Stamped[T] { return Stamped[T]{At: at, Value: v} }

// maxListed bounds the items a message lists.
const maxListed = 8

// Within checks "after event A, event B within d": for every time in aTimes
// (when A happened), some time in bTimes (when B happened, in any order)
// lies in [a, a+d]. It returns nil or one Timeliness violation listing the
// A's left without a timely B. A B that never came counts as late: make the
// run last long enough after the last A.
func Within(a string, aTimes []time.Duration, b string, bTimes []time.Duration, d time.Duration) []Violation {
	bs := append([]time.Duration(nil), bTimes...)
	sort.Slice(bs, func(i, j int) bool { return bs[i] < bs[j] })
	var bad []string
	for _, t := range aTimes {
		i := sort.Search(len(bs), func(i int) bool { return bs[i] >= t })
		switch {
		case i == len(bs):
			bad = append(bad, fmt.Sprintf("after %s at %v: no %s after it", a, t, b))
		case bs[i] > t+d:
			bad = append(bad, fmt.Sprintf("after %s at %v: the first %s came at %v, %v late", a, t, b, bs[i], bs[i]-t-d))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []Violation{Violationf(Timeliness, "after %s, %s must follow within %v; %d of %d times it did not:%s",
		a, b, d, len(bad), len(aTimes), listLines(bad))}
}

// ReturnsWithin checks that every operation returned within deadline of its
// call, plus epsilon (the slack a client needs to notice its deadline). An
// operation that never returned breaks it; one that gave up with an unknown
// outcome counts as returned when it gave up. It returns nil or one
// Timeliness violation listing the late operations.
func ReturnsWithin(ops []harness.Operation, deadline, epsilon time.Duration) []Violation {
	return ReturnsWithinFunc(ops, func(harness.Operation) time.Duration { return deadline }, epsilon)
}

// ReturnsWithinFunc is ReturnsWithin with a deadline per operation (for
// instance from its input); a deadline <= 0 means the operation has none.
func ReturnsWithinFunc(ops []harness.Operation, deadline func(harness.Operation) time.Duration, epsilon time.Duration) []Violation {
	var bad []string
	for i, op := range ops {
		d := deadline(op)
		if d <= 0 {
			continue
		}
		limit := d + epsilon
		switch {
		case !op.Returned():
			bad = append(bad, fmt.Sprintf("op #%d, client %d, %v: called at %v, never returned (deadline %v)",
				i, op.Client, op.Input, op.CallTime, d))
		case op.ReturnTime-op.CallTime > limit:
			bad = append(bad, fmt.Sprintf("op #%d, client %d, %v: took %v (%v → %v), deadline %v + %v",
				i, op.Client, op.Input, op.ReturnTime-op.CallTime, op.CallTime, op.ReturnTime, d, epsilon))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []Violation{Violationf(Timeliness, "%d of %d operations did not return within their deadline:%s",
		len(bad), len(ops), listLines(bad))}
}

// DeliveredWithin checks "once writes stop, every committed item reaches the
// sink within d": with stop the time of the last commit, every committed item
// appears in delivered no later than stop + d. It returns nil, or a
// Timeliness violation listing the items late or never delivered, and an
// Invariant violation if the sink received items that were never committed.
// Items are compared by value; the earliest delivery of each counts.
func DeliveredWithin[T comparable](committed, delivered []Stamped[T], d time.Duration) []Violation {
	first := make(map[T]time.Duration, len(delivered))
	for _, x := range delivered {
		if t, ok := first[x.Value]; !ok || x.At < t {
			first[x.Value] = x.At
		}
	}
	var stop time.Duration
	isCommitted := make(map[T]bool, len(committed))
	for _, c := range committed {
		stop = max(stop, c.At)
		isCommitted[c.Value] = true
	}
	deadline := stop + d
	var late []string
	for _, c := range committed {
		t, ok := first[c.Value]
		switch {
		case !ok:
			late = append(late, fmt.Sprintf("%#v (committed at %v): never delivered", c.Value, c.At))
		case t > deadline:
			late = append(late, fmt.Sprintf("%#v (committed at %v): delivered at %v, %v late", c.Value, c.At, t, t-deadline))
		}
	}
	var out []Violation
	if len(late) > 0 {
		out = append(out, Violationf(Timeliness, "writes stopped at %v: every committed item must reach the sink by %v (within %v); %d of %d did not:%s",
			stop, deadline, d, len(late), len(committed), listLines(late)))
	}
	var extra []string
	for _, x := range delivered {
		if !isCommitted[x.Value] {
			extra = append(extra, fmt.Sprintf("%#v at %v", x.Value, x.At))
		}
	}
	if len(extra) > 0 {
		out = append(out, Violationf(Invariant, "the sink received %d item(s) that were never committed:%s", len(extra), listLines(extra)))
	}
	return out
}

// listLines renders up to maxListed items, one per indented line.
func listLines(items []string) string {
	var b strings.Builder
	for i, s := range items {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  ... and %d more", len(items)-maxListed)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(s)
	}
	return b.String()
}
