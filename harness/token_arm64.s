#include "textflag.h"

// See token_amd64.s: the handoff token, invisible to the race detector.
// STLRW is a store-release and LDARW a load-acquire.

// func tokenStore(addr *uint32, v uint32)
TEXT ·tokenStore(SB), NOSPLIT, $0-12
	MOVD addr+0(FP), R0
	MOVW v+8(FP), R1
	STLRW R1, (R0)
	RET

// func tokenLoad(addr *uint32) uint32
TEXT ·tokenLoad(SB), NOSPLIT, $0-12
	MOVD addr+0(FP), R0
	LDARW (R0), R1
	MOVW R1, ret+8(FP)
	RET

// func tokenSwap(addr *uint32, v uint32) uint32
TEXT ·tokenSwap(SB), NOSPLIT, $0-20
	MOVD addr+0(FP), R0
	MOVW v+8(FP), R1
again:
	LDAXRW (R0), R2
	STLXRW R1, (R0), R3
	CBNZ R3, again
	MOVW R2, ret+16(FP)
	RET

// func tokenCAS(addr *uint32, old, new uint32) bool
TEXT ·tokenCAS(SB), NOSPLIT, $0-17
	MOVD addr+0(FP), R0
	MOVW old+8(FP), R1
	MOVW new+12(FP), R2
again:
	LDAXRW (R0), R3
	CMPW R1, R3
	BNE fail
	STLXRW R2, (R0), R4
	CBNZ R4, again
	MOVD $1, R4
	MOVB R4, ret+16(FP)
	RET
fail:
	MOVB ZR, ret+16(FP)
	RET
