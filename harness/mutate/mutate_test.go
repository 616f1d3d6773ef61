package mutate

import (
	"encoding/json"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const stableSrc = srcHeader + `
func (s *S) Move(a, b string) {
	s.mu.Lock()
	s.m[b] = s.m[a]
	delete(s.m, a)
	s.mu.Unlock()
}

func (s *S) Twice() {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
}
`

func ids(ms []Mutant) map[string]Mutant {
	out := map[string]Mutant{}
	for _, m := range ms {
		out[m.ID] = m
	}
	return out
}

// TestIDsStable: the same code gives the same ids, and code added or
// changed elsewhere leaves them alone; only a change of the mutated text
// changes a mutant's id.
func TestIDsStable(t *testing.T) {
	gen := func(src string) map[string]Mutant {
		ms, err := Generate(writePackage(t, src), Options{})
		require.NoError(t, err)
		require.NotEmpty(t, ms)
		got := ids(ms)
		require.Len(t, got, len(ms), "ids are unique")
		return got
	}
	first := gen(stableSrc)
	again := gen(stableSrc)
	require.ElementsMatch(t, keys(first), keys(again), "same code, same ids")

	// Two identical sections of one function are told apart.
	twice := 0
	for _, m := range first {
		if m.Func == "(*S).Twice" && m.Operator == "lock-pair" {
			twice++
		}
	}
	require.Equal(t, 2, twice)

	// A function added above moves every line, not the ids.
	moved := gen(strings.Replace(stableSrc, "func (s *S) Move", "func (s *S) Other() {\n\ts.mu.Lock()\n\ts.n = 0\n\ts.mu.Unlock()\n}\n\nfunc (s *S) Move", 1))
	for id, m := range first {
		require.Contains(t, moved, id)
		require.Equal(t, m.Line+6, moved[id].Line, "%s moved down", id)
	}
	require.Len(t, moved, len(first)+1, "the new function's lock pair is the one new mutant")

	// Changing the code a mutant is about changes its id, and only its.
	changed := gen(strings.Replace(stableSrc, "delete(s.m, a)", "delete(s.m, b)", 1))
	var gone []string
	for id, m := range first {
		if _, ok := changed[id]; !ok {
			gone = append(gone, m.Operator)
		}
	}
	require.ElementsMatch(t, []string{"drop-cleanup", "move-out"}, gone,
		"the mutants whose text holds the delete: dropping it, and moving it after the Unlock")
}

func keys(m map[string]Mutant) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestKeep: a mutant is made only where Keep accepts its statements.
func TestKeep(t *testing.T) {
	dir := writePackage(t, stableSrc)
	all, err := Generate(dir, Options{})
	require.NoError(t, err)
	lines := strings.Split(stableSrc, "\n")
	twice := 0
	for i, l := range lines {
		if strings.Contains(l, "func (s *S) Twice") {
			twice = i + 1
		}
	}
	kept, err := Generate(dir, Options{Keep: func(p token.Position) bool { return p.Line < twice }})
	require.NoError(t, err)
	require.NotEmpty(t, kept)
	require.Less(t, len(kept), len(all))
	for _, m := range kept {
		require.Less(t, m.Line, twice)
		require.Equal(t, "(*S).Move", m.Func)
	}
	none, err := Generate(dir, Options{Keep: func(token.Position) bool { return false }})
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = Generate(dir, Options{Operators: []string{"no-such-op"}})
	require.ErrorContains(t, err, `unknown mutation operator "no-such-op"`)
}

// TestOverlay: the overlay names the original file and holds the mutant,
// and the original is left as it was.
func TestOverlay(t *testing.T) {
	dir := writePackage(t, stableSrc)
	ms, err := Generate(dir, Options{Operators: []string{"lock-pair"}})
	require.NoError(t, err)
	out := t.TempDir()
	path, err := ms[0].Overlay(out)
	require.NoError(t, err)
	var ov struct{ Replace map[string]string }
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &ov))
	require.Len(t, ov.Replace, 1)
	mutant, err := os.ReadFile(ov.Replace[filepath.Join(dir, "p.go")])
	require.NoError(t, err)
	require.Equal(t, ms[0].Src, mutant)
	orig, err := os.ReadFile(filepath.Join(dir, "p.go"))
	require.NoError(t, err)
	require.Equal(t, stableSrc, string(orig))
}

// TestSystems: every system's mutants compile... is checked by heddle
// mutate itself (compile errors are reported); here, the generator runs
// over the real systems without error and gives each at least one mutant
// of the main operators.
func TestSystems(t *testing.T) {
	for _, sys := range []string{"duplicator", "metaclient", "mq", "replica", "routingtable"} {
		ms, err := Generate(filepath.Join("../../systems", sys), Options{})
		require.NoError(t, err, sys)
		ops := map[string]int{}
		for _, m := range ms {
			ops[m.Operator]++
		}
		for _, op := range []string{"lock-pair", "drop-cleanup", "early-return"} {
			require.NotZero(t, ops[op], "%s has no %s mutant", sys, op)
		}
	}
}
