package routingtable

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// countingHost is the network as one member (or one client) sees it: the
// node's, with every listener and connection it opens recorded, and where
// the system opened it, so that the checks can tell which ones it never
// closed.
type countingHost struct {
	nd    *harness.Node
	owner string // "m2#3" (member m2, incarnation 3) or "client1"
	// since returns the time since the run began (the run's clock).
	since func() time.Duration
	// leakOne: the first dialed connection's Close is swallowed (the
	// workload fault "leak-conn").
	leakOne bool

	mu  sync.Mutex // never held across a scheduling point
	res []*resource
}

// resource is one listener or connection a host opened.
type resource struct {
	kind     string // "listener", "dialed connection", "accepted connection"
	addr     string // the listener's address, or the connection's peer
	site     string // where the system opened it: function, file:line
	openedAt time.Duration
	closed   bool
}

func (r *resource) String() string {
	return fmt.Sprintf("%s %s opened at %v by %s", r.kind, r.addr, r.openedAt, r.site)
}

// callerSite names the first caller outside this file: the system's code
// that opened a resource.
func callerSite() string {
	pcs := make([]uintptr, 8)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.HasSuffix(f.File, "/scenarios/routingtable/host.go") {
			file := f.File
			if i := strings.LastIndex(file, "/"); i >= 0 {
				file = file[i+1:]
			}
			fn := f.Function
			if i := strings.LastIndex(fn, "/"); i >= 0 {
				fn = fn[i+1:]
			}
			return fmt.Sprintf("%s (%s:%d)", fn, file, f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

func (h *countingHost) add(kind, addr string) *resource {
	r := &resource{kind: kind, addr: addr, site: callerSite(), openedAt: h.since()}
	h.mu.Lock()
	h.res = append(h.res, r)
	h.mu.Unlock()
	return r
}

// open returns the resources not closed yet; onlyServer limits them to the
// listener and the accepted connections.
func (h *countingHost) open(onlyServer bool) []*resource {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*resource
	for _, r := range h.res {
		if !r.closed && (!onlyServer || r.kind != "dialed connection") {
			out = append(out, r)
		}
	}
	return out
}

// Listen implements harness.Host.
func (h *countingHost) Listen(port int) (harness.Listener, error) {
	l, err := h.nd.Listen(port)
	if err != nil {
		return nil, err
	}
	return &countingListener{Listener: l, h: h, res: h.add("listener", l.Addr())}, nil
}

// Dial implements harness.Host.
func (h *countingHost) Dial(ctx context.Context, addr string) (harness.Conn, error) {
	c, err := h.nd.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	res := h.add("dialed connection", addr)
	h.mu.Lock()
	leak := h.leakOne
	h.leakOne = false
	h.mu.Unlock()
	return &countingConn{Conn: c, h: h, res: res, leak: leak}, nil
}

type countingListener struct {
	harness.Listener
	h   *countingHost
	res *resource
}

func (l *countingListener) Accept(ctx context.Context) (harness.Conn, error) {
	c, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, h: l.h, res: l.h.add("accepted connection", c.RemoteAddr())}, nil
}

func (l *countingListener) Close() error {
	l.h.closed(l.res)
	return l.Listener.Close()
}

type countingConn struct {
	harness.Conn
	h    *countingHost
	res  *resource
	leak bool
}

func (c *countingConn) Close() error {
	if c.leak {
		return nil // the workload fault "leak-conn": this Close is lost
	}
	c.h.closed(c.res)
	return c.Conn.Close()
}

func (h *countingHost) closed(r *resource) {
	h.mu.Lock()
	r.closed = true
	h.mu.Unlock()
}
