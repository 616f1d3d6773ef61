// Package duplicator is race case 5: Pegasus duplication ships the last
// mutation minutes late (apache/incubator-pegasus #2050, fix #2048), on
// the model in systems/duplicator.
//
// A seed draws everything a run does. ConfigFor draws the system's
// configuration around Pegasus' defaults and the workload: clients on
// nodes of their own writing bursts to shared partitions, auditors reading
// the private logs and the remote cluster's state meanwhile (config.go,
// audit.go). Faults draws the fault plan, a faults.Plan of crashes and
// restarts of the primary, the remote cluster and the clients, faults of
// their links, and the case's actions that aim a fault at a moment
// (plan.go). The recorder hears of every event of the system through its
// Observer (recorder.go); checks.go judges the run.
package duplicator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

// lagMessage starts every timeliness violation of the case; the variants
// that carry the bug match on it.
const lagMessage = "duplication lag after burst"

// Case is race case 5: Pegasus duplication ships the last mutation
// minutes late (apache/incubator-pegasus #2050, fixed by #2048). Each seed
// draws its configuration (ConfigFor: partitions, timings around Pegasus'
// defaults, clients and their bursts of writes) and its fault plan (Faults:
// crashes of the primary, the remote cluster and the clients, cut or lossy
// links, hang-ups, aimed at moments such as a write under way or a ship).
// Every committed write must reach the remote cluster within one and a
// half load polls of its commit (or of the recovery from a fault on its
// way):
// Buggy waits for the group check's empty write and is found as
// Timeliness. Merged, #2048 as merged, still loses a write loaded from the
// log before it was applied until the next write, in some seeds. Fixed
// must pass every check.
func Case() explore.Case {
	match := checkers.MessageContains(checkers.Timeliness, lagMessage)
	return explore.Case{
		Name:    "duplicator",
		Bug:     "apache/incubator-pegasus #2050 (fix #2048)",
		Summary: "Pegasus duplication loads the private log only up to max_commit_on_disk, so the last write reaches the remote cluster only after the next empty write, 100-200 s later",
		Variants: []explore.Variant{
			{
				Name:   "buggy",
				Expect: []harness.Kind{checkers.Timeliness},
				Match:  match,
				Seeds:  20,
				Faults: Faults,
				Check:  Check(sys.Buggy, nil),
			},
			{
				Name:   "fixed",
				Seeds:  2000,
				Faults: Faults,
				Check:  Check(sys.Fixed, nil),
			},
			{
				// #2048 exactly as merged upstream (and still on Pegasus'
				// master): a write loaded after it reached the private log
				// but before it was applied waits in the batch for the next
				// write. An interleaving, so only some seeds show it.
				Name:   "merged",
				Expect: []harness.Kind{checkers.Timeliness},
				Match:  match,
				Seeds:  400,
				Faults: Faults,
				Check:  Check(sys.Merged, nil),
			},
		},
	}
}

// Check returns the Check of a variant: it runs the seed's workload
// (ConfigFor, then adjust if not nil) under the given fault plan and
// returns the run's result and every violation its checks found. In real
// mode the workload runs with scaled-down timings.
func Check(v sys.Variant, adjust func(*Config)) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return scenarios.Check(func(opts harness.Options, plan faults.Plan) (scenarios.Workload, error) {
		cfg := ConfigFor(opts.Seed)
		if adjust != nil {
			adjust(&cfg)
		}
		if err := checkPlan(plan, cfg); err != nil {
			return nil, fmt.Errorf("fault plan: %w", err)
		}
		return newRun(v, cfg, plan, opts), nil
	})
}

// Report is one run of the workload.
type Report struct {
	Result     *harness.Result
	Violations []checkers.Violation
	// Lags holds, for each burst, how long after its commit the burst's last
	// write of any partition reached the remote cluster (the longest over
	// partitions); -1 when it never did during the run.
	Lags []time.Duration
	// Writes counts the committed (non-empty) writes.
	Writes int
	// WorstLag is the longest a write took to reach the remote cluster
	// after its commit, among the writes no fault stood in the way of.
	WorstLag time.Duration
}

// Measure runs the workload of cfg once with opts and plan, checks it, and
// reports the lag of each burst.
func Measure(v sys.Variant, cfg Config, plan faults.Plan, opts harness.Options) Report {
	r := newRun(v, cfg, plan, opts)
	res := scenarios.Execute(opts, r)
	rep := Report{Result: res, Violations: append(checkers.FromResult(res), r.Violations()...)}
	if r.Completed() && !res.Failed() {
		rep.Violations = append(rep.Violations, r.Check()...)
		rep.Lags, rep.Writes, rep.WorstLag = r.lags, r.writes, r.worstLag
	}
	return rep
}

// run is one run of the workload.
type run struct {
	scenarios.Run
	v    sys.Variant
	cfg  Config
	plan faults.Plan
	real bool
	rec  *recorder

	disk            *sys.Disk
	store           *sys.RemoteStore
	primary, remote *harness.Node
	clients         []*harness.Node
	nodes           []*harness.Node

	// Guarded by Mu.
	conns   []*sys.Client // per client: its connection, if it has one
	dialing []bool        // per client: a dial under way
	// liveWriters counts the writers' goroutines that have not ended (a
	// writer on a crashed node ends only in real mode).
	liveWriters int
	writers     []*writer // the current burst's
	steps       []step    // the plan's steps as they struck
	quiet       []time.Duration

	// Set at the end of Main, read by Check.
	final finalState
	// Measured by Check (see Report).
	lags     []time.Duration
	writes   int
	worstLag time.Duration
	// spans, when not nil, records every call for the overlap test.
	spans *[]span
	// For the checks-have-teeth tests: keepConns makes the clients never
	// hang up; primaryHost, when set, wraps the primary's network.
	keepConns   bool
	primaryHost func(harness.Host) harness.Host
	// cancelPrimary and cancelRemote cancel the context the primary and
	// the remote cluster serve under, in their latest incarnation to run.
	cancelPrimary, cancelRemote servingUnder
}

// servingUnder is the cancel of the context a node's incarnation serves
// under, and whether its main function returned.
type servingUnder struct {
	inc    int
	cancel context.CancelFunc
	ended  bool
}

// serving records, as node n's main function begins, the context its
// incarnation serves under; done, deferred by the main function, records
// that it returned (a crash never runs it).
func (r *run) serving(n *harness.Node, s *servingUnder) (ctx context.Context, done func()) {
	ctx, cancel := harness.WithCancel(n.Context())
	inc := n.Incarnation()
	r.Mu.Lock()
	*s = servingUnder{inc: inc, cancel: cancel}
	r.Mu.Unlock()
	return ctx, func() {
		cancel()
		r.Mu.Lock()
		if s.inc == inc {
			s.ended = true
		}
		r.Mu.Unlock()
	}
}

// finalState is what Main reads of the system once the run is over.
type finalState struct {
	logs      [][]sys.Mutation // per partition: the private log
	seen      []int64          // per partition: the remote's last decree
	confirmed []int64          // per partition: the confirmed decree on the Disk
	// per partition, what the recorder knew just before those reads (the
	// primary still runs: a later report is not owed to the reads)
	reportedConfirmed, delivered []int64
	remoteValues                 map[string]remoteValue
	primaryInc                   int
	remoteInc                    int
	primaryHeld                  map[sys.Resource]int
	remoteHeld                   map[sys.Resource]int
}

type remoteValue struct {
	value string
	ok    bool
}

func newRun(v sys.Variant, cfg Config, plan faults.Plan, opts harness.Options) *run {
	r := &run{v: v, cfg: cfg, plan: plan, real: opts.Mode == harness.Real}
	if r.real {
		r.cfg = cfg.scaledForReal()
	}
	return r
}

// Main runs the workload: the nodes, the fault plan, the bursts, the final
// wait for every write to reach the remote cluster, and the final reads of
// the system's state.
func (r *run) Main() {
	cfg := r.cfg.System
	r.rec = newRecorder(cfg.Partitions)
	r.rec.spans = r.spans
	r.disk = sys.NewDisk(cfg.Partitions)
	r.store = sys.NewRemoteStore()
	obs := r.rec.observer()
	// Both serve under a context the run can cancel: at the end the run
	// stops them gracefully (see stopGracefully).
	r.remote = harness.NewNode("remote", func(n *harness.Node) {
		ctx, done := r.serving(n, &r.cancelRemote)
		defer done()
		_ = sys.ServeRemote(ctx, n, n.Incarnation(), cfg, r.store, obs)
	})
	primaryMain := func(n *harness.Node) {
		ctx, done := r.serving(n, &r.cancelPrimary)
		defer done()
		var host harness.Host = n
		if r.primaryHost != nil {
			host = r.primaryHost(n)
		}
		_ = sys.ServePrimary(ctx, host, n.Incarnation(), r.v, cfg, r.disk, obs)
	}
	r.primary = harness.NewNode("primary", primaryMain)
	r.nodes = []*harness.Node{r.remote, r.primary}
	for i := range r.cfg.Clients {
		n := harness.NewNode(ClientNode(i), nil)
		r.clients = append(r.clients, n)
		r.nodes = append(r.nodes, n)
	}
	r.conns = make([]*sys.Client, r.cfg.Clients)
	r.dialing = make([]bool, r.cfg.Clients)
	for _, n := range r.nodes {
		if err := n.Start(); err != nil {
			r.Violate(checkers.Invariant, "start %s: %v", n, err)
			return
		}
	}
	defer r.stop()
	ctx, cancel := harness.WithCancel(context.Background())
	defer cancel()
	planDone := harness.NewChan[struct{}](0)
	harness.Go(func() { r.runPlan(ctx, planDone) })

	for k, b := range r.cfg.Bursts {
		if d := b.Start - r.Since(); d > 0 {
			harness.Sleep(d)
		}
		r.burst(k, b)
		r.Mu.Lock()
		r.quiet = append(r.quiet, r.Since())
		r.Mu.Unlock()
		r.rec.signal(momentQuiet, "")
		r.checkTimersAtRest(k)
	}
	planDone.Recv()
	r.recover()
	r.finalWait()
	r.readFinal()
	r.stopGracefully(r.primary, sys.RolePrimary, &r.cancelPrimary)
	r.stopGracefully(r.remote, sys.RoleRemote, &r.cancelRemote)
	r.Complete()
}

// stopGracefully cancels the context node n's live incarnation serves
// under, as a graceful shutdown does, and waits until every goroutine,
// listener and connection of that incarnation has ended; then none of the
// timers they armed may still be pending, and the node's port must be free
// for a new server. What is still held after gracefulStopWait is a Leak.
// (A crash ends a node's goroutines wherever they are; a graceful stop
// takes the paths on which they see their context done.) The primary stops
// first, so that the remote cluster's connections end with its own.
func (r *run) stopGracefully(n *harness.Node, role sys.Role, serving *servingUnder) {
	if !n.Alive() {
		return
	}
	inc := n.Incarnation()
	start := harness.Now()
	// An incarnation that just started may not have run yet.
	for {
		r.Mu.Lock()
		s := *serving
		r.Mu.Unlock()
		if s.inc == inc {
			s.cancel()
			break
		}
		if harness.Since(start) > gracefulStopWait {
			r.Violate(harness.Leak, "graceful stop: the %s's incarnation %d did not start serving within %v", role, inc, gracefulStopWait)
			return
		}
		harness.Sleep(time.Millisecond)
	}
	for {
		left := stillHeld(r.rec.holding(role, inc))
		r.Mu.Lock()
		if !serving.ended {
			left = append(left, "its main function ("+n.Name()+"'s)")
		}
		r.Mu.Unlock()
		if len(left) == 0 {
			r.checkStopped(n, role, inc)
			return
		}
		if harness.Since(start) > gracefulStopWait {
			r.Violate(harness.Leak, "graceful stop: %v after the %s's context was cancelled, incarnation %d still holds:%s", gracefulStopWait, role, inc, scenarios.Lines(left))
			return
		}
		harness.Sleep(time.Millisecond)
	}
}

// checkStopped checks what a stopped incarnation may leave, once its
// goroutines ended: no timer pending, and its port free (deterministic
// mode only: in real mode timers and ports are the machine's).
func (r *run) checkStopped(n *harness.Node, role sys.Role, inc int) {
	armed, ok := n.PendingTimers()
	if !ok {
		return
	}
	if armed > 0 {
		r.Violate(harness.Leak, "graceful stop: every goroutine of the %s's incarnation %d ended, but %d timer(s) it armed are still pending (a ticker not stopped, a timer or context deadline not cancelled)", role, inc, armed)
	}
	l, err := n.Listen(r.cfg.System.Port)
	switch {
	case errors.Is(err, harness.ErrAddrInUse):
		r.Violate(harness.Leak, "graceful stop: every goroutine of the %s's incarnation %d ended, but port %d is still bound: its listener was not closed", role, inc, r.cfg.System.Port)
	case err != nil:
		r.Violate(checkers.Invariant, "graceful stop: listen on the stopped %s's port %d: %v", role, r.cfg.System.Port, err)
	default:
		l.Close()
	}
}

// timersPerPartition is the most timers the primary holds for one
// partition when no client call is under way: the duplication's load loop
// (a load poll, a ship's deadline or a retry wait: one at a time), its
// confirm loop, and the group check's ticker and the acknowledgement wait
// of its empty write.
const timersPerPartition = 4

// checkTimersAtRest checks, once the clients' calls of burst k returned and
// the calls a client gave up on had time to end, that the primary holds no
// more timers than its loops do at rest. A context deadline nobody
// cancelled stays pending until it passes (a ship's, seconds): one left
// behind by every ship shows here, long before the graceful stop, whose
// cancel would stop it.
func (r *run) checkTimersAtRest(k int) {
	harness.Sleep(2*r.cfg.System.AckDelay + 10*time.Millisecond)
	armed, ok := r.primary.PendingTimers()
	if limit := timersPerPartition * r.cfg.System.Partitions; ok && armed > limit {
		r.Violate(harness.Leak, "after burst %d the primary holds %d pending timers, more than the %d its loops hold at rest (%d a partition): a timer or context deadline armed by a call was not stopped or cancelled when the call ended",
			k, armed, limit, timersPerPartition)
	}
}

// gracefulStopWait bounds how long a node's goroutines may take to end
// once its context is cancelled: every wait of theirs watches it.
const gracefulStopWait = time.Second

// stop crashes every node: their goroutines end with the run.
//
// In real mode a crashed node's goroutines run on until they see their
// context done: stop waits until every one the system reported, and every
// writer, has ended, so that none outlives the World; one still running
// after realStopWait is a Leak.
func (r *run) stop() {
	for _, n := range r.nodes {
		if n.Alive() {
			_ = n.Crash(harness.CrashReset)
		}
	}
	if !r.real {
		return
	}
	start := harness.Now()
	for {
		left := r.leftovers()
		if len(left) == 0 {
			return
		}
		if harness.Since(start) > realStopWait {
			r.Violate(harness.Leak, "real mode: %v after every node crashed, still running or open:%s", realStopWait, scenarios.Lines(left))
			return
		}
		harness.Sleep(5 * time.Millisecond)
	}
}

// stillHeld lists the resources of held that are not released ("2
// listener(s)"), sorted.
func stillHeld(held map[sys.Resource]int) []string {
	var left []string
	for res, n := range held {
		if n != 0 {
			left = append(left, fmt.Sprintf("%d %s(s)", n, res))
		}
	}
	slices.Sort(left)
	return left
}

// realStopWait bounds how long, in real mode, the nodes' goroutines may take
// to end once their nodes crashed.
const realStopWait = 5 * time.Second

// leftovers lists what the system's nodes (every incarnation) and the
// writers still hold.
func (r *run) leftovers() []string {
	var left []string
	r.Mu.Lock()
	if r.liveWriters > 0 {
		left = append(left, fmt.Sprintf("%d writer(s)", r.liveWriters))
	}
	r.Mu.Unlock()
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	for o, held := range r.rec.resources {
		for _, h := range stillHeld(held) {
			left = append(left, fmt.Sprintf("%s incarnation %d: %s", o.role, o.inc, h))
		}
	}
	slices.Sort(left)
	return left
}

// finalWait waits, at most FinalWait, until every committed write reached
// the remote cluster and a lag bound passed.
func (r *run) finalWait() {
	poll := r.cfg.LagBound
	for start := harness.Now(); harness.Since(start) < r.cfg.FinalWait; {
		harness.Sleep(poll)
		if harness.Since(start) >= r.cfg.LagBound && r.rec.allDelivered() {
			return
		}
	}
}

// readFinal lets the last hang-ups and resets arrive (those sent while a
// link was slowed down take the fault's latency), then reads the private
// logs, the remote cluster's state and the resources the live nodes hold.
func (r *run) readFinal() {
	settle := 2*harness.MaxLatency + 20*time.Millisecond
	r.Mu.Lock()
	for _, s := range r.steps {
		if s.f.Kind == faults.KindDelay {
			settle = max(settle, s.f.Delay+20*time.Millisecond)
		}
	}
	r.Mu.Unlock()
	harness.Sleep(settle)
	f := &r.final
	r.rec.mu.Lock()
	f.reportedConfirmed = slices.Clone(r.rec.confirmedMax)
	f.delivered = slices.Clone(r.rec.deliveredMax)
	r.rec.mu.Unlock()
	for p := range r.cfg.System.Partitions {
		f.logs = append(f.logs, r.disk.Log(p))
		f.seen = append(f.seen, r.store.Seen(p))
		f.confirmed = append(f.confirmed, r.disk.Confirmed(p))
	}
	f.remoteValues = map[string]remoteValue{}
	r.rec.mu.Lock()
	var keys []string
	for _, ms := range r.rec.committed {
		for _, s := range ms {
			if !s.m.Empty {
				keys = append(keys, s.m.Key)
			}
		}
	}
	r.rec.mu.Unlock()
	for _, k := range keys {
		v, ok := r.store.Get(k)
		f.remoteValues[k] = remoteValue{v, ok}
	}
	f.primaryInc, f.remoteInc = r.primary.Incarnation(), r.remote.Incarnation()
	f.primaryHeld = r.rec.holding(sys.RolePrimary, f.primaryInc)
	f.remoteHeld = r.rec.holding(sys.RoleRemote, f.remoteInc)
}

// writer is one client's part of a burst; released once it is over (or its
// node crashed: it will not run again).
type writer struct {
	client   int
	released bool
	wg       *harness.WaitGroup
}

// release ends w's part of the burst, once. Under r.Mu.
func (w *writer) release() {
	if !w.released {
		w.released = true
		w.wg.Done()
	}
}

// releaseWriters releases the writers of client i: its node crashed. Under
// r.Mu.
func (r *run) releaseWriters(i int) {
	for _, w := range r.writers {
		if w.client == i {
			w.release()
		}
	}
}

// burst runs burst k: each client's writes on its node, and the auditors.
func (r *run) burst(k int, b Burst) {
	var wg harness.WaitGroup
	var together *barrier
	active := 0
	for _, ws := range b.Writes {
		if len(ws) > 0 {
			active++
		}
	}
	if r.cfg.CloseTogether && active > 1 {
		together = &barrier{left: active, done: harness.NewChan[struct{}](0)}
	}
	r.Mu.Lock()
	r.writers = nil
	for i, ws := range b.Writes {
		if len(ws) == 0 {
			continue
		}
		w := &writer{client: i, wg: &wg}
		wg.Add(1)
		r.writers = append(r.writers, w)
		done := func() {
			r.Mu.Lock()
			w.release()
			r.liveWriters--
			r.Mu.Unlock()
		}
		r.liveWriters++
		if err := r.clients[i].Go(func() { defer done(); r.write(i, k, ws, together) }); err != nil {
			r.liveWriters--
			w.release() // its node is down: it sits this burst out
		}
	}
	r.Mu.Unlock()
	for range r.cfg.Auditors {
		wg.Go(func() { r.audit(r.scaled(b.estimate(r.cfg))) })
	}
	wg.Wait()
}

// write makes client i's writes of burst k, dialing the primary again after
// a failed call; a failed write is not retried (its outcome is unknown: the
// checks use what the primary committed).
//
// With together (CloseTogether), the clients of the burst hang up at once:
// each waits, after its writes, until all are done (or a client timeout
// passed: a client's node may have crashed).
func (r *run) write(i, k int, ws []Write, together *barrier) {
	var cl *sys.Client
	defer func() {
		if together != nil {
			r.waitTogether(together)
		}
		r.hangUpOwn(i, cl)
	}()
	for j, w := range ws {
		if w.Gap > 0 {
			harness.Sleep(r.scaled(w.Gap))
		}
		if cl == nil {
			cl = r.dial(i)
		}
		if cl == nil || !r.call(i, cl, w.Partition, fmt.Sprintf("%s-b%d-%d", ClientNode(i), k, j), strconv.Itoa(j)) {
			r.hangUpOwn(i, cl)
			cl = nil
			harness.Sleep(r.cfg.RetryDelay)
			continue
		}
		if r.cfg.Churn > 0 && j < len(ws)-1 && harness.Float64() < r.cfg.Churn {
			r.hangUpOwn(i, cl) // and dial again for the next write
			cl = nil
		}
	}
}

// barrier lets the writers of a burst hang up together.
type barrier struct {
	left int // writers not yet done; guarded by r.Mu
	done *harness.Chan[struct{}]
}

// waitTogether waits until every writer of the burst is done, at most a
// client timeout; the last to arrive wakes the others.
func (r *run) waitTogether(b *barrier) {
	r.Mu.Lock()
	b.left--
	last := b.left == 0
	r.Mu.Unlock()
	if last {
		b.done.Close()
		return
	}
	t := harness.NewTimer(r.cfg.ClientTimeout)
	defer t.Stop()
	harness.Select(b.done.RecvCase(nil, nil), t.C.RecvCase(nil, nil))
}

// dial connects client i to the primary; nil if it cannot.
func (r *run) dial(i int) *sys.Client {
	ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.ClientTimeout)
	defer cancel()
	r.rec.calling("Dial", ClientNode(i), -1)
	r.Mu.Lock()
	r.dialing[i] = true
	r.Mu.Unlock()
	sp := r.rec.begin("Dial", "primary", ClientNode(i))
	cl, err := sys.Dial(ctx, r.clients[i], fmt.Sprintf("primary:%d", r.cfg.System.Port))
	r.rec.end(sp)
	r.Mu.Lock()
	defer r.Mu.Unlock()
	r.dialing[i] = false
	if err != nil {
		// A dial that gave up closes its end: the primary may have accepted
		// it, and hears of the close only across a sound link.
		if cutOff(ClientNode(i), "primary") {
			r.rec.orphaned(sys.RolePrimary, 1)
		}
		return nil
	}
	r.conns[i] = cl
	return cl
}

// hangUpOwn closes client i's connection cl (if not nil).
func (r *run) hangUpOwn(i int, cl *sys.Client) {
	if cl == nil || r.keepConns {
		return
	}
	r.Mu.Lock()
	if r.conns[i] == cl {
		r.conns[i] = nil
	}
	r.Mu.Unlock()
	r.closeClient(i, cl, ClientNode(i))
}

// closeClient closes client i's connection cl, on behalf of who.
func (r *run) closeClient(i int, cl *sys.Client, who string) {
	if cutOff(ClientNode(i), "primary") {
		r.rec.orphaned(sys.RolePrimary, 1)
	}
	r.rec.calling("Close", who, -1)
	sp := r.rec.begin("Close", "primary", who)
	_ = cl.Close() // net.ErrClosed if it was closed already
	r.rec.end(sp)
}

// call makes one write of client i and reports whether the connection is
// still good. A write to a partition that does not exist must be refused
// with ErrBadPartition (or fail on the way).
func (r *run) call(i int, cl *sys.Client, p int, key, value string) bool {
	name := ClientNode(i)
	ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.ClientTimeout)
	defer cancel()
	op := "Write"
	if p >= r.cfg.System.Partitions {
		op = "Write (no such partition)"
	}
	r.rec.calling("Write", name, p)
	sp := r.rec.begin(op, partitionObject(p), name)
	d, err := cl.Write(ctx, p, key, value)
	r.rec.end(sp)
	switch {
	case p >= r.cfg.System.Partitions && err == nil:
		r.Violate(checkers.Invariant, "client %s: a write to partition %d, which the primary does not serve, succeeded with decree %d; want %v",
			name, p, d, sys.ErrBadPartition)
		return true
	case errors.Is(err, sys.ErrBadPartition):
		if p < r.cfg.System.Partitions {
			r.Violate(checkers.Invariant, "client %s: a write to partition %d was refused with %v, but the primary serves %d partitions",
				name, p, err, r.cfg.System.Partitions)
		}
		return true
	case err != nil:
		return false
	}
	r.rec.ack(ackedWrite{client: name, key: key, value: value, p: p, decree: d})
	return true
}
