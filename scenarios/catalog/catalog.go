// Package catalog lists heddle's race cases: the five reported bugs of
// scenarios/, each a package of its own. The heddle command and the test
// suite that explores every case find them here.
package catalog

import (
	"fmt"
	"strings"

	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios/duplicator"
	"github.com/heddle-go/heddle/scenarios/metaclient"
	"github.com/heddle-go/heddle/scenarios/mq"
	"github.com/heddle-go/heddle/scenarios/replica"
	"github.com/heddle-go/heddle/scenarios/routingtable"
)

// All returns every case, sorted by name.
func All() []explore.Case {
	return []explore.Case{duplicator.Case(), metaclient.Case(), mq.Case(), replica.Case(), routingtable.Case()}
}

// Names returns the names of every case, sorted.
func Names() []string {
	var names []string
	for _, c := range All() {
		names = append(names, c.Name)
	}
	return names
}

// Lookup returns the case with the given name, or an error that lists the
// known names.
func Lookup(name string) (explore.Case, error) {
	for _, c := range All() {
		if c.Name == name {
			return c, nil
		}
	}
	return explore.Case{}, fmt.Errorf("unknown case %q; known cases: %s", name, strings.Join(Names(), ", "))
}
