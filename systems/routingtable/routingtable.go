package routingtable

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// RoutingTable is one member's routing table (Olric's
// internal/cluster/routingtable): its view of the partition table, and, on
// the coordinator, the computation and the pushes of the table.
type RoutingTable struct {
	cfg *Config
	d   *discovery
	cl  *client
	// selfName and selfID are the member's identity as made by New;
	// read-only. (Olric's code uses `this` for it, which Join sets.)
	selfName  string
	selfID    uint64
	selfBirth int64

	// Olric's atomics.
	ownedPartitionCount atomic.Uint64
	signature           atomic.Uint64
	numMembers          atomic.Int32
	bootstrapped        atomic.Int32

	// this is the member as the cluster knows it, set once joined. It is a
	// plain field, as upstream: Start (Join) writes it, the handlers and
	// the coordinator's goroutines read it.
	this Member

	mu    harness.Mutex // one updateRouting at a time (upstream's RWMutex)
	table *Table        // the table last computed as coordinator; under mu
	seq   int64         // pushes made as coordinator; under mu

	updateMu harness.Mutex // updateRoutingMtx: guards the applied view
	applied  *Table        // the table last applied
	version  Version       // its version
	from     Member        // the coordinator that pushed it

	membersMu harness.Mutex // guards members
	members   map[uint64]Member

	// joined is closed by Join once this is set (FIX(#248)); joinCtx is
	// cancelled when Join fails or the member shuts down.
	joined     *harness.Chan[struct{}]
	joinCtx    context.Context
	joinCancel context.CancelFunc

	lifeMu  harness.Mutex // guards addr, joinedD, closed
	addr    string        // where the member serves
	joinedD bool          // join succeeded: this is set
	closed  bool          // Shutdown began

	ctx    context.Context
	cancel context.CancelFunc
	wg     harness.WaitGroup // listenClusterEvents, pushPeriodically
}

func newRoutingTable(parent context.Context, cfg *Config, d *discovery, cl *client, self Member) *RoutingTable {
	ctx, cancel := harness.WithCancel(parent)
	jctx, jcancel := harness.WithCancel(ctx)
	return &RoutingTable{cfg: cfg, d: d, cl: cl, selfName: self.Name, selfID: self.ID, selfBirth: self.Birthdate,
		members: map[uint64]Member{}, joined: harness.NewChan[struct{}](0), joinCtx: jctx, joinCancel: jcancel,
		ctx: ctx, cancel: cancel}
}

// registerHandlers registers the routing table's commands on the server
// (Olric's RegisterHandlers, called from New).
func (r *RoutingTable) registerHandlers(s *server) {
	s.handle(cmdUpdateRouting, r.updateRoutingHandler)
	s.handle(cmdLookup, r.lookupHandler)
}

func (r *RoutingTable) setAddr(addr string) {
	r.lifeMu.Lock()
	r.addr = addr
	r.lifeMu.Unlock()
}

func (r *RoutingTable) self() Member {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	return Member{Name: r.selfName, ID: r.selfID, Addr: r.addr, Birthdate: r.selfBirth}
}

// This returns the member as the cluster knows it (zero before it joined).
// Like upstream's, it reads `this` without synchronisation: call it only
// after Start returned.
func (r *RoutingTable) This() Member { return r.this }

// Signature returns the signature of the table applied last.
func (r *RoutingTable) Signature() uint64 { return r.signature.Load() }

// OwnedPartitionCount returns how many partitions this member is the primary
// owner of, as computed when the last table was applied.
func (r *RoutingTable) OwnedPartitionCount() uint64 { return r.ownedPartitionCount.Load() }

// NumMembers returns the number of members known alive.
func (r *RoutingTable) NumMembers() int32 { return r.numMembers.Load() }

// IsBootstrapped reports whether a table was applied.
func (r *RoutingTable) IsBootstrapped() bool { return r.bootstrapped.Load() == 1 }

func (r *RoutingTable) markBootstrapped() { r.bootstrapped.Store(1) }

func (r *RoutingTable) setNumMembers() { r.numMembers.Store(int32(r.d.numMembers())) }

// setOwnedPartitionCount counts the partitions whose primary owner is this
// member. Under updateMu.
func (r *RoutingTable) setOwnedPartitionCount() {
	var count uint64
	for part := range r.applied.Owners {
		if r.applied.Owner(part).ID == r.this.ID {
			count++
		}
	}
	r.ownedPartitionCount.Store(count)
}

// join starts discovery, joins the cluster and sets this.
func (r *RoutingTable) join() error {
	if err := r.d.start(r.self()); err != nil {
		return err
	}
	err := r.attemptToJoin()
	if errors.Is(err, ErrClusterJoin) {
		err = nil // form a new cluster
	}
	if err != nil {
		return err
	}
	this, err := r.d.findByName(r.selfName)
	if err != nil {
		return err
	}
	r.this = this
	// The number of members, for the quorum check (a lock of discovery).
	r.setNumMembers()
	r.lifeMu.Lock()
	r.joinedD = true
	r.lifeMu.Unlock()
	return nil
}

// attemptToJoin joins, retrying while no peer answers.
func (r *RoutingTable) attemptToJoin() error {
	for attempts := 0; attempts < r.cfg.MaxJoinAttempts; attempts++ {
		if r.ctx.Err() != nil {
			return ErrServerGone
		}
		_, err := r.d.join(r.ctx)
		if err == nil {
			return nil
		}
		if r.ctx.Err() != nil {
			return ErrServerGone
		}
		if r.IsBootstrapped() {
			return nil // bootstrapped by the coordinator meanwhile
		}
		if !sleepCtx(r.ctx, r.cfg.JoinRetryInterval) {
			return ErrServerGone
		}
	}
	return ErrClusterJoin
}

// Join discovers the cluster, joins it, sets this and releases the handlers
// waiting for it (#248). A Join that fails releases them too, with
// ErrNotJoinedYet. The Buggy variant has no Join: its Start joins.
func (r *RoutingTable) Join() error {
	if r.cfg.Variant == Buggy {
		return errors.New("routingtable: the buggy variant (v0.5.5) joins in Start")
	}
	if r.isJoined() {
		return nil
	}
	if err := r.join(); err != nil {
		// FIX (beyond #248, where a failed Join left every handler blocked
		// on joined forever): release them.
		r.joinCancel()
		return err
	}
	r.joined.Close() // FIX(#248): this is set; the handlers may run
	return nil
}

func (r *RoutingTable) isJoined() bool {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	return r.joinedD
}

// Start starts the routing table: it listens to membership changes,
// bootstraps the cluster if this member is the coordinator, and pushes the
// table periodically. In the Fixed variant it fails with ErrNotJoinedYet
// before Join; in the Buggy variant it joins first, itself.
func (r *RoutingTable) Start() error {
	if r.cfg.Variant == Buggy {
		// BUG(upstream #247): the handlers are live already; a push that
		// arrives while Start joins runs setOwnedPartitionCount, which
		// reads this while join writes it.
		if err := r.join(); err != nil {
			return err
		}
		return r.start()
	}
	// FIX(#248): join first, in Join.
	if !r.isJoined() {
		return ErrNotJoinedYet
	}
	return r.start()
}

func (r *RoutingTable) start() error {
	if !r.spawn(r.listenClusterEvents) {
		return ErrServerGone
	}
	r.addMember(r.this)
	if r.d.isCoordinator() {
		if err := r.bootstrapCoordinator(); err != nil {
			return err
		}
	}
	if !r.spawn(r.pushPeriodically) {
		return ErrServerGone
	}
	return nil
}

// spawn starts f on a goroutine of the routing table unless it shuts down.
func (r *RoutingTable) spawn(f func()) bool {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.closed {
		return false
	}
	r.wg.Go(f)
	return true
}

// CheckBootstrap waits until a table was applied, at most BootstrapTimeout,
// polling every 100 ms as Olric does.
func (r *RoutingTable) CheckBootstrap() error {
	ctx, cancel := harness.WithTimeout(r.ctx, r.cfg.BootstrapTimeout)
	defer cancel()
	t := harness.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !r.IsBootstrapped() {
		if harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
			if r.IsBootstrapped() {
				return nil
			}
			if r.ctx.Err() != nil {
				return ErrServerGone
			}
			return ErrOperationTimeout
		}
	}
	return nil
}

// bootstrapCoordinator makes and pushes the first table.
func (r *RoutingTable) bootstrapCoordinator() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fillRoutingTable()
	if err := r.updateRoutingTableOnCluster(); err != nil {
		return err
	}
	r.markBootstrapped()
	return nil
}

func (r *RoutingTable) addMember(m Member) {
	r.membersMu.Lock()
	r.members[m.ID] = m
	r.membersMu.Unlock()
}

// memberList returns the routing table's members, sorted by name.
func (r *RoutingTable) memberList() []Member {
	r.membersMu.Lock()
	defer r.membersMu.Unlock()
	out := make([]Member, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// processClusterEvent applies a membership change to the member set.
func (r *RoutingTable) processClusterEvent(ev clusterEvent) {
	r.membersMu.Lock()
	switch ev.Kind {
	case NodeJoin:
		r.members[ev.Member.ID] = ev.Member
	case NodeLeave:
		delete(r.members, ev.Member.ID)
	case NodeUpdate:
		delete(r.members, ev.Old.ID)
		r.members[ev.Member.ID] = ev.Member
	}
	r.membersMu.Unlock()
	if ev.Kind != NodeJoin {
		r.cl.closeAddr(ev.Member.Addr) // do not reuse connections to the one that left
	}
	r.setNumMembers()
}

func (r *RoutingTable) listenClusterEvents() {
	for {
		var ev clusterEvent
		if harness.Select(r.d.events.RecvCase(&ev, nil), harness.Done(r.ctx)) == 1 {
			return
		}
		r.processClusterEvent(ev)
		r.updateRouting()
	}
}

func (r *RoutingTable) pushPeriodically() {
	t := harness.NewTicker(r.cfg.PushPeriod)
	defer t.Stop()
	for {
		if harness.Select(t.C.RecvCase(nil, nil), harness.Done(r.ctx)) == 1 {
			return
		}
		r.updateRouting()
	}
}

// updateRouting computes and pushes the table, on the coordinator only.
func (r *RoutingTable) updateRouting() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.d.isCoordinator() {
		return
	}
	r.fillRoutingTable()
	r.updateRoutingTableOnCluster() // a failure waits for the next event or period, as upstream
}

// fillRoutingTable computes the table from the members, keeping the
// previous primary owners known from the table applied last.
func (r *RoutingTable) fillRoutingTable() {
	r.updateMu.Lock()
	prev := r.applied
	r.updateMu.Unlock()
	r.table = distribute(r.memberList(), prev, r.cfg.PartitionCount, r.cfg.ReplicaCount)
}

// updateRoutingTableOnCluster pushes r.table to every member, in parallel,
// and waits for all of them. Under mu.
func (r *RoutingTable) updateRoutingTableOnCluster() error {
	payload, _, err := r.table.encode()
	if err != nil {
		return err
	}
	r.seq++
	v := Version{Epoch: r.this.Birthdate, Seq: r.seq}
	targets := r.memberList()
	if r.cfg.Observer != nil {
		r.cfg.Observer.PushBegin(r.this, v, r.table)
	}
	req := request{Cmd: cmdUpdateRouting, From: r.this, Coordinator: r.this.ID, Version: v, Payload: payload}
	errs := make([]error, len(targets))
	var wg harness.WaitGroup
	for i, m := range targets {
		wg.Go(func() {
			ctx, cancel := harness.WithTimeout(r.ctx, r.cfg.RequestTimeout)
			defer cancel()
			if _, err := r.cl.do(ctx, m.Addr, req); err != nil {
				errs[i] = fmt.Errorf("push to %s: %w", m, err)
			}
		})
	}
	wg.Wait()
	err = errors.Join(errs...)
	if r.cfg.Observer != nil {
		r.cfg.Observer.PushEnd(r.this, v, err)
	}
	return err
}

// waitJoined is the barrier every routing-table handler passes first.
func (r *RoutingTable) waitJoined(ctx context.Context) error {
	if r.cfg.Variant == Buggy {
		return nil // BUG(upstream #247): no barrier: handlers run before this is set
	}
	// FIX(#248): wait until Join has set this. Beyond #248: a failed Join or
	// a shutdown ends the wait (joinCtx), instead of blocking for ever.
	if harness.Select(r.joined.RecvCase(nil, nil), harness.Done(r.joinCtx), harness.Done(ctx)) != 0 {
		return ErrNotJoinedYet
	}
	return nil
}

func errResponse(err error) response { return response{Err: err.Error()} }

// updateRoutingHandler applies a table the coordinator pushed.
func (r *RoutingTable) updateRoutingHandler(ctx context.Context, req request) response {
	if err := r.waitJoined(ctx); err != nil {
		return errResponse(err)
	}
	if err := r.applyPush(req); err != nil {
		return errResponse(err)
	}
	return response{}
}

func (r *RoutingTable) applyPush(req request) error {
	r.updateMu.Lock()
	defer r.updateMu.Unlock()
	t, err := decodeTable(req.Payload)
	if err != nil {
		return err
	}
	// verifyRoutingTable: the sender must be this member's coordinator.
	coordinator, err := r.d.findByID(req.Coordinator)
	if err != nil {
		return err
	}
	if mine := r.d.coordinator(); mine.ID != coordinator.ID {
		return fmt.Errorf("routingtable: unrecognized cluster coordinator %s (ours is %s)", coordinator, mine)
	}
	if len(t.Owners) != r.cfg.PartitionCount {
		return fmt.Errorf("routingtable: invalid partition count %d", len(t.Owners))
	}
	// Beyond upstream, which has no version: a table older than the one
	// applied, from the same coordinator, is refused. Pushes do arrive out
	// of order: the coordinator gives up on a slow member after
	// RequestTimeout and pushes the next table, and the Fixed variant holds
	// every push behind the joined barrier until Join returns, then lets
	// them all go at once, to apply in any order. Without this, a stale
	// table overwrote a newer one until the next push.
	if r.from.ID == coordinator.ID && req.Version.Less(r.version) {
		return fmt.Errorf("%w: version %v, %v is applied", ErrStaleTable, req.Version, r.version)
	}
	r.signature.Store(signatureOf(req.Payload))
	r.applied, r.version, r.from = t, req.Version, coordinator
	r.setOwnedPartitionCount()
	r.markBootstrapped()
	return nil
}

// LookupResult answers an owner lookup.
type LookupResult struct {
	// Member and MemberID name the member that answered.
	Member   string
	MemberID uint64
	// Version and Coordinator identify the table the answer comes from.
	Version     Version
	Coordinator uint64
	// Owner is the partition's primary owner in that table.
	Owner Member
}

func (r *RoutingTable) lookupHandler(ctx context.Context, req request) response {
	if err := r.waitJoined(ctx); err != nil {
		return errResponse(err)
	}
	r.updateMu.Lock()
	defer r.updateMu.Unlock()
	if r.applied == nil {
		return errResponse(ErrNotBootstrapped)
	}
	if req.Part < 0 || req.Part >= len(r.applied.Owners) {
		return errResponse(fmt.Errorf("routingtable: no partition %d", req.Part))
	}
	return response{Lookup: &LookupResult{Member: r.selfName, MemberID: r.selfID, Version: r.version,
		Coordinator: r.from.ID, Owner: r.applied.Owner(req.Part)}}
}

// View is a member's routing state at one moment, for checks.
type View struct {
	// Joined: Start (Buggy) or Join (Fixed) has set this.
	Joined bool
	// Bootstrapped, Signature, OwnedPartitionCount and NumMembers are
	// Olric's values.
	Bootstrapped        bool
	Signature           uint64
	OwnedPartitionCount uint64
	NumMembers          int
	// Version and Coordinator identify the table applied last, Table is it
	// (nil before the first).
	Version     Version
	Coordinator Member
	Table       *Table
}

// view returns the state, consistent with the handler's last apply.
func (r *RoutingTable) view() View {
	r.updateMu.Lock()
	defer r.updateMu.Unlock()
	return View{Joined: r.isJoined(), Bootstrapped: r.IsBootstrapped(), Signature: r.Signature(),
		OwnedPartitionCount: r.OwnedPartitionCount(), NumMembers: int(r.NumMembers()),
		Version: r.version, Coordinator: r.from, Table: r.applied}
}

// Shutdown tells the cluster this member leaves, stops the routing table's
// goroutines and waits for them, at most until ctx is done.
func (r *RoutingTable) Shutdown(ctx context.Context) error {
	r.lifeMu.Lock()
	if r.closed {
		r.lifeMu.Unlock()
		return nil
	}
	r.closed = true
	r.lifeMu.Unlock()
	r.d.leave(ctx)
	r.cancel()
	return errors.Join(waitCtx(ctx, &r.wg), r.d.wait(ctx))
}
