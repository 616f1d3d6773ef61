// Package scenarios holds heddle's race cases: each case file registers its
// harness.Case from an init function, and the heddle command and the go test
// suites find them here.
package scenarios

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/heddle-go/heddle/harness"
)

// Race reports from explorations of these cases (go test's child processes,
// the heddle command's workers) are parsed by package checkers.

// Registry is a set of cases keyed by name. The package-level functions use
// one default registry; tests may build their own.
type Registry struct {
	mu    sync.Mutex
	cases map[string]harness.Case
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{cases: map[string]harness.Case{}} }

// Register adds c. A case without a name or variants, a variant without a
// Check, or a name registered twice is a programming error: Register panics.
func (r *Registry) Register(c harness.Case) {
	if c.Name == "" {
		panic("scenarios: Register: case without a name")
	}
	if strings.ContainsAny(c.Name, " /\\\t\n") {
		panic(fmt.Sprintf("scenarios: Register: case name %q has a space or slash", c.Name))
	}
	if len(c.Variants) == 0 {
		panic(fmt.Sprintf("scenarios: Register: case %q has no variants", c.Name))
	}
	seen := map[string]bool{}
	for _, v := range c.Variants {
		if v.Name == "" || v.Check == nil {
			panic(fmt.Sprintf("scenarios: Register: case %q has a variant without a name or a Check", c.Name))
		}
		if seen[v.Name] {
			panic(fmt.Sprintf("scenarios: Register: case %q has two variants named %q", c.Name, v.Name))
		}
		seen[v.Name] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cases == nil {
		r.cases = map[string]harness.Case{}
	}
	if _, dup := r.cases[c.Name]; dup {
		panic(fmt.Sprintf("scenarios: Register: case %q registered twice", c.Name))
	}
	r.cases[c.Name] = c
}

// All returns every registered case, sorted by name.
func (r *Registry) All() []harness.Case {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]harness.Case, 0, len(r.cases))
	for _, c := range r.cases {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the names of every registered case, sorted.
func (r *Registry) Names() []string {
	var names []string
	for _, c := range r.All() {
		names = append(names, c.Name)
	}
	return names
}

// Lookup returns the case with the given name, or an error that lists the
// known names.
func (r *Registry) Lookup(name string) (harness.Case, error) {
	r.mu.Lock()
	c, ok := r.cases[name]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	names := r.Names()
	if len(names) == 0 {
		return harness.Case{}, fmt.Errorf("unknown case %q: no cases are registered yet", name)
	}
	return harness.Case{}, fmt.Errorf("unknown case %q; known cases: %s", name, strings.Join(names, ", "))
}

var std = NewRegistry()

// Default returns the registry that Register, All and Lookup use.
func Default() *Registry { return std }

// Register adds a case to the default registry; call it from an init
// function of the case's file. A duplicate name panics.
func Register(c harness.Case) { std.Register(c) }

// All returns every case of the default registry, sorted by name.
func All() []harness.Case { return std.All() }

// Lookup returns the named case of the default registry, or an error that
// lists the known names.
func Lookup(name string) (harness.Case, error) { return std.Lookup(name) }
