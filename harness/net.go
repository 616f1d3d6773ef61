package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// The simulated network.
//
// Nodes talk through message connections. A message is a []byte, copied when
// it is sent: the receiver gets bytes no other node can see, so two nodes never
// share memory through the network, and a restarted node cannot reach memory
// of its old incarnation through a message still in flight. (Payloads of type
// any would carry pointers, maps and slices straight into another node: shared
// memory the race detector would not even flag, since Send happens before
// Recv.) Systems encode their messages (encoding/json, encoding/binary); the
// same code then runs unchanged over real sockets (TCP).
//
// A connection is reliable and ordered, like TCP, unless a fault says
// otherwise: each direction of the path between two nodes is a Link with its
// own latency, drawn from the seed when the node pair first exists, plus a
// per-message jitter; faults (SetLink, package faults) partition a link, or
// make it drop, duplicate or reorder messages. Time is the World's: in
// deterministic mode a message takes virtual time, and a run with a thousand
// round trips costs no wall-clock time at all.
//
// Happens-before: Send happens before the Recv that returns its message;
// Dial happens before the Accept that returns the other end; Close happens
// before the peer's Recv that returns io.EOF. Nothing else in the network
// orders two goroutines, in deterministic mode: faults and crashes add no edge.
//
// Deterministic-mode rule (see world.go): everything below that touches
// network state is //go:norace, with plain fields and slices. In real mode the
// same functions run under real locks: network.mu (nodes, links, listeners'
// registration), listener.mu (its backlog) and conn.mu (both ends of one
// connection), always taken in that order.

// Conn is one end of a message connection. Send and Recv take a context: a
// call waits at most until it is done, and then returns ctx.Err() (unwrapped,
// so err == context.DeadlineExceeded works). A Conn may be used by several
// goroutines at once.
type Conn interface {
	// Send queues msg (copied) for the peer and returns without waiting for
	// it to arrive. It fails with net.ErrClosed after Close, with
	// ErrConnReset once the peer has reset or closed the connection, with
	// ErrNodeDown if this end's node crashed (real mode), or with ctx.Err().
	// A message sent to a crashed peer, or across a partition, is lost
	// without an error, as on a real network.
	Send(ctx context.Context, msg []byte) error
	// Recv returns the next message. It fails with io.EOF after the peer
	// closed the connection (once every message sent before was received),
	// with ErrConnReset after a reset (the peer's node crashed, or its
	// listener closed before accepting), with net.ErrClosed after Close,
	// or with ctx.Err().
	Recv(ctx context.Context) ([]byte, error)
	// Close closes this end; the peer reads io.EOF after the messages
	// already sent. Closing twice returns net.ErrClosed.
	Close() error
	// LocalAddr is this end's address ("node:port").
	LocalAddr() string
	// RemoteAddr is the peer's address.
	RemoteAddr() string
}

// Listener accepts connections on one address.
type Listener interface {
	// Accept waits for the next connection, until ctx is done. It fails with
	// net.ErrClosed after Close or once the node crashed.
	Accept(ctx context.Context) (Conn, error)
	// Close stops listening; connections not yet accepted are reset.
	Close() error
	// Addr is the address it listens on ("node:port").
	Addr() string
}

// Host is what a system needs from the network: *Node implements it on the
// simulated network, and TCP() over real loopback sockets.
type Host interface {
	// Listen listens on a port of the host; 0 picks a free one.
	Listen(port int) (Listener, error)
	// Dial connects to addr ("host:port"). It waits at most until ctx is
	// done, which is how a dial to a black-holed node ends.
	Dial(ctx context.Context, addr string) (Conn, error)
}

var (
	// ErrConnReset: the peer's end went away without a clean close (its node
	// crashed, or its listener closed before accepting).
	ErrConnReset = errors.New("connection reset by peer")
	// ErrConnRefused: nothing listens on the address dialed (or its node is
	// down, crashed with CrashReset).
	ErrConnRefused = errors.New("connection refused")
	// ErrNoSuchHost: the address names no node of the World.
	ErrNoSuchHost = errors.New("no such host")
	// ErrAddrInUse: Listen on a port the node already listens on.
	ErrAddrInUse = errors.New("address already in use")
)

// Link is the state of one direction of the path between two nodes. A
// message takes Latency plus a uniform draw in [0, Jitter); on a connection,
// messages still arrive in the order they were sent, unless Reorder says
// otherwise.
type Link struct {
	// Latency is the one-way delay.
	Latency time.Duration
	// Jitter is the largest extra delay of one message.
	Jitter time.Duration
	// Down partitions the link: messages, dials and resets sent on it are
	// lost. Connections stay open: after a heal, new messages get through.
	Down bool
	// Drop is the probability that a message is lost.
	Drop float64
	// Duplicate is the probability that a message is delivered twice.
	Duplicate float64
	// Reorder is the probability that a message leaves the connection's
	// order: it gets an extra random delay of up to twice the link's
	// latency plus jitter, and messages sent after it may overtake it.
	Reorder float64
}

// Validate reports whether the link's values make sense.
func (l Link) Validate() error {
	if l.Latency < 0 || l.Jitter < 0 {
		return fmt.Errorf("negative latency %v or jitter %v", l.Latency, l.Jitter)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"drop", l.Drop}, {"duplicate", l.Duplicate}, {"reorder", l.Reorder}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("%s probability %v outside [0, 1]", p.name, p.v)
		}
	}
	return nil
}

// Default link latencies: each link's latency is drawn from the seed in
// [MinLatency, MaxLatency), and its jitter is a quarter of it.
const (
	MinLatency = 500 * time.Microsecond
	MaxLatency = 2 * time.Millisecond
)

// LinkOf returns the current state of the link from node from to node to.
func LinkOf(from, to string) (Link, error) {
	nt, err := currentNet()
	if err != nil {
		return Link{}, err
	}
	nt.rlock()
	defer nt.runlock()
	e, err := nt.linkByName(from, to)
	if err != nil {
		return Link{}, err
	}
	return e.getLink(), nil
}

// SetLink sets the link from node from to node to. New messages, dials and
// resets on it follow l; those already in flight are not affected.
func SetLink(from, to string, l Link) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("harness: link %s->%s: %v", from, to, err)
	}
	nt, err := currentNet()
	if err != nil {
		return err
	}
	nt.lock()
	defer nt.unlock()
	e, err := nt.linkByName(from, to)
	if err != nil {
		return err
	}
	e.setLink(l)
	return nil
}

// ResetLinks gives every link back the state drawn for it when the World
// began: no partition, drop, duplication, reordering or added delay.
func ResetLinks() error {
	nt, err := currentNet()
	if err != nil {
		return err
	}
	nt.lock()
	defer nt.unlock()
	nt.resetLinks()
	return nil
}

// SplitAddr splits "host:port" into its parts.
func SplitAddr(addr string) (host string, port int, err error) {
	i := strings.LastIndexByte(addr, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("bad address %q: want host:port", addr)
	}
	port, err = strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad address %q: bad port", addr)
	}
	return addr[:i], port, nil
}

// network is one World's set of nodes and links.
type network struct {
	w     *world
	det   bool
	mu    sync.RWMutex // real mode only
	nodes []*Node
	rand  *prng     // link latencies; in deterministic mode every draw
	t0    time.Time // real mode: time zero
}

type linkEntry struct {
	l, base Link
}

//go:norace
func (e *linkEntry) getLink() Link { return e.l }

//go:norace
func (e *linkEntry) setLink(l Link) { e.l = l }

//go:norace
func netFor(w *world) *network {
	if w.opts.Mode == Real {
		w.netMu.Lock()
		defer w.netMu.Unlock()
	}
	if w.net == nil {
		w.net = &network{w: w, det: w.opts.Mode == Deterministic, rand: newPRNG(w.opts.Seed, 3), t0: time.Now()}
	}
	return w.net
}

func activeNet() *network {
	if w := activeWorld(); w != nil {
		return netFor(w)
	}
	return nil
}

func currentNet() (*network, error) {
	nt := activeNet()
	if nt == nil {
		return nil, errors.New("harness: no World is running")
	}
	return nt, nil
}

// check reports an error when the network's World is not the running one.
func (nt *network) check() error {
	if activeWorld() != nt.w {
		return errors.New("harness: a node or connection used outside the World that made it")
	}
	return nil
}

//go:norace
func (nt *network) lock() {
	if !nt.det {
		nt.mu.Lock()
	}
}

//go:norace
func (nt *network) unlock() {
	if !nt.det {
		nt.mu.Unlock()
	}
}

//go:norace
func (nt *network) rlock() {
	if !nt.det {
		nt.mu.RLock()
	}
}

//go:norace
func (nt *network) runlock() {
	if !nt.det {
		nt.mu.RUnlock()
	}
}

// now is the network's clock: virtual in deterministic mode.
//
//go:norace
func (nt *network) now() time.Duration {
	if nt.det {
		return nt.w.now
	}
	return time.Since(nt.t0)
}

// chance draws true with probability p.
//
//go:norace
func (nt *network) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	if nt.det {
		return nt.rand.float64() < p
	}
	return rand.Float64() < p
}

// upTo draws a duration in [0, d).
//
//go:norace
func (nt *network) upTo(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if nt.det {
		return time.Duration(nt.rand.intN(int(d)))
	}
	return rand.N(d)
}

//go:norace
func (nt *network) delay(l *Link) time.Duration { return l.Latency + nt.upTo(l.Jitter) }

// enterOp starts a network call: in deterministic mode it returns the
// running goroutine after a scheduling point.
//
//go:norace
func (nt *network) enterOp(pc uintptr) *goroutine {
	if !nt.det {
		nt.w.perturb()
		return nil
	}
	g := nt.w.enter()
	g.progress()
	nt.w.yield(g, pc)
	return g
}

//go:norace
func (nt *network) addNode(name string, main func(*Node)) (*Node, error) {
	if nt.det {
		nt.w.enter()
	}
	nt.lock()
	defer nt.unlock()
	if nt.lookup(name) != nil {
		return nil, fmt.Errorf("harness: NewNode: a node named %q already exists", name)
	}
	n := &Node{name: name, main: main, net: nt, idx: len(nt.nodes), nextPort: 40000}
	nt.nodes = append(nt.nodes, n)
	for _, m := range nt.nodes {
		if m != n {
			m.out = append(m.out, nt.newLink())
		}
		n.out = append(n.out, nt.newLink())
	}
	return n, nil
}

//go:norace
func (nt *network) newLink() *linkEntry {
	lat := MinLatency + time.Duration(nt.rand.intN(int(MaxLatency-MinLatency)))
	l := Link{Latency: lat, Jitter: lat / 4}
	return &linkEntry{l: l, base: l}
}

//go:norace
func (nt *network) lookup(name string) *Node {
	for _, n := range nt.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

//go:norace
func (nt *network) nodeList() []*Node {
	out := make([]*Node, 0, len(nt.nodes))
	//lint:ignore S1011 append(out, nt.nodes...) copies pointers through typedslicecopy, which the race detector sees even in norace code
	for _, n := range nt.nodes {
		out = append(out, n)
	}
	return out
}

//go:norace
func (nt *network) linkByName(from, to string) (*linkEntry, error) {
	a, b := nt.lookup(from), nt.lookup(to)
	if a == nil {
		return nil, fmt.Errorf("harness: link %s->%s: unknown node %q", from, to, from)
	}
	if b == nil {
		return nil, fmt.Errorf("harness: link %s->%s: unknown node %q", from, to, to)
	}
	return a.out[b.idx], nil
}

//go:norace
func (nt *network) resetLinks() {
	for _, n := range nt.nodes {
		for _, e := range n.out {
			e.l = e.base
		}
	}
}

//go:norace
func (nt *network) alive(n *Node) bool { return n.up }

//go:norace
func (nt *network) incarnation(n *Node) int { return n.inc }

//go:norace
func (nt *network) nodeCtx(n *Node) context.Context { return n.ctx }

// start starts n (restart: crashing it first if it runs).
//
//go:norace
func (nt *network) start(n *Node, restart bool, mode CrashMode, pc uintptr) error {
	g := nt.enterOp(pc)
	nt.lock()
	if n.up && !restart {
		nt.unlock()
		return fmt.Errorf("harness: start %s: node is already running", n.name)
	}
	if n.up {
		nt.crash(n, mode)
	}
	n.up, n.blackHole = true, false
	n.inc++
	now := nt.now()
	// Peers that kept connections to a black-holed incarnation now reach a
	// machine that knows nothing of them: their connections are reset.
	for _, e := range n.silenced {
		e.c.lock()
		nt.sendReset(e, now)
		e.c.unlock()
	}
	n.silenced = nil
	var ctx context.Context
	var cancel context.CancelFunc
	if nt.det {
		c := nt.w.newContext(context.Background(), time.Time{}, false)
		ctx, cancel = c, c.cancelFunc
	} else {
		ctx, cancel = context.WithCancel(context.Background())
	}
	n.ctx, n.cancel = ctx, cancel
	nt.unlock()
	if !nt.det {
		nt.w.goReal(n.runMain, pc)
		return nil
	}
	w := nt.w
	w.record(g, EvNote, pc, fmt.Sprintf("node %s started (incarnation %d)", n.name, n.inc))
	ng := w.spawn(g, n.runMain, pc)
	ng.node = n
	w.killIfDead(g)
	return nil
}

// crashOp crashes n on behalf of the calling goroutine.
//
//go:norace
func (nt *network) crashOp(n *Node, mode CrashMode, pc uintptr) error {
	g := nt.enterOp(pc)
	nt.lock()
	if !n.up {
		nt.unlock()
		return fmt.Errorf("harness: crash %s: node is not running", n.name)
	}
	nt.crash(n, mode)
	nt.unlock()
	if nt.det {
		nt.w.record(g, EvNote, pc, fmt.Sprintf("node %s crashed (%s)", n.name, mode))
		nt.w.killIfDead(g)
	}
	return nil
}

// crash takes n down: its connections and listeners break, its goroutines
// (deterministic mode) stop. Under nt.lock in real mode.
//
//go:norace
func (nt *network) crash(n *Node, mode CrashMode) {
	now := nt.now()
	n.up = false
	n.blackHole = mode == CrashBlackHole
	if n.cancel != nil {
		n.cancel()
	}
	for _, l := range n.listeners {
		l.shut(nt, now, false)
	}
	n.listeners = nil
	for _, e := range n.conns {
		if mode == CrashBlackHole {
			if nt.abort(e, now, false) {
				n.silenced = append(n.silenced, e)
			}
		} else {
			nt.abort(e, now, true)
		}
	}
	n.conns = nil
	if nt.det {
		nt.w.killNode(n)
	}
}

// goOn starts f on a goroutine of n.
//
//go:norace
func (nt *network) goOn(n *Node, f func(), pc uintptr) error {
	nt.rlock()
	up := n.up
	nt.runlock()
	if !up {
		return fmt.Errorf("harness: go on %s: %w", n.name, ErrNodeDown)
	}
	if !nt.det {
		nt.w.perturb()
		nt.w.goReal(f, pc)
		return nil
	}
	w := nt.w
	g := w.enter()
	ng := w.spawn(g, f, pc)
	ng.node = n
	w.yield(g, pc)
	return nil
}

// killNode stops every goroutine of n: they become gDead, leave the run
// queue, and their timers and pending timer callbacks are dropped. Wait
// queues skip dead goroutines (ready ignores them), so they never run again;
// unwindAll ends their real goroutines when the run is over.
//
//go:norace
func (w *world) killNode(n *Node) {
	for _, g := range w.all {
		if g.node == n && (g.state == gRunnable || g.state == gBlocked) {
			g.state = gDead
			w.removeRunnable(g)
		}
	}
	var drop []*timer
	for _, t := range w.timers {
		if t.node == n || (t.g != nil && t.g.state == gDead) {
			drop = append(drop, t)
		}
	}
	for _, t := range drop {
		w.removeTimer(t)
	}
	keep := w.callbacks[:0]
	for _, cb := range w.callbacks {
		if cb.node != n {
			keep = append(keep, cb)
		}
	}
	for i := len(keep); i < len(w.callbacks); i++ {
		w.callbacks[i] = callback{}
	}
	w.callbacks = keep
}

// killIfDead parks g for good if its node just crashed under it.
//
//go:norace
func (w *world) killIfDead(g *goroutine) {
	if g.state == gDead {
		w.reschedule(g) // never returns: park sees killed at the end of the run and exits
		return
	}
	w.yield(g, 0)
}

// signal wakes the goroutines waiting for a change of some network state.
type signal struct {
	waiters []netWaiter   // deterministic mode
	ch      chan struct{} // real mode: closed at the next change
}

type netWaiter struct {
	g   *goroutine
	sel *selectState
}

//go:norace
func (s *signal) broadcast(nt *network) {
	if !nt.det {
		if s.ch != nil {
			close(s.ch)
			s.ch = nil
		}
		return
	}
	for i, wt := range s.waiters {
		if !wt.sel.fired {
			nt.w.complete(wt.g, wt.sel, 0)
		}
		s.waiters[i] = netWaiter{}
	}
	s.waiters = s.waiters[:0]
}

// remove takes the waiter of sel off s, keeping the others' order.
//
//go:norace
func (s *signal) remove(sel *selectState) {
	for i, wt := range s.waiters {
		if wt.sel == sel {
			for j := i; j < len(s.waiters)-1; j++ {
				s.waiters[j] = s.waiters[j+1]
			}
			s.waiters[len(s.waiters)-1] = netWaiter{}
			s.waiters = s.waiters[:len(s.waiters)-1]
			return
		}
	}
}

// wait blocks until s is broadcast, the network clock reaches until (if
// until >= 0) or ctx is done; it returns ctx.Err() in the last case. In real
// mode mu is held on entry and on return, and released while waiting.
//
//go:norace
func (nt *network) wait(g *goroutine, s *signal, mu sync.Locker, until time.Duration, ctx context.Context, reason string, pc uintptr) error {
	if nt.det {
		return nt.w.netWait(g, s, until, ctx, reason, pc)
	}
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	ch := s.ch
	mu.Unlock()
	defer mu.Lock()
	var tc <-chan time.Time
	if until >= 0 {
		nt.w.realArmed(until - nt.now())
		t := time.NewTimer(until - nt.now())
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-ch:
		return nil
	case <-tc:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

//go:norace
func (w *world) netWait(g *goroutine, s *signal, until time.Duration, ctx context.Context, reason string, pc uintptr) error {
	d := &doneCase{ctx: ctx}
	if d.ready(w) {
		d.commit(w)
		return ctx.Err()
	}
	sel := &selectState{}
	s.waiters = append(s.waiters, netWaiter{g: g, sel: sel})
	d.enqueue(w, g, sel, 1)
	var t *timer
	if until >= 0 {
		t = &timer{kind: timerWake, g: g, index: -1}
		w.addTimer(t, max(until, w.now))
	}
	w.block(g, reason, pc)
	if !sel.fired {
		sel.fired, sel.index = true, 2 // the timer woke it
	}
	if t != nil {
		w.removeTimer(t)
	}
	// Leave no waiter behind on what did not wake it (see selectDet).
	if sel.index != 1 {
		d.withdraw()
	}
	if sel.index != 0 {
		s.remove(sel)
	}
	if sel.index == 1 {
		d.finish(w)
		return ctx.Err()
	}
	return nil
}

// Messages and connections.

type msgKind uint8

const (
	msgData msgKind = iota
	msgEOF
	msgReset
)

type message struct {
	at   time.Duration // when it reaches the receiving end
	kind msgKind
	data []byte
	sync uint64 // the sender's history, released at Send or Close
}

// conn is a connection: two endpoints, guarded by one lock in real mode.
type conn struct {
	mu   sync.Mutex
	nt   *network
	ends [2]endpoint
	sync uint64 // Dial happens before Accept returns
}

//go:norace
func (c *conn) lock() {
	if !c.nt.det {
		c.mu.Lock()
	}
}

//go:norace
func (c *conn) unlock() {
	if !c.nt.det {
		c.mu.Unlock()
	}
}

// endpoint is one end of a conn; it implements Conn.
type endpoint struct {
	c             *conn
	side          int
	node          *Node
	local, remote string
	inbox         []*message // sorted by at
	fifo          time.Duration
	acceptAt      time.Duration // server end: when the dial reaches the listener
	closed        bool          // Close was called
	dead          bool          // its node crashed, or its listener closed before accepting
	rerr          error         // io.EOF or ErrConnReset, once received
	sig           signal
}

//go:norace
func (e *endpoint) peer() *endpoint { return &e.c.ends[1-e.side] }

// push inserts m by arrival time, after messages arriving at the same time.
//
//go:norace
func (e *endpoint) push(m *message) {
	i := len(e.inbox)
	for i > 0 && e.inbox[i-1].at > m.at {
		i--
	}
	e.inbox = append(e.inbox, nil)
	for j := len(e.inbox) - 1; j > i; j-- {
		e.inbox[j] = e.inbox[j-1]
	}
	e.inbox[i] = m
}

// pushOrdered queues m in connection order: no earlier than the last.
//
//go:norace
func (e *endpoint) pushOrdered(m *message) {
	m.at = max(m.at, e.fifo)
	e.fifo = m.at
	e.push(m)
}

// failed reports the error a reset or close from the peer has caused once
// it arrived (by now), or nil.
//
//go:norace
func (e *endpoint) failed(now time.Duration) error {
	if e.rerr != nil {
		return e.rerr
	}
	for _, m := range e.inbox {
		if m.at > now {
			break
		}
		if m.kind == msgReset {
			return ErrConnReset
		}
		if m.kind == msgEOF {
			return io.EOF
		}
	}
	return nil
}

// abort ends e without a clean close: its node crashed, or its listener
// closed before accepting it. Messages in flight from e are lost; the peer
// gets a reset if reset is set and the link lets it through. It reports
// whether the peer was still there (a black-holed peer learns later).
//
//go:norace
func (nt *network) abort(e *endpoint, now time.Duration, reset bool) bool {
	c := e.c
	c.lock()
	defer c.unlock()
	if e.dead {
		return false
	}
	e.dead = true
	e.inbox = nil
	e.sig.broadcast(nt)
	p := e.peer()
	if p.dead || p.closed {
		return false
	}
	keep := p.inbox[:0]
	for _, m := range p.inbox {
		if m.at <= now {
			keep = append(keep, m)
		}
	}
	for i := len(keep); i < len(p.inbox); i++ {
		p.inbox[i] = nil
	}
	p.inbox = keep
	p.fifo = now
	if len(keep) > 0 {
		p.fifo = keep[len(keep)-1].at
	}
	if reset {
		nt.sendReset(e, now)
	}
	p.sig.broadcast(nt)
	return true
}

// sendReset sends a reset from e, which is gone, to its peer, if the link
// lets it through. Under e.c's lock.
//
//go:norace
func (nt *network) sendReset(e *endpoint, now time.Duration) {
	p := e.peer()
	if p.dead || p.closed || p.rerr != nil {
		return
	}
	if l := e.node.out[p.node.idx].l; !l.Down {
		p.pushOrdered(&message{at: now + nt.delay(&l), kind: msgReset})
		p.sig.broadcast(nt)
	}
}

// Send implements Conn.
func (e *endpoint) Send(ctx context.Context, msg []byte) error {
	nt := e.c.nt
	if err := nt.check(); err != nil {
		return err
	}
	b := append([]byte(nil), msg...) // the copy the peer gets: read here, under the race detector
	return e.send(ctx, b, nt.w.sitePC())
}

//go:norace
func (e *endpoint) send(ctx context.Context, b []byte, pc uintptr) error {
	nt := e.c.nt
	nt.enterOp(pc)
	nt.rlock()
	defer nt.runlock()
	e.c.lock()
	defer e.c.unlock()
	switch {
	case e.dead:
		return fmt.Errorf("harness: send %s->%s: %w", e.local, e.remote, ErrNodeDown)
	case e.closed:
		return fmt.Errorf("harness: send %s->%s: %w", e.local, e.remote, net.ErrClosed)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	now := nt.now()
	if err := e.failed(now); err != nil {
		return fmt.Errorf("harness: send %s->%s: %w", e.local, e.remote, ErrConnReset)
	}
	p := e.peer()
	l := e.node.out[p.node.idx].l
	if p.dead || p.closed || l.Down || nt.chance(l.Drop) {
		return nil // lost on the way
	}
	m := &message{at: now + nt.delay(&l), data: b}
	raceRelease(unsafe.Pointer(&m.sync))
	if nt.chance(l.Reorder) {
		m.at += nt.upTo(2*(l.Latency+l.Jitter) + time.Microsecond)
		p.push(m)
	} else {
		p.pushOrdered(m)
	}
	if nt.chance(l.Duplicate) {
		d := &message{at: m.at + nt.upTo(l.Latency+time.Microsecond), data: append([]byte(nil), b...)}
		raceRelease(unsafe.Pointer(&d.sync))
		p.push(d)
	}
	p.sig.broadcast(nt)
	return nil
}

// Recv implements Conn.
func (e *endpoint) Recv(ctx context.Context) ([]byte, error) {
	nt := e.c.nt
	if err := nt.check(); err != nil {
		return nil, err
	}
	return e.recv(ctx, nt.w.sitePC())
}

//go:norace
func (e *endpoint) recv(ctx context.Context, pc uintptr) ([]byte, error) {
	nt := e.c.nt
	g := nt.enterOp(pc)
	e.c.lock()
	defer e.c.unlock()
	for {
		switch {
		case e.dead:
			return nil, fmt.Errorf("harness: recv %s<-%s: %w", e.local, e.remote, ErrNodeDown)
		case e.closed:
			return nil, fmt.Errorf("harness: recv %s<-%s: %w", e.local, e.remote, net.ErrClosed)
		case e.rerr == io.EOF:
			return nil, io.EOF
		case e.rerr != nil:
			return nil, fmt.Errorf("harness: recv %s<-%s: %w", e.local, e.remote, e.rerr)
		}
		now := nt.now()
		until := time.Duration(-1)
		if len(e.inbox) > 0 {
			m := e.inbox[0]
			if m.at <= now {
				e.inbox[0] = nil
				e.inbox = e.inbox[1:]
				raceAcquire(unsafe.Pointer(&m.sync))
				switch m.kind {
				case msgData:
					return m.data, nil
				case msgEOF:
					e.rerr = io.EOF
				default:
					e.rerr = ErrConnReset
				}
				continue
			}
			until = m.at
		}
		if err := nt.wait(g, &e.sig, &e.c.mu, until, ctx, "net recv", pc); err != nil {
			return nil, err
		}
	}
}

// Close implements Conn.
func (e *endpoint) Close() error {
	nt := e.c.nt
	if err := nt.check(); err != nil {
		return err
	}
	return e.close(nt.w.sitePC())
}

//go:norace
func (e *endpoint) close(pc uintptr) error {
	nt := e.c.nt
	nt.enterOp(pc)
	nt.rlock()
	defer nt.runlock()
	e.c.lock()
	defer e.c.unlock()
	if e.closed {
		return fmt.Errorf("harness: close %s: %w", e.local, net.ErrClosed)
	}
	e.closed = true
	e.inbox = nil
	e.sig.broadcast(nt)
	p := e.peer()
	if e.dead || p.dead || p.closed {
		return nil
	}
	if l := e.node.out[p.node.idx].l; !l.Down {
		m := &message{at: nt.now() + nt.delay(&l), kind: msgEOF}
		raceRelease(unsafe.Pointer(&m.sync))
		p.pushOrdered(m)
		p.sig.broadcast(nt)
	}
	return nil
}

// LocalAddr implements Conn.
func (e *endpoint) LocalAddr() string { return e.local }

// RemoteAddr implements Conn.
func (e *endpoint) RemoteAddr() string { return e.remote }

// listener implements Listener.
type listener struct {
	mu      sync.Mutex
	nt      *network
	node    *Node
	port    int
	addr    string
	backlog []*endpoint // server ends, by acceptAt
	closed  bool
	sig     signal
}

//go:norace
func (l *listener) lock() {
	if !l.nt.det {
		l.mu.Lock()
	}
}

//go:norace
func (l *listener) unlock() {
	if !l.nt.det {
		l.mu.Unlock()
	}
}

// shut closes l; connections not yet accepted are reset unless the node is
// crashing (then crash handles them with the node's other connections).
//
//go:norace
func (l *listener) shut(nt *network, now time.Duration, resetBacklog bool) {
	l.lock()
	defer l.unlock()
	if l.closed {
		return
	}
	l.closed = true
	if resetBacklog {
		for _, e := range l.backlog {
			nt.abort(e, now, true)
		}
	}
	l.backlog = nil
	l.sig.broadcast(nt)
}

// Listen implements Host: it listens on port of n (0: a free port).
func (n *Node) Listen(port int) (Listener, error) {
	if err := n.net.check(); err != nil {
		return nil, err
	}
	return n.net.listen(n, port, n.net.w.sitePC())
}

//go:norace
func (nt *network) listen(n *Node, port int, pc uintptr) (Listener, error) {
	nt.enterOp(pc)
	nt.lock()
	defer nt.unlock()
	if !n.up {
		return nil, fmt.Errorf("harness: listen on %s: %w", n.name, ErrNodeDown)
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("harness: listen on %s: bad port %d", n.name, port)
	}
	if port == 0 {
		port = n.freePort()
	} else if n.listenerOn(port) != nil {
		return nil, fmt.Errorf("harness: listen on %s: %w", n.Addr(port), ErrAddrInUse)
	}
	l := &listener{nt: nt, node: n, port: port, addr: n.Addr(port)}
	n.listeners = append(n.listeners, l)
	return l, nil
}

//go:norace
func (n *Node) listenerOn(port int) *listener {
	for _, l := range n.listeners {
		if l.port == port {
			return l
		}
	}
	return nil
}

//go:norace
func (n *Node) freePort() int {
	for {
		p := n.nextPort
		n.nextPort++
		if n.nextPort > 65535 {
			n.nextPort = 40000
		}
		if n.listenerOn(p) == nil {
			return p
		}
	}
}

// Accept implements Listener.
func (l *listener) Accept(ctx context.Context) (Conn, error) {
	if err := l.nt.check(); err != nil {
		return nil, err
	}
	e, err := l.accept(ctx, l.nt.w.sitePC())
	if err != nil {
		return nil, err
	}
	return e, nil
}

//go:norace
func (l *listener) accept(ctx context.Context, pc uintptr) (*endpoint, error) {
	nt := l.nt
	g := nt.enterOp(pc)
	l.lock()
	defer l.unlock()
	for {
		if l.closed {
			return nil, fmt.Errorf("harness: accept on %s: %w", l.addr, net.ErrClosed)
		}
		until := time.Duration(-1)
		if len(l.backlog) > 0 {
			e := l.backlog[0]
			if e.acceptAt <= nt.now() {
				l.backlog[0] = nil
				l.backlog = l.backlog[1:]
				raceAcquire(unsafe.Pointer(&e.c.sync))
				return e, nil
			}
			until = e.acceptAt
		}
		if err := nt.wait(g, &l.sig, &l.mu, until, ctx, "net accept", pc); err != nil {
			return nil, err
		}
	}
}

// Close implements Listener.
func (l *listener) Close() error {
	if err := l.nt.check(); err != nil {
		return err
	}
	return l.close(l.nt.w.sitePC())
}

//go:norace
func (l *listener) close(pc uintptr) error {
	nt := l.nt
	nt.enterOp(pc)
	nt.lock()
	defer nt.unlock()
	n := l.node
	keep := n.listeners[:0]
	for _, x := range n.listeners {
		if x != l {
			keep = append(keep, x)
		}
	}
	for i := len(keep); i < len(n.listeners); i++ {
		n.listeners[i] = nil
	}
	n.listeners = keep
	l.lock()
	closed := l.closed
	l.unlock()
	if closed {
		return fmt.Errorf("harness: close %s: %w", l.addr, net.ErrClosed)
	}
	l.shut(nt, nt.now(), true)
	return nil
}

// Addr implements Listener.
func (l *listener) Addr() string { return l.addr }

// Dial implements Host: it connects from n to addr. The connection is ready
// after one round trip; a dial to a port nobody listens on (or to a node
// crashed with CrashReset) fails with ErrConnRefused after one round trip; a
// dial to an address naming no node fails at once with ErrNoSuchHost; a dial
// to a black-holed node, or across a partition, waits until ctx is done.
func (n *Node) Dial(ctx context.Context, addr string) (Conn, error) {
	if err := n.net.check(); err != nil {
		return nil, err
	}
	e, err := n.net.dial(n, ctx, addr, n.net.w.sitePC())
	if err != nil {
		return nil, err
	}
	return e, nil
}

//go:norace
func (nt *network) dial(from *Node, ctx context.Context, addr string, pc uintptr) (*endpoint, error) {
	g := nt.enterOp(pc)
	host, port, err := SplitAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("harness: dial %s: %v", addr, err)
	}
	nt.lock()
	if !from.up {
		nt.unlock()
		return nil, fmt.Errorf("harness: dial %s from %s: %w", addr, from.name, ErrNodeDown)
	}
	to := nt.lookup(host)
	if to == nil {
		nt.unlock()
		return nil, fmt.Errorf("harness: dial %s: %w %q", addr, ErrNoSuchHost, host)
	}
	now := nt.now()
	fwd, back := from.out[to.idx].l, to.out[from.idx].l
	hang := fwd.Down || back.Down || (!to.up && to.blackHole)
	var l *listener
	if to.up {
		l = to.listenerOn(port)
	}
	var ce *endpoint
	var ready time.Duration
	if !hang && l != nil {
		ce, ready = nt.connect(from, to, l, addr, &fwd, &back, now)
	} else if !hang {
		ready = now + nt.delay(&fwd) + nt.delay(&back)
	}
	nt.unlock()

	switch {
	case hang:
		return nil, nt.dialHang(g, ctx, pc)
	case ce == nil:
		return nil, nt.dialRefused(g, ctx, addr, ready, pc)
	}
	return nt.awaitDialed(g, ctx, ce, addr, ready, pc)
}

// connect opens a connection from node from to listener l of node to
// (under the network's lock): both endpoints, the server's queued in l's
// backlog in order of arrival. It returns the client's endpoint and the
// virtual time at which the handshake completes.
//
//go:norace
func (nt *network) connect(from, to *Node, l *listener, addr string, fwd, back *Link, now time.Duration) (*endpoint, time.Duration) {
	from.pruneConns()
	to.pruneConns()
	c := &conn{nt: nt}
	ce := &c.ends[0]
	se := &c.ends[1]
	*ce = endpoint{c: c, side: 0, node: from, local: from.Addr(from.freePort()), remote: addr}
	*se = endpoint{c: c, side: 1, node: to, local: addr, remote: ce.local}
	raceRelease(unsafe.Pointer(&c.sync))
	se.acceptAt = now + nt.delay(fwd)
	ready := se.acceptAt + nt.delay(back)
	from.conns = append(from.conns, ce)
	to.conns = append(to.conns, se)
	l.lock()
	i := len(l.backlog)
	for i > 0 && l.backlog[i-1].acceptAt > se.acceptAt {
		i--
	}
	l.backlog = append(l.backlog, nil)
	for j := len(l.backlog) - 1; j > i; j-- {
		l.backlog[j] = l.backlog[j-1]
	}
	l.backlog[i] = se
	l.sig.broadcast(nt)
	l.unlock()
	return ce, ready
}

// dialHang waits, for a dial into a partition or a black hole, until ctx
// ends, and returns ctx's error.
//
//go:norace
func (nt *network) dialHang(g *goroutine, ctx context.Context, pc uintptr) error {
	var s signal
	var mu sync.Mutex
	mu.Lock()
	err := nt.wait(g, &s, &mu, -1, ctx, "net dial", pc)
	mu.Unlock()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// dialRefused waits for the refusal of a dial to a port nobody listens on
// to come back (a round trip, until ready) and returns ErrConnRefused, or
// ctx's error if it ends first.
//
//go:norace
func (nt *network) dialRefused(g *goroutine, ctx context.Context, addr string, ready time.Duration, pc uintptr) error {
	var s signal
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	for nt.now() < ready {
		if err := nt.wait(g, &s, &mu, ready, ctx, "net dial", pc); err != nil {
			return err
		}
	}
	return fmt.Errorf("harness: dial %s: %w", addr, ErrConnRefused)
}

// awaitDialed waits until the handshake of ce completes at ready, failing
// if the connection dies or is reset first or ctx ends (then the client's
// end is closed).
//
//go:norace
func (nt *network) awaitDialed(g *goroutine, ctx context.Context, ce *endpoint, addr string, ready time.Duration, pc uintptr) (*endpoint, error) {
	c := ce.c
	c.lock()
	defer c.unlock()
	for {
		now := nt.now()
		if ce.dead {
			return nil, fmt.Errorf("harness: dial %s: %w", addr, ErrNodeDown)
		}
		if err := ce.failed(now); err == ErrConnReset {
			return nil, fmt.Errorf("harness: dial %s: %w", addr, ErrConnRefused)
		}
		if now >= ready {
			return ce, nil
		}
		if err := nt.wait(g, &ce.sig, &c.mu, ready, ctx, "net dial", pc); err != nil {
			c.unlock()
			ce.close(0)
			c.lock()
			return nil, err
		}
	}
}

// pruneConns forgets endpoints that are over on both sides.
//
//go:norace
func (n *Node) pruneConns() {
	keep := n.conns[:0]
	for _, e := range n.conns {
		if !e.isOver() {
			keep = append(keep, e)
		}
	}
	for i := len(keep); i < len(n.conns); i++ {
		n.conns[i] = nil
	}
	n.conns = keep
}

//go:norace
func (e *endpoint) isOver() bool {
	e.c.lock()
	defer e.c.unlock()
	p := e.peer()
	return (e.closed || e.dead) && (p.closed || p.dead)
}
