package scenarios

import (
	"testing"

	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/require"
)

func testCase(name string) harness.Case {
	return harness.Case{Name: name, Variants: []harness.Variant{{
		Name: "fixed",
		Check: func(opts harness.Options) (*harness.Result, []harness.Violation) {
			return harness.Run(opts, func() {}), nil
		},
	}}}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	_, err := r.Lookup("x")
	require.ErrorContains(t, err, "no cases are registered yet")

	r.Register(testCase("zeta"))
	r.Register(testCase("alpha"))
	r.Register(testCase("mid"))
	require.Equal(t, []string{"alpha", "mid", "zeta"}, r.Names())
	all := r.All()
	require.Len(t, all, 3)
	require.Equal(t, "alpha", all[0].Name)

	c, err := r.Lookup("mid")
	require.NoError(t, err)
	require.Equal(t, "mid", c.Name)

	_, err = r.Lookup("nope")
	require.EqualError(t, err, `unknown case "nope"; known cases: alpha, mid, zeta`)
}

func TestRegisterPanics(t *testing.T) {
	r := NewRegistry()
	r.Register(testCase("a"))
	require.PanicsWithValue(t, `scenarios: Register: case "a" registered twice`, func() { r.Register(testCase("a")) })
	require.Panics(t, func() { r.Register(testCase("")) })
	require.Panics(t, func() { r.Register(testCase("a b")) })
	require.Panics(t, func() { r.Register(harness.Case{Name: "b"}) })
	require.Panics(t, func() {
		r.Register(harness.Case{Name: "c", Variants: []harness.Variant{{Name: "fixed"}}})
	})
	twice := testCase("d")
	twice.Variants = append(twice.Variants, twice.Variants[0])
	require.Panics(t, func() { r.Register(twice) })
}

func TestDefaultRegistryIsSorted(t *testing.T) {
	all := All()
	for i := 1; i < len(all); i++ {
		require.Less(t, all[i-1].Name, all[i].Name)
	}
}
