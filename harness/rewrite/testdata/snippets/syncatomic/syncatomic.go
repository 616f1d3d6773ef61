// Package syncatomic is a snippet: sync types embedded in structs, typed and
// functional atomics, a spin loop on an atomic flag, Map, Pool, Cond and the
// Once functions.
package syncatomic

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

type store struct {
	sync.RWMutex
	once sync.Once
	m    map[string]int
}

func (s *store) get(k string) int {
	s.RLock()
	defer s.RUnlock()
	return s.m[k]
}

func (s *store) set(k string, v int) {
	s.once.Do(func() { s.m = map[string]int{} })
	s.Lock()
	defer s.Unlock()
	s.m[k] = v
}

type stats struct {
	hits  atomic.Int64
	ready atomic.Bool
	last  atomic.Pointer[string]
	any   atomic.Value
	raw   int32
}

func Program() string {
	var b strings.Builder
	s := &store{}
	var st stats
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			s.set(fmt.Sprint("k", i), i)
			st.hits.Add(1)
			atomic.AddInt32(&st.raw, 2)
		})
	}
	wg.Wait()
	fmt.Fprint(&b, s.get("k3"), st.hits.Load(), atomic.LoadInt32(&st.raw), " ")

	// A spin loop on an atomic flag.
	msg := "hello"
	go func() {
		st.last.Store(&msg)
		st.ready.Store(true)
	}()
	for !st.ready.Load() {
	}
	fmt.Fprint(&b, *st.last.Load(), st.ready.CompareAndSwap(true, false), st.any.CompareAndSwap(nil, 1), st.any.Load(), " ")

	// Map, Pool, OnceValue, OnceFunc.
	var m sync.Map
	m.Store("a", 1)
	v, loaded := m.LoadOrStore("a", 2)
	n := 0
	m.Range(func(k, v any) bool { n++; return true })
	pool := sync.Pool{New: func() any { return new(int) }}
	p := pool.Get().(*int)
	pool.Put(p)
	calls := 0
	once := sync.OnceValue(func() int { calls++; return 42 })
	f := sync.OnceFunc(func() { calls++ })
	f()
	f()
	fmt.Fprint(&b, v, loaded, n, p != nil, once(), once(), calls, " ")

	// A condition variable.
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	queue := []int{}
	done := make(chan int)
	go func() {
		mu.Lock()
		for len(queue) == 0 {
			cond.Wait()
		}
		done <- queue[0]
		mu.Unlock()
	}()
	mu.Lock()
	queue = append(queue, 7)
	cond.Signal()
	mu.Unlock()
	rl := s.RLocker()
	rl.Lock()
	rl.Unlock()
	fmt.Fprint(&b, <-done)
	return b.String()
}
