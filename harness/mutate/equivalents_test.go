package mutate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEquivalents(t *testing.T) {
	const file = `# equivalent mutants of a test package

lock-pair-3f9a12c0   the value is written before any goroutine starts
chan-buffer-0b1c2d3e	the channel is only used by selects with a default
`
	e, err := ParseEquivalents("eq.txt", strings.NewReader(file))
	require.NoError(t, err)
	r, ok := e.Reason("lock-pair-3f9a12c0")
	require.True(t, ok)
	require.Equal(t, "the value is written before any goroutine starts", r)
	r, ok = e.Reason("chan-buffer-0b1c2d3e")
	require.True(t, ok)
	require.Equal(t, "the channel is only used by selects with a default", r)
	require.Equal(t, 4, e.Lines["chan-buffer-0b1c2d3e"])
	_, ok = e.Reason("lock-pair-00000000")
	require.False(t, ok)

	stale := e.Stale([]Mutant{{ID: "lock-pair-3f9a12c0"}})
	require.Equal(t, []string{"chan-buffer-0b1c2d3e"}, stale)
}

// TestEquivalentsBadFile: each mistake is an error that names the file and
// the line.
func TestEquivalentsBadFile(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"not an id", "# ok\nlock pair is fine\n", `eq.txt:2: "lock" is not a mutant id`},
		{"short hash", "lock-pair-3f9a   reason\n", `eq.txt:1: "lock-pair-3f9a" is not a mutant id`},
		{"unknown operator", "\n\nrace-pair-3f9a12c0 reason\n", `eq.txt:3: mutant race-pair-3f9a12c0: no operator is named "race-pair"`},
		{"no reason", "lock-pair-3f9a12c0\n", "eq.txt:1: mutant lock-pair-3f9a12c0 is marked equivalent without a reason"},
		{"no reason but spaces", "lock-pair-3f9a12c0   \t \n", "eq.txt:1: mutant lock-pair-3f9a12c0 is marked equivalent without a reason"},
		{"twice", "lock-pair-3f9a12c0 a\n# c\nlock-pair-3f9a12c0 b\n", "eq.txt:3: mutant lock-pair-3f9a12c0 is already marked on line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEquivalents("eq.txt", strings.NewReader(tc.file))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadEquivalents(t *testing.T) {
	e, err := LoadEquivalents(filepath.Join(t.TempDir(), "none.txt"))
	require.NoError(t, err, "no file marks nothing")
	require.Empty(t, e.Reasons)

	path := filepath.Join(t.TempDir(), "mq.txt")
	require.NoError(t, os.WriteFile(path, []byte("move-out-12345678 reason\nbad\n"), 0o644))
	_, err = LoadEquivalents(path)
	require.ErrorContains(t, err, path+`:2: "bad" is not a mutant id`)
}
