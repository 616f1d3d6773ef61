package metaclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/metaclient"
)

// Case is race case 1: the Pegasus Go client's meta query fan-out
// (apache/incubator-pegasus #2256, fixed by #2257). Four meta servers,
// of which the clients know three; leadership moves, leaders vanish
// (black-hole crashes: a connect to them hangs until cancelled) and come
// back, and configurations are written, while clients with fresh and
// seasoned MetaManagers query a table, some with contexts cancelled early.
// Buggy must show the data race (backup goroutines append to the meta
// lists while others read them unlocked) or the leak (goroutines of Run
// still running after it returned); Fixed must pass every check.
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
				Check: Check(sys.Buggy, DefaultConfig),
			},
			{
				Name:  "fixed",
				Seeds: 2000,
				Check: Check(sys.Fixed, DefaultConfig),
			},
		},
	}
}

// Config sizes the metaclient workload.
type Config struct {
	// Metas is how many meta servers run (meta0, meta1, ...); clients
	// know the first three. With three, no forward ever names an unknown
	// address, so nothing is appended.
	Metas int
	// Clients query with a generous timeout; Cancellers with contexts cut
	// short (a deadline or an explicit cancel) at a random moment.
	Clients, Cancellers int
	// Calls is how many QueryConfig calls each client makes; every
	// FreshEvery calls it starts over with a new MetaManager (fresh lists,
	// believing meta0 leads).
	Calls, FreshEvery int
	// Actions is how many changes the administrator makes: leadership
	// moves, leader crashes, restarts, configuration writes.
	Actions int
	// SlowLinks is the probability that a meta's link with a client is
	// slow (late answers, forwards included).
	SlowLinks float64

	// fault breaks the workload's own side on purpose, for the tests that
	// show the checks can fail: "stale-read" (a client reports an older
	// configuration than it got), "wrong-leader" (a report's leader index
	// is moved), "short-addrs" (a report's address list loses its last
	// entry), "slow-call" (a client sleeps inside its call's timing),
	// "skip-cancel" (a canceller's call ignores its cancel).
	fault string
}

// DefaultConfig is the workload the case runs.
var DefaultConfig = Config{Metas: 4, Clients: 2, Cancellers: 1, Calls: 6, FreshEvery: 2, Actions: 6, SlowLinks: 0.3}

const (
	table = "temp"
	// callTimeout is the ordinary clients' per-call timeout.
	callTimeout = 3 * time.Second
	// epsilon is the slack, in virtual time, for a call to return once
	// its context is done (the goroutines it waits for only need to run),
	// or beyond its latency bound. Real mode (a stress run) allows
	// realEpsilon, for the real scheduler.
	epsilon     = time.Millisecond
	realEpsilon = 100 * time.Millisecond
	// slowLatency bounds the one-way latency of a slow link.
	slowLatency = 20 * time.Millisecond
)

var clientList = []string{sys.MetaAddr("meta0"), sys.MetaAddr("meta1"), sys.MetaAddr("meta2")}

// configs is the table's configuration as a versioned register: the
// administrator writes versions, clients read them. Strict: at most one
// meta answers ERR_OK at any moment and a new leader gets every version
// written before, so a read returns the newest version written (which
// implies the monotonic reads CASES.md asks for).
var configs = checkers.Register[string]{Strict: true}

// timedCall is the input of an operation of the timing history: a call
// whose context is done after Deadline.
type timedCall struct {
	Client   string
	Deadline time.Duration
}

// run is one run of the workload.
type run struct {
	scenarios.Run
	cfg     Config
	variant sys.Variant
	reg     harness.History // configuration reads and writes
	timed   harness.History // every call, with its deadline

	// Mu (of scenarios.Run) guards the fields below.
	leader   string          // the node that leads (the administrator's truth)
	alive    map[string]bool // metas up
	epoch    int             // bumped at the start and end of every change
	settled  bool            // no change under way: every live meta knows the leader
	managers []*sys.MetaManager
	// query bounds one query (dial and request) over the slowest link.
	query time.Duration
	eps   time.Duration

	// tables is the administrator's truth (its goroutine only).
	tables map[string]sys.TableConfig
}

// Check returns the Check of a variant: it runs the workload
// with opts and returns the run's result and every violation its checks
// found.
func Check(v sys.Variant, cfg Config) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return scenarios.Check(func(opts harness.Options, _ faults.Plan) (scenarios.Workload, error) {
		r := &run{cfg: cfg, variant: v, alive: map[string]bool{}, eps: epsilon}
		if opts.Mode == harness.Real {
			r.eps = realEpsilon
		}
		return r, nil
	})
}

func metaName(i int) string { return fmt.Sprintf("meta%d", i) }

// Main runs the workload.
func (r *run) Main() {
	for i := 0; i < r.cfg.Metas; i++ {
		n := harness.NewNode(metaName(i), sys.MetaMain)
		if err := n.Start(); err != nil {
			r.Violate(checkers.Invariant, "start %s: %v", n, err)
			return
		}
		r.alive[n.Name()] = true
	}
	zk := harness.NewNode("zk", nil)
	var clients []*harness.Node
	for i := 0; i < r.cfg.Clients+r.cfg.Cancellers; i++ {
		clients = append(clients, harness.NewNode(fmt.Sprintf("c%d", i), nil))
	}
	for _, n := range append([]*harness.Node{zk}, clients...) {
		if err := n.Start(); err != nil {
			r.Violate(checkers.Invariant, "start %s: %v", n, err)
			return
		}
	}
	// Late answers: some meta-client links are slow.
	slowest := harness.MaxLatency
	for _, c := range clients {
		for i := 0; i < r.cfg.Metas; i++ {
			if harness.Float64() < r.cfg.SlowLinks {
				d := harness.MaxLatency + time.Duration(harness.IntN(int(slowLatency-harness.MaxLatency)))
				slowest = max(slowest, d)
				if err := faults.Apply(faults.Delay(c.Name(), metaName(i), d)); err != nil {
					r.Violate(checkers.Invariant, "%v", err)
					return
				}
			}
		}
	}
	// A query is a dial and a request: two round trips, each of two
	// one-way trips of at most the latency plus a quarter of jitter.
	r.query = 2 * 2 * (slowest + harness.MaxLatency/4)

	admin := sys.Admin{Host: zk}
	if !r.bootstrap(admin) {
		return
	}
	var wg harness.WaitGroup
	wg.Add(1)
	if err := zk.Go(func() { defer wg.Done(); r.administrator(admin) }); err != nil {
		r.Violate(checkers.Invariant, "zk: %v", err)
		return
	}
	for i, c := range clients {
		wg.Add(1)
		cancels := i >= r.cfg.Clients
		if err := c.Go(func() { defer wg.Done(); r.client(c, i+1, cancels) }); err != nil {
			r.Violate(checkers.Invariant, "%s: %v", c, err)
			return
		}
	}
	wg.Wait()

	r.Mu.Lock()
	managers := slices.Clone(r.managers)
	r.Mu.Unlock()
	for i, m := range managers {
		metas, addrs := m.Lists()
		if !slices.Equal(metas, addrs) {
			r.Violate(checkers.Invariant, "list consistency: manager %d ends with sessions %v but addresses %v", i, metas, addrs)
		}
	}
	for _, n := range harness.Nodes() {
		if strings.HasPrefix(n.Name(), "meta") && n.Alive() {
			_ = n.Crash(harness.CrashReset)
		}
	}
	r.Complete()
}

// adminCtx bounds one administrative request.
func adminCtx() (context.Context, context.CancelFunc) {
	return harness.WithTimeout(context.Background(), time.Second)
}

// bootstrap makes meta0 the leader with version 1 of the table and tells
// the others.
func (r *run) bootstrap(admin sys.Admin) bool {
	ctx, cancel := adminCtx()
	defer cancel()
	cfg := sys.TableConfig{Version: 1, Primary: "r1"}
	p := r.reg.Call(0, configs.Write(table, cfg.Version, cfg.Primary))
	err := admin.Promote(ctx, sys.MetaAddr("meta0"), map[string]sys.TableConfig{table: cfg})
	p.Return(nil)
	if err != nil {
		r.Violate(checkers.Invariant, "promote meta0: %v", err)
		return false
	}
	for i := 1; i < r.cfg.Metas; i++ {
		if err := admin.SetLeader(ctx, sys.MetaAddr(metaName(i)), sys.MetaAddr("meta0")); err != nil {
			r.Violate(checkers.Invariant, "set leader on meta%d: %v", i, err)
			return false
		}
	}
	r.leader, r.settled = "meta0", true
	r.tables = map[string]sys.TableConfig{table: cfg}
	return true
}

// administrator makes cfg.Actions changes, one at a time, a random while
// apart: configuration writes, leadership moves, leader crashes (black
// holes) and restarts of crashed metas. Followers learn of a new leader
// after a random delay each: until then they forward to the old one.
func (r *run) administrator(admin sys.Admin) {
	for a := 0; a < r.cfg.Actions; a++ {
		harness.Sleep(100*time.Millisecond + time.Duration(harness.IntN(800))*time.Millisecond)
		r.Mu.Lock()
		leader := r.leader
		var up, down []string
		for i := 0; i < r.cfg.Metas; i++ {
			if n := metaName(i); r.alive[n] {
				up = append(up, n)
			} else {
				down = append(down, n)
			}
		}
		r.Mu.Unlock()
		action := harness.IntN(4)
		if action == 2 && len(up) < 3 || action == 3 && len(down) == 0 {
			action = 1
		}
		switch action {
		case 0:
			r.write(admin, leader)
		case 1:
			r.move(admin, leader, up)
		case 2:
			r.crashLeader(admin, leader, up)
		case 3:
			r.restart(admin, leader, down[harness.IntN(len(down))])
		}
	}
}

// write installs the table's next version on the leader.
func (r *run) write(admin sys.Admin, leader string) {
	cfg := r.tables[table]
	cfg = sys.TableConfig{Version: cfg.Version + 1, Primary: fmt.Sprintf("r%d", cfg.Version+1)}
	ctx, cancel := adminCtx()
	defer cancel()
	p := r.reg.Call(0, configs.Write(table, cfg.Version, cfg.Primary))
	err := admin.Write(ctx, sys.MetaAddr(leader), table, cfg)
	p.Return(nil)
	if err != nil {
		r.Violate(checkers.Invariant, "write %v to leader %s: %v", cfg, leader, err)
		return
	}
	r.tables[table] = cfg
}

// unsettle marks the start of a change.
func (r *run) unsettle() {
	r.Mu.Lock()
	r.epoch++
	r.settled = false
	r.Mu.Unlock()
}

// settle marks the end of a change: leader leads, alive says who is up.
func (r *run) settle(leader string) {
	r.Mu.Lock()
	r.epoch++
	r.settled, r.leader = true, leader
	r.Mu.Unlock()
}

func pickOther(names []string, not string) string {
	var others []string
	for _, n := range names {
		if n != not {
			others = append(others, n)
		}
	}
	return others[harness.IntN(len(others))]
}

// move hands leadership from leader to another live meta.
func (r *run) move(admin sys.Admin, leader string, up []string) {
	to := pickOther(up, leader)
	r.unsettle()
	harness.Note("admin: leadership %s -> %s", leader, to)
	ctx, cancel := adminCtx()
	defer cancel()
	if err := admin.Demote(ctx, sys.MetaAddr(leader), sys.MetaAddr(to)); err != nil {
		r.Violate(checkers.Invariant, "demote %s: %v", leader, err)
	}
	r.promote(admin, to, up, leader)
}

// crashLeader black-holes the leader and promotes another live meta.
func (r *run) crashLeader(admin sys.Admin, leader string, up []string) {
	to := pickOther(up, leader)
	r.unsettle()
	if err := faults.Apply(faults.BlackHole(leader)); err != nil {
		r.Violate(checkers.Invariant, "%v", err)
	}
	r.Mu.Lock()
	r.alive[leader] = false
	r.Mu.Unlock()
	harness.Note("admin: leader %s vanished; %s leads", leader, to)
	r.promote(admin, to, up, leader)
}

// promote makes to the leader, then tells every other live meta but old
// (which knows already, or is dead), each after a random delay.
func (r *run) promote(admin sys.Admin, to string, up []string, old string) {
	ctx, cancel := adminCtx()
	defer cancel()
	if err := admin.Promote(ctx, sys.MetaAddr(to), r.tables); err != nil {
		r.Violate(checkers.Invariant, "promote %s: %v", to, err)
	}
	var wg harness.WaitGroup
	for _, f := range up {
		if f == to || f == old {
			continue
		}
		wg.Go(func() {
			harness.Sleep(time.Duration(harness.IntN(100)) * time.Millisecond)
			if err := admin.SetLeader(ctx, sys.MetaAddr(f), sys.MetaAddr(to)); err != nil {
				r.Violate(checkers.Invariant, "tell %s that %s leads: %v", f, to, err)
			}
		})
	}
	wg.Wait()
	r.settle(to)
}

// restart brings a crashed meta back and tells it who leads.
func (r *run) restart(admin sys.Admin, leader, name string) {
	r.unsettle()
	if err := faults.Apply(faults.Restart(name)); err != nil {
		r.Violate(checkers.Invariant, "%v", err)
	}
	r.Mu.Lock()
	r.alive[name] = true
	r.Mu.Unlock()
	ctx, cancel := adminCtx()
	defer cancel()
	if err := admin.SetLeader(ctx, sys.MetaAddr(name), sys.MetaAddr(leader)); err != nil {
		r.Violate(checkers.Invariant, "tell restarted %s that %s leads: %v", name, leader, err)
	}
	r.settle(leader)
}

// client makes cfg.Calls calls from node c, starting over with a fresh
// manager every cfg.FreshEvery calls.
func (r *run) client(c *harness.Node, id int, cancels bool) {
	var m *sys.MetaManager
	for call := 0; call < r.cfg.Calls; call++ {
		if call%max(r.cfg.FreshEvery, 1) == 0 {
			m = sys.NewMetaManager(c, clientList, sys.Options{Variant: r.variant, Observe: r.observe(c.Name())})
			r.Mu.Lock()
			r.managers = append(r.managers, m)
			r.Mu.Unlock()
		}
		harness.Sleep(time.Duration(harness.IntN(400)) * time.Millisecond)
		r.call(c.Name(), id, m, cancels)
	}
}

// call makes one QueryConfig and checks its timing.
func (r *run) call(client string, id int, m *sys.MetaManager, cancels bool) {
	deadline := callTimeout
	ctx, cancel := harness.WithTimeout(context.Background(), deadline)
	defer cancel()
	if cancels {
		deadline = time.Duration(1+harness.IntN(1500)) * time.Millisecond
		if harness.IntN(2) == 0 {
			ctx, cancel = harness.WithTimeout(ctx, deadline)
		} else {
			var stop func()
			ctx, stop = harness.WithCancel(ctx)
			wait := deadline
			if r.cfg.fault == "skip-cancel" {
				wait += time.Second
			}
			t := harness.AfterFunc(wait, stop)
			cancel = func() { t.Stop(); stop() }
		}
		defer cancel()
	}

	_, believed := m.Leader()
	r.Mu.Lock()
	epoch, settled := r.epoch, r.settled
	host, _, _ := harness.SplitAddr(believed)
	believedUp, leader := r.alive[host], r.leader
	r.Mu.Unlock()

	p := r.reg.Call(id, configs.Read(table))
	tp := r.timed.Call(id, timedCall{Client: client, Deadline: deadline})
	start := harness.Now()
	resp, err := m.QueryConfig(ctx, table)
	if r.cfg.fault == "slow-call" && err == nil {
		harness.Sleep(r.query)
	}
	took := harness.Since(start)
	tp.Return(nil)
	switch {
	case err == nil && resp.Err == sys.ErrOK:
		v := resp.Config.Version
		if r.cfg.fault == "stale-read" && v > 1 {
			v--
		}
		p.Return(configs.Returned(v, fmt.Sprintf("r%d", v)))
	case err == nil:
		p.Unknown()
		r.Violate(checkers.Invariant, "answer: %s's QueryConfig returned %s from %s, not ERR_OK", client, resp.Err, resp.From)
	default:
		p.Unknown()
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			r.Violate(checkers.Invariant, "answer: %s's QueryConfig failed with %v, not its context's error", client, err)
		}
	}

	r.Mu.Lock()
	stable := settled && r.epoch == epoch
	r.Mu.Unlock()
	if !stable || err != nil {
		return
	}
	// The cluster was settled for the whole call: the latency bounds hold.
	switch {
	case believedUp && host == leader && took > r.query+r.eps:
		r.Violate(checkers.Timeliness, "latency with a live leader: %s's call to leader %s took %v, more than one query (%v)", client, believed, took, r.query)
	case believedUp && took > 2*r.query+r.eps:
		r.Violate(checkers.Timeliness, "latency with a live follower believed leader: %s's call through %s took %v, more than two queries (%v)", client, believed, took, 2*r.query)
	case !believedUp && took < sys.DefaultBackupDelay:
		r.Violate(checkers.Timeliness, "latency with a dead leader: %s's call through dead %s returned after %v, before the backup delay (%v)", client, believed, took, sys.DefaultBackupDelay)
	case !believedUp && took > sys.DefaultBackupDelay+2*r.query+r.eps:
		r.Violate(checkers.Timeliness, "latency with a dead leader: %s's call through dead %s took %v, more than the backup delay and two queries (%v)", client, believed, took, sys.DefaultBackupDelay+2*r.query)
	}
}

// observe returns the Observe hook of a client's managers: it checks what
// each call saw and recorded.
func (r *run) observe(client string) func(sys.CallReport) {
	return func(rep sys.CallReport) {
		if rep.Running > 0 {
			r.Violate(harness.Leak, "%d goroutine(s) started by Run of %s's QueryConfig still running after Run returned (%v)", rep.Running, client, errOrOK(rep.Err))
		}
		if rep.Err != nil || rep.Resp.Err != sys.ErrOK {
			return
		}
		if r.cfg.fault == "wrong-leader" && len(rep.Metas) > 1 {
			rep.Leader = (rep.Leader + 1) % len(rep.Metas)
		}
		switch {
		case rep.Leader < 0 || rep.Leader >= len(rep.Metas):
			r.Violate(checkers.Invariant, "leader index: %s's call recorded leader index %d outside its list %v", client, rep.Leader, rep.Metas)
		case rep.Metas[rep.Leader] != rep.Resp.From:
			r.Violate(checkers.Invariant, "leader index: %s's call recorded leader %d (%s), but the ERR_OK came from %s", client, rep.Leader, rep.Metas[rep.Leader], rep.Resp.From)
		}
		if r.cfg.fault == "short-addrs" && len(rep.Addrs) > 3 {
			rep.Addrs = rep.Addrs[:len(rep.Addrs)-1]
		}
		if !slices.Equal(rep.Metas, rep.Addrs) {
			r.Violate(checkers.Invariant, "list consistency: %s's call recorded sessions %v but addresses %v", client, rep.Metas, rep.Addrs)
		}
	}
}

func errOrOK(err error) string {
	if err == nil {
		return "it answered"
	}
	return err.Error()
}

// check runs the checks over the finished run's histories.
// Check judges the finished run's histories.
func (r *run) Check() []checkers.Violation {
	vs := configs.Check(r.reg.Operations(), checkers.LinOptions{Name: "metaclient-" + r.variant.String()})
	vs = append(vs, checkers.ReturnsWithinFunc(r.timed.Operations(), func(op harness.Operation) time.Duration {
		return op.Input.(timedCall).Deadline
	}, r.eps)...)
	return vs
}
