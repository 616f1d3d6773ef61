package checkers

import (
	"strings"

	"github.com/heddle-go/heddle/harness"
)

// Match functions tell a case's bug from other violations of the same kind,
// for harness.Variant.Match: detection counts only for the reported bug.

// RaceBetween matches a DataRace whose two accesses are in functions whose
// names end with a and b (in either order), for example
// RaceBetween("(*racyConsumers).remove", "(*racyConsumers).notify").
func RaceBetween(a, b string) func(harness.Violation) bool {
	return func(x harness.Violation) bool {
		if x.Kind != string(DataRace) {
			return false
		}
		for _, r := range ParseRaces(x.Message) {
			f, g := r.Access.Func, r.Previous.Func
			if (strings.HasSuffix(f, a) && strings.HasSuffix(g, b)) || (strings.HasSuffix(f, b) && strings.HasSuffix(g, a)) {
				return true
			}
		}
		return false
	}
}

// MessageContains matches a violation of kind k whose message contains s.
func MessageContains(k Kind, s string) func(harness.Violation) bool {
	return func(x harness.Violation) bool { return x.Kind == string(k) && strings.Contains(x.Message, s) }
}

// AnyOf matches a violation that any of ms matches.
func AnyOf(ms ...func(harness.Violation) bool) func(harness.Violation) bool {
	return func(x harness.Violation) bool {
		for _, m := range ms {
			if m(x) {
				return true
			}
		}
		return false
	}
}
