package checkers

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
)

func TestRaceBetween(t *testing.T) {
	files, err := os.ReadDir("testdata")
	require.NoError(t, err)
	var vs []Violation
	for _, f := range files {
		data, err := os.ReadFile("testdata/" + f.Name())
		require.NoError(t, err)
		vs = append(vs, ParseRaceReports(string(data))...)
	}
	require.NotEmpty(t, vs)
	r := ParseRaces(vs[0].Message)[0]
	a, b := r.Access.Func, r.Previous.Func
	require.True(t, RaceBetween(a, b)(vs[0]))
	require.True(t, RaceBetween(b, a)(vs[0]), "either order")
	require.False(t, RaceBetween(a, "someOtherFunction")(vs[0]))
	require.False(t, RaceBetween(a, b)(Violation{Kind: harness.Panic, Message: vs[0].Message}), "only data races")
}

func TestMessageContainsAndAnyOf(t *testing.T) {
	closed := MessageContains(harness.Panic, "send on closed channel")
	require.True(t, closed(Violation{Kind: "Panic", Message: "goroutine 3 panicked: send on closed channel"}))
	require.False(t, closed(Violation{Kind: "Panic", Message: "nil map"}))
	require.False(t, closed(Violation{Kind: "Leak", Message: "send on closed channel"}))
	either := AnyOf(closed, MessageContains(harness.Leak, "fan-out"))
	require.True(t, either(Violation{Kind: "Leak", Message: "fan-out goroutine"}))
	require.False(t, either(Violation{Kind: "Leak", Message: "other"}))
}
