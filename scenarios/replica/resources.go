package replica

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
)

// Every connection and listener the servers and clients open goes through a
// trackedHost, which records it in a ledger (a harness.History: one
// operation per resource, called when it opens and returned when it is
// closed). A History records without synchronising, so the ledger adds no
// happens-before edge between the goroutines it watches and hides no data
// race, and it is never a scheduling point.

// resource is a ledger entry: what was opened, by which incarnation of
// which node.
type resource struct {
	Node string
	Inc  int    // the node's incarnation (1 for its first start)
	What string // "dial r2:34801", "accept r1:34801<-client1:3", "listen r1:34801"
}

// trackedHost is a harness.Host whose connections and listeners are in
// the ledger. drop makes Close of a connection do nothing (the "leak-conn"
// fault: code that forgets to close).
type trackedHost struct {
	host   harness.Host
	ledger *harness.History
	node   string
	inc    int
	drop   bool
	// twin makes every dial to a replica server dial a second connection
	// that is held, unused, until the first is closed (the "twin-dial"
	// fault: a server that holds two connections to one peer).
	twin bool
	// noRedial makes every dial to meta after the first fail at once (the
	// "no-redial" fault: a server that never reconnects to meta).
	noRedial bool
	// peerDeadline makes the first dial to a replica server arm a
	// deadline of a second that nothing cancels (the "peer-deadline"
	// fault: a dial that leaves its deadline behind).
	peerDeadline bool
	mu           harness.Mutex // guards metaDials and peerDials (the faults only)
	metaDials    int
	peerDials    int
	// listening, if not nil, is called once a Listen succeeded (meta's
	// host: the cluster starts its replica servers once meta listens).
	listening func()
	// dialed, if not nil, is called with the address once a Dial
	// succeeded (a client closed as its session connects).
	dialed func(addr string)
}

var _ harness.Host = (*trackedHost)(nil)

// Dial implements harness.Host.
func (h *trackedHost) Dial(ctx context.Context, addr string) (harness.Conn, error) {
	if h.noRedial && strings.HasPrefix(addr, "meta:") {
		h.mu.Lock()
		h.metaDials++
		n := h.metaDials
		h.mu.Unlock()
		if n > 1 {
			return nil, fmt.Errorf("dial %s: refused by the no-redial fault", addr)
		}
	}
	if h.peerDeadline && !strings.HasPrefix(addr, "meta:") {
		h.mu.Lock()
		h.peerDials++
		first := h.peerDials == 1
		h.mu.Unlock()
		if first {
			// A deadline nobody cancels: its cancel is dropped.
			_, _ = harness.WithTimeout(context.Background(), time.Second)
		}
	}
	c, err := h.host.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	tc := h.track(c, "dial "+addr).(*trackedConn)
	if h.twin && !strings.HasPrefix(addr, "meta:") {
		if c2, err := h.host.Dial(ctx, addr); err == nil {
			tc.twin = h.track(c2, "dial "+addr)
		}
	}
	if h.dialed != nil {
		h.dialed(addr)
	}
	return tc, nil
}

// Listen implements harness.Host.
func (h *trackedHost) Listen(port int) (harness.Listener, error) {
	ln, err := h.host.Listen(port)
	if err != nil {
		return nil, err
	}
	p := h.ledger.Call(0, resource{Node: h.node, Inc: h.inc, What: "listen " + ln.Addr()})
	if h.listening != nil {
		h.listening()
	}
	return &trackedListener{Listener: ln, h: h, p: p}, nil
}

func (h *trackedHost) track(c harness.Conn, what string) harness.Conn {
	p := h.ledger.Call(0, resource{Node: h.node, Inc: h.inc, What: what})
	return &trackedConn{Conn: c, p: p, drop: h.drop}
}

// trackedConn records its first Close in the ledger. Its fields never
// change after it is made: closing it from two goroutines is no race of
// the wrapper's own.
type trackedConn struct {
	harness.Conn
	p    *harness.Pending
	drop bool
	twin harness.Conn // closed with it (the "twin-dial" fault)
}

// Close implements harness.Conn.
func (c *trackedConn) Close() error {
	if c.drop {
		return nil
	}
	c.p.Return(nil) // only the first counts
	if c.twin != nil {
		c.twin.Close()
	}
	return c.Conn.Close()
}

type trackedListener struct {
	harness.Listener
	h *trackedHost
	p *harness.Pending
}

// Accept implements harness.Listener.
func (l *trackedListener) Accept(ctx context.Context) (harness.Conn, error) {
	c, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return l.h.track(c, fmt.Sprintf("accept %s<-%s", c.LocalAddr(), c.RemoteAddr())), nil
}

// Close implements harness.Listener.
func (l *trackedListener) Close() error {
	l.p.Return(nil)
	return l.Listener.Close()
}

// incarnation names one start of a node.
type incarnation struct {
	node string
	inc  int
}

// checkResources: every connection and listener opened by an incarnation
// that did not crash is closed once the run is over (the clients closed,
// the servers shut down). A crashed incarnation's are the operating
// system's to close; the connections its peers held to it are not, and
// must be closed like any other.
func checkResources(ledger []harness.Operation, crashed map[incarnation]bool) []checkers.Violation {
	var open []string
	for _, op := range ledger {
		res := op.Input.(resource)
		if op.Returned() || crashed[incarnation{res.Node, res.Inc}] {
			continue
		}
		open = append(open, fmt.Sprintf("%s (incarnation %d): %s, opened at %v", res.Node, res.Inc, res.What, op.CallTime))
	}
	if len(open) == 0 {
		return nil
	}
	sort.Strings(open)
	return []checkers.Violation{checkers.Violationf(harness.Leak,
		"resources: %d connections or listeners were never closed, although the node that opened them did not crash "+
			"(every client was closed and every server shut down):%s", len(open), linesOf(open))}
}

// linesOf renders items one per line, indented, all of them up to 20.
func linesOf(items []string) string {
	const most = 20
	var b strings.Builder
	for i, it := range items {
		if i == most {
			fmt.Fprintf(&b, "\n  ... and %d more", len(items)-most)
			break
		}
		b.WriteString("\n  " + it)
	}
	return b.String()
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
