// Package foreign is a snippet: channels that come from, and go to, a
// package that is not rewritten.
package foreign

import (
	"fmt"
	"strings"

	"github.com/heddle-go/heddle/harness/rewrite/testdata/foreign"
)

func sum(c <-chan int) int {
	s := 0
	for v := range c {
		s += v
	}
	return s
}

func Program() string {
	var b strings.Builder
	w := foreign.NewWatcher("create", "write")
	for e := range w.Events {
		fmt.Fprint(&b, e, " ")
	}
	nums := foreign.Numbers(3)
	fmt.Fprint(&b, sum(nums), sum(foreign.Numbers(4)), " ")
	select {
	case v, ok := <-foreign.Numbers(1):
		fmt.Fprint(&b, v, ok, " ")
	}
	chs := foreign.Channels()
	chs[0] <- 5
	for _, c := range chs[:1] {
		fmt.Fprint(&b, <-c, len(chs))
	}
	return b.String()
}

// Export passes a rewritten channel to the package that is not rewritten:
// it works outside a World, where rewritten channels are Go channels.
func Export() int {
	c := make(chan int, 10)
	foreign.Fill(c, 4)
	return sum(c)
}
