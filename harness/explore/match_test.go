package explore

import (
	"context"
	"strings"
	"testing"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"

	"github.com/stretchr/testify/require"
)

// A variant "detected" through a violation of the right kind but the wrong
// cause is not detected: Match decides.
func TestMatchDecidesWhatCountsAsTheBug(t *testing.T) {
	panicsWith := func(msg string) Variant {
		return Variant{Name: "buggy", Expect: []harness.Kind{harness.Panic}, Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			res := harness.Run(opts, func() { panic(msg) })
			return res, nil
		}}
	}
	isTheBug := func(x checkers.Violation) bool { return strings.Contains(x.Message, "the reported bug") }
	c := Case{Name: "m"}
	explore := func(v Variant) Report {
		seeds, err := Seeds(0, 3, 1, 1)
		require.NoError(t, err)
		return ExploreVariant(context.Background(), c, v,
			VariantConfig{Seeds: seeds, Runners: []Runner{&InProcessRunner{Variant: v}}})
	}

	right := panicsWith("the reported bug")
	right.Match = isTheBug
	rep := explore(right)
	require.Equal(t, VerdictFound, rep.Verdict, rep.Reason)
	require.True(t, rep.OK)

	wrong := panicsWith("an unrelated nil dereference")
	wrong.Match = isTheBug
	rep = explore(wrong)
	require.Equal(t, VerdictUnexpected, rep.Verdict)
	require.False(t, rep.OK)

	wrong.Match = nil // without Match, any panic counts
	require.Equal(t, VerdictFound, explore(wrong).Verdict)
}
