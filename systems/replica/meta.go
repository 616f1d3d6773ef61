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
	// Lease is how long a replica server may stay silent before meta
	// declares it dead; 0 means one second.
	Lease time.Duration
	// CheckInterval is how often meta looks for expired leases; 0 means 100ms.
	CheckInterval time.Duration
	// OnChange, if set, is told of every configuration change, from meta's
	// goroutines, after the change is made and pushed to the replicas.
	OnChange func(Change)
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
	// Reason is "dead" (a replica server's lease expired) or "move" (an
	// administrator moved the primary).
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
	if c.Lease <= 0 {
		c.Lease = time.Second
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
	push     map[string]harness.Conn // each replica's beacon connection
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
		push:     map[string]harness.Conn{},
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
			m.mu.Lock()
			if m.dead[req.From] {
				// Declared dead: it stays out of every configuration.
				m.mu.Unlock()
				continue
			}
			m.lastSeen[req.From] = harness.Now()
			m.push[req.From] = c
			reply := &msg{Type: tConfig, Config: m.config()}
			m.mu.Unlock()
			if c.Send(ctx, encode(reply)) != nil {
				return
			}
		case tQuery:
			m.mu.Lock()
			reply := &msg{Type: tResp, Seq: req.Seq, Config: m.config()}
			m.mu.Unlock()
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

// config returns a copy of the configuration; m.mu is held.
func (m *meta) config() []PartitionConfig {
	out := make([]PartitionConfig, len(m.parts))
	for i, pc := range m.parts {
		out[i] = pc.clone()
	}
	return out
}

// pushConfig sends the configuration to every replica server that beacons;
// m.mu is held (sends only queue).
func (m *meta) pushConfig(ctx context.Context) {
	b := encode(&msg{Type: tConfig, Config: m.config()})
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
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(ch)
	}
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
			if m.dead[r] || now.Sub(m.lastSeen[r]) <= m.cfg.Lease {
				continue
			}
			m.dead[r] = true
			if c := m.push[r]; c != nil {
				c.Close()
				delete(m.push, r)
			}
			changes = append(changes, m.removeDead(r, now)...)
		}
		if len(changes) > 0 {
			m.pushConfig(ctx)
		}
		m.mu.Unlock()
		if m.cfg.OnChange != nil {
			for _, ch := range changes {
				m.cfg.OnChange(ch)
			}
		}
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
		case slices.Contains(pc.Secondaries, r):
			pc.Secondaries = slices.DeleteFunc(pc.Secondaries, func(s string) bool { return s == r })
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
