package faults_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/heddle-go/heddle/faults"
)

// updateGolden rewrites testdata/gen_golden.txt from the generator as it is.
// Use it only when a change to the plans is intended (a new Gen field, a new
// rapid version): a saved failure names its seed, and the explorer must find
// the same plan for it again.
var updateGolden = flag.Bool("update-gen-golden", false, "rewrite faults/testdata/gen_golden.txt")

const goldenSeeds = 100

// goldenGens are the generator configurations whose plans are pinned: the
// defaults, a narrow and recovering one, one with actions drawn from Args
// and by Draw, and one with actions only.
func goldenGens() []struct {
	name string
	gen  faults.Gen
} {
	lead := faults.ActionGen{Name: "lead", Draw: func(t *rapid.T, sofar faults.Plan) (string, bool) {
		if len(sofar)%3 == 2 {
			return "", false
		}
		return fmt.Sprintf("m%d", rapid.IntRange(0, 2).Draw(t, "member")), true
	}}
	return []struct {
		name string
		gen  faults.Gen
	}{
		{"defaults", faults.Gen{Nodes: []string{"a", "b", "c"}, Horizon: 10 * time.Second}},
		{"narrow-recover", faults.Gen{Nodes: []string{"server", "client"}, Horizon: 200 * time.Millisecond, MaxSteps: 6,
			MaxDown: 2, MaxDelay: 5 * time.Millisecond, Recover: true,
			Kinds: []faults.Kind{faults.KindCrash, faults.KindRestart, faults.KindPartition, faults.KindDelay, faults.KindHeal}}},
		{"actions", faults.Gen{Nodes: []string{"r1", "r2", "meta-0"}, Horizon: 3 * time.Second, MaxSteps: 12, MaxDown: 2,
			Recover: true, Actions: []faults.ActionGen{{Name: "move", Args: []string{"p0", "p1", "p2"}}, {Name: "refresh-crash"}, lead}}},
		{"actions-only", faults.Gen{Horizon: time.Second, MaxSteps: 5,
			Actions: []faults.ActionGen{{Name: "move", Args: []string{"p0", "p1"}}, lead}}},
	}
}

// goldenPlans renders the plans of seeds 0..goldenSeeds-1 of every golden
// configuration, one "config seed plan" line each.
func goldenPlans(t *testing.T) []string {
	var lines []string
	for _, g := range goldenGens() {
		for seed := range int64(goldenSeeds) {
			p, err := g.gen.Example(seed)
			require.NoError(t, err, "%s seed %d", g.name, seed)
			lines = append(lines, fmt.Sprintf("%s %d %s", g.name, seed, p))
		}
	}
	return lines
}

// TestGenGolden checks that the generator makes exactly the plans it made
// when testdata/gen_golden.txt was recorded, seed by seed: the explorer
// gives every seed its plan, so a saved failure depends on them.
func TestGenGolden(t *testing.T) {
	path := filepath.Join("testdata", "gen_golden.txt")
	got := goldenPlans(t)
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644))
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	require.NoError(t, sc.Err())
	require.Len(t, want, len(got))
	for i := range got {
		require.Equal(t, want[i], got[i], "line %d", i+1)
	}
}
