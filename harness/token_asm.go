//go:build amd64 || arm64

package harness

// tokenStore stores v at addr with release ordering, out of the race detector's sight.
//
//go:noescape
func tokenStore(addr *uint32, v uint32)

// tokenLoad loads addr with acquire ordering, out of the race detector's sight.
//
//go:noescape
func tokenLoad(addr *uint32) uint32

// tokenSwap stores v at addr and returns the old value, atomically and out of
// the race detector's sight.
//
//go:noescape
func tokenSwap(addr *uint32, v uint32) uint32

// tokenCAS replaces old with new at addr if it is there, atomically and out
// of the race detector's sight.
//
//go:noescape
func tokenCAS(addr *uint32, old, new uint32) bool

// tokenHidesEdges reports whether the handoff is invisible to the race detector.
const tokenHidesEdges = true
