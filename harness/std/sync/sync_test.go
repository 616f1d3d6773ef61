package sync_test

import (
	"fmt"
	"testing"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/dettest"
	"github.com/heddle-go/heddle/harness/std/sync"
)

func TestLocksAndGroups(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		var mu sync.Mutex
		var rw sync.RWMutex
		var wg sync.WaitGroup
		total, reads := 0, 0
		for range 4 {
			wg.Go(func() {
				mu.Lock()
				total++
				mu.Unlock()
				rw.RLock()
				_ = reads
				rw.RUnlock()
				rl := rw.RLocker()
				rl.Lock()
				_ = reads
				rl.Unlock()
				rw.Lock()
				reads++
				rw.Unlock()
			})
		}
		wg.Wait()
		if total != 4 || reads != 4 || !mu.TryLock() {
			t.Errorf("total %d reads %d", total, reads)
		}
		mu.Unlock()
	})
}

func TestOnceFunctions(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		calls := 0
		var once sync.Once
		for range 3 {
			once.Do(func() { calls++ })
		}
		f := sync.OnceFunc(func() { calls++ })
		v := sync.OnceValue(func() int { calls++; return 7 })
		vs := sync.OnceValues(func() (int, error) { calls++; return 8, nil })
		f()
		f()
		a, b := v(), v()
		c, _ := vs()
		d, _ := vs()
		if calls != 4 || a != 7 || b != 7 || c != 8 || d != 8 {
			t.Errorf("calls %d, values %d %d %d %d", calls, a, b, c, d)
		}
		// A panic is the panic of every call.
		p := sync.OnceValue(func() int { calls++; panic("boom") })
		for range 2 {
			if r := recovered(func() { p() }); fmt.Sprint(r) != "boom" {
				t.Errorf("OnceValue panicked with %v, want boom", r)
			}
		}
		pf := sync.OnceFunc(func() { panic("bang") })
		for range 2 {
			if r := recovered(pf); fmt.Sprint(r) != "bang" {
				t.Errorf("OnceFunc panicked with %v, want bang", r)
			}
		}
		if calls != 5 {
			t.Errorf("the panicking function ran %d times", calls-4)
		}
	})
}

func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

func TestCond(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		var mu sync.Mutex
		c := sync.NewCond(&mu)
		ready := 0
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				mu.Lock()
				for ready == 0 {
					c.Wait()
				}
				ready++
				mu.Unlock()
			})
		}
		mu.Lock()
		ready = 1
		c.Broadcast()
		mu.Unlock()
		wg.Wait()
		if ready != 4 {
			t.Errorf("ready %d, want 4", ready)
		}
	})
}

func TestMap(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		var m sync.Map
		m.Store("a", 1)
		if v, ok := m.Load("a"); v != 1 || !ok {
			t.Errorf("Load: %v %v", v, ok)
		}
		if v, loaded := m.LoadOrStore("b", 2); v != 2 || loaded {
			t.Errorf("LoadOrStore: %v %v", v, loaded)
		}
		if prev, loaded := m.Swap("a", 3); prev != 1 || !loaded {
			t.Errorf("Swap: %v %v", prev, loaded)
		}
		if !m.CompareAndSwap("a", 3, 4) || m.CompareAndSwap("a", 3, 5) || !m.CompareAndDelete("a", 4) {
			t.Error("CompareAndSwap or CompareAndDelete")
		}
		if v, loaded := m.LoadAndDelete("b"); v != 2 || !loaded {
			t.Errorf("LoadAndDelete: %v %v", v, loaded)
		}
		m.Store("c", 1)
		m.Delete("c")
		m.Store("d", 1)
		n := 0
		m.Range(func(k, v any) bool { n++; return true })
		m.Clear()
		if _, ok := m.Load("d"); ok || n != 1 {
			t.Errorf("Range saw %d, Clear left d: %v", n, ok)
		}
	})
}

// Every Map operation is a scheduling point: a goroutine that waits for a
// key, polling, lets the goroutine that stores it run.
func TestMapPollLetsOthersRun(t *testing.T) {
	dettest.World(t, 3, func() {
		var m sync.Map
		harness.Go(func() { m.Store("k", true) })
		for {
			if _, ok := m.Load("k"); ok {
				return
			}
		}
	})
}

func TestPool(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		made := 0
		p := sync.Pool{New: func() any { made++; return new(int) }}
		x := p.Get().(*int)
		p.Put(x)
		p.Put(nil)
		if y := p.Get().(*int); y == nil || made == 0 {
			t.Error("Get returned nothing")
		}
		var empty sync.Pool
		if empty.Get() != nil {
			t.Error("a Pool without New returned something")
		}
	})
}

// Inside a World the Pool is deterministic and thins out Puts by the seed:
// some seeds get back what they put, some get a new value.
func TestPoolDropsBySeed(t *testing.T) {
	back := map[bool]int{}
	for seed := range int64(40) {
		var same bool
		dettest.World(t, seed, func() {
			p := sync.Pool{New: func() any { return new(int) }}
			x := new(int)
			p.Put(x)
			same = p.Get() == x
		})
		back[same]++
	}
	if back[true] == 0 || back[false] == 0 {
		t.Errorf("over 40 seeds: %v (want both)", back)
	}
}
