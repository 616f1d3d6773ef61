//go:build !amd64 && !arm64

package harness

import "sync/atomic"

// On other architectures the handoff falls back to sync/atomic. The race
// detector sees those operations as synchronisation, so in deterministic mode
// under -race it reports no data race between goroutines that hand over
// control: races are hidden, never invented. Deterministic scheduling itself
// is unaffected.

func tokenStore(addr *uint32, v uint32) { atomic.StoreUint32(addr, v) }

func tokenLoad(addr *uint32) uint32 { return atomic.LoadUint32(addr) }

func tokenSwap(addr *uint32, v uint32) uint32 { return atomic.SwapUint32(addr, v) }

func tokenCAS(addr *uint32, old, new uint32) bool { return atomic.CompareAndSwapUint32(addr, old, new) }

// tokenHidesEdges reports whether the handoff is invisible to the race detector.
const tokenHidesEdges = false
