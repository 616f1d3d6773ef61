// Package tinycase is the race case of the fake system tiny, for the tests
// of heddle mutate and heddle run --cover.
package tinycase

import (
	"context"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/cmd/heddle/testdata/mutate/tiny"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

// Case is the tiny case: three goroutines add 1 to a counter, then a pump
// of three values is drained.
func Case() explore.Case {
	return explore.Case{Name: "tiny", Bug: "test#mutate", Summary: "a counter added to without its lock",
		Variants: []explore.Variant{
			{Name: "buggy", Expect: []harness.Kind{harness.DataRace, checkers.Invariant}, Seeds: 50, Check: check(tiny.Buggy)},
			{Name: "fixed", Seeds: 50, Check: check(tiny.Fixed)},
		}}
}

func check(v tiny.Variant) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return func(opts harness.Options, _ faults.Plan) (*harness.Result, []checkers.Violation) {
		var got, sum int
		res := harness.Run(opts, func() {
			c := tiny.New(v)
			var wg harness.WaitGroup
			for i := 0; i < 3; i++ {
				wg.Go(func() { c.Add(1) })
			}
			wg.Wait()
			got = c.Get()
			values := tiny.Pump(context.Background(), 3)
			for {
				x, ok := values.Recv()
				if !ok {
					break
				}
				sum += x
			}
		})
		vs := checkers.FromResult(res)
		if !res.Failed() {
			if got != 3 {
				vs = append(vs, checkers.Violationf(checkers.Invariant, "three adds of 1 made %d", got))
			}
			if sum != 6 {
				vs = append(vs, checkers.Violationf(checkers.Invariant, "the pump of 1, 2, 3 gave %d in all", sum))
			}
		}
		return res, vs
	}
}
