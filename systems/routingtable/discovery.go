package routingtable

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Member is a member's identity: Olric's discovery.Member.
type Member struct {
	// Name is unique in the cluster; a restarted member keeps its name.
	Name string
	// Addr is where the member serves.
	Addr string
	// Birthdate is when the member was made (Unix nanoseconds): the oldest
	// member is the coordinator.
	Birthdate int64
	// ID identifies this incarnation: a hash of Name and Birthdate.
	ID uint64
}

// String returns the member's name and id.
func (m Member) String() string { return fmt.Sprintf("%s(%x)", m.Name, m.ID) }

// IsZero reports whether m is the zero Member.
func (m Member) IsZero() bool { return m.ID == 0 && m.Name == "" }

// older reports whether a is older than b: the coordinator is the oldest.
func older(a, b Member) bool {
	if a.Birthdate != b.Birthdate {
		return a.Birthdate < b.Birthdate
	}
	return a.ID < b.ID
}

func memberID(name string, birthdate int64) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", name, birthdate)
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// EventKind is the kind of a membership change.
type EventKind int

const (
	// NodeJoin: a member joined.
	NodeJoin EventKind = iota + 1
	// NodeLeave: a member left or was found dead.
	NodeLeave
	// NodeUpdate: a member restarted (same name, new incarnation).
	NodeUpdate
)

// clusterEvent is one membership change, for the routing table.
type clusterEvent struct {
	Kind   EventKind
	Member Member
	Old    Member // NodeUpdate: the incarnation replaced
}

// errNoPeers: a join reached none of the peers.
var errNoPeers = errors.New("routingtable: no peer could be contacted")

// discovery is the membership layer, memberlist's part of Olric: the members
// known alive (this one included), join by contacting every peer, gossip of
// alive, leave and dead members, and a prober that finds crashed members.
type discovery struct {
	cfg  *Config
	cl   *client
	self Member // set by start, read-only after

	mu      harness.Mutex // memberlist's lock: guards members, dead, started, probeNext
	members map[string]Member
	dead    map[uint64]bool // incarnations that left or died: never again alive
	started bool
	stopped bool
	next    int // the prober's round-robin position

	events *harness.Chan[clusterEvent] // to the routing table
	bcast  *harness.Chan[request]      // gossip to send
	ctx    context.Context
	cancel context.CancelFunc
	wg     harness.WaitGroup
}

func newDiscovery(parent context.Context, cfg *Config, cl *client) *discovery {
	ctx, cancel := harness.WithCancel(parent)
	return &discovery{cfg: cfg, cl: cl, members: map[string]Member{}, dead: map[uint64]bool{},
		events: harness.NewChan[clusterEvent](256), bcast: harness.NewChan[request](256), ctx: ctx, cancel: cancel}
}

// start makes self a member and starts the prober and the gossip sender.
func (d *discovery) start(self Member) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return ErrServerGone
	}
	if d.started {
		return nil
	}
	d.self = self
	d.members[self.Name] = self
	d.started = true
	d.wg.Go(d.probe)
	d.wg.Go(d.gossip)
	return nil
}

// ready reports whether start has run; requests that arrive earlier are
// refused, as memberlist does before it listens.
func (d *discovery) ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.started && !d.stopped
}

// join contacts every peer in turn (memberlist.Join): each answers with the
// members it knows, which are merged. It returns how many answered.
func (d *discovery) join(ctx context.Context) (int, error) {
	n := 0
	for _, addr := range d.cfg.Peers {
		if addr == d.self.Addr {
			continue
		}
		if ctx.Err() != nil {
			return n, ErrServerGone
		}
		rctx, cancel := harness.WithTimeout(ctx, d.cfg.RequestTimeout)
		resp, err := d.cl.do(rctx, addr, request{Cmd: cmdJoin, From: d.self})
		cancel()
		if err != nil {
			continue
		}
		n++
		for _, m := range resp.Members {
			d.merge(m, false)
		}
	}
	if n == 0 && len(d.cfg.Peers) > 0 {
		return 0, errNoPeers
	}
	return n, nil
}

// handleJoin answers a joiner with the members known, then merges it and
// gossips that it is alive.
func (d *discovery) handleJoin(req request) response {
	resp := response{Members: d.snapshot()}
	d.merge(req.From, true)
	return resp
}

// merge learns that m is alive. A new member, or a newer incarnation of a
// known name, becomes a NodeJoin or NodeUpdate event, gossiped on if
// forward is set.
func (d *discovery) merge(m Member, forward bool) {
	if m.ID == 0 {
		return
	}
	d.mu.Lock()
	if d.dead[m.ID] || m.ID == d.self.ID {
		d.mu.Unlock()
		return
	}
	old, known := d.members[m.Name]
	var ev clusterEvent
	switch {
	case !known:
		ev = clusterEvent{Kind: NodeJoin, Member: m}
	case old.ID == m.ID || older(m, old):
		d.mu.Unlock()
		return
	default:
		d.dead[old.ID] = true
		ev = clusterEvent{Kind: NodeUpdate, Member: m, Old: old}
	}
	d.members[m.Name] = m
	d.mu.Unlock()
	d.emit(ev)
	if forward {
		d.enqueue(request{Cmd: cmdAlive, From: d.self, Subject: m})
	}
}

// remove learns that m left or died.
func (d *discovery) remove(m Member, cmd string, forward bool) {
	d.mu.Lock()
	if m.ID == d.self.ID {
		d.mu.Unlock()
		return // memberlist would refute it; nothing here is ever wrongly suspected
	}
	fresh := !d.dead[m.ID]
	d.dead[m.ID] = true
	cur, ok := d.members[m.Name]
	if !ok || cur.ID != m.ID {
		d.mu.Unlock()
		return
	}
	delete(d.members, m.Name)
	d.mu.Unlock()
	d.emit(clusterEvent{Kind: NodeLeave, Member: m})
	if forward && fresh {
		d.enqueue(request{Cmd: cmd, From: d.self, Subject: m})
	}
}

// emit hands a membership change to the routing table.
func (d *discovery) emit(ev clusterEvent) {
	harness.Select(d.events.SendCase(ev), harness.Done(d.ctx))
}

// enqueue queues gossip; it is dropped when the queue is full.
func (d *discovery) enqueue(msg request) {
	harness.Select(d.bcast.SendCase(msg), harness.Default())
}

// gossip sends queued messages to every other member.
func (d *discovery) gossip() {
	for {
		var msg request
		if harness.Select(d.bcast.RecvCase(&msg, nil), harness.Done(d.ctx)) == 1 {
			return
		}
		for _, m := range d.snapshot() {
			if m.ID == d.self.ID || m.ID == msg.Subject.ID {
				continue
			}
			d.send(m.Addr, msg)
		}
	}
}

// send sends one message and waits at most ProbeTimeout for the answer.
func (d *discovery) send(addr string, msg request) error {
	ctx, cancel := harness.WithTimeout(d.ctx, d.cfg.ProbeTimeout)
	defer cancel()
	_, err := d.cl.do(ctx, addr, msg)
	return err
}

// probe pings one other member every ProbeInterval, round-robin; a member
// that does not answer within ProbeTimeout is dead.
func (d *discovery) probe() {
	t := harness.NewTicker(d.cfg.ProbeInterval)
	defer t.Stop()
	for {
		if harness.Select(t.C.RecvCase(nil, nil), harness.Done(d.ctx)) == 1 {
			return
		}
		target, ok := d.nextTarget()
		if !ok {
			continue
		}
		if err := d.send(target.Addr, request{Cmd: cmdPing, From: d.self}); err != nil {
			if d.ctx.Err() != nil {
				return
			}
			d.remove(target, cmdDead, true)
		}
	}
}

func (d *discovery) nextTarget() (Member, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var others []Member
	for _, m := range d.sortedLocked() {
		if m.ID != d.self.ID {
			others = append(others, m)
		}
	}
	if len(others) == 0 {
		return Member{}, false
	}
	d.next++
	return others[d.next%len(others)], true
}

// leave tells every other member that this one leaves, then stops the
// prober and the gossip sender.
func (d *discovery) leave(ctx context.Context) {
	d.mu.Lock()
	started := d.started && !d.stopped
	d.stopped = true
	d.mu.Unlock()
	if started {
		for _, m := range d.snapshot() {
			if m.ID == d.self.ID || ctx.Err() != nil {
				continue
			}
			d.send(m.Addr, request{Cmd: cmdLeave, From: d.self, Subject: d.self})
		}
	}
	d.cancel()
}

// snapshot returns the members known alive, sorted by name.
func (d *discovery) snapshot() []Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sortedLocked()
}

func (d *discovery) sortedLocked() []Member {
	out := make([]Member, 0, len(d.members))
	for _, m := range d.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// findByName returns the member named name.
func (d *discovery) findByName(name string) (Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.members[name]
	if !ok {
		return Member{}, fmt.Errorf("routingtable: no member named %q", name)
	}
	return m, nil
}

// findByID returns the member with this id.
func (d *discovery) findByID(id uint64) (Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.members {
		if m.ID == id {
			return m, nil
		}
	}
	return Member{}, fmt.Errorf("routingtable: no member with id %x", id)
}

// coordinator returns the oldest member known alive.
func (d *discovery) coordinator() Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	var c Member
	for _, m := range d.members {
		if c.ID == 0 || older(m, c) {
			c = m
		}
	}
	return c
}

// isCoordinator reports whether this member is the coordinator.
func (d *discovery) isCoordinator() bool { return d.coordinator().ID == d.self.ID }

// numMembers returns how many members are known alive, this one included.
func (d *discovery) numMembers() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.members)
}

// wait waits until the prober and the gossip sender have returned.
func (d *discovery) wait(ctx context.Context) error { return waitCtx(ctx, &d.wg) }

// sleepCtx sleeps for dur or until ctx is done; it reports whether it slept.
func sleepCtx(ctx context.Context, dur time.Duration) bool {
	t := harness.NewTimer(dur)
	defer t.Stop()
	return harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 0
}
