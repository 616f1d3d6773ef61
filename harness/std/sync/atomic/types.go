package atomic

import (
	"sync/atomic"

	"github.com/heddle-go/heddle/harness/std/internal/det"
)

// Int32 is an atomic int32, as atomic.Int32, whose every operation is a
// scheduling point inside a deterministic World. The zero value is zero; a
// Int32 must not be copied after first use.
type Int32 struct {
	v atomic.Int32
}

// Load atomically loads the value.
func (x *Int32) Load() int32 {
	det.Poll()
	return x.v.Load()
}

// Store atomically stores val.
func (x *Int32) Store(val int32) {
	det.Progress()
	x.v.Store(val)
}

// Swap atomically stores new and returns the old value.
func (x *Int32) Swap(new int32) (old int32) {
	det.Progress()
	return x.v.Swap(new)
}

// CompareAndSwap atomically stores new if the value is old, and reports
// whether it did.
func (x *Int32) CompareAndSwap(old, new int32) (swapped bool) {
	det.Poll()
	return det.Swapped(x.v.CompareAndSwap(old, new))
}

// Add atomically adds delta and returns the new value.
func (x *Int32) Add(delta int32) (new int32) {
	det.Progress()
	return x.v.Add(delta)
}

// And atomically ands the value with mask and returns the old value.
func (x *Int32) And(mask int32) (old int32) {
	det.Progress()
	return x.v.And(mask)
}

// Or atomically ors the value with mask and returns the old value.
func (x *Int32) Or(mask int32) (old int32) {
	det.Progress()
	return x.v.Or(mask)
}

// Int64 is an atomic int64, as atomic.Int64, whose every operation is a
// scheduling point inside a deterministic World. The zero value is zero; a
// Int64 must not be copied after first use.
type Int64 struct {
	v atomic.Int64
}

// Load atomically loads the value.
func (x *Int64) Load() int64 {
	det.Poll()
	return x.v.Load()
}

// Store atomically stores val.
func (x *Int64) Store(val int64) {
	det.Progress()
	x.v.Store(val)
}

// Swap atomically stores new and returns the old value.
func (x *Int64) Swap(new int64) (old int64) {
	det.Progress()
	return x.v.Swap(new)
}

// CompareAndSwap atomically stores new if the value is old, and reports
// whether it did.
func (x *Int64) CompareAndSwap(old, new int64) (swapped bool) {
	det.Poll()
	return det.Swapped(x.v.CompareAndSwap(old, new))
}

// Add atomically adds delta and returns the new value.
func (x *Int64) Add(delta int64) (new int64) {
	det.Progress()
	return x.v.Add(delta)
}

// And atomically ands the value with mask and returns the old value.
func (x *Int64) And(mask int64) (old int64) {
	det.Progress()
	return x.v.And(mask)
}

// Or atomically ors the value with mask and returns the old value.
func (x *Int64) Or(mask int64) (old int64) {
	det.Progress()
	return x.v.Or(mask)
}

// Uint32 is an atomic uint32, as atomic.Uint32, whose every operation is a
// scheduling point inside a deterministic World. The zero value is zero; a
// Uint32 must not be copied after first use.
type Uint32 struct {
	v atomic.Uint32
}

// Load atomically loads the value.
func (x *Uint32) Load() uint32 {
	det.Poll()
	return x.v.Load()
}

// Store atomically stores val.
func (x *Uint32) Store(val uint32) {
	det.Progress()
	x.v.Store(val)
}

// Swap atomically stores new and returns the old value.
func (x *Uint32) Swap(new uint32) (old uint32) {
	det.Progress()
	return x.v.Swap(new)
}

// CompareAndSwap atomically stores new if the value is old, and reports
// whether it did.
func (x *Uint32) CompareAndSwap(old, new uint32) (swapped bool) {
	det.Poll()
	return det.Swapped(x.v.CompareAndSwap(old, new))
}

// Add atomically adds delta and returns the new value.
func (x *Uint32) Add(delta uint32) (new uint32) {
	det.Progress()
	return x.v.Add(delta)
}

// And atomically ands the value with mask and returns the old value.
func (x *Uint32) And(mask uint32) (old uint32) {
	det.Progress()
	return x.v.And(mask)
}

// Or atomically ors the value with mask and returns the old value.
func (x *Uint32) Or(mask uint32) (old uint32) {
	det.Progress()
	return x.v.Or(mask)
}

// Uint64 is an atomic uint64, as atomic.Uint64, whose every operation is a
// scheduling point inside a deterministic World. The zero value is zero; a
// Uint64 must not be copied after first use.
type Uint64 struct {
	v atomic.Uint64
}

// Load atomically loads the value.
func (x *Uint64) Load() uint64 {
	det.Poll()
	return x.v.Load()
}

// Store atomically stores val.
func (x *Uint64) Store(val uint64) {
	det.Progress()
	x.v.Store(val)
}

// Swap atomically stores new and returns the old value.
func (x *Uint64) Swap(new uint64) (old uint64) {
	det.Progress()
	return x.v.Swap(new)
}

// CompareAndSwap atomically stores new if the value is old, and reports
// whether it did.
func (x *Uint64) CompareAndSwap(old, new uint64) (swapped bool) {
	det.Poll()
	return det.Swapped(x.v.CompareAndSwap(old, new))
}

// Add atomically adds delta and returns the new value.
func (x *Uint64) Add(delta uint64) (new uint64) {
	det.Progress()
	return x.v.Add(delta)
}

// And atomically ands the value with mask and returns the old value.
func (x *Uint64) And(mask uint64) (old uint64) {
	det.Progress()
	return x.v.And(mask)
}

// Or atomically ors the value with mask and returns the old value.
func (x *Uint64) Or(mask uint64) (old uint64) {
	det.Progress()
	return x.v.Or(mask)
}

// Uintptr is an atomic uintptr, as atomic.Uintptr, whose every operation is a
// scheduling point inside a deterministic World. The zero value is zero; a
// Uintptr must not be copied after first use.
type Uintptr struct {
	v atomic.Uintptr
}

// Load atomically loads the value.
func (x *Uintptr) Load() uintptr {
	det.Poll()
	return x.v.Load()
}

// Store atomically stores val.
func (x *Uintptr) Store(val uintptr) {
	det.Progress()
	x.v.Store(val)
}

// Swap atomically stores new and returns the old value.
func (x *Uintptr) Swap(new uintptr) (old uintptr) {
	det.Progress()
	return x.v.Swap(new)
}

// CompareAndSwap atomically stores new if the value is old, and reports
// whether it did.
func (x *Uintptr) CompareAndSwap(old, new uintptr) (swapped bool) {
	det.Poll()
	return det.Swapped(x.v.CompareAndSwap(old, new))
}

// Add atomically adds delta and returns the new value.
func (x *Uintptr) Add(delta uintptr) (new uintptr) {
	det.Progress()
	return x.v.Add(delta)
}

// And atomically ands the value with mask and returns the old value.
func (x *Uintptr) And(mask uintptr) (old uintptr) {
	det.Progress()
	return x.v.And(mask)
}

// Or atomically ors the value with mask and returns the old value.
func (x *Uintptr) Or(mask uintptr) (old uintptr) {
	det.Progress()
	return x.v.Or(mask)
}

// Bool is an atomic boolean, as atomic.Bool, whose every operation is a scheduling point inside a
// deterministic World. The zero value is false; a Bool must not be copied after first use.
type Bool struct {
	v atomic.Bool
}

// Load atomically loads the value.
func (x *Bool) Load() bool {
	det.Poll()
	return x.v.Load()
}

// Store atomically stores val.
func (x *Bool) Store(val bool) {
	det.Progress()
	x.v.Store(val)
}

// Swap atomically stores new and returns the old value.
func (x *Bool) Swap(new bool) (old bool) {
	det.Progress()
	return x.v.Swap(new)
}

// CompareAndSwap atomically stores new if the value is old, and reports
// whether it did.
func (x *Bool) CompareAndSwap(old, new bool) (swapped bool) {
	det.Poll()
	return det.Swapped(x.v.CompareAndSwap(old, new))
}

// Pointer is an atomic pointer to a T, as atomic.Pointer, whose every operation is a scheduling point inside a
// deterministic World. The zero value is nil; a Pointer must not be copied after first use.
type Pointer[T any] struct {
	v atomic.Pointer[T]
}

// Load atomically loads the value.
func (x *Pointer[T]) Load() *T {
	det.Poll()
	return x.v.Load()
}

// Store atomically stores val.
func (x *Pointer[T]) Store(val *T) {
	det.Progress()
	x.v.Store(val)
}

// Swap atomically stores new and returns the old value.
func (x *Pointer[T]) Swap(new *T) (old *T) {
	det.Progress()
	return x.v.Swap(new)
}

// CompareAndSwap atomically stores new if the value is old, and reports
// whether it did.
func (x *Pointer[T]) CompareAndSwap(old, new *T) (swapped bool) {
	det.Poll()
	return det.Swapped(x.v.CompareAndSwap(old, new))
}

// Value is an atomically loaded and stored value of one consistent type, as atomic.Value (a Store of nil, or of a type that differs from the first Store's, panics), whose every operation is a scheduling point inside a
// deterministic World. The zero value holds nothing (Load returns nil); a Value must not be copied after first use.
type Value struct {
	v atomic.Value
}

// Load atomically loads the value.
func (x *Value) Load() any {
	det.Poll()
	return x.v.Load()
}

// Store atomically stores val.
func (x *Value) Store(val any) {
	det.Progress()
	x.v.Store(val)
}

// Swap atomically stores new and returns the old value.
func (x *Value) Swap(new any) (old any) {
	det.Progress()
	return x.v.Swap(new)
}

// CompareAndSwap atomically stores new if the value is old, and reports
// whether it did.
func (x *Value) CompareAndSwap(old, new any) (swapped bool) {
	det.Poll()
	return det.Swapped(x.v.CompareAndSwap(old, new))
}
