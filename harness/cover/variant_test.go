package cover

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVariantOnly: the lines the regions cover are exactly the lines of
// testdata/variants/sys.go marked "// other".
func TestVariantOnly(t *testing.T) {
	dir := filepath.Join("testdata", "variants")
	regions, err := VariantOnly(dir, "Fixed")
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(dir, "sys.go"))
	require.NoError(t, err)
	var want, got []int
	for i, line := range strings.Split(string(src), "\n") {
		n := i + 1
		if strings.HasSuffix(strings.TrimSpace(line), "// other") {
			want = append(want, n)
		}
		// A line counts as left out when its first non-blank character is;
		// a line that closes a block left out belongs to it, marked or not.
		col := len(line) - len(strings.TrimLeft(line, " \t")) + 1
		closing := strings.HasPrefix(strings.TrimSpace(line), "}") && !strings.HasSuffix(line, "// other")
		if strings.TrimSpace(line) != "" && !closing && InRegions(regions, "sys.go", n, col) {
			got = append(got, n)
		}
	}
	sort.Ints(got)
	require.Equal(t, want, got)
	for _, r := range regions {
		require.Equal(t, "sys.go", r.File)
		require.Contains(t, r.Why, "runs only when not Fixed")
	}
}

// TestVariantOnlySymmetric: measured for Buggy, the Fixed branches are
// left out instead.
func TestVariantOnlySymmetric(t *testing.T) {
	regions, err := VariantOnly(filepath.Join("testdata", "variants"), "Buggy")
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join("testdata", "variants", "sys.go"))
	require.NoError(t, err)
	lines := strings.Split(string(src), "\n")
	at := func(text string) int {
		for i, l := range lines {
			if strings.Contains(l, text) {
				return i + 1
			}
		}
		t.Fatalf("no line holds %q", text)
		return 0
	}
	for _, text := range []string{"s.reg = &locked{}", `return "fixed"`, "s.reg.add(x)", "s.n--"} {
		n := at(text)
		require.True(t, InRegions(regions, "sys.go", n, 3), "%q (line %d) runs only in Fixed", text, n)
	}
	// The cover tool starts an else's block before its brace, after the
	// else keyword: the region holds that position too.
	require.True(t, InRegions(regions, "sys.go", at("} else {"), 8))
	for _, text := range []string{"s.reg = &racy{}", `return "buggy"`, "s.n += x"} {
		n := at(text)
		require.False(t, InRegions(regions, "sys.go", n, 3), "%q (line %d) runs in Buggy", text, n)
	}
}

func TestVariantOnlyNoVariants(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.go"), []byte("package p\n\nfunc F(v int) int {\n\tif v == 1 {\n\t\treturn 2\n\t}\n\treturn 3\n}\n"), 0o644))
	regions, err := VariantOnly(dir, "Fixed")
	require.NoError(t, err)
	require.Empty(t, regions, "no Fixed constant: nothing is left out")
}
