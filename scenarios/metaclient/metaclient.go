// Package metaclient is race case 1: the Pegasus Go client's meta query
// fan-out (apache/incubator-pegasus #2256, fixed by #2257), on the
// scenarios skeleton.
//
// Each seed draws its own workload (DrawConfig): three to five meta
// servers of which the clients know a prefix, the backup delay (upstream's
// second among others), slow links or a grid of equal ones, one to four
// client goroutines sharing one to four MetaManagers, each running a short
// script of QueryConfig (with contexts that time out late, time out or are
// cancelled around the backup delay, or are done before the call), Leader,
// Lists and fresh managers, and the administrator's configuration writes.
// The faults are the seed's plan (Faults): leadership moves, crashes of
// the leader or a follower (black holes or resets) and revivals, some
// aimed at a moment when a call is under way.
//
// The checks: the tables' configurations are linearizable registers; an
// answer comes from the leader, the recorded leader index points at it,
// the lists agree entry by entry, hold no address twice and extend the
// configured list, and a manager only one goroutine uses holds what its
// last call recorded; with the cluster standing still a call answers
// within its bound (one query with a live leader, the backup delay and
// two with a black-holed one, at once after a refused dial) and never
// waits for its deadline when it could have answered; a call returns as
// soon as its context is done; no goroutine of Run outlives it, no
// connection a call dialled outlives it, no meta keeps a connection once
// the clients hung up, and no timer is left pending when the run ends.
package metaclient

import (
	"context"
	"fmt"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/metaclient"
)

// Case is race case 1. Buggy must show the data race (backup goroutines
// append to the meta lists while others read them unlocked) or the leak
// (goroutines of Run still running after it returned); Merged, upstream's
// client after the fix, must show the race that remains between two calls
// on one MetaManager; Fixed must pass every check.
func Case() explore.Case {
	return explore.Case{
		Name:    "metaclient",
		Bug:     "apache/incubator-pegasus #2256 (fix #2257)",
		Summary: "meta query fan-out goroutines outlive the call and append to the meta list while the caller reads it",
		Variants: []explore.Variant{
			{
				Name:   "buggy",
				Expect: []harness.Kind{harness.DataRace, harness.Leak},
				// The reported bug: a backup appending to the meta list while
				// another call goroutine (the leader's, the fan-out's) or the
				// caller reads it unlocked, or a fan-out goroutine outliving Run.
				Match: checkers.AnyOf(
					checkers.RaceBetween("(*metaCall).issueSingleMeta", "(*metaCall).issueSingleMeta"),
					checkers.RaceBetween("(*metaCall).issueSingleMeta", "(*MetaManager).call"),
					checkers.RaceBetween("(*metaCall).issueSingleMeta", "(*metaCall).issueBackupMetas"),
					checkers.MessageContains(harness.Leak, "still running after Run returned")),
				Seeds: 300,
				// One manager per goroutine: upstream's manager also races
				// between two calls on it (the merged variant's bug, not
				// #2256's), which shared managers find first.
				Faults: Faults(privateManagers),
				Check:  Check(sys.Buggy, privateManagers),
			},
			{
				Name:   "merged",
				Expect: []harness.Kind{harness.DataRace},
				// What #2257 left: a call reads its manager's lists without
				// the lock while another call on the manager records its own
				// (setNewMetas, setMetaIPAddrs), or two calls append to the
				// one array the manager handed both.
				Match: checkers.AnyOf(
					checkers.RaceBetween("(*MetaManager).callMerged", "(*MetaManager).setNewMetas"),
					checkers.RaceBetween("(*MetaManager).callMerged", "(*MetaManager).setMetaIPAddrs"),
					checkers.RaceBetween("(*MetaManager).callMerged", "(*metaCall).issueSingleMeta"),
					checkers.RaceBetween("(*metaCall).issueSingleMeta", "(*metaCall).issueSingleMeta")),
				Seeds:  300,
				Faults: Faults(nil),
				Check:  Check(sys.Merged, nil),
			},
			{
				Name:   "fixed",
				Seeds:  2000,
				Faults: Faults(nil),
				Check:  Check(sys.Fixed, nil),
			},
		},
	}
}

// privateManagers gives every client goroutine a manager of its own (on a
// client node of its own, its links as drawn for the nodes there were).
func privateManagers(c *Config) {
	for g := len(c.Latency); g < len(c.Clients); g++ {
		c.Latency = append(c.Latency, c.Latency[g%c.Managers])
	}
	c.Managers = len(c.Clients)
	for g := range c.Clients {
		c.Clients[g].Manager = g
	}
}

// configs is the tables' configurations as versioned registers: the
// administrator writes versions, clients read them. Strict: at most one
// meta answers ERR_OK at any moment (a leader is demoted or crashed before
// the next is promoted) and a new leader gets every version written
// before, so a read returns the newest version written (which implies the
// monotonic reads CASES.md asks for). A table not created yet reads as
// version 0.
var configs = checkers.Register[string]{Strict: true}

// run is one run of the workload.
type run struct {
	scenarios.Run
	cfg     Config
	variant sys.Variant
	plan    faults.Plan
	reg     harness.History // configuration reads and writes
	// wake bounds the time the scheduler may take for the work of one
	// wake-up (wakeCost, or realWakeCost in real mode): the slack of a
	// call's latency for each of its wake-ups, and of its return once its
	// context is done (one wake-up: the cancellation wakes every goroutine
	// the call waits for).
	wake  time.Duration
	rtt   time.Duration
	admin sys.Admin

	// adminMu serialises the administrator's changes and writes (the
	// meta servers' election and their configuration store are one
	// consistent service); it guards tables.
	adminMu harness.Mutex
	tables  map[string]sys.TableConfig

	// l keeps the books the World's goroutines share.
	l *ledger
	// aimed wakes a wait-call step. It is made once, by Main before any
	// other goroutine starts, so that handing it over through the ledger
	// (which adds no happens-before edge, on purpose) is no data race.
	aimed *harness.Chan[struct{}]
	// endedAt is when Main finished (since the workload began).
	endedAt time.Duration
}

// Check returns the Check of a variant: it runs seed's workload (adjusted
// by adjust, if not nil) under the given plan and returns the run's
// result and every violation its checks found. Beyond the skeleton's
// checks it looks at the World's clock: a run whose clock went on after
// Main returned left a timer (or a sleeping goroutine) behind.
func Check(v sys.Variant, adjust func(*Config)) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
		var r *run
		res, vs := scenarios.Check(func(opts harness.Options, plan faults.Plan) (scenarios.Workload, error) {
			var err error
			r, err = newRun(opts, v, adjust, plan)
			return r, err
		})(opts, plan)
		if r != nil && r.Completed() && !res.Failed() && opts.Mode != harness.Real && res.Elapsed > r.endedAt {
			vs = append(vs, checkers.Violationf(harness.Leak,
				"timers: the clock went on from %v, when the workload ended, to %v: a timer or a sleeping goroutine was left behind (a context not cancelled, a Timer not stopped)",
				r.endedAt, res.Elapsed))
		}
		return res, vs
	}
}

// newRun makes the workload of a run: seed's configuration, adjusted, and
// the plan, which must be one this configuration can carry out.
func newRun(opts harness.Options, v sys.Variant, adjust func(*Config), plan faults.Plan) (*run, error) {
	cfg := configFor(opts.Seed, adjust)
	if err := checkPlan(plan, cfg); err != nil {
		return nil, fmt.Errorf("fault plan: %w", err)
	}
	r := &run{cfg: cfg, variant: v, plan: plan, wake: wakeCost, rtt: cfg.rtt(),
		tables: map[string]sys.TableConfig{}, l: newLedger(cfg.Metas, opts.Mode == harness.Real, cfg.track)}
	if opts.Mode == harness.Real {
		r.wake = realWakeCost
	}
	return r, nil
}

// Main runs the workload.
func (r *run) Main() {
	r.aimed = harness.NewChan[struct{}](1)
	harness.Note("workload: %s; plan: %s", r.cfg, r.plan)
	nodes := r.startNodes()
	if nodes == nil {
		return
	}
	r.admin = sys.Admin{Host: nodes["zk"]}
	if !r.bootstrap() {
		return
	}
	for i := range r.cfg.Managers {
		r.newManager(nodes[clientNode(i)], r.cfg.Clients)
	}

	ctx, stop := harness.WithCancel(context.Background())
	defer stop()
	var background, clients harness.WaitGroup
	background.Go(func() {
		// Step errors (a change that found nothing to change) are noted in
		// the trace by faults.Run.
		_ = faults.Run(ctx, r.plan, r.actions())
	})
	background.Add(1)
	if err := nodes["zk"].Go(func() { defer background.Done(); r.writer(ctx) }); err != nil {
		r.Violate(checkers.Invariant, "zk: %v", err)
		return
	}
	for g, s := range r.cfg.Clients {
		clients.Add(1)
		node := nodes[clientNode(s.Manager)]
		if err := node.Go(func() { defer clients.Done(); r.client(g, s, node) }); err != nil {
			r.Violate(checkers.Invariant, "%s: %v", node, err)
			return
		}
	}
	clients.Wait()
	stop()
	background.Wait()
	r.checkManagers()
	r.checkMetaConns()
	for i := range r.cfg.Metas {
		if n := harness.LookupNode(metaName(i)); n.Alive() {
			_ = n.Crash(harness.CrashReset)
		}
	}
	r.endedAt = r.Since()
	r.Complete()
}

func clientNode(i int) string { return fmt.Sprintf("c%d", i) }

// startNodes starts the metas, the administrator's node and the client
// nodes, and sets the links' latencies.
func (r *run) startNodes() map[string]*harness.Node {
	nodes := map[string]*harness.Node{}
	for i := range r.cfg.Metas {
		nodes[metaName(i)] = harness.NewNode(metaName(i), sys.MetaMain)
	}
	nodes["zk"] = harness.NewNode("zk", nil)
	for i := range r.cfg.Managers {
		nodes[clientNode(i)] = harness.NewNode(clientNode(i), nil)
	}
	for _, n := range harness.Nodes() {
		if err := n.Start(); err != nil {
			r.Violate(checkers.Invariant, "start %s: %v", n, err)
			return nil
		}
	}
	for i, row := range r.cfg.Latency {
		for j, d := range row {
			l := harness.Link{Latency: d, Jitter: d / 4}
			if r.cfg.Grid > 0 {
				l = harness.Link{Latency: r.cfg.Grid}
			} else if d == 0 {
				continue
			}
			for _, pair := range [][2]string{{clientNode(i), metaName(j)}, {metaName(j), clientNode(i)}} {
				if err := harness.SetLink(pair[0], pair[1], l); err != nil {
					r.Violate(checkers.Invariant, "link %s->%s: %v", pair[0], pair[1], err)
					return nil
				}
			}
		}
	}
	return nodes
}

// bootstrap makes meta0 the leader with version 1 of table and tells the
// others.
func (r *run) bootstrap() bool {
	ctx := context.Background()
	cfg := sys.TableConfig{Version: 1, Primary: "r1"}
	r.tables[table] = cfg
	p := r.reg.Call(0, configs.Write(table, cfg.Version, cfg.Primary))
	err := r.adminDo(ctx, opPromote, 0, func(ctx context.Context) error {
		return r.admin.Promote(ctx, metaAddr(0), r.tables)
	})
	p.Return(nil)
	if err != nil {
		return false
	}
	for i := 1; i < r.cfg.Metas; i++ {
		if r.adminDo(ctx, opSetLeader, i, func(ctx context.Context) error {
			return r.admin.SetLeader(ctx, metaAddr(i), metaAddr(0))
		}) != nil {
			return false
		}
	}
	r.l.setLeader(0)
	r.l.settle()
	return true
}

// writer makes the configuration writes, each at its time, until ctx is
// done.
func (r *run) writer(ctx context.Context) {
	for _, w := range r.cfg.Writes {
		if sleepCtx(ctx, w.At-r.Since()) != nil {
			return
		}
		r.write(ctx, w.Table)
	}
}

// write installs the next version of tbl on the leader.
func (r *run) write(ctx context.Context, tbl string) {
	r.adminMu.Lock()
	defer r.adminMu.Unlock()
	leader := r.l.view().leader
	if leader < 0 {
		return
	}
	v := r.tables[tbl].Version + 1
	cfg := sys.TableConfig{Version: v, Primary: fmt.Sprintf("%s-r%d", tbl, v)}
	p := r.reg.Call(0, configs.Write(tbl, cfg.Version, cfg.Primary))
	err := r.adminDo(ctx, opWrite, leader, func(ctx context.Context) error {
		return r.admin.Write(ctx, metaAddr(leader), tbl, cfg)
	})
	if err != nil {
		// Stopped with the plan: the write may or may not have landed.
		p.Unknown()
		return
	}
	p.Return(nil)
	r.tables[tbl] = cfg
}

// manager is one MetaManager of the run.
type manager struct {
	id   int
	m    *sys.MetaManager
	node *harness.Node
	// users is how many goroutines use it: with one, the checks know
	// what it must hold after each call.
	users int
}

// newManager makes a manager on node, used by the scripts that start with
// it (none for a fresh one: its goroutine counts itself).
func (r *run) newManager(node *harness.Node, scripts []Script) *manager {
	mi := &manager{node: node}
	mi.id = r.l.addManager(mi)
	for _, s := range scripts {
		if s.Manager == mi.id {
			mi.users++
		}
	}
	host := &countingHost{r: r, node: node}
	mi.m = sys.NewMetaManager(host, r.cfg.clientList(), sys.Options{
		Variant: r.variant, BackupDelay: r.cfg.BackupDelay, Observe: r.observe})
	if mi.m.Variant() != r.variant {
		r.Violate(checkers.Invariant, "manager %d: Variant() is %v, made as %v", mi.id, mi.m.Variant(), r.variant)
	}
	return mi
}

// client runs goroutine g's script on node.
func (r *run) client(g int, s Script, node *harness.Node) {
	mi := r.l.manager(s.Manager)
	for _, op := range s.Ops {
		if op.Gap > 0 {
			// Not Sleep(0): the runtime counts it as a poll, and a
			// goroutine that polled twice without blocking or
			// communicating counts as spinning, so the clock may jump to
			// the next timer however far while it goes on with its call
			// (a call with a done context "took" 350ms). time.Sleep(0)
			// returns at once in Go; so does skipping it.
			harness.Sleep(op.Gap)
		}
		switch op.Kind {
		case OpQuery:
			if s.Metrics {
				r.listsOp(g, mi)
			}
			r.query(g, mi, op)
		case OpLeader:
			r.leaderOp(g, mi)
		case OpLists:
			r.listsOp(g, mi)
		case OpFresh:
			mi = r.newManager(node, nil)
			mi.users = 1
		}
	}
}

// checkManagers checks every manager's lists once every call is over.
func (r *run) checkManagers() {
	for _, mi := range r.l.allManagers() {
		metas, addrs := mi.m.Lists()
		if msg := r.listProblem(metas, addrs); msg != "" {
			r.Violate(checkers.Invariant, "list consistency: manager %d ends with %s", mi.id, msg)
		}
	}
}

// checkMetaConns asks every live meta, once the clients and the
// administrator are done and their hang-ups have arrived, how many
// connections it has open: only the one asking.
func (r *run) checkMetaConns() {
	v := r.l.view()
	if r.cfg.fault == "dangling-dial" {
		// The workload's fault: a connection to a live meta that it
		// closes only after the check.
		if i := r.pick(0, func(i int) bool { return v.down[i] == "" }); i >= 0 {
			if c, err := r.admin.Host.Dial(context.Background(), metaAddr(i)); err == nil {
				defer c.Close()
			}
		}
	}
	harness.Sleep(r.rtt + 4*harness.MaxLatency)
	for i := range r.cfg.Metas {
		if v.down[i] != "" {
			continue
		}
		ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
		open, err := r.admin.OpenConns(ctx, metaAddr(i))
		cancel()
		switch {
		case err != nil:
			r.Violate(checkers.Invariant, "administrator: stats of meta%d: %v", i, err)
		case open != 1:
			r.Violate(harness.Leak, "connections: meta%d has %d connection(s) open besides the one asking, once every client and the administrator hung up", i, open-1)
		}
	}
}

// Check judges the finished run's histories: the tables' configurations
// as registers.
func (r *run) Check() []checkers.Violation {
	return configs.Check(r.reg.Operations(), checkers.LinOptions{Name: "metaclient-" + r.variant.String()})
}
