// Package sys is a system in two variants, for the tests of VariantOnly:
// every form the analysis recognises, each marked with the comment
// "other" on the lines only the Buggy variant runs.
package sys

import "errors"

type Variant int

const (
	Buggy Variant = iota
	Fixed
	Merged
)

type System struct {
	v   Variant
	n   int
	reg registry
}

type registry interface{ add(int) }

type racy struct{ xs []int }

func (r *racy) add(x int) { // other
	r.xs = append(r.xs, x) // other
} // other

type locked struct{ xs []int }

func (l *locked) add(x int) { l.xs = append(l.xs, x) }

func New(v Variant) *System {
	s := &System{v: v}
	if v == Buggy {
		s.reg = &racy{} // other
	} else {
		s.reg = &locked{}
	}
	return s
}

func (s *System) Add(x int) {
	if s.v != Fixed {
		s.n += x // other
		return   // other
	}
	s.reg.add(x)
	if s.v == Buggy && x > 0 {
		s.n++ // other
	}
	if s.v != Buggy && x > 0 {
		s.n--
	}
}

func (s *System) Get() (int, error) {
	if s.v == Fixed {
		return s.n, nil
	}
	return legacyGet(s) // other
}

func legacyGet(s *System) (int, error) { // other
	if s.n < 0 { // other
		return 0, errors.New("negative") // other
	} // other
	return s.n, nil // other
} // other

func (s *System) Name() string {
	switch s.v {
	case Buggy:
		return "buggy" // other
	case Fixed:
		return "fixed"
	default:
		return "merged" // other
	}
}

func (s *System) oldReset() { s.n = 0 } // other

func (s *System) Reset() {
	if !(s.v == Fixed) {
		s.oldReset() // other
	}
}
