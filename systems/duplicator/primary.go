package duplicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// ErrBadPartition is returned for a write to a partition the primary does
// not serve.
var ErrBadPartition = errors.New("duplicator: no such partition")

// replica is one partition of the primary: two-phase commit over the
// private log, the state machine, and the group check.
type replica struct {
	p    int
	inc  int // the primary's incarnation
	cfg  Config
	disk *Disk
	obs  *Observer

	mu            harness.Mutex
	applied       *harness.Cond // broadcast when lastApplied moves
	lastPrepared  int64
	lastCommitted int64
	lastApplied   int64
	acked         map[int64]Mutation // logged and acknowledged, not yet committed
	store         map[string]string
	lastPrepareAt time.Time
}

func newReplica(p, incarnation int, cfg Config, disk *Disk, obs *Observer) *replica {
	r := &replica{p: p, inc: incarnation, cfg: cfg, disk: disk, obs: obs, acked: map[int64]Mutation{}, store: map[string]string{}}
	r.applied = harness.NewCond(&r.mu)
	return r
}

// replay rebuilds the state from the private log when the primary starts:
// every logged mutation was acknowledged by the group, so the new primary
// commits all of them (its first empty write makes that durable).
func (r *replica) replay() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.disk.Log(r.p) {
		r.lastPrepared, r.lastCommitted = m.Decree, m.Decree
		r.apply(m)
	}
	r.lastPrepareAt = harness.Now()
}

// apply executes a committed mutation. Under r.mu.
func (r *replica) apply(m Mutation) {
	if !m.Empty {
		r.store[m.Key] = m.Value
	}
	r.lastApplied = m.Decree
	r.obs.committed(r.p, m)
	r.applied.Broadcast()
}

// lastAppliedDecree is the last decree applied to the state machine.
func (r *replica) lastAppliedDecree() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastApplied
}

// write runs two-phase commit for one mutation and returns its decree once
// it is applied: prepare (next decree, carrying last_committed_decree),
// append to the private log, acknowledgement, commit (in decree order),
// apply.
func (r *replica) write(ctx context.Context, key, value string, empty bool) (int64, error) {
	r.mu.Lock()
	if err := ctx.Err(); err != nil { // a crashed incarnation (real mode)
		r.mu.Unlock()
		return 0, err
	}
	m := Mutation{Decree: r.lastPrepared + 1, LastCommitted: r.lastCommitted, Empty: empty, Key: key, Value: value}
	if err := r.disk.append(r.p, r.inc, m); err != nil {
		r.mu.Unlock()
		return 0, err
	}
	r.lastPrepared = m.Decree
	r.lastPrepareAt = harness.Now()
	r.mu.Unlock()
	r.obs.logged(r.p, r.inc, m)

	// The secondaries log it and answer.
	if d := r.cfg.AckDelay; d > 0 {
		harness.Sleep(d/2 + time.Duration(harness.IntN(int(d/2)+1)))
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.acked[m.Decree] = m
	for {
		next, ok := r.acked[r.lastCommitted+1]
		if !ok {
			break
		}
		delete(r.acked, next.Decree)
		r.lastCommitted = next.Decree
		r.apply(next)
	}
	for r.lastApplied < m.Decree {
		r.applied.Wait()
	}
	return m.Decree, nil
}

// groupCheck writes an empty mutation at every group check that finds no
// mutation prepared for a whole interval.
func (r *replica) groupCheck(ctx context.Context) {
	phase := r.cfg.GroupCheckPhase
	if phase < 0 {
		phase = time.Duration(harness.IntN(int(r.cfg.GroupCheckInterval)))
	}
	if !sleepCtx(ctx, phase) {
		return
	}
	tick := harness.NewTicker(r.cfg.GroupCheckInterval)
	defer tick.Stop()
	for {
		r.mu.Lock()
		idle := harness.Since(r.lastPrepareAt) >= r.cfg.GroupCheckInterval
		r.mu.Unlock()
		if idle {
			harness.Note("partition %d: group check: empty write", r.p)
			if _, err := r.write(ctx, "", "", true); err != nil {
				return
			}
		}
		if harness.Select(tick.C.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
			return
		}
	}
}

// sleepCtx sleeps for d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := harness.NewTimer(d)
	defer t.Stop()
	return harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 0
}

// writeRequest and writeResponse are the client protocol.
type writeRequest struct {
	P     int    `json:"p"`
	Key   string `json:"k"`
	Value string `json:"v"`
}

type writeResponse struct {
	Decree int64  `json:"d"`
	Err    string `json:"err,omitempty"`
}

// Primary returns the main function of the primary's node: ServePrimary
// with the node's context and incarnation. disk must be the same for every
// incarnation.
func Primary(v Variant, cfg Config, disk *Disk, obs *Observer) func(n *harness.Node) {
	return func(n *harness.Node) {
		_ = ServePrimary(n.Context(), n, n.Incarnation(), v, cfg, disk, obs)
	}
}

// ServePrimary runs a primary replica of cfg.Partitions partitions on host
// until ctx is done: it replays the private logs, writes the new primary's
// empty write, starts the group checks and the duplications, and serves
// client writes on cfg.Port. incarnation numbers this life of the primary
// for the observer.
func ServePrimary(ctx context.Context, host harness.Host, incarnation int, v Variant, cfg Config, disk *Disk, obs *Observer) error {
	if disk.Partitions() != cfg.Partitions {
		return fmt.Errorf("duplicator: disk has %d partitions, config %d", disk.Partitions(), cfg.Partitions)
	}
	l, err := host.Listen(cfg.Port)
	if err != nil {
		return err
	}
	obs.resource(RolePrimary, incarnation, ResListener, +1)
	defer func() {
		l.Close()
		obs.resource(RolePrimary, incarnation, ResListener, -1)
	}()
	disk.open(incarnation)
	replicas := make([]*replica, cfg.Partitions)
	for p := range replicas {
		r := newReplica(p, incarnation, cfg, disk, obs)
		r.replay()
		// A new primary commits what it inherited with an empty write.
		if _, err := r.write(ctx, "", "", true); err != nil {
			return err
		}
		replicas[p] = r
	}
	for _, r := range replicas {
		d := newDuplication(v, r, host, incarnation)
		goCounted(obs, RolePrimary, incarnation, ResGroupCheck, func() { r.groupCheck(ctx) })
		goCounted(obs, RolePrimary, incarnation, ResDuplication, func() { d.run(ctx) })
	}
	for {
		c, err := l.Accept(ctx)
		if err != nil {
			return err
		}
		c = countConn(c, obs, RolePrimary, incarnation, ResClientConn)
		harness.Go(func() { serveWrites(ctx, c, replicas) })
	}
}

// countedConn is a connection the observer accounts for: released (-1)
// by its first Close. Close is called by one goroutine at a time.
type countedConn struct {
	harness.Conn
	released bool
	release  func()
}

// countConn reports c opened (+1) as a resource of kind r, and returns it
// wrapped so that closing it reports it released.
func countConn(c harness.Conn, obs *Observer, role Role, inc int, r Resource) harness.Conn {
	obs.resource(role, inc, r, +1)
	return &countedConn{Conn: c, release: func() { obs.resource(role, inc, r, -1) }}
}

// Close closes the connection, and reports it released the first time.
func (c *countedConn) Close() error {
	err := c.Conn.Close()
	if !c.released {
		c.released = true
		c.release()
	}
	return err
}

// goCounted runs f on a new goroutine, reporting it to the observer as a
// resource of kind r from its start to its end.
func goCounted(obs *Observer, role Role, inc int, r Resource, f func()) {
	obs.resource(role, inc, r, +1)
	harness.Go(func() {
		defer obs.resource(role, inc, r, -1)
		f()
	})
}

// serveWrites answers one client connection's writes, one at a time, and
// closes the connection when the client hangs up or the primary stops.
func serveWrites(ctx context.Context, c harness.Conn, replicas []*replica) {
	defer c.Close()
	for {
		b, err := c.Recv(ctx)
		if err != nil {
			return
		}
		var req writeRequest
		var resp writeResponse
		switch err := json.Unmarshal(b, &req); {
		case err != nil:
			resp.Err = err.Error()
		case req.P < 0 || req.P >= len(replicas):
			resp.Err = ErrBadPartition.Error()
		default:
			d, err := replicas[req.P].write(ctx, req.Key, req.Value, false)
			if err != nil {
				return
			}
			resp.Decree = d
		}
		out, _ := json.Marshal(resp)
		if c.Send(ctx, out) != nil {
			return
		}
	}
}

// Client writes to a primary over one connection. Write is not safe for
// concurrent use; Close may be called while a Write is in flight (the Write
// then fails).
type Client struct {
	c harness.Conn
}

// Dial connects a client from host to the primary at addr.
func Dial(ctx context.Context, host harness.Host, addr string) (*Client, error) {
	c, err := host.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Write writes key=value to partition p and returns the write's decree once
// the primary applied it. After an error the outcome is unknown and the
// client should be closed.
func (c *Client) Write(ctx context.Context, p int, key, value string) (int64, error) {
	b, _ := json.Marshal(writeRequest{P: p, Key: key, Value: value})
	if err := c.c.Send(ctx, b); err != nil {
		return 0, err
	}
	b, err := c.c.Recv(ctx)
	if err != nil {
		return 0, err
	}
	var resp writeResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return 0, err
	}
	if resp.Err != "" {
		if resp.Err == ErrBadPartition.Error() {
			return 0, ErrBadPartition
		}
		return 0, errors.New(resp.Err)
	}
	return resp.Decree, nil
}

// Close closes the connection; closing twice returns net.ErrClosed.
func (c *Client) Close() error { return c.c.Close() }
