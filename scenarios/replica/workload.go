package replica

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/replica"
)

// auditor is the caller id of the audit's reads.
const auditor = 1000

// run is one run of the workload. What the run's goroutines record goes
// into Histories, which record without synchronising (no happens-before
// edge between the goroutines that record, so no data race of the system
// is hidden) and are never scheduling points; the few fields that need a
// lock take Mu (of scenarios.Run).
type run struct {
	scenarios.Run
	cfg     Config
	variant sys.Variant
	plan    faults.Plan
	name    string // the run's name in reports
	// mainEnd is when Main returned, for the clock check; shutAt when the
	// servers began shutting down.
	mainEnd, shutAt time.Duration
	names           []string
	addrs           []string // the replica servers' node names and addresses
	meta            string   // meta's address

	h        harness.History // the table's calls (kvIn, kvOut), the audit's included
	changes  harness.History // meta's configuration changes (sys.Change)
	injected harness.History // the faults carried out (injected)
	routes   harness.History // routing tables the clients showed (routeSeen)
	ledger   harness.History // connections and listeners (resource)
	requests harness.History // refresh requests: the client's index, and when (time.Time)

	calling    *harness.Chan[int]        // a caller is about to call partition N
	joining    *harness.Chan[sys.Change] // meta added a replica server to a partition
	refreshing *harness.Chan[int]        // client N started a refresh
	planDone   *harness.Chan[struct{}]   // closed once the plan is over, stopAt set
	metaUp     *harness.Chan[struct{}]   // closed once meta listens (first incarnation)
	metaOpen   bool                      // metaUp is closed (Mu)
	closeCue   *harness.Chan[struct{}]   // a caller of the first client calls (CloseEarly only)
	cueFrom    time.Duration             // from when a call cues closeCue (0: never) (Mu)
	cued       bool                      // closeCue was cued (Mu)
	stopAt     time.Duration             // when the callers stop
	nemesis    harness.WaitGroup         // the plan's goroutine
	admin      *harness.Node             // moves primaries
	downs      []string                  // servers the plan crashed, not restarted (the plan's goroutine only)
	servers    map[string]*serving       // each server node's current incarnation (Mu)
	stats      []sys.Stats               // each client's, once closed (Mu)
	closing    []time.Duration           // when a client closed early began closing (Mu)
	closed     []time.Duration           // when its Close returned (Mu)
	closeAt    []time.Time               // when each client began closing (Mu)
	crashed    map[incarnation]bool      // set by Main at the end
	seed       int64
}

// serving is one incarnation of a server node's main: stop shuts it down,
// done is closed when it has returned.
type serving struct {
	inc   int
	began time.Time // when this incarnation started
	stop  context.CancelFunc
	done  *harness.Chan[struct{}]
}

// injected is one fault the plan carried out.
type injected struct {
	What string // "crash r3:34801 (primary of p2)", "heal", ...
	Node string // the replica server hit, "" for heal and moves
	Kind string // "crash", "blackhole", "restart", "cut", "isolate", "cut-clients", "slow", "rejoin", "move"
	// Lasts is how long its effect lasts once it is over: a query to meta
	// lost while the clients were cut waits for its timeout.
	Lasts time.Duration
}

// routeSeen is a look at a client's routing table by one of its callers;
// the table (Client.Config) is the look's output.
type routeSeen struct{ Client int }

// newRun makes the run of one seed.
func newRun(v sys.Variant, cfg Config, plan faults.Plan, seed int64) *run {
	r := &run{cfg: cfg, variant: v, plan: plan, seed: seed, name: fmt.Sprintf("replica-%s-seed%d", v, seed),
		meta: fmt.Sprintf("meta:%d", sys.MetaPort), servers: map[string]*serving{},
		stats: make([]sys.Stats, cfg.Clients), closing: make([]time.Duration, cfg.Clients), closed: make([]time.Duration, cfg.Clients), closeAt: make([]time.Time, cfg.Clients)}
	r.names, r.addrs = cfg.replicaAddrs()
	return r
}

// Main runs the workload: the cluster, the fault plan, the clients and
// their callers, the audit, and a clean shutdown of every server.
func (r *run) Main() {
	harness.Note("replica: %s; plan: %s", r.cfg, r.plan)
	r.calling = harness.NewChan[int](1)
	r.joining = harness.NewChan[sys.Change](1)
	r.refreshing = harness.NewChan[int](1)
	r.planDone = harness.NewChan[struct{}](0)
	r.metaUp = harness.NewChan[struct{}](0)
	r.closeCue = harness.NewChan[struct{}](1)
	nodes, ok := r.startCluster()
	if !ok {
		return
	}
	r.startNemesis()
	var rest harness.WaitGroup
	rest.Go(func() {
		harness.Sleep(settle - epsilon)
		r.checkAtRest(nodes[:len(nodes)-1])
	})

	var clients harness.WaitGroup
	for i := range r.cfg.Clients {
		n := harness.NewNode(fmt.Sprintf("client%d", i+1), nil)
		if err := n.Start(); err != nil {
			r.Violate(checkers.Invariant, "start %s: %v", n, err)
			return
		}
		clients.Add(1)
		if err := n.Go(func() { defer clients.Done(); r.client(n, i) }); err != nil {
			r.Violate(checkers.Invariant, "start %s: %v", n, err)
			return
		}
	}
	clients.Wait()
	r.nemesis.Wait()
	rest.Wait()

	audit := harness.NewNode("auditor", nil)
	if err := audit.Start(); err != nil {
		r.Violate(checkers.Invariant, "start the auditor: %v", err)
		return
	}
	done := harness.NewChan[struct{}](0)
	if err := audit.Go(func() { defer done.Close(); r.audit(audit) }); err != nil {
		r.Violate(checkers.Invariant, "start the audit: %v", err)
		return
	}
	done.Recv()
	r.checkRejoined(nodes[:len(nodes)-1])
	r.shutAt = r.Since()
	r.shutdown(nodes)
	r.mainEnd = r.Since()
	r.Complete()
}

// startCluster starts meta, the replica servers and the administrator's
// node, and returns the server nodes, meta last.
func (r *run) startCluster() ([]*harness.Node, bool) {
	cfg := r.cfg
	meta := harness.NewNode("meta", r.serve(func(ctx context.Context, n *harness.Node, h harness.Host) {
		rc := cfg.ReplicaCount
		if cfg.Defaults {
			rc = 0
		}
		_ = sys.ServeMeta(ctx, h, sys.MetaConfig{Replicas: r.addrs, Partitions: cfg.Partitions,
			ReplicaCount: rc, Grace: cfg.or0(cfg.Grace), CheckInterval: cfg.or0(cfg.Check), OnChange: r.onChange,
			UnsafeJoinAsSecondary: cfg.fault == "eager-join"})
	}))
	var nodes []*harness.Node
	for _, name := range r.names {
		nodes = append(nodes, harness.NewNode(name, r.serve(func(ctx context.Context, n *harness.Node, h harness.Host) {
			meta := r.meta
			if cfg.Defaults {
				meta = ""
			}
			_ = sys.ServeReplica(ctx, h, n.Addr(sys.ReplicaPort), sys.ReplicaConfig{Meta: meta,
				BeaconInterval: cfg.or0(cfg.Beacon), Lease: cfg.or0(cfg.Lease), ReplicationTimeout: cfg.or0(cfg.ReplicationTimeout),
				DialTimeout:   cfg.or0(cfg.DialTimeout),
				UnsafeNoLease: cfg.fault == "no-lease"})
		})))
	}
	r.admin = harness.NewNode("admin", nil)
	// Meta first, and the replica servers once it listens: their first
	// beacon reaches it, and the first primaries have synced their
	// secondaries well before settle (the check at rest relies on it).
	if err := meta.Start(); err != nil {
		r.Violate(checkers.Invariant, "start %s: %v", meta, err)
		return nil, false
	}
	if !recvWithin(r.metaUp, settle/2) {
		r.Violate(checkers.Invariant, "start %s: it did not listen within %v", meta, settle/2)
	}
	for _, n := range append(nodes, r.admin) {
		if err := n.Start(); err != nil {
			r.Violate(checkers.Invariant, "start %s: %v", n, err)
			return nil, false
		}
	}
	return append(nodes, meta), true
}

// recvWithin waits for c to be closed or sent on, at most d, and reports
// whether it was.
func recvWithin(c *harness.Chan[struct{}], d time.Duration) bool {
	t := harness.NewTimer(d)
	defer t.Stop()
	return harness.Select(c.RecvCase(nil, nil), t.C.RecvCase(nil, nil)) == 0
}

// closeMoment is when the first client closes, if CloseEarly.
type closeMoment int

const (
	closeAtCall     closeMoment = iota // as one of its callers calls in the last round
	closeAtDial                        // as its first dial to a replica server returns
	closeAfterRound                    // just after the last round began
)

// closeMode draws the seed's closeMoment (closeAtDial in half the seeds).
func (r *run) closeMode() closeMoment {
	return []closeMoment{closeAtCall, closeAtDial, closeAtDial, closeAfterRound}[seedRand(r.seed, 5).IntN(4)]
}

// cueClose cues the close of the first client, once: the first time ready
// (called under Mu) holds. It reports whether this call cued it.
func (r *run) cueClose(ready func() bool) bool {
	r.Mu.Lock()
	cue := !r.cued && ready()
	r.cued = r.cued || cue
	r.Mu.Unlock()
	if cue {
		r.closeCue.Send(struct{}{}) // the only one: room for it
	}
	return cue
}

// cueDial cues the close of the first client (once) as its first dial to
// a replica server returns.
func (r *run) cueDial(addr string) {
	if strings.HasPrefix(addr, "meta:") {
		return
	}
	if r.cueClose(func() bool { return true }) {
		// The dial returns a few steps later (drawn): Close meets the
		// session anywhere between its dial and its loops.
		for range seedRand(r.seed, 6).IntN(12) {
			harness.Progress()
		}
	}
}

// metaListens closes metaUp, once: meta listens.
func (r *run) metaListens() {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	if !r.metaOpen {
		r.metaOpen = true
		r.metaUp.Close()
	}
}

// serve returns the main of a server node: it runs body on a tracked host
// until the node crashes or shutdown stops it, and registers the
// incarnation with the run.
func (r *run) serve(body func(ctx context.Context, n *harness.Node, h harness.Host)) func(*harness.Node) {
	return func(n *harness.Node) {
		ctx, stop := harness.WithCancel(n.Context())
		defer stop()
		s := &serving{inc: n.Incarnation(), began: harness.Now(), stop: stop, done: harness.NewChan[struct{}](0)}
		defer s.done.Close()
		r.Mu.Lock()
		r.servers[n.Name()] = s
		r.Mu.Unlock()
		h := r.host(n, r.cfg.fault == "meta-keeps" && n.Name() == "meta")
		if n.Name() == "meta" {
			h.(*trackedHost).listening = r.metaListens
		}
		var held harness.Listener
		if r.cfg.fault == "hold-listener" {
			held, _ = h.Listen(1) // a listener the server "forgets" until it returned
		}
		if r.cfg.fault == "rest-timer" && n.Name() != "meta" {
			t := harness.NewTimer(time.Second) // armed, and stopped only once the server returned
			defer t.Stop()
		}
		body(ctx, n, h)
		r.checkReturned(n.Name(), s.inc)
		if held != nil {
			held.Close()
		}
	}
}

// checkReturned checks that a server that returned (shut down, or failed
// to start) holds nothing any more: each server waits for its goroutines
// before it returns, and they close what they opened.
func (r *run) checkReturned(node string, inc int) {
	var open []string
	for _, op := range r.ledger.Operations() {
		if res := op.Input.(resource); res.Node == node && res.Inc == inc && !op.Returned() {
			open = append(open, fmt.Sprintf("%s, opened at %v", res.What, op.CallTime))
		}
	}
	if len(open) > 0 {
		r.Violate(harness.Leak, "server returned with resources open: %s (incarnation %d) returned from serving with %d connection(s) or listener(s) it opened still open: it returned before the goroutines that hold them:%s", node, inc, len(open), linesOf(open))
	}
}

// host returns n's tracked host.
func (r *run) host(n *harness.Node, drop bool) harness.Host {
	return &trackedHost{host: n, ledger: &r.ledger, node: n.Name(), inc: n.Incarnation(), drop: drop,
		twin: r.cfg.fault == "twin-dial" && strings.HasPrefix(n.Name(), "r"), noRedial: r.cfg.fault == "no-redial" && strings.HasPrefix(n.Name(), "r"),
		peerDeadline: r.cfg.fault == "peer-deadline" && strings.HasPrefix(n.Name(), "r")}
}

// checkRejoined checks, once the workload is over, that every replica
// server meta declared dead while it ran on (cut from meta, isolated) is
// connected to meta again, on a connection it opened after that: once its
// links are back, it redials within a dial timeout and a beacon interval.
// It waits that long (and a lease) first, so that a link healed by the
// plan's last step counts.
func (r *run) checkRejoined(servers []*harness.Node) {
	type cut struct {
		n    *harness.Node
		inc  int
		dead time.Time
	}
	var cuts []cut
	for _, n := range servers {
		r.Mu.Lock()
		s := r.servers[n.Name()]
		r.Mu.Unlock()
		if s == nil || !n.Alive() {
			continue
		}
		addr := n.Addr(sys.ReplicaPort)
		var dead time.Time
		for _, op := range r.changes.Operations() {
			// A declaration less than a grace after the incarnation began
			// is about the silence of the one before (this one had not
			// beaconed yet): it did not cut this one off.
			if c := op.Input.(sys.Change); c.Dead == addr && c.Reason == "dead" && c.At.After(s.began.Add(r.cfg.Grace)) {
				dead = c.At
			}
		}
		if !dead.IsZero() {
			cuts = append(cuts, cut{n, s.inc, dead})
		}
	}
	if len(cuts) == 0 {
		return
	}
	wait := r.cfg.DialTimeout + r.cfg.Beacon + r.cfg.Lease + 2*metaRTT
	harness.Sleep(wait)
	for _, c := range cuts {
		if l1, err1 := harness.LinkOf(c.n.Name(), "meta"); err1 != nil || l1.Down || !c.n.Alive() || c.n.Incarnation() != c.inc {
			continue
		}
		if l2, err2 := harness.LinkOf("meta", c.n.Name()); err2 != nil || l2.Down {
			continue
		}
		ok := slices.ContainsFunc(r.ledger.Operations(), func(op harness.Operation) bool {
			res := op.Input.(resource)
			return res.Node == c.n.Name() && res.Inc == c.inc && strings.HasPrefix(res.What, "dial "+r.meta) && !op.Returned() &&
				op.CallTime > c.dead.Sub(r.Start())
		})
		if !ok {
			r.Violate(checkers.Timeliness, "rejoined: replica server %s, declared dead by meta at %v while it ran on, holds no connection to meta opened since, %v after the workload ended with its links to meta up",
				c.n, c.dead.Sub(r.Start()), wait)
		}
	}
}

// shutdown stops every server still running, replica servers first, and
// waits for each to return; it notes which incarnations crashed.
func (r *run) shutdown(nodes []*harness.Node) {
	r.crashed = map[incarnation]bool{}
	for _, n := range nodes {
		r.Mu.Lock()
		s := r.servers[n.Name()]
		r.Mu.Unlock()
		for inc := 1; inc <= n.Incarnation(); inc++ {
			if inc < n.Incarnation() || !n.Alive() {
				r.crashed[incarnation{n.Name(), inc}] = true
			}
		}
		if !n.Alive() || s == nil {
			continue
		}
		s.stop()
		t := harness.NewTimer(10 * time.Second)
		if harness.Select(s.done.RecvCase(nil, nil), t.C.RecvCase(nil, nil)) == 1 {
			r.Violate(harness.Leak, "shutdown: %s (incarnation %d) did not return within 10s of being stopped", n, s.inc)
		}
		t.Stop()
	}
}

// onChange records meta's configuration changes (from meta's goroutines).
func (r *run) onChange(c sys.Change) {
	if r.cfg.fault == "hide-join" && c.Reason == "join" {
		return
	}
	r.changes.Call(0, c).Return(nil)
	if c.Reason == "learn" || (c.Reason == "join" && c.Joined != "") {
		harness.Select(r.joining.SendCase(c), harness.Default())
	}
	harness.Note("meta: partition %d ballot %d: primary %s -> %s (%s %s%s)", c.Partition, c.Ballot, c.From, c.To, c.Reason, c.Dead, c.Joined)
}

// primaryOf returns the primary of partition part as meta last said.
func (r *run) primaryOf(part int) string {
	best, primary := int64(0), ""
	for _, pc := range sys.InitialConfig(r.addrs, r.cfg.Partitions, r.cfg.ReplicaCount) {
		if pc.Index == part {
			best, primary = pc.Ballot, pc.Primary
		}
	}
	for _, op := range r.changes.Operations() {
		if c := op.Input.(sys.Change); c.Partition == part && c.Ballot > best {
			best, primary = c.Ballot, c.To
		}
	}
	return primary
}

// client opens client i, runs its callers and closes it.
func (r *run) client(n *harness.Node, i int) {
	cfg := r.cfg
	harness.Sleep(settle)
	if cfg.LateOpen > 0 && i == cfg.Clients-1 {
		harness.Sleep(time.Duration(cfg.LateOpen) * cfg.Gap)
	}
	host := r.host(n, false)
	if cfg.CloseEarly && i == 0 && r.closeMode() == closeAtDial {
		host.(*trackedHost).dialed = r.cueDial
	}
	opts := sys.Options{Variant: r.variant, Host: host, Meta: r.meta,
		RefreshInterval: cfg.or0(cfg.RefreshInterval), MetaTimeout: cfg.or0(cfg.MetaTimeout), DialTimeout: cfg.or0(cfg.DialTimeout),
		DialInterval: cfg.or0(cfg.DialInterval), RetryBackoff: cfg.or0(cfg.RetryBackoff), MaxRetryBackoff: cfg.or0(cfg.MaxRetryBackoff),
		OnRefresh:         func(time.Time) { harness.Select(r.refreshing.SendCase(i), harness.Default()) },
		OnRefreshRequest:  func(at time.Time) { r.noteRequest(i, at) },
		UnsafeRetryWrites: cfg.fault == "blind-retry"}
	c := r.open(n, i, opts)
	if c == nil {
		return
	}
	if cfg.fault == "leak-timer" && i == 0 {
		harness.NewTicker(time.Second) // never stopped
	}
	var callers harness.WaitGroup
	for j := range cfg.Callers {
		callers.Go(func() { r.caller(c, i, i*cfg.Callers+j+1) })
	}
	if cfg.CloseEarly && i == 0 {
		// Close during the last round before the callers stop, while its
		// calls are in flight, or as its first connection to a replica
		// server opens.
		mode := r.closeMode()
		if mode == closeAtDial {
			// At the very moment the session's dial returns: the calls
			// that wait for it wake as Close tears the session down.
			recvWithin(r.closeCue, cfg.OpTimeout+2*cfg.Gap)
		} else {
			r.planDone.Recv()
		}
		var last time.Duration
		if mode != closeAtDial {
			last = settle + ((r.stopAt-settle)/cfg.Gap-time.Duration(cfg.CloseAhead))*cfg.Gap
		}
		if mode == closeAtCall {
			// At the very moment one of its callers calls (or a round
			// later, if none does), so that Close meets calls anywhere on
			// their way into a session.
			r.Mu.Lock()
			r.cueFrom = max(last, time.Nanosecond)
			r.Mu.Unlock()
			if d := last - r.Since(); d > 0 {
				harness.Sleep(d)
			}
			recvWithin(r.closeCue, cfg.Gap+cfg.Jitter)
		} else if d := last + cfg.Jitter + time.Millisecond - r.Since(); mode == closeAfterRound && d > 0 {
			harness.Sleep(d)
		}
		r.Mu.Lock()
		r.closing[i] = r.Since()
		r.Mu.Unlock()
		r.closeClient(c, i)
		r.Mu.Lock()
		r.closed[i] = r.Since()
		r.Mu.Unlock()
		callers.Wait()
		return
	}
	callers.Wait()
	if !r.planHas(actCutClients) {
		r.checkIdle(n, i)
	}
	if cfg.fault == "skip-close" && i == 0 {
		return
	}
	r.closeClient(c, i)
}

// noteRequest records a refresh request of client i, made at at.
func (r *run) noteRequest(i int, at time.Time) {
	switch r.cfg.fault {
	case "hide-request":
		return
	case "late-request":
		at = at.Add(r.cfg.refreshBound() + time.Millisecond)
	}
	r.requests.Call(i, at).Return(nil)
}

// checkAtRest checks, just before the clients open, that each replica
// server holds one timer at most: the one of its next beacon. Its first
// primaries have synced their secondaries by then, and what it armed to
// get there (a dial's deadline, a wait for acknowledgements) is stopped.
func (r *run) checkAtRest(servers []*harness.Node) {
	for _, n := range servers {
		if armed, ok := n.PendingTimers(); ok && armed > 1 {
			r.Violate(harness.Leak, "timers at rest: replica server %s holds %d timers, tickers or context deadlines at %v, once its first partitions have synced and before any client opened; only its next beacon's may be pending",
				n, armed, r.Since())
		}
	}
	// One connection to each peer (and to meta): a server sends to a peer
	// in order, on one connection, and dials again only once it broke.
	// (Per incarnation: a restarted server's first incarnation leaves its
	// connections to the operating system.)
	dials := map[string]int{}
	for _, op := range r.ledger.Operations() {
		if res := op.Input.(resource); strings.HasPrefix(res.What, "dial ") && !op.Returned() {
			dials[fmt.Sprintf("%s (incarnation %d) %s", res.Node, res.Inc, res.What)]++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(dials)) {
		if dials[k] > 1 {
			r.Violate(harness.Leak, "connections at rest: %d connections open from %s at %v, once the first partitions have synced; a server holds one to each peer",
				dials[k], k, r.Since())
		}
	}
}

// checkIdle checks that client i, open and idle (its callers have
// stopped), holds no timer once what its last calls started is over: the
// refresh they asked for (the rate limit and one query to meta) and the
// dials of its sessions. A deadline left armed after the call it bounded
// returned, or a ticker nobody stopped, is still pending. It looks twice,
// a wait apart, and a timer must be there both times: a poll (a select
// with a default case) may let the clock run to the next timer, the first
// look's own, while the query to meta is on its way.
func (r *run) checkIdle(n *harness.Node, i int) {
	wait := max(r.cfg.DialTimeout, r.cfg.RefreshInterval+2*metaRTT) + epsilon
	for look := range 2 {
		harness.Sleep(wait)
		armed, ok := n.PendingTimers()
		if !ok || armed == 0 {
			return
		}
		if look == 1 {
			r.Violate(harness.Leak, "idle client holds timers: client %d holds %d timers, tickers or context deadlines at %v, %v after its callers stopped (its refresh and its dials are over by then)",
				i+1, armed, r.Since(), 2*wait)
		}
	}
}

// planHas reports whether the plan has a step of action act.
func (r *run) planHas(act string) bool {
	return slices.ContainsFunc(r.plan, func(s faults.Step) bool { return s.Fault.Kind == faults.KindAction && s.Fault.Action == act })
}

// open opens client i, trying again a round later while it fails (meta
// cut off), until the callers must stop; nil if it never opened. Every
// attempt must return within the call timeout.
func (r *run) open(n *harness.Node, i int, opts sys.Options) *sys.Client {
	for {
		ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.OpTimeout)
		start := r.Since()
		c, err := sys.Open(ctx, opts)
		// Open holds no timer once it returned: its query's deadline and
		// its dial's are cancelled, and a client that opened waits for
		// requests with none armed; a failed Open has closed its session to
		// meta and the dial that session may still have been waiting for.
		// It is counted before ctx is cancelled, which would cancel a
		// deadline Open derived from it and left behind: only ctx's own
		// may be pending, while ctx has not expired.
		own := 0
		if ctx.Err() == nil {
			own = 1
		}
		if err != nil && r.cfg.fault == "open-timer" {
			// As if Open had left its query's deadline armed: derived
			// from ctx, so that cancelling ctx would hide it.
			_, leaked := harness.WithTimeout(ctx, time.Second)
			defer leaked()
		}
		armed, counted := n.PendingTimers()
		cancel()
		if took := r.Since() - start; took > r.cfg.OpTimeout+epsilon {
			r.Violate(checkers.Timeliness, "open: client %d's Open called at %v took %v, more than its timeout %v + %v", i+1, start, took, r.cfg.OpTimeout, epsilon)
		}
		if err != nil {
			harness.Note("client %d: open: %v", i+1, err) // meta cut off: a timeout, a failed dial
		}
		if counted && armed > own {
			r.Violate(harness.Leak, "Open left timers: client %d's Open called at %v returned (error: %v), and its node holds %d timers, tickers or context deadlines besides its caller's context",
				i+1, start, err, armed-own)
		}
		if err == nil {
			return c
		}
		harness.Sleep(r.cfg.Gap)
		if r.stopped() {
			return nil
		}
	}
}

func (r *run) closeClient(c *sys.Client, i int) {
	r.Mu.Lock()
	r.closeAt[i] = harness.Now()
	r.Mu.Unlock()
	switch seedRand(r.seed, 300+uint64(i)).IntN(3) {
	case 0:
		// Close twice at once: both return once the client is closed.
		var wg harness.WaitGroup
		wg.Go(c.Close)
		c.Close()
		wg.Wait()
	case 1:
		// Stats read while Close closes the sessions.
		var wg harness.WaitGroup
		wg.Go(func() {
			if st := c.Stats(); st.SessionsClosed > st.Sessions {
				r.Violate(checkers.Invariant, "Stats read while the client closes: client %d: %d sessions closed of %d made", i+1, st.SessionsClosed, st.Sessions)
			}
		})
		c.Close()
		wg.Wait()
	default:
		c.Close()
	}
	st := c.Stats()
	r.Mu.Lock()
	r.stats[i] = st
	r.Mu.Unlock()
}

// stopped reports whether the callers must stop now.
func (r *run) stopped() bool {
	if harness.Select(r.planDone.RecvCase(nil, nil), harness.Default()) != 0 {
		return false
	}
	return r.Since() >= r.stopAt
}

// caller calls client c (number cl) at every round until the run stops:
// an operation, a key and a value drawn from its own generator.
func (r *run) caller(c *sys.Client, cl, id int) {
	cfg := r.cfg
	rng := seedRand(r.seed, 100+uint64(id)) // the caller's own draws: the same whatever the schedule
	// unsure: a write of this caller failed with its outcome unknown. Like
	// an application that reads back to learn what happened, it only reads
	// until a call succeeds; this also bounds the writes of unknown outcome
	// that the linearizability check must place.
	seq, unsure := 0, false
	idle := 0 // rounds skipped in a row
	// Stats is read beside the calls, from a generator of its own (the
	// caller's draws stay as they are); each read must extend the last.
	looks := seedRand(r.seed, 200+uint64(id))
	var last sys.Stats
	for round := 1; ; round++ {
		calls := r.active(round) && rng.Float64() < cfg.Busy
		if !calls && idle < 3 {
			idle++
			continue // no need to wake up
		}
		idle = 0
		at := settle + time.Duration(round)*cfg.Gap
		if cfg.Jitter > 0 {
			at += time.Duration(rng.Int64N(int64(cfg.Jitter)))
		}
		if d := at - r.Since(); d > 0 {
			harness.Sleep(d)
		} else if d < -cfg.Gap {
			continue // a long call: skip the rounds it took
		}
		if r.stopped() {
			return
		}
		if !calls {
			continue
		}
		in := kvIn{Op: drawOp(rng, cfg.Mix), Key: key(rng.IntN(cfg.Keys)), Client: cl}
		if unsure {
			in.Op = opGet
		}
		switch in.Op {
		case opSet:
			seq++
			in.Value = strconv.Itoa(id*100000 + seq*10)
			if cfg.Text && rng.IntN(3) == 0 {
				in.Value = "t" + in.Value // an increment cannot add to it
			}
		case opIncr:
			in.Delta = 1 + rng.Int64N(3)
		}
		if cfg.fault == "lose-write" && in.Op == opSet && seq%5 == 3 {
			r.h.Call(id, in).Return(kvOut{})
			continue
		}
		if rng.IntN(4) == 0 {
			look := r.routes.Call(id, routeSeen{Client: cl})
			look.Return(c.Config())
		}
		if looks.IntN(3) == 0 {
			last = r.checkStats(cl, last, c.Stats())
		}
		out := r.call(c, id, in)
		unsure = out.Err != "" && (unsure || (in.Op != opGet && !out.NotApplied))
	}
}

// checkStats checks a read of client cl's Stats against the one its caller
// read before: the counters never go back, the refreshes already listed
// stay as they were, and no more sessions are closed than were made. It
// returns the new read.
func (r *run) checkStats(cl int, last, st sys.Stats) sys.Stats {
	if r.cfg.fault == "stats-back" && last.Sessions > 0 {
		st.Sessions = last.Sessions - 1 // as if a session were uncounted
	}
	var bad []string
	if st.Sessions < last.Sessions || st.SessionsClosed < last.SessionsClosed || st.MaxPending < last.MaxPending {
		bad = append(bad, fmt.Sprintf("a counter went back: %+v, then %+v", last, st))
	}
	if st.SessionsClosed > st.Sessions {
		bad = append(bad, fmt.Sprintf("%d sessions closed of %d made", st.SessionsClosed, st.Sessions))
	}
	if len(st.Refreshes) < len(last.Refreshes) || !slices.Equal(st.Refreshes[:len(last.Refreshes)], last.Refreshes) {
		bad = append(bad, fmt.Sprintf("the refreshes listed changed: %v, then %v", last.Refreshes, st.Refreshes))
	}
	for _, b := range bad {
		r.Violate(checkers.Invariant, "Stats read while the client runs: client %d: %s", cl+1, b)
	}
	return st
}

// active reports whether round is an active round: the same answer for
// every caller, from the seed.
func (r *run) active(round int) bool {
	return seedRand(r.seed, 1000+uint64(round)).Float64() < r.cfg.Active
}

// drawOp draws an operation with the mix's weights.
func drawOp(rng *rand.Rand, mix [4]int) int {
	x := rng.IntN(mix[0] + mix[1] + mix[2] + mix[3])
	for op, w := range mix {
		if x < w {
			return op
		}
		x -= w
	}
	return opGet
}

// call makes one call with the run's timeout and records it.
func (r *run) call(c *sys.Client, id int, in kvIn) kvOut {
	in.Part = c.Partition(in.Key)
	harness.Select(r.calling.SendCase(in.Part), harness.Default())
	p := r.h.Call(id, in)
	if r.cfg.CloseEarly && in.Client == 0 {
		r.cueClose(func() bool { return r.cueFrom > 0 && r.Since() >= r.cueFrom })
	}
	start := harness.Now()
	ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.OpTimeout)
	var out kvOut
	var err error
	switch in.Op {
	case opGet:
		out.Value, out.Found, err = c.Get(ctx, in.Key)
	case opSet:
		err = c.Set(ctx, in.Key, in.Value)
	case opDel:
		err = c.Del(ctx, in.Key)
	case opIncr:
		out.N, err = c.Incr(ctx, in.Key, in.Delta)
	}
	cancel()
	if err != nil {
		var re *sys.ReplicaError
		out = kvOut{Err: err.Error(), NotApplied: !sys.Ambiguous(err),
			Invalid: errors.As(err, &re) && re.Code == sys.CodeInvalidData}
	}
	if r.cfg.fault == "fail-call" && id == 1 && err == nil && in.Op == opGet && r.Since() >= r.cfg.Grace {
		out = kvOut{Err: "a failure the caller made up", NotApplied: true}
	}
	if r.cfg.fault == "late-return" && id == 1 && err == nil && in.Op == opGet {
		// The caller records the return 2ms past the call's deadline:
		// more than one wake-up's work (epsilon) late.
		harness.Sleep(r.cfg.OpTimeout + 2*epsilon - harness.Since(start))
	}
	if r.cfg.fault == "close-hang" && errors.Is(err, sys.ErrClientClosed) {
		// As if the call had waited for its deadline once its client
		// closed.
		harness.Sleep(r.cfg.OpTimeout - harness.Since(start))
	}
	p.Return(out)
	return out
}

// audit reads every key from a fresh client once the workload is over,
// retrying each for a few call timeouts.
func (r *run) audit(n *harness.Node) {
	ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.OpTimeout)
	c, err := sys.Open(ctx, sys.Options{Variant: r.variant, Host: r.host(n, false), Meta: r.meta})
	cancel()
	if err != nil {
		r.Violate(checkers.Invariant, "audit: open a fresh client: %v", err)
		return
	}
	defer c.Close()
	for k := range r.cfg.Keys {
		for try := 0; ; try++ {
			if r.call(c, auditor, kvIn{Op: opGet, Key: key(k), Client: -1}).Err == "" {
				break
			}
			if try == 2 {
				r.Violate(checkers.Invariant, "audit: a fresh client could not read %s in 3 tries once the faults were over", key(k))
				return
			}
		}
	}
}
