// Command worker serves runs of the tiny case as `heddle worker tiny
// VARIANT` does: heddle mutate's and run --cover's tests build it as their
// worker (with coverage, or with a mutant of package tiny).
package main

import (
	"fmt"
	"os"

	"github.com/heddle-go/heddle/cmd/heddle/testdata/mutate/tinycase"
	"github.com/heddle-go/heddle/harness/explore"
)

func main() {
	c := tinycase.Case()
	if len(os.Args) != 4 || os.Args[1] != "worker" || os.Args[2] != c.Name {
		fmt.Fprintln(os.Stderr, "usage: worker worker tiny VARIANT")
		os.Exit(2)
	}
	v, err := c.Variant(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := explore.ServeWorker(v, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
