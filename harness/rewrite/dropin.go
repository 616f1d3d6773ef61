package rewrite

import "go/types"

// dropIns maps each standard package that heddle stands in for to its
// drop-in package and the names the drop-in exports: exactly the concurrency
// API of the standard package. References to these names are rewritten; every
// other name of the standard package stays the standard one.
var dropIns = map[string]dropIn{
	"sync": {path: SyncPath, names: set(
		"Mutex", "RWMutex", "WaitGroup", "Once", "Cond", "NewCond",
		"OnceFunc", "OnceValue", "OnceValues", "Map", "Pool",
	)},
	"sync/atomic": {path: AtomicPath, names: set(
		"AddInt32", "AddInt64", "AddUint32", "AddUint64", "AddUintptr",
		"AndInt32", "AndInt64", "AndUint32", "AndUint64", "AndUintptr",
		"OrInt32", "OrInt64", "OrUint32", "OrUint64", "OrUintptr",
		"CompareAndSwapInt32", "CompareAndSwapInt64", "CompareAndSwapPointer",
		"CompareAndSwapUint32", "CompareAndSwapUint64", "CompareAndSwapUintptr",
		"LoadInt32", "LoadInt64", "LoadPointer", "LoadUint32", "LoadUint64", "LoadUintptr",
		"StoreInt32", "StoreInt64", "StorePointer", "StoreUint32", "StoreUint64", "StoreUintptr",
		"SwapInt32", "SwapInt64", "SwapPointer", "SwapUint32", "SwapUint64", "SwapUintptr",
		"Bool", "Int32", "Int64", "Uint32", "Uint64", "Uintptr", "Pointer", "Value",
	)},
	"time": {path: TimePath, names: set(
		"Sleep", "Now", "Since", "Until", "After", "Tick", "AfterFunc",
		"NewTimer", "NewTicker", "Timer", "Ticker",
	)},
	"context": {path: ContextPath, names: set(
		"WithCancel", "WithCancelCause", "WithDeadline", "WithDeadlineCause",
		"WithTimeout", "WithTimeoutCause", "WithoutCancel", "AfterFunc", "Cause",
	)},
}

type dropIn struct {
	path  string
	names map[string]bool
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// isDropIn reports whether obj is a package-level name of a standard package
// that is rewritten to its drop-in.
func isDropIn(obj types.Object) bool {
	if obj == nil || obj.Pkg() == nil || obj.Parent() != obj.Pkg().Scope() {
		return false
	}
	d, ok := dropIns[obj.Pkg().Path()]
	return ok && d.names[obj.Name()]
}

// inDropInType reports whether obj is a field or method of a type that is
// rewritten to its drop-in (time.Timer.C): the drop-in's own field or method,
// once rewritten, speaks heddle's channels.
func inDropInType(obj types.Object) bool {
	v, ok := obj.(*types.Var)
	if !ok || !v.IsField() || obj.Pkg() == nil {
		return false
	}
	d, ok := dropIns[obj.Pkg().Path()]
	if !ok {
		return false
	}
	// time.Timer and time.Ticker are the only drop-in types with a field.
	return obj.Pkg().Path() == "time" && obj.Name() == "C" && d.names["Timer"]
}
