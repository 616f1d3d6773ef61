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
