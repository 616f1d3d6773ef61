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

// tokenHidesEdges reports whether the handoff is invisible to the race detector.
const tokenHidesEdges = true
