// Package atomic stands in for the standard library's package sync/atomic in
// code that heddle's rewriter has rewritten. It exports every function and
// type of sync/atomic with the same signatures and semantics, and the
// rewriter points references to sync/atomic here.
//
// Each operation is the real sync/atomic operation, so the race detector
// gets the happens-before edges of Go's memory model from it exactly as in
// an ordinary run. Inside a deterministic World (harness.Run) each operation
// is in addition a scheduling point, just before it: another goroutine may
// run between two atomic operations, and a goroutine that spins on an atomic
// flag lets the goroutine that will set it run, instead of holding the World
// forever. Loads are polls and the other operations progress (see
// harness.Poll and harness.Progress); a CompareAndSwap is a poll, and counts
// as progress once it succeeded (harness.NoteProgress, no second scheduling
// point), so a loop that retries a failing one spins while one that swapped
// does not. Outside a World there is no scheduling point and the cost is one
// check of whether a World runs.
package atomic

import (
	"sync/atomic"
	"unsafe"

	"github.com/heddle-go/heddle/harness/std/internal/det"
)

// AddInt32 atomically adds delta to *addr and returns the new value, as
// atomic.AddInt32; inside a World it is a scheduling point first.
func AddInt32(addr *int32, delta int32) (new int32) {
	det.Progress()
	return atomic.AddInt32(addr, delta)
}

// AndInt32 atomically ands *addr with mask and returns the old value, as
// atomic.AndInt32; inside a World it is a scheduling point first.
func AndInt32(addr *int32, mask int32) (old int32) {
	det.Progress()
	return atomic.AndInt32(addr, mask)
}

// OrInt32 atomically ors *addr with mask and returns the old value, as
// atomic.OrInt32; inside a World it is a scheduling point first.
func OrInt32(addr *int32, mask int32) (old int32) {
	det.Progress()
	return atomic.OrInt32(addr, mask)
}

// AddInt64 atomically adds delta to *addr and returns the new value, as
// atomic.AddInt64; inside a World it is a scheduling point first.
func AddInt64(addr *int64, delta int64) (new int64) {
	det.Progress()
	return atomic.AddInt64(addr, delta)
}

// AndInt64 atomically ands *addr with mask and returns the old value, as
// atomic.AndInt64; inside a World it is a scheduling point first.
func AndInt64(addr *int64, mask int64) (old int64) {
	det.Progress()
	return atomic.AndInt64(addr, mask)
}

// OrInt64 atomically ors *addr with mask and returns the old value, as
// atomic.OrInt64; inside a World it is a scheduling point first.
func OrInt64(addr *int64, mask int64) (old int64) {
	det.Progress()
	return atomic.OrInt64(addr, mask)
}

// AddUint32 atomically adds delta to *addr and returns the new value, as
// atomic.AddUint32; inside a World it is a scheduling point first.
func AddUint32(addr *uint32, delta uint32) (new uint32) {
	det.Progress()
	return atomic.AddUint32(addr, delta)
}

// AndUint32 atomically ands *addr with mask and returns the old value, as
// atomic.AndUint32; inside a World it is a scheduling point first.
func AndUint32(addr *uint32, mask uint32) (old uint32) {
	det.Progress()
	return atomic.AndUint32(addr, mask)
}

// OrUint32 atomically ors *addr with mask and returns the old value, as
// atomic.OrUint32; inside a World it is a scheduling point first.
func OrUint32(addr *uint32, mask uint32) (old uint32) {
	det.Progress()
	return atomic.OrUint32(addr, mask)
}

// AddUint64 atomically adds delta to *addr and returns the new value, as
// atomic.AddUint64; inside a World it is a scheduling point first.
func AddUint64(addr *uint64, delta uint64) (new uint64) {
	det.Progress()
	return atomic.AddUint64(addr, delta)
}

// AndUint64 atomically ands *addr with mask and returns the old value, as
// atomic.AndUint64; inside a World it is a scheduling point first.
func AndUint64(addr *uint64, mask uint64) (old uint64) {
	det.Progress()
	return atomic.AndUint64(addr, mask)
}

// OrUint64 atomically ors *addr with mask and returns the old value, as
// atomic.OrUint64; inside a World it is a scheduling point first.
func OrUint64(addr *uint64, mask uint64) (old uint64) {
	det.Progress()
	return atomic.OrUint64(addr, mask)
}

// AddUintptr atomically adds delta to *addr and returns the new value, as
// atomic.AddUintptr; inside a World it is a scheduling point first.
func AddUintptr(addr *uintptr, delta uintptr) (new uintptr) {
	det.Progress()
	return atomic.AddUintptr(addr, delta)
}

// AndUintptr atomically ands *addr with mask and returns the old value, as
// atomic.AndUintptr; inside a World it is a scheduling point first.
func AndUintptr(addr *uintptr, mask uintptr) (old uintptr) {
	det.Progress()
	return atomic.AndUintptr(addr, mask)
}

// OrUintptr atomically ors *addr with mask and returns the old value, as
// atomic.OrUintptr; inside a World it is a scheduling point first.
func OrUintptr(addr *uintptr, mask uintptr) (old uintptr) {
	det.Progress()
	return atomic.OrUintptr(addr, mask)
}

// CompareAndSwapInt32 atomically sets *addr to new if it holds old, and
// reports whether it did, as atomic.CompareAndSwapInt32; inside a World it is
// a scheduling point (a poll) first.
func CompareAndSwapInt32(addr *int32, old, new int32) (swapped bool) {
	det.Poll()
	return det.Swapped(atomic.CompareAndSwapInt32(addr, old, new))
}

// LoadInt32 atomically loads *addr, as atomic.LoadInt32; inside a World it is a
// scheduling point (a poll) first.
func LoadInt32(addr *int32) (val int32) {
	det.Poll()
	return atomic.LoadInt32(addr)
}

// StoreInt32 atomically stores val into *addr, as atomic.StoreInt32; inside a
// World it is a scheduling point first.
func StoreInt32(addr *int32, val int32) {
	det.Progress()
	atomic.StoreInt32(addr, val)
}

// SwapInt32 atomically stores new into *addr and returns the old value, as
// atomic.SwapInt32; inside a World it is a scheduling point first.
func SwapInt32(addr *int32, new int32) (old int32) {
	det.Progress()
	return atomic.SwapInt32(addr, new)
}

// CompareAndSwapInt64 atomically sets *addr to new if it holds old, and
// reports whether it did, as atomic.CompareAndSwapInt64; inside a World it is
// a scheduling point (a poll) first.
func CompareAndSwapInt64(addr *int64, old, new int64) (swapped bool) {
	det.Poll()
	return det.Swapped(atomic.CompareAndSwapInt64(addr, old, new))
}

// LoadInt64 atomically loads *addr, as atomic.LoadInt64; inside a World it is a
// scheduling point (a poll) first.
func LoadInt64(addr *int64) (val int64) {
	det.Poll()
	return atomic.LoadInt64(addr)
}

// StoreInt64 atomically stores val into *addr, as atomic.StoreInt64; inside a
// World it is a scheduling point first.
func StoreInt64(addr *int64, val int64) {
	det.Progress()
	atomic.StoreInt64(addr, val)
}

// SwapInt64 atomically stores new into *addr and returns the old value, as
// atomic.SwapInt64; inside a World it is a scheduling point first.
func SwapInt64(addr *int64, new int64) (old int64) {
	det.Progress()
	return atomic.SwapInt64(addr, new)
}

// CompareAndSwapUint32 atomically sets *addr to new if it holds old, and
// reports whether it did, as atomic.CompareAndSwapUint32; inside a World it is
// a scheduling point (a poll) first.
func CompareAndSwapUint32(addr *uint32, old, new uint32) (swapped bool) {
	det.Poll()
	return det.Swapped(atomic.CompareAndSwapUint32(addr, old, new))
}

// LoadUint32 atomically loads *addr, as atomic.LoadUint32; inside a World it is a
// scheduling point (a poll) first.
func LoadUint32(addr *uint32) (val uint32) {
	det.Poll()
	return atomic.LoadUint32(addr)
}

// StoreUint32 atomically stores val into *addr, as atomic.StoreUint32; inside a
// World it is a scheduling point first.
func StoreUint32(addr *uint32, val uint32) {
	det.Progress()
	atomic.StoreUint32(addr, val)
}

// SwapUint32 atomically stores new into *addr and returns the old value, as
// atomic.SwapUint32; inside a World it is a scheduling point first.
func SwapUint32(addr *uint32, new uint32) (old uint32) {
	det.Progress()
	return atomic.SwapUint32(addr, new)
}

// CompareAndSwapUint64 atomically sets *addr to new if it holds old, and
// reports whether it did, as atomic.CompareAndSwapUint64; inside a World it is
// a scheduling point (a poll) first.
func CompareAndSwapUint64(addr *uint64, old, new uint64) (swapped bool) {
	det.Poll()
	return det.Swapped(atomic.CompareAndSwapUint64(addr, old, new))
}

// LoadUint64 atomically loads *addr, as atomic.LoadUint64; inside a World it is a
// scheduling point (a poll) first.
func LoadUint64(addr *uint64) (val uint64) {
	det.Poll()
	return atomic.LoadUint64(addr)
}

// StoreUint64 atomically stores val into *addr, as atomic.StoreUint64; inside a
// World it is a scheduling point first.
func StoreUint64(addr *uint64, val uint64) {
	det.Progress()
	atomic.StoreUint64(addr, val)
}

// SwapUint64 atomically stores new into *addr and returns the old value, as
// atomic.SwapUint64; inside a World it is a scheduling point first.
func SwapUint64(addr *uint64, new uint64) (old uint64) {
	det.Progress()
	return atomic.SwapUint64(addr, new)
}

// CompareAndSwapUintptr atomically sets *addr to new if it holds old, and
// reports whether it did, as atomic.CompareAndSwapUintptr; inside a World it is
// a scheduling point (a poll) first.
func CompareAndSwapUintptr(addr *uintptr, old, new uintptr) (swapped bool) {
	det.Poll()
	return det.Swapped(atomic.CompareAndSwapUintptr(addr, old, new))
}

// LoadUintptr atomically loads *addr, as atomic.LoadUintptr; inside a World it is a
// scheduling point (a poll) first.
func LoadUintptr(addr *uintptr) (val uintptr) {
	det.Poll()
	return atomic.LoadUintptr(addr)
}

// StoreUintptr atomically stores val into *addr, as atomic.StoreUintptr; inside a
// World it is a scheduling point first.
func StoreUintptr(addr *uintptr, val uintptr) {
	det.Progress()
	atomic.StoreUintptr(addr, val)
}

// SwapUintptr atomically stores new into *addr and returns the old value, as
// atomic.SwapUintptr; inside a World it is a scheduling point first.
func SwapUintptr(addr *uintptr, new uintptr) (old uintptr) {
	det.Progress()
	return atomic.SwapUintptr(addr, new)
}

// CompareAndSwapPointer atomically sets *addr to new if it holds old, and
// reports whether it did, as atomic.CompareAndSwapPointer; inside a World it is
// a scheduling point (a poll) first.
func CompareAndSwapPointer(addr *unsafe.Pointer, old, new unsafe.Pointer) (swapped bool) {
	det.Poll()
	return det.Swapped(atomic.CompareAndSwapPointer(addr, old, new))
}

// LoadPointer atomically loads *addr, as atomic.LoadPointer; inside a World it is a
// scheduling point (a poll) first.
func LoadPointer(addr *unsafe.Pointer) (val unsafe.Pointer) {
	det.Poll()
	return atomic.LoadPointer(addr)
}

// StorePointer atomically stores val into *addr, as atomic.StorePointer; inside a
// World it is a scheduling point first.
func StorePointer(addr *unsafe.Pointer, val unsafe.Pointer) {
	det.Progress()
	atomic.StorePointer(addr, val)
}

// SwapPointer atomically stores new into *addr and returns the old value, as
// atomic.SwapPointer; inside a World it is a scheduling point first.
func SwapPointer(addr *unsafe.Pointer, new unsafe.Pointer) (old unsafe.Pointer) {
	det.Progress()
	return atomic.SwapPointer(addr, new)
}
