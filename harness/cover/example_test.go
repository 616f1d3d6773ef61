package cover_test

import (
	"fmt"
	"strings"

	"github.com/heddle-go/heddle/harness/cover"
)

// The coverage of a two-variant system's Fixed path: the Buggy branch of
// Add is left out, and the one block of the Fixed path that never ran is
// listed with its source.
func ExampleSummarize() {
	const profile = `mode: atomic
example.com/sys/sys.go:44.29,45.18 1 4
example.com/sys/sys.go:45.18,47.3 2 0
example.com/sys/sys.go:49.2,50.28 2 4
example.com/sys/sys.go:50.28,52.3 1 0
example.com/sys/sys.go:53.2,53.28 1 4
example.com/sys/sys.go:53.28,55.3 1 0
`
	p, _ := cover.ParseProfile(strings.NewReader(profile))
	dir := "testdata/variants"
	regions, _ := cover.VariantOnly(dir, "Fixed")
	s, err := cover.Summarize(p, "example.com/sys", dir, regions)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d of %d statements (%.0f%%), %d left out\n", s.Covered, s.Statements, s.Percent, s.Excluded)
	for _, l := range s.Uncovered {
		fmt.Printf("%s:\n%s\n", l, l.Source)
	}
	// Output:
	// 4 of 5 statements (80%), 3 left out
	// sys.go:53-55:
	// 	if s.v != Buggy && x > 0 {
	// 		s.n--
	// 	}
}
