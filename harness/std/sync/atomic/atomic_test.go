package atomic_test

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/dettest"
	"github.com/heddle-go/heddle/harness/std/sync/atomic"
)

// Every function and method gives the result of sync/atomic's, in both
// modes.
func TestFunctions(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		var i32 int32
		var i64 int64
		var u32 uint32
		var u64 uint64
		var up uintptr
		check := func(name string, got, want any) {
			if got != want {
				t.Errorf("%s: got %v, want %v", name, got, want)
			}
		}
		check("AddInt32", atomic.AddInt32(&i32, 5), int32(5))
		check("AddInt64", atomic.AddInt64(&i64, 5), int64(5))
		check("AddUint32", atomic.AddUint32(&u32, 5), uint32(5))
		check("AddUint64", atomic.AddUint64(&u64, 5), uint64(5))
		check("AddUintptr", atomic.AddUintptr(&up, 5), uintptr(5))
		check("AndInt32", atomic.AndInt32(&i32, 4), int32(5))
		check("AndInt64", atomic.AndInt64(&i64, 4), int64(5))
		check("AndUint32", atomic.AndUint32(&u32, 4), uint32(5))
		check("AndUint64", atomic.AndUint64(&u64, 4), uint64(5))
		check("AndUintptr", atomic.AndUintptr(&up, 4), uintptr(5))
		check("OrInt32", atomic.OrInt32(&i32, 2), int32(4))
		check("OrInt64", atomic.OrInt64(&i64, 2), int64(4))
		check("OrUint32", atomic.OrUint32(&u32, 2), uint32(4))
		check("OrUint64", atomic.OrUint64(&u64, 2), uint64(4))
		check("OrUintptr", atomic.OrUintptr(&up, 2), uintptr(4))
		check("CompareAndSwapInt32", atomic.CompareAndSwapInt32(&i32, 6, 1), true)
		check("CompareAndSwapInt64", atomic.CompareAndSwapInt64(&i64, 6, 1), true)
		check("CompareAndSwapUint32", atomic.CompareAndSwapUint32(&u32, 6, 1), true)
		check("CompareAndSwapUint64", atomic.CompareAndSwapUint64(&u64, 6, 1), true)
		check("CompareAndSwapUintptr", atomic.CompareAndSwapUintptr(&up, 7, 1), false)
		check("LoadInt32", atomic.LoadInt32(&i32), int32(1))
		check("LoadInt64", atomic.LoadInt64(&i64), int64(1))
		check("LoadUint32", atomic.LoadUint32(&u32), uint32(1))
		check("LoadUint64", atomic.LoadUint64(&u64), uint64(1))
		check("LoadUintptr", atomic.LoadUintptr(&up), uintptr(6))
		atomic.StoreInt32(&i32, 9)
		atomic.StoreInt64(&i64, 9)
		atomic.StoreUint32(&u32, 9)
		atomic.StoreUint64(&u64, 9)
		atomic.StoreUintptr(&up, 9)
		check("SwapInt32", atomic.SwapInt32(&i32, 2), int32(9))
		check("SwapInt64", atomic.SwapInt64(&i64, 2), int64(9))
		check("SwapUint32", atomic.SwapUint32(&u32, 2), uint32(9))
		check("SwapUint64", atomic.SwapUint64(&u64, 2), uint64(9))
		check("SwapUintptr", atomic.SwapUintptr(&up, 2), uintptr(9))
		x, y := 1, 2
		var p unsafe.Pointer
		atomic.StorePointer(&p, unsafe.Pointer(&x))
		check("CompareAndSwapPointer", atomic.CompareAndSwapPointer(&p, unsafe.Pointer(&x), unsafe.Pointer(&y)), true)
		check("SwapPointer", atomic.SwapPointer(&p, unsafe.Pointer(&x)), unsafe.Pointer(&y))
		check("LoadPointer", atomic.LoadPointer(&p), unsafe.Pointer(&x))
	})
}

func TestTypes(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		var (
			b  atomic.Bool
			i  atomic.Int32
			j  atomic.Int64
			u  atomic.Uint32
			v  atomic.Uint64
			w  atomic.Uintptr
			p  atomic.Pointer[string]
			va atomic.Value
		)
		s1, s2 := "a", "b"
		b.Store(true)
		p.Store(&s1)
		ok := b.Load() && !b.Swap(false) == false && b.CompareAndSwap(false, true) &&
			i.Add(3) == 3 && i.And(1) == 3 && i.Or(4) == 1 && i.Swap(0) == 5 && i.CompareAndSwap(0, 2) && i.Load() == 2 &&
			j.Add(3) == 3 && j.And(1) == 3 && j.Or(4) == 1 && j.Swap(0) == 5 && j.CompareAndSwap(0, 2) && j.Load() == 2 &&
			u.Add(3) == 3 && u.And(1) == 3 && u.Or(4) == 1 && u.Swap(0) == 5 && u.CompareAndSwap(0, 2) && u.Load() == 2 &&
			v.Add(3) == 3 && v.And(1) == 3 && v.Or(4) == 1 && v.Swap(0) == 5 && v.CompareAndSwap(0, 2) && v.Load() == 2 &&
			w.Add(3) == 3 && w.And(1) == 3 && w.Or(4) == 1 && w.Swap(0) == 5 && w.CompareAndSwap(0, 2) && w.Load() == 2 &&
			p.Load() == &s1 && p.Swap(&s2) == &s1 && p.CompareAndSwap(&s2, &s1) && p.Load() == &s1 &&
			va.Load() == nil && va.CompareAndSwap(nil, 1) && va.Swap(2) == 1 && va.Load() == 2
		va.Store(3)
		i.Store(7)
		j.Store(7)
		u.Store(7)
		v.Store(7)
		w.Store(7)
		if !ok || va.Load() != 3 || i.Load()+int32(j.Load())+int32(u.Load())+int32(v.Load())+int32(w.Load()) != 35 {
			t.Error("a typed atomic gave a wrong result")
		}
	})
}

// A spin loop on an atomic flag ends inside a World: each load is a
// scheduling point, so the goroutine that sets the flag runs.
func TestSpinLoopEnds(t *testing.T) {
	for seed := range int64(10) {
		dettest.World(t, seed, func() {
			var flag atomic.Bool
			var lock atomic.Int32
			harness.Go(func() {
				for !lock.CompareAndSwap(0, 1) {
				}
				flag.Store(true)
				lock.Store(0)
			})
			for !flag.Load() {
			}
			for !lock.CompareAndSwap(0, 1) {
			}
		})
	}
}

// Atomic operations are scheduling points: a read-modify-write made of a
// Load and a Store loses an update on some seeds.
func TestInterleavingFindsLostUpdate(t *testing.T) {
	lost := 0
	for seed := range int64(30) {
		var n atomic.Int64
		dettest.World(t, seed, func() {
			done := harness.NewChan[bool](2)
			for range 2 {
				harness.Go(func() {
					n.Store(n.Load() + 1)
					done.Send(true)
				})
			}
			done.Recv()
			done.Recv()
		})
		if n.Load() != 2 {
			lost++
		}
	}
	if lost == 0 {
		t.Error("no seed of 30 interleaved the two updates")
	}
}

// A value published with a Store and read after the Load that sees it is
// ordered by the atomic: the race detector reports nothing (under -race).
func TestAtomicIsAnEdge(t *testing.T) {
	for seed := range int64(10) {
		dettest.World(t, seed, func() {
			var ready atomic.Bool
			data := 0
			harness.Go(func() {
				data = 42
				ready.Store(true)
			})
			for !ready.Load() {
			}
			if data != 42 {
				t.Errorf("seed %d: data %d", seed, data)
			}
		})
	}
}

// A CompareAndSwap is a poll, and one that swapped is progress: a goroutine
// whose CompareAndSwap keeps failing in a loop spins (alone, its World is idle), one
// whose CompareAndSwap succeeded does not.
func TestCompareAndSwapProgress(t *testing.T) {
	var idle []bool
	res := harness.Run(harness.Options{}, func() {
		var x atomic.Int64
		for range 2 { // a loop: the same place twice
			x.CompareAndSwap(1, 2)
		}
		idle = append(idle, harness.Idle())
		x.CompareAndSwap(0, 1)
		idle = append(idle, harness.Idle())
		var p int32
		for range 2 {
			atomic.CompareAndSwapInt32(&p, 1, 2)
		}
		idle = append(idle, harness.Idle())
		atomic.CompareAndSwapInt32(&p, 0, 1)
		idle = append(idle, harness.Idle())
	})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(idle, want) {
		t.Errorf("idle after failed, swapped, failed, swapped: %v, want %v", idle, want)
	}
}
