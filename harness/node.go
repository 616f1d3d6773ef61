package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Node is a named group of goroutines with its own address on the simulated
// network: the stand-in for one process on one machine. Make one with
// NewNode inside Run; its name is the host part of every address it listens
// on ("meta1" listening on port 34601 is "meta1:34601").
//
// A node runs its main function when started. Goroutines started (with Go)
// from a goroutine of the node belong to the node, and so do the goroutines
// of timer callbacks (AfterFunc, context deadlines) that the node armed.
// Nodes share no memory: they talk only through the network (Listen, Dial,
// Conn). A node's state must therefore be created inside main, so that
// Restart, which runs main again, starts it with fresh memory.
//
// Crash, in deterministic mode, stops every goroutine of the node where it
// stands: none of them runs again (at the end of Run they are unwound, their
// defers running with heddle's primitives disabled, and they are never
// reported as leaks), their timers are cancelled, their connections break and
// messages in flight to or from the node are lost. In real mode goroutines
// cannot be stopped: Crash cancels the node's Context and makes every network
// call of the old incarnation fail with ErrNodeDown, so code meant to run in
// real mode should return once Context is done.
type Node struct {
	name string
	main func(n *Node)
	net  *network
	idx  int          // position in network.nodes
	out  []*linkEntry // links from this node, by destination idx

	up        bool // started and not crashed since
	blackHole bool // crashed without a trace: peers see nothing
	inc       int  // incarnation: how many times it was started
	ctx       context.Context
	cancel    context.CancelFunc
	listeners []*listener
	conns     []*endpoint // endpoints of this node's connections
	silenced  []*endpoint // endpoints lost in a black-hole crash: peers learn at restart
	nextPort  int
}

// CrashMode says what a node's peers see when it crashes.
type CrashMode int

const (
	// CrashReset is a process crash on a live machine: the kernel resets the
	// node's connections (peers' calls fail with ErrConnReset once the reset
	// reaches them) and refuses new ones (ErrConnRefused).
	CrashReset CrashMode = iota
	// CrashBlackHole is a machine that vanished: nothing answers. Peers'
	// calls on existing connections, and new dials, wait until their context
	// is done.
	CrashBlackHole
)

func (m CrashMode) String() string {
	if m == CrashBlackHole {
		return "black hole"
	}
	return "reset"
}

// ErrNodeDown is returned by network calls of a node that is not running (in
// real mode: of an incarnation that crashed).
var ErrNodeDown = errors.New("node is down")

// NewNode registers a node named name on the running World's network, not
// yet started; Start runs main(n) on a goroutine of the node. The name must
// be unique in the World and may not contain ':'. main may be nil for a node
// that only dials out (a client) from goroutines started with n.Go.
//
// NewNode panics outside Run, or on a bad or duplicate name: these are
// mistakes in a test, not conditions to handle.
func NewNode(name string, main func(n *Node)) *Node {
	w := activeWorld()
	if w == nil {
		panic(chanError("harness: NewNode called outside harness.Run"))
	}
	if name == "" || strings.ContainsAny(name, ": \t\n") {
		panic(chanError(fmt.Sprintf("harness: NewNode: bad node name %q (non-empty, no ':' or spaces)", name)))
	}
	nt := netFor(w)
	n, err := nt.addNode(name, main)
	if err != nil {
		panic(chanError(err.Error()))
	}
	return n
}

// LookupNode returns the running World's node with this name, or nil.
func LookupNode(name string) *Node {
	nt := activeNet()
	if nt == nil {
		return nil
	}
	nt.rlock()
	defer nt.runlock()
	return nt.lookup(name)
}

// Nodes returns the running World's nodes in the order they were made.
func Nodes() []*Node {
	nt := activeNet()
	if nt == nil {
		return nil
	}
	nt.rlock()
	defer nt.runlock()
	return nt.nodeList()
}

// Name returns the node's name, the host part of its addresses.
func (n *Node) Name() string { return n.name }

// String returns the node's name.
func (n *Node) String() string { return n.name }

// Addr returns the node's address for port: "name:port".
func (n *Node) Addr(port int) string { return fmt.Sprintf("%s:%d", n.name, port) }

// Alive reports whether the node is running: started and not crashed since.
func (n *Node) Alive() bool {
	nt := n.net
	nt.rlock()
	defer nt.runlock()
	return nt.alive(n)
}

// Incarnation returns how many times the node has been started.
func (n *Node) Incarnation() int {
	nt := n.net
	nt.rlock()
	defer nt.runlock()
	return nt.incarnation(n)
}

// Context returns a context that is cancelled when the node's current
// incarnation crashes (context.Background-like before the first Start). In
// real mode, goroutines of a node should return once it is done; in
// deterministic mode they are stopped anyway. Take it at the start of main:
// after a restart it is the new incarnation's.
func (n *Node) Context() context.Context {
	nt := n.net
	nt.rlock()
	defer nt.runlock()
	if c := nt.nodeCtx(n); c != nil {
		return c
	}
	return context.Background()
}

// Start runs the node's main on a new goroutine of the node. It fails if the
// World is over or the node is already running.
func (n *Node) Start() error {
	if err := n.net.check(); err != nil {
		return err
	}
	return n.net.start(n, false, CrashReset, n.net.w.sitePC())
}

// Restart crashes the node if it is running (CrashReset), then starts it
// again: main runs on a new goroutine with fresh memory, and peers still
// holding connections to the old incarnation see them reset. A node may
// restart itself: the calling goroutine, part of the old incarnation, then
// never returns.
func (n *Node) Restart() error {
	if err := n.net.check(); err != nil {
		return err
	}
	return n.net.start(n, true, CrashReset, n.net.w.sitePC())
}

// Crash stops the node (see Node and CrashMode). It fails if the node is not
// running. A node may crash itself: the calling goroutine then never returns.
func (n *Node) Crash(mode CrashMode) error {
	if err := n.net.check(); err != nil {
		return err
	}
	if mode != CrashReset && mode != CrashBlackHole {
		return fmt.Errorf("harness: crash %s: unknown crash mode %d", n.name, int(mode))
	}
	return n.net.crashOp(n, mode, n.net.w.sitePC())
}

// Go starts f on a new goroutine of the node, as if a goroutine of the node
// had called Go; a client driven from a test's main uses it. If the node is
// not running, f does not run and Go returns ErrNodeDown.
func (n *Node) Go(f func()) error {
	if err := n.net.check(); err != nil {
		return err
	}
	return n.net.goOn(n, f, n.net.w.sitePC())
}

// runMain is the body of a node's main goroutine.
func (n *Node) runMain() {
	if n.main != nil {
		n.main(n)
	}
}

// PendingTimers returns how many timers armed by goroutines of the node are
// still pending: a Timer, Ticker or AfterFunc not yet fired or stopped, a
// context deadline not yet reached or cancelled. Once every goroutine of a
// node has ended after a graceful stop it should be zero; what remains is a
// ticker nobody stopped or a deadline nobody cancelled. The second result is
// false in Real mode, where timers are the runtime's and are not counted.
func (n *Node) PendingTimers() (int, bool) {
	if n.net.check() != nil || !n.net.det {
		return 0, false
	}
	return n.net.w.pendingTimers(n), true
}
