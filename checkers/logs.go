package checkers

import (
	"cmp"
	"fmt"
)

// Integer is any integer type (decrees, offsets, sequence numbers).
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// Monotonic checks that a sequence of observations never goes back (each is
// >= the one before): progress, a confirmed decree, a configuration
// version. what names the sequence in the message. It returns nil or one
// Invariant violation listing where it went back.
func Monotonic[T cmp.Ordered](what string, values []T) []Violation {
	var bad []string
	for i := 1; i < len(values); i++ {
		if values[i] < values[i-1] {
			bad = append(bad, fmt.Sprintf("#%d: went back from %v to %v", i, values[i-1], values[i]))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []Violation{Violationf(Invariant, "%s must never go back; it did %d time(s):%s", what, len(bad), listLines(bad))}
}

// StrictlyIncreasing checks that each value is greater than the one before
// (no duplicates, no reordering). It returns nil or one Invariant violation.
func StrictlyIncreasing[T cmp.Ordered](what string, values []T) []Violation {
	var bad []string
	for i := 1; i < len(values); i++ {
		switch {
		case values[i] == values[i-1]:
			bad = append(bad, fmt.Sprintf("#%d: %v again (duplicate)", i, values[i]))
		case values[i] < values[i-1]:
			bad = append(bad, fmt.Sprintf("#%d: %v after %v (out of order)", i, values[i], values[i-1]))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []Violation{Violationf(Invariant, "%s must be strictly increasing; %d violation(s):%s", what, len(bad), listLines(bad))}
}

// Consecutive checks that each value is the one before plus one: strictly
// increasing, no gaps, no duplicates (decrees shipped to a remote cluster,
// offsets delivered to a consumer). It returns nil or one Invariant
// violation naming each duplicate, gap and reordering.
func Consecutive[T Integer](what string, values []T) []Violation {
	var bad []string
	for i := 1; i < len(values); i++ {
		prev, v := values[i-1], values[i]
		switch {
		case v == prev+1:
		case v == prev:
			bad = append(bad, fmt.Sprintf("#%d: %v again (duplicate)", i, v))
		case v < prev:
			bad = append(bad, fmt.Sprintf("#%d: %v after %v (out of order)", i, v, prev))
		default:
			bad = append(bad, fmt.Sprintf("#%d: %v after %v (gap: %v missing)", i, v, prev, gapText(prev, v)))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []Violation{Violationf(Invariant, "%s must be consecutive (strictly increasing by one, no gaps, no duplicates); %d violation(s):%s",
		what, len(bad), listLines(bad))}
}

func gapText[T Integer](prev, v T) string {
	if v-prev == 2 {
		return fmt.Sprint(prev + 1)
	}
	return fmt.Sprintf("%v..%v", prev+1, v-1)
}

// Prefix checks that prefix is a prefix of full: a replica's log against
// its source, a remote cluster's applied mutations against the primary's
// committed history. It returns nil or one Invariant violation naming the
// first difference.
func Prefix[T comparable](what string, prefix, full []T) []Violation {
	for i, v := range prefix {
		if i >= len(full) {
			return []Violation{Violationf(Invariant, "%s must be a prefix of its source: it has %d entries, the source only %d (first extra: #%d = %#v)",
				what, len(prefix), len(full), i, v)}
		}
		if v != full[i] {
			return []Violation{Violationf(Invariant, "%s must be a prefix of its source: entry #%d is %#v, the source has %#v",
				what, i, v, full[i])}
		}
	}
	return nil
}
