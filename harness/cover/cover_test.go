package cover

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// profile is a profile of testdata/variants/sys.go as two counter files
// would give it: New and Add's blocks, some twice.
const profile = `mode: atomic
example.com/sys/sys.go:34.29,36.16 2 3
example.com/sys/sys.go:36.16,38.3 1 0
example.com/sys/sys.go:38.8,40.3 1 3
example.com/sys/sys.go:41.2,41.10 1 3
example.com/sys/sys.go:44.29,45.18 1 4
example.com/sys/sys.go:45.18,47.3 2 0
example.com/sys/sys.go:49.2,50.28 2 4
example.com/sys/sys.go:50.28,52.3 1 0
example.com/sys/sys.go:53.2,53.28 1 4
example.com/sys/sys.go:53.28,55.3 1 0
example.com/sys/sys.go:32.29,32.55 1 0
example.com/sys/sys.go:34.29,36.16 2 2
example.com/sys/sub/x.go:1.1,2.2 7 0
`

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile(strings.NewReader(profile))
	require.NoError(t, err)
	require.Equal(t, "atomic", p.Mode)
	require.Len(t, p.Blocks, 12, "the block listed twice is merged")
	first := p.Blocks[1] // sorted: sub/x.go's block first
	require.Equal(t, Block{File: "example.com/sys/sys.go", StartLine: 32, StartCol: 29, EndLine: 32, EndCol: 55, Stmts: 1, Count: 0}, first)
	for _, b := range p.Blocks {
		if b.StartLine == 34 {
			require.Equal(t, 5, b.Count, "counts of one block add up")
		}
	}
	require.Len(t, p.Package("example.com/sys"), 11, "sub-packages are not the package")

	require.True(t, p.Covered("example.com/sys/sys.go", 35, 2))
	require.False(t, p.Covered("example.com/sys/sys.go", 37, 3), "the Buggy branch never ran")
	require.True(t, p.Covered("example.com/sys/sys.go", 39, 3))
	require.False(t, p.Covered("example.com/sys/sys.go", 54, 3))
	require.False(t, p.Covered("example.com/sys/sys.go", 70, 3), "no block: not run")
	require.False(t, p.Covered("example.com/sys/other.go", 35, 2))
}

func TestParseProfileErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"no mode", "a/b.go:1.1,2.2 1 1\n", "line 1: block before the mode line"},
		{"empty", "\n", "no mode line"},
		{"bad block", "mode: set\na/b.go:1.1-2.2 1 1\n", `line 2: bad block "a/b.go:1.1-2.2 1 1"`},
		{"negative", "mode: set\na/b.go:1.1,2.2 1 -1\n", "line 2: bad block"},
		{"two modes", "mode: set\nmode: count\n", "line 2: mode count after mode set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProfile(strings.NewReader(tc.text))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestSummarize: the Buggy branches of New and Add are left out; what
// remains is covered but for locked.add and the s.n-- branch, listed with
// their source.
func TestSummarize(t *testing.T) {
	p, err := ParseProfile(strings.NewReader(profile))
	require.NoError(t, err)
	dir := filepath.Join("testdata", "variants")
	regions, err := VariantOnly(dir, "Fixed")
	require.NoError(t, err)
	s, err := Summarize(p, "example.com/sys", dir, regions)
	require.NoError(t, err)
	// Left out: 36.16 (1), 45.18 (2), 50.28 (1).
	require.Equal(t, 4, s.Excluded)
	require.Equal(t, 2+1+1+1+2+1+1+1, s.Statements)
	require.Equal(t, 2+1+1+1+2+1, s.Covered)
	require.InDelta(t, 100*8.0/10.0, s.Percent, 1e-9)
	require.Equal(t, []Lines{
		{File: "sys.go", Start: 32, End: 32, Source: "func (l *locked) add(x int) { l.xs = append(l.xs, x) }"},
		{File: "sys.go", Start: 53, End: 55, Source: "\tif s.v != Buggy && x > 0 {\n\t\ts.n--\n\t}"},
	}, s.Uncovered)
	require.Equal(t, 4, s.UncoveredLines)
	require.Equal(t, "sys.go:53-55", s.Uncovered[1].String())
	require.Equal(t, "sys.go:32", s.Uncovered[0].String())

	// Nothing left out: the Buggy branches count as not covered.
	all, err := Summarize(p, "example.com/sys", dir, nil)
	require.NoError(t, err)
	require.Equal(t, 14, all.Statements)
	require.Equal(t, 0, all.Excluded)

	// A block of a region that ran is on the path after all: covered.
	ran, err := ParseProfile(strings.NewReader(strings.Replace(profile, "45.18,47.3 2 0", "45.18,47.3 2 1", 1)))
	require.NoError(t, err)
	s2, err := Summarize(ran, "example.com/sys", dir, regions)
	require.NoError(t, err)
	require.Equal(t, s.Excluded-2, s2.Excluded)
	require.Equal(t, s.Covered+2, s2.Covered)
	require.Equal(t, s.Statements+2, s2.Statements)

	_, err = Summarize(p, "example.com/other", dir, nil)
	require.ErrorContains(t, err, "no block of example.com/other")
}
