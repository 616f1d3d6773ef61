package replica

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// MetaConfig configures the meta server.
type MetaConfig struct {
	// Port to listen on; 0 means MetaPort.
	Port int
	// Replicas are the replica servers' addresses.
	Replicas []string
	// Partitions is the table's number of partitions.
	Partitions int
	// ReplicaCount is how many replicas each partition has (primary
	// included); 0 means 3, and it is at most len(Replicas).
	ReplicaCount int
	// Grace is how long a replica server may stay silent before meta
	// declares it dead; 0 means one second. It must be longer than the
	// replica servers' Lease (Pegasus: fd_grace_seconds 22 >
	// fd_lease_seconds 20).
	Grace time.Duration
	// CheckInterval is how often meta looks for expired leases; 0 means 100ms.
	CheckInterval time.Duration
	// OnChange, if set, is told of every configuration change, from meta's
	// goroutines, after the change is made and pushed to the replicas.
	OnChange func(Change)
	// UnsafeJoinAsSecondary adds a rejoining replica server as a secondary
	// at once rather than as a learner. It is wrong (meta may then make a
	// replica that has not been synced the primary, and its empty memory
	// wins); tests use it to show that they notice.
	UnsafeJoinAsSecondary bool
}

// Change is one change of a partition's configuration.
type Change struct {
	// At is when meta made it (harness.Now).
	At        time.Time
	Partition int
	Ballot    int64
	// From and To are the primary before and after ("" for none).
	From, To string
	// Dead is the replica declared dead and removed, for a failover.
	Dead string
	// Joined is the replica server added as a learner, or made a
	// secondary.
	Joined string
	// Reason is "dead" (a replica server went silent for Grace), "restart"
	// (it came back with a new incarnation before that: its memory is gone,
	// so it is removed as if dead), "learn" (a replica server declared dead
	// beacons again and is added as a learner of a partition short of
	// replicas), "join" (the primary synced a learner, which becomes a
	// secondary) or "move" (an administrator moved the primary).
	Reason string
}

func (c MetaConfig) withDefaults() MetaConfig {
	if c.Port == 0 {
		c.Port = MetaPort
	}
	if c.ReplicaCount <= 0 {
		c.ReplicaCount = 3
	}
	c.ReplicaCount = min(c.ReplicaCount, len(c.Replicas))
	if c.Grace <= 0 {
		c.Grace = time.Second
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = 100 * time.Millisecond
	}
	return c
}

// InitialConfig returns the configuration meta starts with: partition i has
// its primary on replica i mod n and its secondaries on the next ones.
func InitialConfig(replicas []string, partitions, replicaCount int) []PartitionConfig {
	n := len(replicas)
	out := make([]PartitionConfig, partitions)
	for i := range out {
		pc := PartitionConfig{Index: i, Ballot: 1}
		if n > 0 {
			pc.Primary = replicas[i%n]
			for j := 1; j < min(replicaCount, n); j++ {
				pc.Secondaries = append(pc.Secondaries, replicas[(i+j)%n])
			}
		}
		out[i] = pc
	}
	return out
}

// meta is the meta server's state.
type meta struct {
	cfg      MetaConfig
	wg       harness.WaitGroup // every goroutine of the server
	mu       harness.Mutex
	parts    []PartitionConfig
	lastSeen map[string]time.Time
	dead     map[string]bool
	boot     map[string]int64        // each replica's incarnation, from its beacons
	push     map[string]harness.Conn // each replica's beacon connection
	version  int64                   // the configuration's version: one more at every change
}

// ServeMeta runs a meta server on host until ctx is done (on a node: its
// Context, done when it crashes), and returns once every goroutine it
// started has returned.
func ServeMeta(ctx context.Context, host harness.Host, cfg MetaConfig) error {
	cfg = cfg.withDefaults()
	m := &meta{
		cfg:      cfg,
		parts:    InitialConfig(cfg.Replicas, cfg.Partitions, cfg.ReplicaCount),
		lastSeen: map[string]time.Time{},
		dead:     map[string]bool{},
		boot:     map[string]int64{},
		push:     map[string]harness.Conn{},
		version:  1,
	}
	now := harness.Now()
	for _, r := range cfg.Replicas {
		m.lastSeen[r] = now
	}
	ln, err := host.Listen(cfg.Port)
	if err != nil {
		return err
	}
	defer m.wg.Wait()
	m.wg.Go(func() { m.checkLeases(ctx) })
	m.wg.Go(func() {
		harness.Select(harness.Done(ctx))
		ln.Close()
	})
	for {
		c, err := ln.Accept(ctx)
		if err != nil {
			return err
		}
		m.wg.Go(func() { m.serveConn(ctx, c) })
	}
}

// MetaMain returns a node main that runs a meta server.
func MetaMain(cfg MetaConfig) func(n *harness.Node) {
	return func(n *harness.Node) { _ = ServeMeta(n.Context(), n, cfg) }
}

func (m *meta) serveConn(ctx context.Context, c harness.Conn) {
	defer c.Close()
	for {
		b, err := c.Recv(ctx)
		if err != nil {
			return
		}
		req, err := decode(b)
		if err != nil {
			return
		}
		switch req.Type {
		case tBeacon:
			reply, changes := m.beacon(ctx, req, c)
			m.tell(changes)
			if reply != nil && c.Send(ctx, encode(reply)) != nil {
				return
			}
		case tQuery:
			m.mu.Lock()
			reply := &msg{Type: tResp, Seq: req.Seq, Config: m.config()}
			m.mu.Unlock()
			if c.Send(ctx, encode(reply)) != nil {
				return
			}
		case tUpgrade:
			reply := &msg{Type: tResp, Seq: req.Seq}
			if err := m.upgrade(ctx, req); err != nil {
				reply.Err = CodeInvalidParameters
				reply.Value = err.Error()
			}
			if c.Send(ctx, encode(reply)) != nil {
				return
			}
		case tMove:
			reply := &msg{Type: tResp, Seq: req.Seq}
			if err := m.move(ctx, req.Part, req.To); err != nil {
				reply.Err = CodeInvalidParameters
				reply.Value = err.Error()
			}
			if c.Send(ctx, encode(reply)) != nil {
				return
			}
		}
	}
}

// beacon handles a replica server's beacon on connection c, and returns
// the answer (nil for a server meta does not know) and the changes it
// made. A server that comes back with a new incarnation (it restarted and
// lost its memory) is removed from every partition as if it had died; a
// server that meta had declared dead, or that was just so removed, joins
// again as a secondary of the partitions short of replicas (the primary
// syncs it before it serves again).
func (m *meta) beacon(ctx context.Context, req *msg, c harness.Conn) (*msg, []Change) {
	r := req.From
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.lastSeen[r]; !ok {
		return nil, nil
	}
	now := harness.Now()
	var changes []Change
	if !m.dead[r] && m.boot[r] != 0 && m.boot[r] != req.Boot {
		changes = m.declareDead(r, now, "restart")
	}
	m.lastSeen[r], m.boot[r], m.push[r] = now, req.Boot, c
	if m.dead[r] {
		m.dead[r] = false
		changes = append(changes, m.join(r, now)...)
	}
	if len(changes) > 0 {
		m.pushConfig(ctx)
	}
	reply := &msg{Type: tConfig, Sent: req.Sent, Version: m.version}
	if req.Version != m.version {
		reply.Config = m.config()
	}
	return reply, changes
}

// tell hands changes to OnChange; m.mu is not held.
func (m *meta) tell(changes []Change) {
	if m.cfg.OnChange != nil {
		for _, ch := range changes {
			m.cfg.OnChange(ch)
		}
	}
}

// join adds replica r as a learner of every partition that has a primary
// and fewer than ReplicaCount replicas; m.mu is held.
func (m *meta) join(r string, now time.Time) []Change {
	var out []Change
	for i := range m.parts {
		pc := &m.parts[i]
		if pc.Primary == "" || pc.Primary == r || slices.Contains(pc.Secondaries, r) || slices.Contains(pc.Learners, r) ||
			1+len(pc.Secondaries)+len(pc.Learners) >= m.cfg.ReplicaCount {
			continue
		}
		reason := "learn"
		if m.cfg.UnsafeJoinAsSecondary {
			pc.Secondaries, reason = append(pc.Secondaries, r), "join"
		} else {
			pc.Learners, pc.LearnerBoots = append(pc.Learners, r), append(pc.LearnerBoots, m.boot[r])
		}
		pc.Ballot++
		out = append(out, Change{At: now, Partition: i, Ballot: pc.Ballot, From: pc.Primary, To: pc.Primary, Joined: r, Reason: reason})
	}
	return out
}

// upgrade makes a learner a secondary, at its primary's request: the
// primary has synced it (its incarnation req.Boot) and replicates to it.
func (m *meta) upgrade(ctx context.Context, req *msg) error {
	m.mu.Lock()
	if req.Part < 0 || req.Part >= len(m.parts) {
		m.mu.Unlock()
		return fmt.Errorf("no partition %d", req.Part)
	}
	pc := &m.parts[req.Part]
	i := slices.Index(pc.Learners, req.To)
	if pc.Primary != req.From || i < 0 || m.dead[req.To] || m.boot[req.To] != req.Boot {
		m.mu.Unlock()
		return fmt.Errorf("%s is not a learner of partition %d led by %s (incarnation %d)", req.To, req.Part, req.From, req.Boot)
	}
	if pc.LearnerBoots[i] != req.Boot {
		m.mu.Unlock()
		return fmt.Errorf("%s joined partition %d as incarnation %d, not %d", req.To, req.Part, pc.LearnerBoots[i], req.Boot)
	}
	pc.Learners = slices.Delete(pc.Learners, i, i+1)
	pc.LearnerBoots = slices.Delete(pc.LearnerBoots, i, i+1)
	pc.Secondaries = append(pc.Secondaries, req.To)
	pc.Ballot++
	ch := Change{At: harness.Now(), Partition: req.Part, Ballot: pc.Ballot, From: pc.Primary, To: pc.Primary, Joined: req.To, Reason: "join"}
	m.pushConfig(ctx)
	m.mu.Unlock()
	m.tell([]Change{ch})
	return nil
}

// declareDead marks replica r dead, drops its beacon connection and takes
// it out of every partition; m.mu is held.
func (m *meta) declareDead(r string, now time.Time, reason string) []Change {
	m.dead[r] = true
	if c := m.push[r]; c != nil {
		c.Close()
		delete(m.push, r)
	}
	changes := m.removeDead(r, now)
	for i := range changes {
		changes[i].Reason = reason
	}
	return changes
}

// config returns a copy of the configuration; m.mu is held.
func (m *meta) config() []PartitionConfig {
	out := make([]PartitionConfig, len(m.parts))
	for i, pc := range m.parts {
		out[i] = pc.clone()
	}
	return out
}

// pushConfig makes a new version of the configuration, which just changed,
// and sends it to every replica server that beacons; m.mu is held (sends
// only queue).
func (m *meta) pushConfig(ctx context.Context) {
	m.version++
	b := encode(&msg{Type: tConfig, Version: m.version, Config: m.config()})
	for _, r := range m.cfg.Replicas {
		if c := m.push[r]; c != nil && !m.dead[r] {
			_ = c.Send(ctx, b)
		}
	}
}

// move makes to the primary of partition part; the old primary becomes a
// secondary. The new primary takes over once it has synced its
// secondaries, the old one among them.
func (m *meta) move(ctx context.Context, part int, to string) error {
	m.mu.Lock()
	if part < 0 || part >= len(m.parts) {
		m.mu.Unlock()
		return fmt.Errorf("no partition %d", part)
	}
	pc := &m.parts[part]
	i := slices.Index(pc.Secondaries, to)
	if i < 0 || m.dead[to] || pc.Primary == "" {
		m.mu.Unlock()
		return fmt.Errorf("%s is not a live secondary of partition %d", to, part)
	}
	from := pc.Primary
	pc.Secondaries[i] = from
	pc.Primary = to
	pc.Ballot++
	ch := Change{At: harness.Now(), Partition: part, Ballot: pc.Ballot, From: from, To: to, Reason: "move"}
	m.pushConfig(ctx)
	m.mu.Unlock()
	m.tell([]Change{ch})
	return nil
}

// checkLeases declares dead the replica servers whose beacons stopped, and
// moves their partitions' primaries to a live secondary.
func (m *meta) checkLeases(ctx context.Context) {
	tick := harness.NewTicker(m.cfg.CheckInterval)
	defer tick.Stop()
	for {
		if harness.Select(tick.C.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
			return
		}
		m.mu.Lock()
		now := harness.Now()
		var changes []Change
		for _, r := range m.cfg.Replicas {
			if m.dead[r] || now.Sub(m.lastSeen[r]) <= m.cfg.Grace {
				continue
			}
			changes = append(changes, m.declareDead(r, now, "dead")...)
		}
		if len(changes) > 0 {
			m.pushConfig(ctx)
		}
		m.mu.Unlock()
		m.tell(changes)
	}
}

// removeDead takes replica r out of every partition; m.mu is held.
func (m *meta) removeDead(r string, now time.Time) []Change {
	var out []Change
	for i := range m.parts {
		pc := &m.parts[i]
		from := pc.Primary
		switch {
		case pc.Primary == r:
			pc.Primary = ""
			for j, s := range pc.Secondaries {
				if !m.dead[s] {
					pc.Primary = s
					pc.Secondaries = slices.Delete(pc.Secondaries, j, j+1)
					break
				}
			}
		case slices.Contains(pc.Secondaries, r) || slices.Contains(pc.Learners, r):
			pc.Secondaries = slices.DeleteFunc(pc.Secondaries, func(s string) bool { return s == r })
			if j := slices.Index(pc.Learners, r); j >= 0 {
				pc.Learners = slices.Delete(pc.Learners, j, j+1)
				pc.LearnerBoots = slices.Delete(pc.LearnerBoots, j, j+1)
			}
		default:
			continue
		}
		pc.Ballot++
		out = append(out, Change{At: now, Partition: i, Ballot: pc.Ballot, From: from, To: pc.Primary, Dead: r, Reason: "dead"})
	}
	return out
}

// MovePrimary asks the meta server at metaAddr, from host, to make replica
// to (a live secondary) the primary of partition part.
func MovePrimary(ctx context.Context, host harness.Host, metaAddr string, part int, to string) error {
	c, err := host.Dial(ctx, metaAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(ctx, encode(&msg{Type: tMove, Seq: 1, Part: part, To: to})); err != nil {
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
		return fmt.Errorf("replica: move partition %d to %s: %s: %s", part, to, resp.Err, resp.Value)
	}
	return nil
}
