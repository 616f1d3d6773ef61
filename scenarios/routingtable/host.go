package routingtable

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// countingHost is the network as one member (or one client) sees it: the
// node's, with every listener and connection it opens recorded, and where
// the system opened it, so that the checks can tell which ones it never
// closed, and every network call in progress, so that they can tell
// whether a goroutine of a member still runs after its Shutdown.
//
// It records in a harness.History, not under a lock: a History takes no
// lock in a deterministic World, so the records add no happens-before edge
// between the member's goroutines. A lock taken at every Send and Recv did:
// it ordered a push handler's read of `this` before the joining
// goroutine's write, and the race detector never reported #247's race.
type countingHost struct {
	nd    *harness.Node
	owner string // "m2#3" (member m2, incarnation 3) or "client1"
	// since returns the time since the run began (the run's clock).
	since func() time.Duration
	// leakOne: the first dialed connection's Close is swallowed (the
	// workload fault "leak-conn").
	leakOne bool

	// h records the resources opened (Call; Return when closed) and the
	// network calls made (Call when made, Return when they return).
	h harness.History
}

// resource is one listener or connection a host opened.
type resource struct {
	kind     string // "listener", "dialed connection", "accepted connection"
	addr     string // the listener's address, or the connection's peer
	pc       uintptr
	openedAt time.Duration
}

func (r resource) String() string {
	return fmt.Sprintf("%s %s opened at %v by %s", r.kind, r.addr, r.openedAt, siteOf(r.pc))
}

// call is a kind of network call and the program counter of the system's
// call.
type call struct {
	what string
	pc   uintptr
}

// callerPC returns the program counter of the system's call of the
// host's, the connection's or the listener's method that calls it.
func callerPC() uintptr {
	var pc [1]uintptr
	runtime.Callers(3, pc[:])
	return pc[0]
}

// siteOf names the function and line of a program counter.
func siteOf(pc uintptr) string {
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	file, fn := f.File, f.Function
	if i := strings.LastIndex(file, "/"); i >= 0 {
		file = file[i+1:]
	}
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		fn = fn[i+1:]
	}
	return fmt.Sprintf("%s (%s:%d)", fn, file, f.Line)
}

func (h *countingHost) add(kind, addr string, pc uintptr) *harness.Pending {
	return h.h.Call(0, resource{kind: kind, addr: addr, pc: pc, openedAt: h.since()})
}

// enter records a network call in progress; the function returned records
// its end.
func (h *countingHost) enter(what string, pc uintptr) func() {
	p := h.h.Call(0, call{what: what, pc: pc})
	return func() { p.Return(nil) }
}

// open returns the resources not closed yet; onlyServer limits them to the
// listener and the accepted connections.
func (h *countingHost) open(onlyServer bool) []resource {
	var out []resource
	for _, op := range h.h.Operations() {
		if r, ok := op.Input.(resource); ok && op.Return < 0 && (!onlyServer || r.kind != "dialed connection") {
			out = append(out, r)
		}
	}
	return out
}

// inFlight returns the network calls in progress, sorted.
func (h *countingHost) inFlight() []string {
	n := map[call]int{}
	for _, op := range h.h.Operations() {
		if c, ok := op.Input.(call); ok && op.Return < 0 {
			n[c]++
		}
	}
	var out []string
	for c, k := range n {
		out = append(out, fmt.Sprintf("%d x %s in %s", k, c.what, siteOf(c.pc)))
	}
	slices.Sort(out)
	return out
}

// dialed reports whether the host has dialed a connection before.
func (h *countingHost) dialed() bool {
	return slices.ContainsFunc(h.h.Operations(), func(op harness.Operation) bool {
		r, ok := op.Input.(resource)
		return ok && r.kind == "dialed connection"
	})
}

// Listen implements harness.Host.
func (h *countingHost) Listen(port int) (harness.Listener, error) {
	l, err := h.nd.Listen(port)
	if err != nil {
		return nil, err
	}
	return &countingListener{Listener: l, h: h, res: h.add("listener", l.Addr(), callerPC())}, nil
}

// Dial implements harness.Host.
func (h *countingHost) Dial(ctx context.Context, addr string) (harness.Conn, error) {
	pc := callerPC()
	defer h.enter("Dial", pc)()
	c, err := h.nd.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	leak := h.leakOne && !h.dialed()
	return &countingConn{Conn: c, h: h, res: h.add("dialed connection", addr, pc), leak: leak}, nil
}

type countingListener struct {
	harness.Listener
	h   *countingHost
	res *harness.Pending
}

func (l *countingListener) Accept(ctx context.Context) (harness.Conn, error) {
	pc := callerPC()
	defer l.h.enter("Accept", pc)()
	c, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, h: l.h, res: l.h.add("accepted connection", c.RemoteAddr(), pc)}, nil
}

func (l *countingListener) Close() error {
	l.res.Return(nil)
	return l.Listener.Close()
}

type countingConn struct {
	harness.Conn
	h    *countingHost
	res  *harness.Pending
	leak bool
}

func (c *countingConn) Send(ctx context.Context, msg []byte) error {
	defer c.h.enter("Send", callerPC())()
	return c.Conn.Send(ctx, msg)
}

func (c *countingConn) Recv(ctx context.Context) ([]byte, error) {
	defer c.h.enter("Recv", callerPC())()
	return c.Conn.Recv(ctx)
}

func (c *countingConn) Close() error {
	if c.leak {
		return nil // the workload fault "leak-conn": this Close is lost
	}
	c.res.Return(nil)
	return c.Conn.Close()
}
