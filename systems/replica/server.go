package replica

import (
	"context"
	"fmt"
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
	// Lease is how long the server may act as a primary after sending a
	// beacon that meta answered: once it runs out (meta unreachable), the
	// server serves no reads or writes until meta answers again, and it
	// redials meta. It must be shorter than meta's Grace, so that the
	// server stops before meta gives its partitions to others (Pegasus:
	// fd_lease_seconds 20 < fd_grace_seconds 22). 0 means 900ms.
	Lease time.Duration
	// UnsafeNoLease makes the server serve as a primary whatever its
	// lease. It is wrong (a primary cut from meta serves stale reads after
	// meta has given its partitions to others); tests use it to show that
	// they notice.
	UnsafeNoLease bool
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
	if c.Lease <= 0 {
		c.Lease = 900 * time.Millisecond
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
	term  int
	ready bool // primary: its secondaries are synced in this term
	// secondaries is the primary's replication set at ballot: the
	// partition's secondaries and the learners synced since.
	secondaries  []string
	learners     []string         // primary: the partition's learners at ballot
	learnerBoots []int64          // primary: their incarnations, in learners' order
	synced       map[string]int64 // primary: learners synced in this term, and their incarnation
	learning     map[string]bool  // primary: learners being synced in this term
	data         map[string]string
	decree       int64
	// writeMu orders the primary's writes and syncs: one at a time.
	writeMu harness.Mutex
}

// server is a replica server.
type server struct {
	cfg  ReplicaConfig
	self string
	host harness.Host
	ctx  context.Context
	boot int64 // this incarnation's id: when it started

	wg harness.WaitGroup // every goroutine of the server

	mu      harness.Mutex
	changed *harness.Chan[struct{}] // closed (and replaced) on every ack, config change and close
	parts   map[int]*partState
	acks    map[ack]bool
	boots   map[ack]int64 // the incarnation of the replica that acked a sync
	peers   map[string]*peer
	closed  bool
	// leaseUntil is when the lease meta last granted runs out.
	leaseUntil time.Time
	version    int64 // the version of meta's configuration last applied
}

// peer is the way out to another replica server: a queue of messages,
// sent in order by the peer's own goroutine (sendToPeer).
type peer struct {
	out *harness.Chan[[]byte]
}

// peerQueue bounds the messages waiting for one peer; more are lost.
const peerQueue = 64

// ServeReplica runs a replica server on host until ctx is done, and
// returns once every goroutine it started has returned. self is the
// server's address as meta and its peers know it.
func ServeReplica(ctx context.Context, host harness.Host, self string, cfg ReplicaConfig) error {
	cfg = cfg.withDefaults()
	s := &server{cfg: cfg, self: self, host: host, ctx: ctx, boot: harness.Now().UnixNano(),
		changed: harness.NewChan[struct{}](0),
		parts:   map[int]*partState{}, acks: map[ack]bool{}, boots: map[ack]int64{}, peers: map[string]*peer{}}
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

// metaLink beacons to meta and applies the configurations meta sends. Each
// answer to a beacon extends the server's lease from the time that beacon
// was sent. A connection that brings no answer for a lease is given up and
// meta is dialed again: a message sent on a connection whose other end
// meta has closed (declaring this server dead behind a partition) is lost
// without a trace.
func (s *server) metaLink() {
	for s.ctx.Err() == nil {
		dctx, cancel := harness.WithTimeout(s.ctx, s.cfg.DialTimeout)
		c, err := s.host.Dial(dctx, s.cfg.Meta)
		cancel()
		if err != nil {
			sleepCtx(s.ctx, s.cfg.BeaconInterval)
			continue
		}
		s.beaconOn(c)
	}
}

// beaconOn beacons on connection c until it fails or goes a lease without
// an answer, and closes it.
func (s *server) beaconOn(c harness.Conn) {
	done := harness.NewChan[struct{}](0)
	s.mu.Lock()
	heard := harness.Now() // the last answer on c (or when it opened)
	s.mu.Unlock()
	s.wg.Go(func() {
		defer done.Close()
		for {
			b, err := c.Recv(s.ctx)
			if err != nil {
				return
			}
			m, err := decode(b)
			if err != nil || m.Type != tConfig {
				continue
			}
			s.mu.Lock()
			heard = harness.Now()
			if m.Sent != 0 {
				if until := time.Unix(0, m.Sent).Add(s.cfg.Lease); until.After(s.leaseUntil) {
					s.leaseUntil = until
				}
			}
			if len(m.Config) > 0 {
				s.applyConfig(m.Config)
				s.version = max(s.version, m.Version)
			}
			s.mu.Unlock()
		}
	})
	for {
		s.mu.Lock()
		silent, version := harness.Since(heard), s.version
		s.mu.Unlock()
		if silent > s.cfg.Lease {
			break
		}
		beacon := encode(&msg{Type: tBeacon, From: s.self, Sent: harness.Now().UnixNano(), Boot: s.boot, Version: version})
		if c.Send(s.ctx, beacon) != nil {
			break
		}
		t := harness.NewTimer(s.cfg.BeaconInterval)
		if harness.Select(t.C.RecvCase(nil, nil), done.RecvCase(nil, nil), harness.Done(s.ctx)) != 0 {
			t.Stop()
			break
		}
	}
	c.Close()
	done.Recv()
}

// leased reports whether meta's lease still runs; s.mu is held.
func (s *server) leased() bool { return s.cfg.UnsafeNoLease || harness.Now().Before(s.leaseUntil) }

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

// applyConfig adopts every partition configuration newer than ours; s.mu
// is held.
func (s *server) applyConfig(cfg []PartitionConfig) {
	for _, pc := range cfg {
		ps := s.part(pc.Index)
		if pc.Ballot <= ps.ballot {
			continue
		}
		switch {
		case pc.Primary == s.self && ps.role == rolePrimary && !joined(ps.secondaries, pc.Secondaries):
			// Still primary, with secondaries dropped, learners added, or
			// a synced learner made a secondary: same term. The
			// replication set keeps the synced learners.
			set := slices.Clone(pc.Secondaries)
			for i, l := range pc.Learners {
				if b, ok := ps.synced[l]; ok && b == pc.LearnerBoots[i] {
					set = append(set, l)
				}
			}
			ps.ballot, ps.secondaries = pc.Ballot, set
			ps.learners, ps.learnerBoots = slices.Clone(pc.Learners), slices.Clone(pc.LearnerBoots)
			s.notify()
			s.startLearning(pc.Index, ps)
		case pc.Primary == s.self:
			// Newly primary (or primary again with a secondary it does not
			// know): a new term, which syncs every secondary before it
			// serves, then each learner.
			ps.term++
			ps.ballot, ps.primary, ps.role, ps.ready = pc.Ballot, s.self, rolePrimary, false
			ps.secondaries, ps.learning, ps.synced = slices.Clone(pc.Secondaries), nil, nil
			ps.learners, ps.learnerBoots = slices.Clone(pc.Learners), slices.Clone(pc.LearnerBoots)
			s.notify()
			term := ps.term
			s.wg.Go(func() { s.syncSecondaries(pc.Index, ps, term) })
			s.startLearning(pc.Index, ps)
		case slices.Contains(pc.Secondaries, s.self) || slices.Contains(pc.Learners, s.self):
			s.follower(ps, pc.Ballot, pc.Primary, roleSecondary)
		default:
			s.follower(ps, pc.Ballot, pc.Primary, roleNone)
		}
	}
}

// joined reports whether next holds a secondary that prev does not.
func joined(prev, next []string) bool {
	for _, r := range next {
		if !slices.Contains(prev, r) {
			return true
		}
	}
	return false
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
				delete(s.boots, ack{from: sec, part: part, ballot: b, sync: true})
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

// startLearning starts syncing each learner of ps that is neither synced
// nor being synced in this term; s.mu is held.
func (s *server) startLearning(part int, ps *partState) {
	for i, l := range ps.learners {
		if b, ok := ps.synced[l]; (ok && b == ps.learnerBoots[i]) || ps.learning[l] {
			continue
		}
		if ps.learning == nil {
			ps.learning = map[string]bool{}
		}
		ps.learning[l] = true
		term := ps.term
		s.wg.Go(func() { s.learn(part, ps, term, l) })
	}
}

// learnerBoot returns the incarnation under which l is a learner of ps, and
// whether it is one; s.mu is held.
func learnerBoot(ps *partState, l string) (int64, bool) {
	i := slices.Index(ps.learners, l)
	if i < 0 || i >= len(ps.learnerBoots) {
		return 0, false
	}
	return ps.learnerBoots[i], true
}

// learn syncs learner l of partition part, writes held back meanwhile (a
// write after the sync reaches l, one before is in the data it gets), adds
// it to the replication set and asks meta to make it a secondary. It waits
// a tenth of the replication timeout for l's answer (a sync is one round
// trip; writes wait meanwhile), and tries again a beacon interval later,
// until l answers in the incarnation meta knows, the term ends or l is no
// longer a learner.
func (s *server) learn(part int, ps *partState, term int, l string) {
	defer func() {
		s.mu.Lock()
		if ps.term == term {
			delete(ps.learning, l)
		}
		s.mu.Unlock()
	}()
	for {
		ps.writeMu.Lock()
		s.mu.Lock()
		if !s.inTerm(ps, term) || !slices.Contains(ps.learners, l) {
			s.mu.Unlock()
			ps.writeMu.Unlock()
			return
		}
		key := ack{from: l, part: part, ballot: ps.ballot, sync: true}
		m := &msg{Type: tSync, Part: part, Ballot: ps.ballot, From: s.self, Data: maps.Clone(ps.data)}
		s.mu.Unlock()
		s.sendPeer(l, m)
		s.waitAcks(ps, term, max(s.cfg.ReplicationTimeout/10, 10*time.Millisecond), func() bool { return s.acks[key] })
		s.mu.Lock()
		boot := s.boots[key]
		want, isLearner := learnerBoot(ps, l)
		ok := s.inTerm(ps, term) && s.acks[key] && isLearner && boot == want
		delete(s.acks, key)
		delete(s.boots, key)
		if ok {
			if ps.synced == nil {
				ps.synced = map[string]int64{}
			}
			ps.synced[l] = boot
			ps.secondaries = append(ps.secondaries, l)
			s.notify()
		}
		s.mu.Unlock()
		ps.writeMu.Unlock()
		if ok {
			s.upgrade(part, l, boot)
			return
		}
		if !sleepCtx(s.ctx, s.cfg.BeaconInterval) {
			return
		}
	}
}

// upgrade asks meta to make the synced learner l of partition part (its
// incarnation boot) a secondary, a few times if meta cannot be reached; a
// learner meta does not upgrade stays one (it is never made primary).
func (s *server) upgrade(part int, l string, boot int64) {
	for try := 0; try < 3; try++ {
		if s.ask(&msg{Type: tUpgrade, Seq: 1, Part: part, From: s.self, To: l, Boot: boot}) == nil {
			return
		}
		if !sleepCtx(s.ctx, s.cfg.BeaconInterval) {
			return
		}
	}
}

// ask sends one request to meta on a connection of its own and waits for
// the answer; it returns an error for no answer or a refusal.
func (s *server) ask(req *msg) error {
	ctx, cancel := harness.WithTimeout(s.ctx, s.cfg.DialTimeout+s.cfg.Lease)
	defer cancel()
	c, err := s.host.Dial(ctx, s.cfg.Meta)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(ctx, encode(req)); err != nil {
		return err
	}
	b, err := c.Recv(ctx)
	if err != nil {
		return err
	}
	resp, err := decode(b)
	if err != nil {
		return err
	}
	if resp.Err != "" {
		return fmt.Errorf("replica: %s: %s: %s", req.Type, resp.Err, resp.Value)
	}
	return nil
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

// sendPeer queues m for replica server addr, and returns at once: a dial
// to a peer that vanished must not hold back the write or sync that sends
// (it would keep the partition unavailable after meta has dropped that
// peer). A message that cannot be sent is lost: the sender waits for an
// acknowledgement that never comes, and gives up.
func (s *server) sendPeer(addr string, m *msg) {
	s.mu.Lock()
	p := s.peers[addr]
	if p == nil {
		p = &peer{out: harness.NewChan[[]byte](peerQueue)}
		s.peers[addr] = p
		s.wg.Go(func() { s.sendToPeer(addr, p) })
	}
	s.mu.Unlock()
	harness.Select(p.out.SendCase(encode(m)), harness.Default())
}

// sendToPeer sends peer p's messages in the order they were queued,
// dialing when it has no connection; a message whose connection broke is
// sent once more on a new one (the peer restarted, say), and one that
// cannot be sent is lost.
func (s *server) sendToPeer(addr string, p *peer) {
	var c harness.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		var b []byte
		if harness.Select(p.out.RecvCase(&b, nil), harness.Done(s.ctx)) != 0 {
			return
		}
		for try := 0; try < 2; try++ {
			if c == nil {
				if c = s.dialPeer(addr); c == nil {
					break
				}
			}
			if c.Send(s.ctx, b) == nil {
				break
			}
			c.Close()
			c = nil
		}
	}
}

// dialPeer dials replica server addr and starts reading its answers; nil
// if the dial failed.
func (s *server) dialPeer(addr string) harness.Conn {
	dctx, cancel := harness.WithTimeout(s.ctx, s.cfg.DialTimeout)
	defer cancel()
	c, err := s.host.Dial(dctx, addr)
	if err != nil {
		return nil
	}
	s.wg.Go(func() { s.readPeer(c) })
	return c
}

// readPeer reads the acknowledgements on an outgoing peer connection; when
// it breaks, it closes it (sendToPeer's next send fails and dials again).
func (s *server) readPeer(c harness.Conn) {
	defer c.Close()
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
		k := ack{from: m.From, part: m.Part, ballot: m.Ballot, decree: m.Decree, sync: m.Type == tSynced}
		s.acks[k] = true
		if k.sync {
			s.boots[k] = m.Boot
		}
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
		reply.Type, reply.Boot = tSynced, s.boot
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
		if ps.role != rolePrimary || !ps.ready || !s.leased() {
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
	if ps.role != rolePrimary || !ps.ready || !s.leased() {
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
