package harness

import (
	"sync"
	"time"
)

// History records the operations that clients of a system perform, for a
// linearizability check after the run (package checkers). The zero value is
// an empty history ready to use:
//
//	var h harness.History
//	p := h.Call(client, input) // just before the client invokes the operation
//	out, err := system.Do(input)
//	if err != nil {            // timeout, crash: it may or may not have happened
//		p.Unknown()
//	} else {
//		p.Return(out)
//	}
//	...
//	ops := h.Operations()      // after Run returns
//
// Recording is never a scheduling point: it does not change the schedule or
// the trace of a deterministic run.
//
// In deterministic mode the history is shared by the World's goroutines
// exactly like the scheduler's own state, so it adds no happens-before edge
// between them: recording hides no data race of the program. In real mode
// (and with no World active) a sync.Mutex guards the history; that mutex does
// add happens-before edges between the goroutines that record, which can hide
// a race between accesses the program makes just before one record and just
// after another.
//
// A History belongs to one run: record into it from one World (or from
// none), not from several.
type History struct {
	mu     sync.Mutex // real mode only
	ops    []Operation
	base   time.Time // real mode: the origin of CallTime and ReturnTime
	has    bool      // base is set
	ownSeq int64     // the event sequence when no World is active
}

// Operation is one recorded operation of a History.
type Operation struct {
	// Client identifies who performed the operation (a client, a session):
	// a client performs one operation at a time.
	Client int
	// Input describes the call; Output what it returned (nil when Unknown).
	Input, Output any
	// Call and Return order the operation's events on one sequence that is
	// strictly increasing across every call and return recorded during the
	// run, in every History: Call < Return, and a.Return < b.Call exactly
	// when a returned before b was called, even when many events share one
	// instant of virtual time. Return is -1 for an operation that never
	// returned.
	Call, Return int64
	// CallTime and ReturnTime are virtual time since the World started in
	// deterministic mode, and wall-clock time since recording started (the
	// start of a Real World, or the history's first record) otherwise.
	// ReturnTime is when the client learned the outcome or gave up on it;
	// -1 for an operation that never returned.
	CallTime, ReturnTime time.Duration
	// Unknown marks an operation whose outcome the client does not know (a
	// timeout, a crash, a call still pending when the run ended): it may or
	// may not have taken effect, at any moment after its call.
	Unknown bool
}

// Returned reports whether the client saw the operation return: with an
// output, or with an unknown outcome (Unknown). It is false for a call
// that was still pending when the history was read.
func (op Operation) Returned() bool { return op.Return >= 0 }

// Pending is an operation that has been called and not yet returned.
type Pending struct {
	h *History
	i int
}

// nextRealSeq returns the next number of the event sequence outside
// deterministic mode: the Real World's, shared by all its histories, or,
// with no World at all, the history's own. h.mu is held.
func (h *History) nextRealSeq() int64 {
	if w := activeWorld(); w != nil {
		return w.realOpSeq.Add(1)
	}
	h.ownSeq++
	return h.ownSeq
}

// deterministic returns the active World if it runs in deterministic mode.
func deterministic() *world {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return nil
	}
	return w
}

// Call records the call of an operation by client with the given input, and
// returns the pending operation, to be completed by Return or Unknown.
func (h *History) Call(client int, input any) *Pending {
	if w := deterministic(); w != nil {
		return h.callDet(w, client, input)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.add(client, input, h.nextRealSeq(), h.sinceBase())
}

//go:norace
func (h *History) callDet(w *world, client int, input any) *Pending {
	return h.add(client, input, nextDetSeq(w), w.now)
}

// nextDetSeq returns the next number of the World's event sequence: it
// starts from 1 in each World, so the same seed records the same numbers.
//
//go:norace
func nextDetSeq(w *world) int64 {
	w.opSeq++
	return w.opSeq
}

//go:norace
func (h *History) add(client int, input any, seq int64, at time.Duration) *Pending {
	h.ops = append(h.ops, Operation{Client: client, Input: input, Call: seq, Return: -1, CallTime: at, ReturnTime: -1})
	return &Pending{h: h, i: len(h.ops) - 1}
}

// sinceBase returns the real-mode timestamp of now; h.mu is held.
func (h *History) sinceBase() time.Duration {
	if !h.has {
		h.has = true
		h.base = time.Now()
		if w := activeWorld(); w != nil {
			h.base = worldStart(w)
		}
	}
	return time.Since(h.base)
}

//go:norace
func worldStart(w *world) time.Time { return w.start }

// Return records that the operation returned output. Only the first Return
// or Unknown of an operation counts.
func (p *Pending) Return(output any) { p.finish(output, false) }

// Unknown records that the client gave up on the operation without learning
// its outcome (a timeout, a lost connection, a crash): it may or may not
// have taken effect. Only the first Return or Unknown of an operation
// counts.
func (p *Pending) Unknown() { p.finish(nil, true) }

func (p *Pending) finish(output any, unknown bool) {
	if w := deterministic(); w != nil {
		p.finishDet(w, output, unknown)
		return
	}
	h := p.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.complete(p.i, output, unknown, h.nextRealSeq(), h.sinceBase())
}

//go:norace
func (p *Pending) finishDet(w *world, output any, unknown bool) {
	p.h.complete(p.i, output, unknown, nextDetSeq(w), w.now)
}

//go:norace
func (h *History) complete(i int, output any, unknown bool, seq int64, at time.Duration) {
	op := &h.ops[i]
	if op.Return >= 0 {
		return
	}
	op.Output, op.Unknown, op.Return, op.ReturnTime = output, unknown, seq, at
}

// Operations returns a copy of the operations recorded so far, in the order
// of their calls. Read it after Run returns. An operation still pending is
// returned with Unknown set and Return and ReturnTime -1.
func (h *History) Operations() []Operation {
	if w := deterministic(); w != nil {
		return h.snapshot()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snapshot()
}

//go:norace
func (h *History) snapshot() []Operation {
	out := make([]Operation, 0, len(h.ops))
	for _, op := range h.ops {
		if op.Return < 0 {
			op.Unknown = true
		}
		out = append(out, op)
	}
	return out
}

// Len returns the number of operations recorded so far.
func (h *History) Len() int {
	if w := deterministic(); w != nil {
		return h.length()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.length()
}

//go:norace
func (h *History) length() int { return len(h.ops) }
