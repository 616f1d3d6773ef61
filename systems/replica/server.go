package replica

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// ReplicaConfig configures a replica server.
type ReplicaConfig struct {
	// Port to listen on; 0 means ReplicaPort.
	Port int
	// Meta is the meta server's address.
	Meta string
	// BeaconInterval is how often the server tells meta it is alive; 0
	// means 200ms.
	BeaconInterval time.Duration
	// ReplicationTimeout bounds how long a primary waits for its
	// secondaries to acknowledge a write before it gives up on it
	// (CodeAborted); 0 means two seconds.
	ReplicationTimeout time.Duration
	// DialTimeout bounds a dial to a peer or to meta; 0 means 200ms.
	DialTimeout time.Duration
}

func (c ReplicaConfig) withDefaults() ReplicaConfig {
	if c.Port == 0 {
		c.Port = ReplicaPort
	}
	if c.Meta == "" {
		c.Meta = "meta:" + strconv.Itoa(MetaPort)
	}
	if c.BeaconInterval <= 0 {
		c.BeaconInterval = 200 * time.Millisecond
	}
	if c.ReplicationTimeout <= 0 {
		c.ReplicationTimeout = 2 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 200 * time.Millisecond
	}
	return c
}

type role int

const (
	roleNone role = iota
	rolePrimary
	roleSecondary
)

// ack is one acknowledgement from a secondary: of the prepare of decree
// (sync false) or of the sync of ballot (sync true) of partition part.
type ack struct {
	from   string
	part   int
	ballot int64
	decree int64
	sync   bool
}

// partState is a replica's copy of one partition.
type partState struct {
	ballot  int64
	primary string // the primary at ballot, as far as we know
	role    role
	// term counts the times this replica became the partition's primary:
	// a new configuration that keeps it primary (a dead secondary
	// removed) keeps the term, and writes in flight go on.
	term        int
	ready       bool     // primary: its secondaries are synced in this term
	secondaries []string // primary: at ballot
	data        map[string]string
	decree      int64
	// writeMu orders the primary's writes and syncs: one at a time.
	writeMu harness.Mutex
}

// server is a replica server.
type server struct {
	cfg  ReplicaConfig
	self string
	host harness.Host
	ctx  context.Context

	wg harness.WaitGroup // every goroutine of the server

	mu      harness.Mutex
	changed *harness.Chan[struct{}] // closed (and replaced) on every ack, config change and close
	parts   map[int]*partState
	acks    map[ack]bool
	peers   map[string]*peer
	closed  bool
}

// peer is an outgoing connection to another replica server.
type peer struct {
	mu   harness.Mutex
	conn harness.Conn
}

// ServeReplica runs a replica server on host until ctx is done, and
// returns once every goroutine it started has returned. self is the
// server's address as meta and its peers know it.
func ServeReplica(ctx context.Context, host harness.Host, self string, cfg ReplicaConfig) error {
	cfg = cfg.withDefaults()
	s := &server{cfg: cfg, self: self, host: host, ctx: ctx, changed: harness.NewChan[struct{}](0),
		parts: map[int]*partState{}, acks: map[ack]bool{}, peers: map[string]*peer{}}
	ln, err := host.Listen(cfg.Port)
	if err != nil {
		return err
	}
	defer s.wg.Wait()
	s.wg.Go(func() {
		harness.Select(harness.Done(ctx))
		s.mu.Lock()
		s.closed = true
		s.notify()
		s.mu.Unlock()
		ln.Close()
	})
	s.wg.Go(s.metaLink)
	for {
		c, err := ln.Accept(ctx)
		if err != nil {
			return err
		}
		s.wg.Go(func() { s.serveConn(c) })
	}
}

// notify wakes every goroutine waiting for a change; s.mu is held.
func (s *server) notify() {
	s.changed.Close()
	s.changed = harness.NewChan[struct{}](0)
}

// ReplicaMain returns a node main that runs a replica server at the node's
// address for cfg.Port.
func ReplicaMain(cfg ReplicaConfig) func(n *harness.Node) {
	return func(n *harness.Node) {
		port := cfg.Port
		if port == 0 {
			port = ReplicaPort
		}
		_ = ServeReplica(n.Context(), n, n.Addr(port), cfg)
	}
}

// metaLink beacons to meta and applies the configurations meta sends.
func (s *server) metaLink() {
	for s.ctx.Err() == nil {
		dctx, cancel := harness.WithTimeout(s.ctx, s.cfg.DialTimeout)
		c, err := s.host.Dial(dctx, s.cfg.Meta)
		cancel()
		if err != nil {
			sleepCtx(s.ctx, s.cfg.BeaconInterval)
			continue
		}
		done := harness.NewChan[struct{}](0)
		s.wg.Go(func() {
			defer done.Close()
			for {
				b, err := c.Recv(s.ctx)
				if err != nil {
					return
				}
				if m, err := decode(b); err == nil && m.Type == tConfig {
					s.applyConfig(m.Config)
				}
			}
		})
		beacon := encode(&msg{Type: tBeacon, From: s.self})
		for c.Send(s.ctx, beacon) == nil {
			t := harness.NewTimer(s.cfg.BeaconInterval)
			if harness.Select(t.C.RecvCase(nil, nil), done.RecvCase(nil, nil), harness.Done(s.ctx)) != 0 {
				t.Stop()
				break
			}
		}
		c.Close()
		done.Recv()
	}
}

// part returns the state of partition i, made if missing; s.mu is held.
func (s *server) part(i int) *partState {
	ps := s.parts[i]
	if ps == nil {
		ps = &partState{data: map[string]string{}}
		s.parts[i] = ps
	}
	return ps
}

// follower makes ps follow primary at a higher ballot; s.mu is held.
func (s *server) follower(ps *partState, ballot int64, primary string, r role) {
	ps.ballot, ps.primary, ps.role, ps.ready = ballot, primary, r, false
	ps.secondaries = nil
	s.notify()
}

// applyConfig adopts every partition configuration newer than ours.
func (s *server) applyConfig(cfg []PartitionConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pc := range cfg {
		ps := s.part(pc.Index)
		if pc.Ballot <= ps.ballot {
			continue
		}
		switch {
		case pc.Primary == s.self && ps.role == rolePrimary:
			// Still primary, with fewer secondaries: same term.
			ps.ballot = pc.Ballot
			ps.secondaries = slices.Clone(pc.Secondaries)
			s.notify()
		case pc.Primary == s.self:
			ps.term++
			ps.ballot, ps.primary, ps.role, ps.ready = pc.Ballot, s.self, rolePrimary, false
			ps.secondaries = slices.Clone(pc.Secondaries)
			s.notify()
			term := ps.term
			s.wg.Go(func() { s.syncSecondaries(pc.Index, ps, term) })
		case slices.Contains(pc.Secondaries, s.self):
			s.follower(ps, pc.Ballot, pc.Primary, roleSecondary)
		default:
			s.follower(ps, pc.Ballot, pc.Primary, roleNone)
		}
	}
}

// inTerm reports whether ps is still primary in term; s.mu is held.
func (s *server) inTerm(ps *partState, term int) bool {
	return !s.closed && ps.role == rolePrimary && ps.term == term
}

// syncSecondaries makes a new primary ready: it pushes its data to its
// secondaries and waits until each has taken it. A secondary that takes it
// has moved to the new ballot: an old primary among them has stepped down.
func (s *server) syncSecondaries(part int, ps *partState, term int) {
	ps.writeMu.Lock()
	defer ps.writeMu.Unlock()
	sent := map[string]int64{} // the ballot of the last sync sent to each secondary
	synced := func() []string {
		var missing []string
		for _, sec := range ps.secondaries {
			if b, ok := sent[sec]; !ok || !s.acks[ack{from: sec, part: part, ballot: b, sync: true}] {
				missing = append(missing, sec)
			}
		}
		return missing
	}
	for {
		s.mu.Lock()
		if !s.inTerm(ps, term) {
			s.mu.Unlock()
			return
		}
		missing := synced()
		if len(missing) == 0 {
			ps.ready = true
			for sec, b := range sent {
				delete(s.acks, ack{from: sec, part: part, ballot: b, sync: true})
			}
			s.mu.Unlock()
			return
		}
		m := &msg{Type: tSync, Part: part, Ballot: ps.ballot, From: s.self, Data: maps.Clone(ps.data)}
		for _, sec := range missing {
			sent[sec] = ps.ballot
		}
		s.mu.Unlock()
		for _, sec := range missing {
			s.sendPeer(sec, m)
		}
		s.waitAcks(ps, term, s.cfg.ReplicationTimeout, func() bool { return len(synced()) == 0 })
	}
}

// waitAcks waits until done() holds, ps leaves term, the server closes, or
// d passes; s.mu is not held on entry or exit.
func (s *server) waitAcks(ps *partState, term int, d time.Duration, done func() bool) {
	t := harness.NewTimer(d)
	defer t.Stop()
	for {
		s.mu.Lock()
		if !s.inTerm(ps, term) || done() {
			s.mu.Unlock()
			return
		}
		changed := s.changed
		s.mu.Unlock()
		if harness.Select(changed.RecvCase(nil, nil), t.C.RecvCase(nil, nil), harness.Done(s.ctx)) != 0 {
			return
		}
	}
}

// sendPeer sends m to replica server addr, dialing it if needed. A message
// that cannot be sent is lost: the sender waits for an acknowledgement that
// never comes, and gives up.
func (s *server) sendPeer(addr string, m *msg) {
	s.mu.Lock()
	p := s.peers[addr]
	if p == nil {
		p = &peer{}
		s.peers[addr] = p
	}
	s.mu.Unlock()
	p.mu.Lock()
	c := p.conn
	if c == nil {
		dctx, cancel := harness.WithTimeout(s.ctx, s.cfg.DialTimeout)
		var err error
		c, err = s.host.Dial(dctx, addr)
		cancel()
		if err != nil {
			p.mu.Unlock()
			return
		}
		p.conn = c
		s.wg.Go(func() { s.readPeer(p, c) })
	}
	p.mu.Unlock()
	if c.Send(s.ctx, encode(m)) != nil {
		s.dropPeer(p, c)
	}
}

func (s *server) dropPeer(p *peer, c harness.Conn) {
	p.mu.Lock()
	if p.conn == c {
		p.conn = nil
	}
	p.mu.Unlock()
	c.Close()
}

// readPeer reads the acknowledgements on an outgoing peer connection.
func (s *server) readPeer(p *peer, c harness.Conn) {
	defer s.dropPeer(p, c)
	for {
		b, err := c.Recv(s.ctx)
		if err != nil {
			return
		}
		m, err := decode(b)
		if err != nil || !m.OK {
			continue // a refusal: the peer has a newer ballot; meta will tell us
		}
		s.mu.Lock()
		s.acks[ack{from: m.From, part: m.Part, ballot: m.Ballot, decree: m.Decree, sync: m.Type == tSynced}] = true
		s.notify()
		s.mu.Unlock()
	}
}

// serveConn reads an incoming connection: client requests, and prepares
// and syncs from a primary.
func (s *server) serveConn(c harness.Conn) {
	defer c.Close()
	for {
		b, err := c.Recv(s.ctx)
		if err != nil {
			return
		}
		m, err := decode(b)
		if err != nil {
			return
		}
		var reply *msg
		switch m.Type {
		case tReq:
			s.wg.Go(func() {
				_ = c.Send(s.ctx, encode(s.handle(m)))
			})
			continue
		case tPrepare, tSync:
			reply = s.follow(m)
		default:
			continue
		}
		if c.Send(s.ctx, encode(reply)) != nil {
			return
		}
	}
}

// follow applies a prepare or a sync from a primary, as a secondary.
func (s *server) follow(m *msg) *msg {
	reply := &msg{Type: tPrepared, Part: m.Part, Ballot: m.Ballot, Decree: m.Decree, From: s.self}
	if m.Type == tSync {
		reply.Type = tSynced
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.part(m.Part)
	switch {
	case m.Ballot > ps.ballot:
		s.follower(ps, m.Ballot, m.From, roleSecondary)
	case m.Ballot == ps.ballot && (ps.primary == "" || ps.primary == m.From) && ps.role != rolePrimary:
		ps.primary = m.From
	case m.Ballot < ps.ballot && ps.primary == m.From && ps.role == roleSecondary:
		// Our primary, from before it dropped a dead secondary: its
		// writes in flight go on.
	default:
		return reply // refused: not our primary
	}
	ps.role = roleSecondary
	if m.Type == tSync {
		ps.data = maps.Clone(m.Data)
		if ps.data == nil {
			ps.data = map[string]string{}
		}
	} else {
		apply(ps.data, m.Op, m.Key, m.Value)
		ps.decree = m.Decree
	}
	reply.OK = true
	return reply
}

func apply(data map[string]string, op, key, value string) {
	if op == opDel {
		delete(data, key)
	} else {
		data[key] = value
	}
}

// handle serves a client request.
func (s *server) handle(m *msg) *msg {
	reply := &msg{Type: tResp, Seq: m.Seq, Part: m.Part}
	s.mu.Lock()
	ps := s.parts[m.Part]
	if ps == nil {
		s.mu.Unlock()
		reply.Err = CodeObjectNotFound
		return reply
	}
	if m.Op == opGet {
		if ps.role != rolePrimary || !ps.ready {
			reply.Err = CodeInvalidState
		} else {
			reply.Value, reply.Found = ps.data[m.Key]
		}
		s.mu.Unlock()
		return reply
	}
	s.mu.Unlock()
	return s.write(ps, m, reply)
}

// write replicates a write to every secondary and applies it once all have
// acknowledged it.
func (s *server) write(ps *partState, m, reply *msg) *msg {
	ps.writeMu.Lock()
	defer ps.writeMu.Unlock()
	s.mu.Lock()
	if ps.role != rolePrimary || !ps.ready {
		s.mu.Unlock()
		reply.Err = CodeInvalidState
		return reply
	}
	// What the write does, as a set or a delete: secondaries apply it as
	// is, so a write applied twice changes nothing.
	op, value := m.Op, m.Value
	if op == opIncr {
		n := int64(0)
		if v, ok := ps.data[m.Key]; ok {
			var err error
			if n, err = strconv.ParseInt(v, 10, 64); err != nil {
				s.mu.Unlock()
				reply.Err = CodeInvalidData
				return reply
			}
		}
		reply.N = n + m.Delta
		op, value = opSet, strconv.FormatInt(reply.N, 10)
	}
	ballot, term := ps.ballot, ps.term
	ps.decree++
	decree := ps.decree
	secs := slices.Clone(ps.secondaries)
	s.mu.Unlock()

	prep := &msg{Type: tPrepare, Part: m.Part, Ballot: ballot, Decree: decree, From: s.self, Op: op, Key: m.Key, Value: value}
	for _, sec := range secs {
		s.sendPeer(sec, prep)
	}
	acked := func() bool {
		for _, sec := range ps.secondaries {
			if !s.acks[ack{from: sec, part: m.Part, ballot: ballot, decree: decree}] {
				return false
			}
		}
		return true
	}
	s.waitAcks(ps, term, s.cfg.ReplicationTimeout, acked)

	s.mu.Lock()
	defer s.mu.Unlock()
	ok := s.inTerm(ps, term) && acked()
	for _, sec := range secs {
		delete(s.acks, ack{from: sec, part: m.Part, ballot: ballot, decree: decree})
	}
	if !ok {
		reply.Err = CodeAborted
		reply.N = 0
		return reply
	}
	apply(ps.data, op, m.Key, value)
	return reply
}
