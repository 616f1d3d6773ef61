package harness

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkSequence verifies the ordering contract of Operation.Call/Return.
func checkSequence(t *testing.T, ops []Operation) {
	t.Helper()
	seen := map[int64]bool{}
	for _, op := range ops {
		require.False(t, seen[op.Call], "call sequence %d used twice", op.Call)
		seen[op.Call] = true
		if op.Returned() {
			require.Less(t, op.Call, op.Return)
			require.LessOrEqual(t, op.CallTime, op.ReturnTime)
			require.False(t, seen[op.Return], "return sequence %d used twice", op.Return)
			seen[op.Return] = true
		}
	}
}

func TestHistoryDeterministic(t *testing.T) {
	record := func(seed int64) []Operation {
		var h History
		res := Run(Options{Seed: seed}, func() {
			var wg WaitGroup
			for c := 0; c < 3; c++ {
				wg.Go(func() {
					for i := 0; i < 2; i++ {
						p := h.Call(c, i)
						Sleep(time.Duration(c+1) * time.Second)
						p.Return(i * 10)
					}
				})
			}
			wg.Wait()
		})
		require.False(t, res.Failed(), "%v", res.Err())
		return h.Operations()
	}
	ops := record(1)
	require.Len(t, ops, 6)
	checkSequence(t, ops)
	for _, op := range ops {
		require.False(t, op.Unknown)
		require.Equal(t, op.Input.(int)*10, op.Output)
		// Virtual time: each call lasts exactly its sleep.
		require.Equal(t, time.Duration(op.Client+1)*time.Second, op.ReturnTime-op.CallTime)
		require.Equal(t, time.Duration(op.Input.(int)*(op.Client+1))*time.Second, op.CallTime)
	}
	// Same seed, same history, sequence numbers included.
	require.Equal(t, ops, record(1))
	// Events at one virtual instant are still strictly ordered: the three
	// first calls all happen at time 0.
	var atZero []int64
	for _, op := range ops {
		if op.CallTime == 0 {
			atZero = append(atZero, op.Call)
		}
	}
	require.Len(t, atZero, 3)
}

func TestHistoryRealTimeOrder(t *testing.T) {
	var h History
	res := Run(Options{Seed: 3}, func() {
		a := h.Call(0, "a")
		a.Return(nil)
		b := h.Call(1, "b")
		c := h.Call(2, "c")
		c.Return(nil)
		b.Return(nil)
	})
	require.False(t, res.Failed())
	ops := h.Operations()
	require.Less(t, ops[0].Return, ops[1].Call, "a returned before b was called")
	require.Less(t, ops[1].Call, ops[2].Call)
	require.Less(t, ops[2].Return, ops[1].Return, "c is nested in b")
}

func TestHistoryUnknownOutcomes(t *testing.T) {
	var h History
	res := Run(Options{Seed: 7}, func() {
		p := h.Call(0, "put")
		Sleep(time.Second)
		p.Unknown()
		p.Return("late") // ignored: the first outcome counts
		h.Call(1, "never returns")
		q := h.Call(2, "get")
		q.Return("v")
		q.Unknown() // ignored
	})
	require.False(t, res.Failed(), "%v", res.Err())
	ops := h.Operations()
	require.Len(t, ops, 3)
	checkSequence(t, ops)

	require.True(t, ops[0].Unknown)
	require.Nil(t, ops[0].Output)
	require.True(t, ops[0].Returned())
	require.Equal(t, time.Second, ops[0].ReturnTime)

	require.True(t, ops[1].Unknown, "a call pending at the end is unknown")
	require.False(t, ops[1].Returned())
	require.Equal(t, int64(-1), ops[1].Return)
	require.Equal(t, time.Duration(-1), ops[1].ReturnTime)

	require.False(t, ops[2].Unknown)
	require.Equal(t, "v", ops[2].Output)
	require.Equal(t, 3, h.Len())
}

func TestHistoryReal(t *testing.T) {
	var h History
	const clients, each = 4, 50
	res := Run(Options{Mode: Real, Seed: 1, Perturb: 0.2}, func() {
		var wg WaitGroup
		for c := 0; c < clients; c++ {
			wg.Go(func() {
				for i := 0; i < each; i++ {
					p := h.Call(c, i)
					if i%10 == 9 {
						p.Unknown()
					} else {
						p.Return(-i)
					}
				}
			})
		}
		wg.Wait()
	})
	require.False(t, res.Failed(), "%v", res.Err())
	ops := h.Operations()
	require.Len(t, ops, clients*each)
	checkSequence(t, ops)
	last := map[int]int64{}
	for _, op := range ops {
		require.True(t, op.Returned())
		require.Greater(t, op.Call, last[op.Client], "a client's operations are sequential")
		last[op.Client] = op.Return
		require.Equal(t, op.Input.(int)%10 == 9, op.Unknown)
		require.GreaterOrEqual(t, op.CallTime, time.Duration(0))
	}
}

func TestHistoryNoWorld(t *testing.T) {
	var h History
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				h.Call(c, i).Return(i)
			}
		}()
	}
	wg.Wait()
	ops := h.Operations()
	require.Len(t, ops, 80)
	checkSequence(t, ops)
}

// TestHistoryNoFalseRace records from many World goroutines that share
// nothing else: under -race, a report here would be the history's own
// bookkeeping seen as racy (the test then fails).
func TestHistoryNoFalseRace(t *testing.T) {
	for seed := int64(0); seed < 10; seed++ {
		var h History
		res := Run(Options{Seed: seed}, func() {
			var wg WaitGroup
			for c := 0; c < 6; c++ {
				wg.Go(func() {
					for i := 0; i < 20; i++ {
						p := h.Call(c, struct{ C, I int }{c, i})
						Yield()
						if i%3 == 0 {
							p.Unknown()
						} else {
							p.Return(i)
						}
					}
				})
			}
			wg.Wait()
			_ = h.Len()
		})
		require.False(t, res.Failed(), "%v", res.Err())
		ops := h.Operations()
		require.Len(t, ops, 120)
		checkSequence(t, ops)
	}
}
