package metaclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/metaclient"
)

// callKey is the context key under which a query's context carries its
// call: the manager's Observe hook and the counting host find the call
// they belong to through it, whatever other calls share the manager.
type callKey struct{}

// callOf returns the call ctx belongs to, or nil.
func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// countingHost is the client node as a MetaManager sees it: it accounts
// for every connection a call dials, so that a call that returns with one
// still open is caught, and it tells the plan's wait-call steps when a
// call dials.
type countingHost struct {
	r    *run
	node *harness.Node
}

// Listen implements harness.Host.
func (h *countingHost) Listen(port int) (harness.Listener, error) { return h.node.Listen(port) }

// Dial implements harness.Host.
func (h *countingHost) Dial(ctx context.Context, addr string) (harness.Conn, error) {
	l, c, meta := h.r.l, callOf(ctx), metaIndex(addr)
	if ch := l.dialStart(c, meta); ch != nil {
		harness.Select(ch.SendCase(struct{}{}), harness.Default())
	}
	id := l.begin(metaName(meta), OpQuery.String())
	conn, err := h.node.Dial(ctx, addr)
	if err != nil {
		l.dialEnd(c, nil)
		l.end(id)
		return nil, err
	}
	cc := &countedConn{Conn: conn, l: l, c: c, addr: addr, op: id, leakOne: h.r.cfg.fault == "leak-conn"}
	l.dialEnd(c, cc)
	return cc, nil
}

// countedConn is a connection a call dialled.
type countedConn struct {
	harness.Conn
	l       *ledger
	c       *call
	addr    string
	op      int // the overlap record's id
	leakOne bool
	closed  bool // kept by the ledger
}

// Close implements harness.Conn.
func (cc *countedConn) Close() error {
	first, leak := cc.l.closing(cc, cc.leakOne)
	if leak {
		// The workload's fault: the first connection closed stays open.
		return nil
	}
	if first {
		cc.l.end(cc.op)
	}
	return cc.Conn.Close()
}

// metaIndex returns N of "metaN:port", or -1.
func metaIndex(addr string) int {
	host, _, err := harness.SplitAddr(addr)
	if err != nil || !strings.HasPrefix(host, "meta") {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimPrefix(host, "meta"))
	if err != nil {
		return -1
	}
	return n
}

// observe is every manager's Observe hook: it hands the report to its
// call and checks that Run left no goroutine behind.
func (r *run) observe(ctx context.Context, rep sys.CallReport) {
	c := callOf(ctx)
	if c == nil {
		r.Violate(checkers.Invariant, "observe: a report for a call the workload did not make (%+v)", rep)
		return
	}
	r.l.report(c, rep)
	if rep.Running > 0 {
		r.Violate(harness.Leak, "%d goroutine(s) started by Run of g%d's QueryConfig #%d still running after Run returned (%s)",
			rep.Running, c.client, c.id, errOrOK(rep.Err))
	}
}

func errOrOK(err error) string {
	if err == nil {
		return "it answered"
	}
	return err.Error()
}

// queryCtx returns the context of a query, the function that releases it,
// and the error the context ends with.
func (r *run) queryCtx(c *call, op Op) (ctx context.Context, release context.CancelFunc, ends error) {
	ctx = context.WithValue(context.Background(), callKey{}, c)
	switch op.Ctx {
	case CtxTimeout:
		ctx, cancel := harness.WithTimeout(ctx, op.After)
		if r.cfg.fault == "stray-timer" {
			return ctx, func() {}, context.DeadlineExceeded
		}
		return ctx, cancel, context.DeadlineExceeded
	case CtxCancel:
		ctx, stop := harness.WithCancel(ctx)
		wait := op.After
		if r.cfg.fault == "skip-cancel" {
			wait += time.Second
		}
		t := harness.AfterFunc(wait, stop)
		return ctx, func() { t.Stop(); stop() }, context.Canceled
	default:
		ctx, cancel := harness.WithCancel(ctx)
		cancel()
		return ctx, cancel, context.Canceled
	}
}

// before is what a query's goroutine knew before the call.
type before struct {
	view clusterView
	// For a manager only this goroutine uses: what it believed and held.
	lead       int
	leaderAddr string
	metas      []string
}

// query makes one QueryConfig and checks it.
func (r *run) query(g int, mi *manager, op Op) {
	c := r.l.newCall(g)
	ctx, cancel, wantErr := r.queryCtx(c, op)
	defer cancel()

	var b before
	if mi.users == 1 {
		b.lead, b.leaderAddr = mi.m.Leader()
		b.metas, _ = mi.m.Lists()
	}
	b.view = r.l.view()
	p := r.reg.Call(c.id, configs.Read(op.Table))
	id := r.l.begin(managerObj(mi.id), OpQuery.String())
	start := harness.Now()
	resp, err := mi.m.QueryConfig(ctx, op.Table)
	if r.cfg.fault == "slow-call" && err == nil {
		// The workload's fault: one round trip more than the path needs.
		harness.Sleep(r.rtt)
	}
	lost := r.cfg.fault == "lost-answer" && err == nil
	if lost {
		// The workload's fault: it takes the answer for a call that
		// waited for its context.
		harness.Select(harness.Done(ctx))
		resp, err = nil, ctx.Err()
	}
	took := harness.Since(start)
	r.l.end(id)
	after := r.l.view()
	rep, reported, open := r.l.outcome(c)
	if lost {
		rep.Resp, rep.Err = nil, err
	}

	who := fmt.Sprintf("g%d's QueryConfig #%d (%s)", g, c.id, op.Table)
	r.recordRead(p, who, op, resp, err)
	if len(open) > 0 {
		r.Violate(harness.Leak, "connections: %s returned with %d connection(s) its goroutines dialled still open, to %v",
			who, len(open), open)
	}
	if err != nil && (!errors.Is(err, wantErr) || resp != nil) {
		r.Violate(checkers.Invariant, "answer: %s failed with %v (response %v), not its context's error %v", who, err, resp, wantErr)
	}
	if !reported {
		r.Violate(checkers.Invariant, "report: %s returned without calling Observe", who)
	} else {
		r.checkReport(who, rep, resp, err)
		if mi.users == 1 {
			r.checkPrivate(who, mi, b, rep, err)
		}
	}
	if took > op.After+r.wake {
		r.Violate(checkers.Timeliness, "context: %s returned %v after it began, its context done at %v (slack %v)", who, took, op.After, r.wake)
	}
	if b.view.stable && after.epoch == b.view.epoch && reported {
		r.checkLatency(who, b.view, rep, op, took, resp, err)
	}
}

// recordRead records the read's outcome in the register history.
func (r *run) recordRead(p *harness.Pending, who string, op Op, resp *sys.QueryConfigResponse, err error) {
	switch {
	case err != nil:
		p.Unknown()
	case resp.Err == sys.ErrOK && resp.Table == op.Table:
		v, value := resp.Config.Version, resp.Config.Primary
		if r.cfg.fault == "stale-read" && v > 1 {
			v--
		}
		p.Return(configs.Returned(v, value))
	case resp.Err == sys.ErrObjectNotFound && resp.Table == op.Table:
		// Not created yet: the register's initial version.
		p.Return(configs.Returned(0, ""))
	default:
		p.Unknown()
		r.Violate(checkers.Invariant, "answer: %s returned %s for table %q from %s, not ERR_OK (or ERR_OBJECT_NOT_FOUND) for %q",
			who, resp.Err, resp.Table, resp.From, op.Table)
	}
}

// checkReport checks what the call recorded: an ERR_OK from the meta its
// leader index points at, lists equal entry by entry, and lists that
// extend those the call began with.
func (r *run) checkReport(who string, rep sys.CallReport, resp *sys.QueryConfigResponse, err error) {
	if rep.Resp != resp || !errors.Is(rep.Err, err) {
		r.Violate(checkers.Invariant, "report: %s returned (%v, %v) but reported (%v, %v)", who, resp, err, rep.Resp, rep.Err)
	}
	if msg := r.listProblem(rep.Known, rep.Known); msg != "" {
		r.Violate(checkers.Invariant, "list consistency: %s began with %s", who, msg)
	}
	if rep.Asked == "" || !slices.Contains(rep.Known, rep.Asked) {
		r.Violate(checkers.Invariant, "leader index: %s asked %q first, not a meta of its list %v", who, rep.Asked, rep.Known)
	}
	if err != nil {
		return
	}
	if r.cfg.fault == "wrong-leader" && len(rep.Metas) > 1 {
		rep.Leader = (rep.Leader + 1) % len(rep.Metas)
	}
	if r.cfg.fault == "short-addrs" && len(rep.Addrs) > 2 {
		rep.Addrs = rep.Addrs[:len(rep.Addrs)-1]
	}
	switch {
	case rep.Leader < 0 || rep.Leader >= len(rep.Metas):
		r.Violate(checkers.Invariant, "leader index: %s recorded leader index %d outside its list %v", who, rep.Leader, rep.Metas)
	case rep.Metas[rep.Leader] != resp.From:
		r.Violate(checkers.Invariant, "leader index: %s recorded leader %d (%s), but the answer came from %s", who, rep.Leader, rep.Metas[rep.Leader], resp.From)
	}
	if msg := r.listProblem(rep.Metas, rep.Addrs); msg != "" {
		r.Violate(checkers.Invariant, "list consistency: %s recorded %s", who, msg)
	}
	if len(rep.Metas) < len(rep.Known) || !slices.Equal(rep.Metas[:len(rep.Known)], rep.Known) {
		r.Violate(checkers.Invariant, "list consistency: %s began with %v and recorded %v, which does not extend it", who, rep.Known, rep.Metas)
	}
}

// checkPrivate checks a call on a manager only its goroutine uses: it
// asked the meta the manager believed led, and the manager holds, after
// it, what the call recorded (or, after a failure, what it held before).
func (r *run) checkPrivate(who string, mi *manager, b before, rep sys.CallReport, err error) {
	if rep.Asked != b.leaderAddr || !slices.Equal(rep.Known, b.metas) {
		r.Violate(checkers.Invariant, "leader index: %s asked %s first with list %v, but its manager believed %s led, with %v",
			who, rep.Asked, rep.Known, b.leaderAddr, b.metas)
	}
	lead, addr := mi.m.Leader()
	metas, _ := mi.m.Lists()
	wantLead, wantAddr, wantMetas := b.lead, b.leaderAddr, b.metas
	if err == nil {
		wantLead, wantAddr, wantMetas = rep.Leader, rep.Resp.From, rep.Metas
	}
	if lead != wantLead || addr != wantAddr || !slices.Equal(metas, wantMetas) {
		r.Violate(checkers.Invariant, "leader index: after %s (%s), manager %d believes %d (%s) with %v; want %d (%s) with %v",
			who, errOrOK(err), mi.id, lead, addr, metas, wantLead, wantAddr, wantMetas)
	}
}

// listProblem describes what is wrong with a manager's or a call's lists
// (sessions and addresses): they differ, one address is there twice, or
// the clients' configured list is not their prefix. "" when all is well.
func (r *run) listProblem(metas, addrs []string) string {
	switch {
	case !slices.Equal(metas, addrs):
		return fmt.Sprintf("sessions %v but addresses %v", metas, addrs)
	case len(metas) < r.cfg.Known || !slices.Equal(metas[:r.cfg.Known], r.cfg.clientList()):
		return fmt.Sprintf("list %v, which does not begin with the configured %v", metas, r.cfg.clientList())
	}
	for i, a := range metas {
		if slices.Contains(metas[:i], a) {
			return fmt.Sprintf("%s twice in %v", a, metas)
		}
	}
	return ""
}

// leaderOp calls Leader and checks that the index is in the list.
func (r *run) leaderOp(g int, mi *manager) {
	id := r.l.begin(managerObj(mi.id), OpLeader.String())
	i, addr := mi.m.Leader()
	r.l.end(id)
	if addr == "" {
		r.Violate(checkers.Invariant, "leader index: g%d's manager %d believes index %d, outside its list", g, mi.id, i)
	}
}

// listsOp calls Lists and checks the lists.
func (r *run) listsOp(g int, mi *manager) {
	id := r.l.begin(managerObj(mi.id), OpLists.String())
	metas, addrs := mi.m.Lists()
	r.l.end(id)
	if msg := r.listProblem(metas, addrs); msg != "" {
		r.Violate(checkers.Invariant, "list consistency: g%d's manager %d holds %s", g, mi.id, msg)
	}
}

// expectation is how a call that ran while the cluster stood still must
// go, from the meta it asked first and the list it began with.
type expectation struct {
	how string
	// lo bounds its latency from below if it answered; hi from above
	// (when reachable): trips round trips, wait (the backup delay, or 0)
	// and wakes times what the call's own work may take.
	lo           time.Duration
	trips, wakes int
	wait         time.Duration
	hi           time.Duration
	// reachable: some path leads to the leader (else it must wait for
	// its context).
	reachable bool
}

// wakeCost is what the runtime may charge for the work a goroutine does
// between two waits: a timer due within a millisecond may fire while
// goroutines run, once between two moments at which every goroutine was
// blocked (harness.Strategy). A call's latency is therefore its round
// trips plus up to wakeCost for each time its critical path wakes up: it
// begins, a dial completes or is refused, a request reaches a meta, an
// answer reaches the client, the backup timer fires. That is the work of
// the call, not a slowness of the system; an extra round trip still shows
// (a round trip is at least 2ms, and the wake-ups of a path are counted
// one by one, not rounded up). In real mode the real scheduler takes
// realWakeCost instead: what a loaded machine may take to run a woken
// goroutine (about 40ms a wake-up was seen with ten busy threads on two
// cores, under -race).
const (
	wakeCost     = time.Millisecond
	realWakeCost = 100 * time.Millisecond
)

// Wake-ups of a call's critical path: asking a meta (the dial completes,
// the request reaches the meta, its answer reaches the client), a refused
// dial, and the call's beginning (or its backup timer firing).
const (
	wakesAsk     = 3
	wakesRefused = 1
	wakesBegin   = 1
)

// expect works out the expectation, counting round trips (rtt): a dial
// and a request are one each, so asking a meta is two; a dial to a reset
// meta is refused after one; one to a black-holed meta hangs.
//
//   - asked the live leader: it answers (2 rtt);
//   - asked a live follower: it forwards, and the leader is asked, either
//     as the forward (not in the list) or as a backup started at once (4);
//   - asked a crashed meta: the backups start after one rtt (reset: the
//     dial is refused) or after the backup delay (black hole: not
//     before), and ask the rest of the list: the leader (2 more), or a
//     live follower that forwards to it (4 more); with neither, nothing
//     leads to the leader.
//
// Each path also counts its wake-ups (see wakeCost).
func (r *run) expect(v clusterView, asked string, known []string) expectation {
	a := metaIndex(asked)
	if a < 0 || a >= len(v.down) {
		return expectation{how: "through " + asked}
	}
	mode := v.down[a]
	e := expectation{wakes: wakesBegin}
	switch {
	case mode == "" && a == v.leader:
		e.how, e.trips, e.wakes, e.reachable = "with a live leader", 2, e.wakes+wakesAsk, true
		return r.bound(e)
	case mode == "":
		e.how, e.trips, e.wakes, e.reachable = "through a live follower", 4, e.wakes+2*wakesAsk, true
		return r.bound(e)
	case mode == modeBlackHole:
		// The backups start when the backup timer fires.
		e.how, e.lo, e.wait, e.wakes = "through a vanished (black-holed) meta "+asked, r.cfg.delay(), r.cfg.delay(), e.wakes+1
	default:
		e.how, e.trips, e.wakes = "through a crashed (reset) meta "+asked, 1, e.wakes+wakesRefused
	}
	leaderKnown, liveKnown := false, false
	for _, addr := range known {
		i := metaIndex(addr)
		if i == a {
			continue
		}
		leaderKnown = leaderKnown || i == v.leader
		liveKnown = liveKnown || (i >= 0 && i < len(v.down) && v.down[i] == "")
	}
	switch {
	case leaderKnown:
		e.trips, e.wakes, e.reachable = e.trips+2, e.wakes+wakesAsk, true
	case liveKnown:
		e.trips, e.wakes, e.reachable = e.trips+4, e.wakes+2*wakesAsk, true
	}
	return r.bound(e)
}

// bound sets e.hi: its round trips, its wait and its wake-ups.
func (r *run) bound(e expectation) expectation {
	e.hi = time.Duration(e.trips)*r.rtt + e.wait + time.Duration(e.wakes)*r.wake
	return e
}

// describe says how e.hi is made, for a report.
func (r *run) describe(e expectation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d round trip(s) of %v", e.trips, r.rtt)
	if e.wait > 0 {
		fmt.Fprintf(&b, ", backup delay %v", e.wait)
	}
	fmt.Fprintf(&b, ", %d wake-up(s) of up to %v", e.wakes, r.wake)
	return b.String()
}

// checkLatency checks a call that ran while the cluster stood still
// (every live meta knew the leader, nothing changed): it answered from the
// leader within its bounds, or, if it failed, its context ended before it
// could have answered.
func (r *run) checkLatency(who string, v clusterView, rep sys.CallReport, op Op, took time.Duration, resp *sys.QueryConfigResponse, err error) {
	e := r.expect(v, rep.Asked, rep.Known)
	if err == nil {
		if resp.From != metaAddr(v.leader) {
			r.Violate(checkers.Invariant, "answer: %s answered by %s, but meta%d led throughout", who, resp.From, v.leader)
		}
		switch {
		case took < e.lo:
			r.Violate(checkers.Timeliness, "latency %s: %s answered after %v, before the backup delay %v", e.how, who, took, e.lo)
		case e.reachable && took > e.hi:
			r.Violate(checkers.Timeliness, "latency %s: %s took %v, more than %v (%s)", e.how, who, took, e.hi, r.describe(e))
		}
		return
	}
	if e.reachable && op.Ctx != CtxDone && op.After > e.hi {
		r.Violate(checkers.Timeliness, "fail-fast %s: %s should have answered within %v (%s), but its context ended it after %v",
			e.how, who, e.hi, r.describe(e), took)
	}
}

// managerObj names manager i as an object of the overlap record.
func managerObj(i int) string { return fmt.Sprintf("manager%d", i) }
