// Package dettest runs the drop-in packages' tests in both of their modes:
// outside any World, where they are the standard library, and inside a
// deterministic World.
package dettest

import (
	"testing"

	"github.com/heddle-go/heddle/harness"
)

// Both runs body as two subtests: "outside", with no World, and "world", as
// the main goroutine of a deterministic World of seed 1, which must end
// without failure. body reports with t.Errorf (t.Fatal would end a World's
// goroutine behind the runtime's back).
func Both(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	t.Run("outside", body)
	t.Run("world", func(t *testing.T) { World(t, 1, func() { body(t) }) })
}

// World runs main in a deterministic World of the given seed and fails the
// test if the run failed. It returns the run's result.
func World(t *testing.T, seed int64, main func()) *harness.Result {
	t.Helper()
	res := harness.Run(harness.Options{Seed: seed}, main)
	if res.Failed() {
		t.Errorf("seed %d: %v", seed, res.Err())
	}
	return res
}
