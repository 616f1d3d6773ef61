package mq

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/mq"
)

// The buggy variant counts only the reported bug as found: the race between
// Destroy's in-place removal and Notify's unlocked read, or Notify's send on
// the channel Destroy closed.
func TestMatchIsTheReportedBug(t *testing.T) {
	buggy, err := Case().Variant("buggy")
	require.NoError(t, err)
	require.True(t, buggy.Finds(checkers.Violation{Kind: harness.Panic, Message: "goroutine 7 panicked: send on closed channel"}))
	require.False(t, buggy.Finds(checkers.Violation{Kind: harness.Panic, Message: "goroutine 7 panicked: index out of range"}))
	require.False(t, buggy.Finds(checkers.Violation{Kind: harness.DataRace, Message: "data race between two unrelated lines"}))
}

// TestChecksHaveTeeth runs the fixed variant with a fault in the
// workload's own client code, to show that the checks see it, as the
// right kind.
func TestChecksHaveTeeth(t *testing.T) {
	for _, c := range []struct {
		fault string
		kind  harness.Kind
		says  string
	}{
		{"no-notify", checkers.Invariant, "lost wake-up"},       // Seek without Notify
		{"duplicate", checkers.NotLinearizable, "delivered"},    // a batch delivered twice
		{"skip", checkers.NotLinearizable, "delivered"},         // a message dropped
		{"forget-create", checkers.NotLinearizable, "registry"}, // a create missing from the history
		{"seek-c0", checkers.NotLinearizable, "queue"},          // c0 sought: not a FIFO queue any more
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultConfig
			cfg.fault = c.fault
			if c.fault == "no-notify" { // seeks that outlast the producers
				cfg.Produces, cfg.Seeks = 2, 12
			}
			check := Check(sys.Fixed, cfg)
			seed, verdict := scenarios.FirstCaught(t, check, nil, 200, nil)
			require.True(t, verdict.Has(c.kind), "seed %d: %v", seed, verdict)
			require.Contains(t, verdict.String(), c.says)
		})
	}
}
