package mq

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/mq"
)

// The buggy variant counts only the reported bug as found: the race between
// Destroy's in-place removal and an unlocked read of the same slice (Notify,
// or HasConsumer as upstream's ExistConsumerGroup), or Notify's send on the
// channel Destroy closed.
func TestMatchIsTheReportedBug(t *testing.T) {
	buggy, err := Case().Variant("buggy")
	require.NoError(t, err)
	race := func(a, b string) checkers.Violation {
		return checkers.Violation{Kind: harness.DataRace, Message: fmt.Sprintf(`WARNING: DATA RACE
Write at 0x00c000065cb0 by goroutine 116:
  github.com/heddle-go/heddle/systems/mq.%s()
      /src/systems/mq/consumers.go:89 +0x15e

Previous read at 0x00c000065cb0 by goroutine 118:
  github.com/heddle-go/heddle/systems/mq.%s()
      /src/systems/mq/consumers.go:98 +0x67
==================`, a, b)}
	}
	require.True(t, buggy.Finds(race("(*racyConsumers).remove", "(*racyConsumers).notify")))
	require.True(t, buggy.Finds(race("(*racyConsumers).remove", "(*racyConsumers).get")))
	require.False(t, buggy.Finds(race("(*racyConsumers).add", "(*racyConsumers).get")))
	require.True(t, buggy.Finds(checkers.Violation{Kind: harness.Panic, Message: "goroutine 7 panicked: send on closed channel"}))
	require.False(t, buggy.Finds(checkers.Violation{Kind: harness.Panic, Message: "goroutine 7 panicked: index out of range"}))
	require.False(t, buggy.Finds(checkers.Violation{Kind: harness.DataRace, Message: "data race between two unrelated lines"}))
}

// crashPlan is a plan of one crash at a moment, with a power loss.
func crashPlan(moment string, lose int) func(int64) faults.Plan {
	return func(int64) faults.Plan {
		return faults.Plan{{At: time.Millisecond, Fault: faults.Act(actCrash, fmt.Sprintf("%s lose=%d down=1ms", moment, lose))}}
	}
}

// TestChecksHaveTeeth runs the fixed variant with a fault in the
// workload's own code, or on a disk that lies, to show that the checks see
// it, as the right kind.
func TestChecksHaveTeeth(t *testing.T) {
	for _, c := range []struct {
		fault string
		plan  func(int64) faults.Plan
		kind  harness.Kind // the violation's kind (one of "|"-separated kinds)
		says  string       // what the violation's message says (one of "|"-separated phrases)
	}{
		{"no-notify", nil, checkers.Invariant, "lost wake-up"},       // Seek without Notify
		{"duplicate", nil, checkers.NotLinearizable, "delivered"},    // a batch delivered twice
		{"skip", nil, checkers.NotLinearizable, "delivered"},         // a message dropped
		{"forget-create", nil, checkers.NotLinearizable, "registry"}, // a create missing from the history
		{"seek-c0", nil, checkers.NotLinearizable, "queue"},          // c0 sought: not a FIFO queue any more
		{"lying-disk", crashPlan("produce", 100), checkers.Invariant, "acknowledged message(s)|consumer group not found|persisted position was lost"}, // syncs that persist nothing
		{"stale-server", crashPlan("now", 0), harness.Leak, "used the disk after the crash|still alive after main returned"},                          // a crashed incarnation's server used
		{"no-resubscribe", crashPlan("now", 0), checkers.Invariant, "no consumer is registered"},                                                      // consumers not registered again
		// g0 sought back before a crash: the restart loses the position, or,
		// when the seek-back shows first, g0 consumes a message again.
		{"lose-position", crashPlan("produce", 0), checkers.Invariant + "|" + checkers.NotLinearizable, "a persisted position was lost|not linearizable"},
		// g0 sought past its end before a crash: at the restart a skip, or, if it had
		// read everything, a group that never reads the messages produced after.
		{"skip-position", crashPlan("produce", 0), checkers.Invariant + "|" + checkers.NotLinearizable, "messages skipped|not linearizable"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			check := Check(sys.Fixed, func(seed int64) Config {
				cfg := ConfigFor(seed)
				cfg.fault = c.fault
				if c.fault == "no-notify" { // seeks that outlast the producers
					cfg.Produces, cfg.Seeks = 2, 12
				}
				return cfg
			})
			seed, verdict := scenarios.FirstCaught(t, check, c.plan, 200, nil)
			kinds := strings.Split(string(c.kind), "|")
			require.True(t, slices.ContainsFunc(kinds, func(k string) bool { return verdict.Has(harness.Kind(k)) }), "seed %d: %v", seed, verdict)
			says := strings.Split(c.says, "|")
			require.True(t, slices.ContainsFunc(says, func(s string) bool { return strings.Contains(verdict.String(), s) }),
				"seed %d: %v does not say %q", seed, verdict, c.says)
			t.Logf("caught at seed %d: %.300s", seed, verdict)
		})
	}
}

// The plans the seeds make are valid, written in the notation that
// ParsePlan reads back, the same for the same seed, and varied: no crash,
// one or two; every moment; process crashes and power losses.
func TestPlans(t *testing.T) {
	steps := map[int]int{}
	seen := map[string]bool{}
	for seed := int64(0); seed < 500; seed++ {
		p := Faults(seed)
		require.NoError(t, checkPlan(p), "seed %d: %s", seed, p)
		back, err := faults.ParsePlan(p.String())
		require.NoError(t, err)
		require.Equal(t, p.String(), back.String())
		require.Equal(t, p, Faults(seed))
		steps[len(p)]++
		for _, s := range p {
			c, err := parseCrash(s.Fault.Arg)
			require.NoError(t, err)
			seen[c.at.name] = true
			seen[fmt.Sprintf("lose>0=%v", c.lose > 0)] = true
		}
	}
	require.Len(t, steps, 3, "plans of 0, 1 and 2 crashes: %v", steps)
	for _, m := range moments {
		require.True(t, seen[m.name], "moment %s never drawn", m.name)
	}
	require.True(t, seen["lose>0=true"] && seen["lose>0=false"])
	for _, bad := range []string{"+1ms crash r", "+1ms crash-rmq", "+1ms crash-rmq soon lose=1 down=1ms", "+1ms crash-rmq now lose=-1 down=1ms", "+1ms crash-rmq now lose=1 down=x"} {
		p, err := faults.ParsePlan(bad)
		if err == nil {
			err = checkPlan(p)
		}
		require.Error(t, err, bad)
	}
}

// ConfigFor draws every value of its ranges, upstream's defaults among
// them.
func TestConfigRanges(t *testing.T) {
	seen := map[string]bool{}
	for seed := int64(0); seed < 500; seed++ {
		c := ConfigFor(seed)
		require.Equal(t, c, ConfigFor(seed))
		seen[fmt.Sprint("batch", c.ConsumeBatch)] = true
		seen[fmt.Sprint("retry", c.Retry)] = true
		seen[fmt.Sprint("topics", c.Topics)] = true
		seen[fmt.Sprint("shared", c.Shared)] = true
		seen[fmt.Sprint("sync", c.SyncDelay > 0)] = true
	}
	for _, want := range []string{"batch16", "retry200ms", "batch1", "retry1ms", "topics1", "topics2", "sharedtrue", "sharedfalse", "synctrue", "syncfalse"} {
		require.True(t, seen[want], want)
	}
}

// execute runs one seed of the fixed variant with its own plan and
// returns the finished workload.
func execute(t *testing.T, seed int64) *run {
	t.Helper()
	w, err := newRun(sys.Fixed, ConfigFor(seed), Faults(seed), seed)
	require.NoError(t, err)
	res := scenarios.Execute(harness.Options{Seed: seed}, w)
	require.NoError(t, res.Err())
	require.True(t, w.Completed())
	return w
}

// The crashes the plans aim land: over 200 seeds, each moment brings the
// node down in some seed, power losses drop records, and restarts recover
// with consumers resumed.
func TestCrashesLand(t *testing.T) {
	landed := map[string]int{}
	restarts := 0
	for seed := int64(0); seed < 200; seed++ {
		w := execute(t, seed)
		for _, op := range w.ops.Operations() {
			if in := op.Input.(opInfo); in.Name == "crash" {
				landed[strings.Fields(in.Group)[0]]++
			}
		}
		restarts += len(w.incs) - 1
	}
	for _, m := range moments {
		require.Positive(t, landed[m.name], "no crash at moment %s landed: %v", m.name, landed)
	}
	require.Positive(t, restarts)
	t.Logf("crashes landed: %v; restarts: %d", landed, restarts)
}

// TestOperationsMeet counts, over 200 seeds, which pairs of the broker's
// operations overlapped in time on the same topic (an operation on a
// group meets another on that group, or one on the whole topic; Close and
// Topics meet every call): every pair must meet in some seed, so that the
// workload puts every two calls of the system against each other.
func TestOperationsMeet(t *testing.T) {
	names := []string{"CreateTopic", "Produce", "CreateConsumerGroup", "RegisterConsumer", "DestroyConsumerGroup",
		"ExistConsumerGroup", "Groups", "Topics", "HasConsumer", "Consume", "Seek", "Notify", "Position", "LastID", "Close"}
	met := map[[2]string]int{}
	for seed := int64(0); seed < 200; seed++ {
		w := execute(t, seed)
		ops := effective(w.ops.Operations())
		for i, a := range ops {
			for _, b := range ops[i+1:] {
				x, y := a.Input.(opInfo), b.Input.(opInfo)
				if x.Name == "restart" || x.Name == "crash" || y.Name == "restart" || y.Name == "crash" {
					continue
				}
				if (x.Topic != y.Topic && x.Topic != "" && y.Topic != "") || (x.Group != "" && y.Group != "" && x.Group != y.Group) {
					continue // Close and Topics have no topic: they meet every call
				}
				if overlap(a, b) {
					pair := [2]string{min(x.Name, y.Name), max(x.Name, y.Name)}
					met[pair]++
				}
			}
		}
	}
	var missing []string
	for i, a := range names {
		for _, b := range names[i:] {
			if met[[2]string{min(a, b), max(a, b)}] == 0 {
				missing = append(missing, a+" with "+b)
			}
		}
	}
	slices.Sort(missing)
	require.Empty(t, missing, "pairs that never overlapped on the same topic or group in 200 seeds")
}

// overlap reports whether two recorded calls overlapped in time (an
// operation that never returned lasts to the end).
func overlap(a, b harness.Operation) bool {
	end := func(op harness.Operation) int64 {
		if op.Return < 0 {
			return 1 << 62
		}
		return op.Return
	}
	return a.Call < end(b) && b.Call < end(a)
}

// The same seed makes the same run, crashes included.
func TestDeterministic(t *testing.T) {
	v, err := Case().Variant("fixed")
	require.NoError(t, err)
	for seed := int64(0); seed < 20; seed++ {
		a, _ := v.Check(harness.Options{Seed: seed}, Faults(seed))
		b, _ := v.Check(harness.Options{Seed: seed}, Faults(seed))
		require.Equal(t, a.TraceHash, b.TraceHash, "seed %d", seed)
	}
}
