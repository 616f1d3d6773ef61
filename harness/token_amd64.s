#include "textflag.h"

// The scheduler's handoff token. These functions are written in assembly so that
// the race detector does not see them: a handoff between two goroutines must not
// become a happens-before edge, or every data race would be hidden. On amd64 an
// XCHG is a full barrier (so also a store-release) and a plain MOV load is a
// load-acquire.

// func tokenStore(addr *uint32, v uint32)
TEXT ·tokenStore(SB), NOSPLIT, $0-12
	MOVQ addr+0(FP), AX
	MOVL v+8(FP), BX
	XCHGL BX, 0(AX)
	RET

// func tokenLoad(addr *uint32) uint32
TEXT ·tokenLoad(SB), NOSPLIT, $0-12
	MOVQ addr+0(FP), AX
	MOVL 0(AX), BX
	MOVL BX, ret+8(FP)
	RET

// func tokenSwap(addr *uint32, v uint32) uint32
TEXT ·tokenSwap(SB), NOSPLIT, $0-20
	MOVQ addr+0(FP), AX
	MOVL v+8(FP), BX
	XCHGL BX, 0(AX)
	MOVL BX, ret+16(FP)
	RET

// func tokenCAS(addr *uint32, old, new uint32) bool
TEXT ·tokenCAS(SB), NOSPLIT, $0-17
	MOVQ addr+0(FP), BX
	MOVL old+8(FP), AX
	MOVL new+12(FP), CX
	LOCK
	CMPXCHGL CX, 0(BX)
	SETEQ ret+16(FP)
	RET
