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
	// keepOne: the first accepted connection's Close is swallowed (the
	// workload fault "keep-accepted").
	keepOne bool

	// h records the resources opened (Call; Return when closed) and the
	// network calls made (Call when made, Return when they return).
	h harness.History
	// returned, if made, is told of each answer the member receives (a
	// Recv on a connection it dialed returns) while watch has an operation
	// open (a leave waits for the
	// member's calls: see awaitCalls). Nothing is sent on it otherwise, so
	// that it adds no happens-before edge between the member's goroutines.
	returned *harness.Chan[struct{}]
	watch    harness.History
	// closes records each Close of a dialed connection (closing).
	closes harness.History
}

// resource is one listener or connection a host opened.
type resource struct {
	kind     string // "listener", "dialed connection", "accepted connection"
	addr     string // the listener's address, or the connection's peer
	local    string // a dialed connection's own address
	pc       uintptr
	openedAt time.Duration
}

// closing records that a dialed connection was closed (its Close called).
type closing struct {
	local string
	at    time.Duration
}

func (r resource) String() string {
	return fmt.Sprintf("%s %s opened at %v by %s", r.kind, r.addr, r.openedAt, siteOf(r.pc))
}

// call is a kind of network call and the program counter of the system's
// call; served: a call of the serving side (Accept, or on an accepted
// connection), which waits for the peers, not for a deadline of its own.
type call struct {
	what   string
	pc     uintptr
	served bool
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
func (h *countingHost) enter(what string, pc uintptr, served bool) func() {
	p := h.h.Call(0, call{what: what, pc: pc, served: served})
	return func() {
		p.Return(nil)
		if what == "Recv" && !served && h.returned != nil && h.watch.Len() > 0 && slices.ContainsFunc(h.watch.Operations(), func(op harness.Operation) bool { return op.Return < 0 }) {
			harness.Select(h.returned.SendCase(struct{}{}), harness.Default())
		}
	}
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

// awaitCalls waits until the member has received k more answers (a Recv
// on a connection it dialed returned), at most limit: a leave aimed at the
// moment right after one of its requests was answered (its join's, its
// pushes', its probes'), when its goroutine goes on with what the answer
// lets it do.
func (h *countingHost) awaitCalls(k int, limit time.Duration) {
	w := h.watch.Call(0, "await")
	defer w.Return(nil)
	harness.Select(h.returned.RecvCase(nil, nil), harness.Default()) // a stale one
	t := harness.NewTimer(limit)
	defer t.Stop()
	for range k {
		if harness.Select(h.returned.RecvCase(nil, nil), t.C.RecvCase(nil, nil)) == 1 {
			return
		}
	}
}

// calling reports whether a call of the calling side (a Dial, or a Send or
// Recv on a dialed connection) is in progress: each runs under a context
// deadline (a push's, a probe's, a join's) that is pending while it does.
func (h *countingHost) calling() bool {
	return slices.ContainsFunc(h.h.Operations(), func(op harness.Operation) bool {
		c, ok := op.Input.(call)
		return ok && op.Return < 0 && !c.served
	})
}

// opened reports whether the host has opened a resource of kind before
// ("dialed connection", "accepted connection").
func (h *countingHost) opened(kind string) bool {
	return slices.ContainsFunc(h.h.Operations(), func(op harness.Operation) bool {
		r, ok := op.Input.(resource)
		return ok && r.kind == kind
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
	defer h.enter("Dial", pc, false)()
	c, err := h.nd.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	leak := h.leakOne && !h.opened("dialed connection")
	res := h.h.Call(0, resource{kind: "dialed connection", addr: addr, local: c.LocalAddr(), pc: pc, openedAt: h.since()})
	return &countingConn{Conn: c, h: h, res: res, leak: leak}, nil
}

type countingListener struct {
	harness.Listener
	h   *countingHost
	res *harness.Pending
}

func (l *countingListener) Accept(ctx context.Context) (harness.Conn, error) {
	pc := callerPC()
	defer l.h.enter("Accept", pc, true)()
	c, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	keep := l.h.keepOne && !l.h.opened("accepted connection")
	return &countingConn{Conn: c, h: l.h, res: l.h.add("accepted connection", c.RemoteAddr(), pc), accepted: true, leak: keep}, nil
}

func (l *countingListener) Close() error {
	l.res.Return(nil)
	return l.Listener.Close()
}

type countingConn struct {
	harness.Conn
	h        *countingHost
	res      *harness.Pending
	leak     bool
	accepted bool // the serving side's end
}

func (c *countingConn) Send(ctx context.Context, msg []byte) error {
	defer c.h.enter("Send", callerPC(), c.accepted)()
	return c.Conn.Send(ctx, msg)
}

func (c *countingConn) Recv(ctx context.Context) ([]byte, error) {
	defer c.h.enter("Recv", callerPC(), c.accepted)()
	return c.Conn.Recv(ctx)
}

func (c *countingConn) Close() error {
	if c.leak {
		return nil // the workload fault "leak-conn": this Close is lost
	}
	c.res.Return(nil)
	if !c.accepted {
		c.h.closes.Call(0, closing{local: c.LocalAddr(), at: c.h.since()}).Return(nil)
	}
	return c.Conn.Close()
}

// halfOpenSlack is how long a member may still hold a connection it
// accepted once the dialer closed its end: the end of stream arrives after
// the link's latency, and serveConn reads it as soon as its handler
// returns.
const halfOpenSlack = 50 * time.Millisecond

// checkHalfOpen checks, once every client's lookups are over and the
// cluster settled, that no live member holds a connection it accepted
// whose dialer closed its end more than halfOpenSlack ago: serveConn reads
// the end of stream and closes its end, so that a member does not gather
// the connections of every client and member that ever called it. Dialers
// whose node crashed since are left out (the end of stream may have been
// lost with it).
func (r *run) checkHalfOpen() {
	type dial struct {
		openedAt, closedAt time.Duration
		closed             bool
	}
	dials := map[string][]dial{} // by the dialer's address
	var hosts []*countingHost
	r.mu.Lock()
	hosts = append(hosts, r.clients...)
	incs := slices.Clone(r.incs)
	r.mu.Unlock()
	for _, inc := range incs {
		if !r.crashed(inc) {
			hosts = append(hosts, inc.host)
		}
	}
	for _, h := range hosts {
		closes := h.closes.Operations()
		for _, op := range h.h.Operations() {
			res, ok := op.Input.(resource)
			if !ok || res.kind != "dialed connection" {
				continue
			}
			d := dial{openedAt: res.openedAt}
			for _, c := range closes {
				if cl := c.Input.(closing); cl.local == res.local && cl.at >= res.openedAt {
					d.closedAt, d.closed = cl.at, true
					break
				}
			}
			dials[res.local] = append(dials[res.local], d)
		}
	}
	now := r.Since()
	for _, inc := range r.live() {
		for _, res := range inc.host.open(true) {
			if res.kind != "accepted connection" {
				continue
			}
			var by *dial // the dialer's latest connection from that address opened by then
			for k, d := range dials[res.addr] {
				if d.openedAt <= res.openedAt && (by == nil || d.openedAt > by.openedAt) {
					by = &dials[res.addr][k]
				}
			}
			if by != nil && by.closed && now-by.closedAt > halfOpenSlack {
				r.violate(harness.Leak, "%s still holds the connection it accepted from %s at %v, which the dialer closed at %v (%v ago): it did not close its end on the end of stream", inc, res.addr, res.openedAt, by.closedAt, now-by.closedAt)
			}
		}
	}
}
