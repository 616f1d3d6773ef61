package faults

import (
	"slices"
	"time"
)

// Shrink returns the smallest plan it finds that still fails, given a plan p
// for which fails is true. It works in four passes, each keeping a candidate
// only when fails says it still fails:
//
//  1. the plan without any step;
//  2. without chunks of steps: halves, then quarters, ... down to pairs;
//  3. without single steps, pass after pass, until no single step can be
//     dropped;
//  4. each remaining step, in order, moved earlier: to the time of the step
//     before it (0 for the first), else to its time rounded down to a whole
//     second, 100ms, 10ms or 1ms, the earliest of these that still fails. A
//     step moved earlier is not tried for removal again.
//
// fails is called only with valid plans (Plan.Validate), each a new slice
// that it may keep, never with p itself and never twice with the same plan.
// Shrink is deterministic: the same p and the same answers give the same
// calls and the same result. An empty or invalid p comes back as it is,
// without a call.
//
// Cost, for n steps: at most n removals succeed in all; pass 1 makes one
// call; pass 2 at most 2n + log₂n failed tries; pass 3 at most n failed
// tries per pass, and at most one pass more than it has removals (n² in the
// worst case, where each removal makes another one possible); pass 4 at most
// 5 calls per step. In all at most n² + 9n + 1 calls, O(n²). When k steps
// cause the failure whatever else the plan holds, passes 2 and 3 find them
// in O(k log n) calls and pass 4 adds at most 5k.
func Shrink(p Plan, fails func(Plan) bool) Plan {
	if len(p) == 0 || p.Validate() != nil {
		return p
	}
	s := shrinker{fails: fails, seen: map[string]bool{p.String(): true}}
	if s.try(nil) {
		return nil
	}
	cur := slices.Clone(p)
	for size := len(cur) / 2; size > 1; size /= 2 {
		for i := 0; i < len(cur); {
			end := min(i+size, len(cur))
			if c := slices.Concat(cur[:i], cur[end:]); s.try(c) {
				cur = c
			} else {
				i = end
			}
		}
	}
	for removed := true; removed; {
		removed = false
		for i := 0; i < len(cur); {
			if c := slices.Concat(cur[:i], cur[i+1:]); s.try(c) {
				cur, removed = c, true
			} else {
				i++
			}
		}
	}
	for i := range cur {
		for _, at := range earlier(cur, i) {
			c := slices.Clone(cur)
			c[i].At = at
			if s.try(c) {
				cur = c
				break
			}
		}
	}
	return cur
}

// shrinker remembers the plans it has tried, so that none is tried twice.
type shrinker struct {
	fails func(Plan) bool
	seen  map[string]bool // by Plan.String, which tells valid plans apart
}

// try reports whether c fails, asking only about plans not seen before.
func (s *shrinker) try(c Plan) bool {
	key := c.String()
	if s.seen[key] {
		return false
	}
	s.seen[key] = true
	return s.fails(slices.Clone(c))
}

// earlier lists the times, earliest first, that step i of p may move to and
// stay in order: the previous step's time, then its own time rounded down to
// coarser units, each strictly earlier than now.
func earlier(p Plan, i int) []time.Duration {
	var lo time.Duration
	if i > 0 {
		lo = p[i-1].At
	}
	now := p[i].At
	var out []time.Duration
	for _, at := range []time.Duration{lo, now.Truncate(time.Second), now.Truncate(100 * time.Millisecond),
		now.Truncate(10 * time.Millisecond), now.Truncate(time.Millisecond)} {
		if at >= lo && at < now && (len(out) == 0 || at > out[len(out)-1]) {
			out = append(out, at)
		}
	}
	return out
}
