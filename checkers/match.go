package checkers

import (
	"strings"

	"github.com/heddle-go/heddle/harness"
)

// Match functions tell a case's bug from other violations of the same kind,
// for explore.Variant.Match: detection counts only for the reported bug.

// RaceBetween matches a DataRace whose two accesses are in functions whose
// names end with a and b (in either order), for example
// RaceBetween("(*racyConsumers).remove", "(*racyConsumers).notify").
func RaceBetween(a, b string) func(Violation) bool {
	return func(x Violation) bool {
		if x.Kind != harness.DataRace {
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
func MessageContains(k harness.Kind, s string) func(Violation) bool {
	return func(x Violation) bool { return x.Kind == k && strings.Contains(x.Message, s) }
}

// AnyOf matches a violation that any of ms matches.
func AnyOf(ms ...func(Violation) bool) func(Violation) bool {
	return func(x Violation) bool {
		for _, m := range ms {
			if m(x) {
				return true
			}
		}
		return false
	}
}
