package replica

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/replica"
)

// Case is race case 2: the Pegasus Go client never refreshes its routing
// after a replica server dies (apache/incubator-pegasus #1856, fixed by
// #1916). Four replica servers hold a four-partition table; clients write,
// read, delete and increment while a replica server crashes with calls
// pending and meta moves its primaries away, an administrator moves a
// primary, another replica server may vanish (black hole) or the new
// primary may crash while the client refreshes its configuration. Buggy
// must show the bounded-recovery violation (Timeliness): calls issued well
// after meta moved the primary still fail. Fixed must pass every check.
func Case() explore.Case {
	return explore.Case{
		Name:    "replica",
		Bug:     "apache/incubator-pegasus #1856 (fix #1916)",
		Summary: "Pegasus Go client: when a replica server dies, pending calls wait for their deadline and DeadlineExceeded refreshes nothing, so the client routes to the dead node forever",
		Variants: []explore.Variant{
			{
				Name:   "buggy",
				Expect: []harness.Kind{checkers.Timeliness},
				Match:  recoveryMatch,
				Seeds:  50,
				Faults: Faults(DefaultConfig),
				Check:  Check(sys.Buggy, DefaultConfig),
			},
			{
				Name:   "fixed",
				Seeds:  2000,
				Faults: Faults(DefaultConfig),
				Check:  Check(sys.Fixed, DefaultConfig),
			},
		},
	}
}

// recoveryMatch tells the bug from other timeliness violations: the
// bounded-recovery property broken on a partition whose primary moved away
// from a crashed node (not the call deadline).
func recoveryMatch(v checkers.Violation) bool {
	return v.Kind == checkers.Timeliness && strings.HasPrefix(v.Message, "bounded recovery: ") &&
		strings.Contains(v.Message, "moved away from crashed")
}

// Config sizes the replica workload.
type Config struct {
	// Replicas is the number of replica servers, Partitions the table's.
	Replicas, Partitions int
	// Writers each own KeysPerWriter keys: they alone Set and Del them (and
	// read them); Readers read every key. Writers also increment Counters
	// shared counters. One writer per key because the client retries Set
	// and Del after failures that leave them unknown (there are no request
	// ids): a first attempt that did land and its retry both take effect,
	// which changes nothing unless another writer's write came in between.
	// Incr is never retried that way (checkCounters).
	Writers, Readers, KeysPerWriter, Counters int
	// Duration is how long clients issue calls, in virtual time.
	Duration time.Duration
	// OpTimeout is every call's deadline.
	OpTimeout time.Duration

	// fault breaks the workload's own client code on purpose, for the tests
	// that show the checks can fail: "blind-incr" (the connector retries
	// Incr after ambiguous failures; writers increment most of the time),
	// "lose-write" (a writer records a Set
	// it never made), "late-return" (a call is recorded as returning long
	// after its deadline).
	fault string
}

// DefaultConfig is the workload the case runs.
var DefaultConfig = Config{
	Replicas: 4, Partitions: 4,
	Writers: 3, Readers: 1, KeysPerWriter: 3, Counters: 2,
	Duration:  8 * time.Second,
	OpTimeout: time.Second,
}

// Timings of the system the case runs (the client's defaults).
const (
	// refreshInterval is the client's least time between two
	// configuration refreshes.
	refreshInterval = time.Second
	// metaRTT bounds one round trip between the client and meta:
	// twice the largest link latency plus jitter.
	metaRTT = 2 * (harness.MaxLatency + harness.MaxLatency/4)
	// epsilon is the slack a call gets past its deadline.
	epsilon = 10 * time.Millisecond
	// lease is how long meta waits for beacons before it declares a
	// replica server dead.
	lease = time.Second
)

// recoveryBound is how long after a partition's last configuration
// change calls to it must succeed again: the call timeout (a call to the
// dead node times out), the refresh interval (the refresh it triggers may
// wait for the rate limit), and one round trip to meta.
func (cfg Config) recoveryBound() time.Duration {
	return cfg.OpTimeout + refreshInterval + metaRTT
}

// callRecord is one call a client made, for the timing checks.
type callRecord struct {
	client     int
	op, key    string
	part       int
	start, end time.Duration // since the run began; end -1 if it never returned
	err        string
}

// incrInput is an Incr's input, as its history records it.
type incrInput struct {
	Key   string
	Delta int64
}

// injected is one fault the nemesis injected, for the report.
type injected struct {
	at   time.Duration
	what string
	node string
	kind string // "crash", "blackhole", "move"
}

// run is one run of the workload.
type run struct {
	scenarios.Run
	cfg     Config
	variant sys.Variant
	plan    faults.Plan
	name    string   // the run's name in linearizability reports
	reps    []string // replica server addresses
	names   []string // their node names

	// Mu (of scenarios.Run) guards everything below.
	h         harness.History
	hi        harness.History // Incr
	calls     []callRecord
	changes   []sys.Change
	primaries []string // the primary of each partition, as meta's changes say
	faults    []injected
	stats     sys.Stats
	finals    map[string]int64 // counters' final values, read by the auditor
	auditOK   bool
	// refreshArmed: crash a new primary when the client next refreshes.
	refreshArmed bool
	refreshCrash *harness.Chan[struct{}]
}

var kv checkers.KV[string, string]

// Faults returns the fault plan of a seed (see planFor).
func Faults(cfg Config) func(seed int64) faults.Plan {
	return func(seed int64) faults.Plan { return planFor(seed, cfg) }
}

// Check returns the Check of a variant: it runs the workload with
// opts and returns the run's result and every violation its checks found.
func Check(v sys.Variant, cfg Config) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return scenarios.Check(func(opts harness.Options, plan faults.Plan) (scenarios.Workload, error) {
		if err := checkPlan(plan, cfg); err != nil {
			return nil, fmt.Errorf("fault plan: %w", err)
		}
		return &run{cfg: cfg, variant: v, finals: map[string]int64{}, plan: plan,
			name: fmt.Sprintf("replica-%s-seed%d", v, opts.Seed)}, nil
	})
}

// Main runs the workload.
func (r *run) Main() {
	cfg := r.cfg
	metaAddr := fmt.Sprintf("meta:%d", sys.MetaPort)
	for i := 0; i < cfg.Replicas; i++ {
		r.names = append(r.names, fmt.Sprintf("r%d", i+1))
		r.reps = append(r.reps, fmt.Sprintf("r%d:%d", i+1, sys.ReplicaPort))
	}
	for _, pc := range sys.InitialConfig(r.reps, cfg.Partitions, 3) {
		r.primaries = append(r.primaries, pc.Primary)
	}
	r.refreshCrash = harness.NewChan[struct{}](1)

	meta := harness.NewNode("meta", sys.MetaMain(sys.MetaConfig{
		Replicas: r.reps, Partitions: cfg.Partitions, Lease: lease,
		OnChange: r.onChange,
	}))
	nodes := []*harness.Node{meta}
	for _, name := range r.names {
		nodes = append(nodes, harness.NewNode(name, sys.ReplicaMain(sys.ReplicaConfig{Meta: metaAddr})))
	}
	clientNode := harness.NewNode("client", nil)
	admin := harness.NewNode("admin", nil)
	auditor := harness.NewNode("auditor", nil)
	nodes = append(nodes, clientNode, admin, auditor)
	for _, n := range nodes {
		if err := n.Start(); err != nil {
			r.Violate(checkers.Invariant, "start %s: %v", n, err)
			return
		}
	}
	defer func() {
		// Shut the servers down: their goroutines stop where they stand.
		for _, n := range nodes {
			if n.Alive() {
				_ = n.Crash(harness.CrashReset)
			}
		}
	}()

	// The clients.
	workersDone := harness.NewChan[struct{}](0)
	err := clientNode.Go(func() {
		defer workersDone.Close()
		harness.Sleep(100 * time.Millisecond) // let primaries sync their secondaries
		opts := sys.Options{Variant: r.variant, Host: clientNode, Meta: metaAddr,
			OnRefresh: r.onRefresh, UnsafeRetryIncr: cfg.fault == "blind-incr"}
		ctx, cancel := harness.WithTimeout(context.Background(), cfg.OpTimeout)
		c, err := sys.Open(ctx, opts)
		cancel()
		if err != nil {
			r.Violate(checkers.Invariant, "open the client: %v", err)
			return
		}
		var wg harness.WaitGroup
		for w := 0; w < cfg.Writers; w++ {
			wg.Go(func() { r.writer(c, w) })
		}
		for rd := 0; rd < cfg.Readers; rd++ {
			wg.Go(func() { r.reader(c, cfg.Writers+rd) })
		}
		wg.Wait()
		c.Close()
		st := c.Stats()
		r.Mu.Lock()
		r.stats = st
		r.Mu.Unlock()
	})
	if err != nil {
		r.Violate(checkers.Invariant, "start the clients: %v", err)
		return
	}

	r.nemesis(admin, metaAddr, workersDone)
	workersDone.Recv()

	// The audit: a fresh client (the Buggy one works again after a
	// restart) reads every key and counter.
	auditDone := harness.NewChan[struct{}](0)
	if err := auditor.Go(func() {
		defer auditDone.Close()
		r.audit(auditor, metaAddr)
	}); err != nil {
		r.Violate(checkers.Invariant, "start the audit: %v", err)
		return
	}
	auditDone.Recv()
	r.Mu.Lock()
	r.Complete()
	r.Mu.Unlock()
}

// onChange records meta's configuration changes (from meta's goroutines).
func (r *run) onChange(c sys.Change) {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	r.changes = append(r.changes, c)
	r.primaries[c.Partition] = c.To
	harness.Note("meta: partition %d ballot %d: primary %s -> %s (%s %s)", c.Partition, c.Ballot, c.From, c.To, c.Reason, c.Dead)
}

// onRefresh is told when the client starts a configuration refresh; when
// armed, it has the nemesis crash a new primary right then.
func (r *run) onRefresh(time.Time) {
	r.Mu.Lock()
	armed := false
	if r.refreshArmed {
		for _, c := range r.changes {
			armed = armed || (c.Reason == "dead" && c.From == c.Dead) // after a failover
		}
	}
	if armed {
		r.refreshArmed = false
	}
	r.Mu.Unlock()
	if armed {
		harness.Select(r.refreshCrash.SendCase(struct{}{}), harness.Default())
	}
}

// The replica case's fault plan is a faults.Plan of the case's own actions
// (faults.Act), which only this workload can carry out:
//
//	+293ms move p2; +642ms crash-primary p1; +1.234s blackhole-replica r3
//	+0s refresh-crash
//
// "move pN": the administrator moves the primary of partition N to its
// first live secondary. "crash-primary pN": the replica server that is the
// primary of partition N now crashes (peers see resets).
// "blackhole-replica rN": replica server rN (or, if it has crashed already,
// the next live one) vanishes. "refresh-crash": once meta has moved a
// primary away from a crashed node, the client's next configuration refresh
// crashes the primary that took over, right when the refresh starts; its
// time does not matter.
const (
	actMove         = "move"
	actCrashPrimary = "crash-primary"
	actBlackHole    = "blackhole-replica"
	actRefreshCrash = "refresh-crash"
)

// planFor returns the plan seed makes: an administrator's move of a
// primary, a crash of a primary's server, and maybe a second fault, either
// a black hole (another replica server vanishes) or a crash during refresh
// (the primary that took over crashes while the client refreshes). At most
// two replica servers die: every partition keeps a replica.
func planFor(seed int64, cfg Config) faults.Plan {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7265706c696361)) // "replica"
	ms := func(lo, n int) time.Duration { return time.Duration(lo+rng.IntN(n)) * time.Millisecond }
	moveAt, movePart := ms(200, 2800), rng.IntN(cfg.Partitions)
	crashAt, crashPart := ms(300, 900), rng.IntN(cfg.Partitions)
	p := faults.Plan{
		{At: moveAt, Fault: faults.Act(actMove, fmt.Sprintf("p%d", movePart))},
		{At: crashAt, Fault: faults.Act(actCrashPrimary, fmt.Sprintf("p%d", crashPart))},
	}
	switch rng.IntN(3) {
	case 1:
		p = append(p, faults.Step{At: crashAt + ms(0, 1500), Fault: faults.Act(actBlackHole, fmt.Sprintf("r%d", 1+rng.IntN(cfg.Replicas)))})
	case 2:
		p = append(p, faults.Step{Fault: faults.Act(actRefreshCrash, "")})
	}
	slices.SortStableFunc(p, func(a, b faults.Step) int { return int(a.At - b.At) })
	return p
}

// checkPlan reports what in p this workload cannot carry out: a fault
// that is not one of its actions, or an argument that names no partition
// or replica server.
func checkPlan(p faults.Plan, cfg Config) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for i, s := range p {
		f := s.Fault
		bad := fmt.Errorf("step %d (%s): want %s pN, %s pN (0 <= N < %d), %s rN (1 <= N <= %d) or %s",
			i+1, s, actMove, actCrashPrimary, cfg.Partitions, actBlackHole, cfg.Replicas, actRefreshCrash)
		if f.Kind != faults.KindAction {
			return bad
		}
		switch f.Action {
		case actMove, actCrashPrimary:
			if _, ok := argIndex(f.Arg, "p", 0, cfg.Partitions-1); !ok {
				return bad
			}
		case actBlackHole:
			if _, ok := argIndex(f.Arg, "r", 1, cfg.Replicas); !ok {
				return bad
			}
		case actRefreshCrash:
			if f.Arg != "" {
				return bad
			}
		default:
			return bad
		}
	}
	return nil
}

// argIndex reads an action's argument "<prefix>N" with lo <= N <= hi.
func argIndex(arg, prefix string, lo, hi int) (int, bool) {
	if !strings.HasPrefix(arg, prefix) {
		return 0, false
	}
	n, err := strconv.Atoi(arg[len(prefix):])
	return n, err == nil && n >= lo && n <= hi
}

// nemesis runs the plan.
func (r *run) nemesis(admin *harness.Node, metaAddr string, workersDone *harness.Chan[struct{}]) {
	harness.Note("nemesis plan: %s", r.plan)
	var crashed string
	refreshCrash := false
	for _, s := range r.plan {
		f := s.Fault
		if f.Action == actRefreshCrash {
			refreshCrash = true
			r.Mu.Lock()
			r.refreshArmed = true
			r.Mu.Unlock()
			continue
		}
		if d := s.At - r.Since(); d > 0 {
			harness.Sleep(d)
		}
		switch f.Action {
		case actMove:
			part, _ := argIndex(f.Arg, "p", 0, r.cfg.Partitions-1)
			r.move(admin, metaAddr, part)
		case actCrashPrimary:
			part, _ := argIndex(f.Arg, "p", 0, r.cfg.Partitions-1)
			r.Mu.Lock()
			addr := r.primaries[part]
			r.Mu.Unlock()
			if c := r.crash(addr, harness.CrashReset); c != "" {
				crashed = c
			}
		case actBlackHole:
			i := slices.Index(r.names, f.Arg)
			for j := range r.reps {
				if addr := r.reps[(i+j)%len(r.reps)]; addr != crashed {
					r.crash(addr, harness.CrashBlackHole)
					break
				}
			}
		}
	}
	if !refreshCrash {
		return
	}
	// Crash during refresh: wait for the client's first refresh after the
	// failover, then crash a primary that took over from the crashed node.
	stop := harness.NewTimer(r.cfg.Duration / 2)
	defer stop.Stop()
	if harness.Select(r.refreshCrash.RecvCase(nil, nil), stop.C.RecvCase(nil, nil), workersDone.RecvCase(nil, nil)) != 0 {
		return
	}
	r.Mu.Lock()
	target := ""
	for _, c := range r.changes {
		if c.Reason == "dead" && c.From == c.Dead && c.To != "" && c.To != crashed {
			target = c.To
			break
		}
	}
	r.Mu.Unlock()
	if target != "" {
		r.crash(target, harness.CrashReset)
	}
}

// move has the administrator move the primary of partition part to its
// first live secondary (trying the replica servers in order).
func (r *run) move(admin *harness.Node, metaAddr string, part int) {
	for _, to := range r.reps {
		ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
		var err error
		done := harness.NewChan[struct{}](0)
		if admin.Go(func() {
			defer done.Close()
			err = sys.MovePrimary(ctx, admin, metaAddr, part, to)
		}) != nil {
			cancel()
			return
		}
		done.Recv()
		cancel()
		if err == nil {
			r.record(injected{what: fmt.Sprintf("move the primary of partition %d to %s", part, to), node: to, kind: "move"})
			return
		}
	}
}

// crash crashes the replica server at addr and returns addr.
func (r *run) crash(addr string, mode harness.CrashMode) string {
	name, _, _ := harness.SplitAddr(addr)
	f := faults.Crash(name)
	if mode == harness.CrashBlackHole {
		f = faults.BlackHole(name)
	}
	harness.Note("nemesis: %s", f)
	if err := faults.Apply(f); err != nil {
		harness.Note("nemesis: %s: %v", f, err)
		return ""
	}
	kind := "crash"
	if mode == harness.CrashBlackHole {
		kind = "blackhole"
	}
	r.record(injected{what: f.String(), node: addr, kind: kind})
	return addr
}

func (r *run) record(f injected) {
	f.at = r.Since()
	r.Mu.Lock()
	r.faults = append(r.faults, f)
	r.Mu.Unlock()
}

// call runs one client call with the run's timeout and records it.
func (r *run) call(c *sys.Client, client int, op, key string, f func(ctx context.Context) error) error {
	ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.OpTimeout)
	defer cancel()
	rec := callRecord{client: client, op: op, key: key, part: c.Partition(key), start: r.Since(), end: -1}
	err := f(ctx)
	rec.end = r.Since()
	if r.cfg.fault == "late-return" && err == nil && op == "get" && client == 0 {
		rec.end += 3 * r.cfg.OpTimeout
	}
	if err != nil {
		rec.err = err.Error()
	}
	r.Mu.Lock()
	r.calls = append(r.calls, rec)
	r.Mu.Unlock()
	return err
}

func writerKey(w, k int) string { return fmt.Sprintf("w%d-k%d", w, k) }
func counterKey(i int) string   { return fmt.Sprintf("ctr%d", i) }

// think pauses between two calls.
func think() { harness.Sleep(time.Duration(20+harness.IntN(60)) * time.Millisecond) }

// writer sets, deletes and reads its own keys, and increments counters.
func (r *run) writer(c *sys.Client, w int) {
	seq := 0
	for r.Since() < r.cfg.Duration {
		think()
		key := writerKey(w, harness.IntN(r.cfg.KeysPerWriter))
		x := harness.IntN(10)
		if r.cfg.fault == "blind-incr" && x < 8 {
			x = 9 // mostly increments: more of them in flight at the crash
		}
		switch {
		case x < 4:
			seq++
			v := fmt.Sprintf("%d.%d", w, seq)
			if r.cfg.fault == "lose-write" && seq%7 == 3 {
				p := r.h.Call(w, kv.Put(key, v))
				p.Return(kv.Done())
				continue
			}
			p := r.h.Call(w, kv.Put(key, v))
			err := r.call(c, w, "set", key, func(ctx context.Context) error { return c.Set(ctx, key, v) })
			finish(p, err, kv.Done())
		case x < 5:
			p := r.h.Call(w, kv.Delete(key))
			err := r.call(c, w, "del", key, func(ctx context.Context) error { return c.Del(ctx, key) })
			finish(p, err, kv.Done())
		case x < 8:
			r.get(c, w, key)
		default:
			ck := counterKey(harness.IntN(r.cfg.Counters))
			p := r.hi.Call(w, incrInput{Key: ck, Delta: 1})
			var n int64
			err := r.call(c, w, "incr", ck, func(ctx context.Context) error {
				var err error
				n, err = c.Incr(ctx, ck, 1)
				return err
			})
			finish(p, err, n)
		}
	}
}

// reader reads every writer's keys.
func (r *run) reader(c *sys.Client, id int) {
	for r.Since() < r.cfg.Duration {
		think()
		r.get(c, id, writerKey(harness.IntN(r.cfg.Writers), harness.IntN(r.cfg.KeysPerWriter)))
	}
}

func (r *run) get(c *sys.Client, client int, key string) {
	p := r.h.Call(client, kv.Get(key))
	var v string
	var found bool
	err := r.call(c, client, "get", key, func(ctx context.Context) error {
		var err error
		v, found, err = c.Get(ctx, key)
		return err
	})
	finish(p, err, kv.Got(v, found))
}

// finish records a call's outcome: every failure leaves it unknown (a
// failure that proves the call was not applied is recorded the same way,
// which only loosens the check).
func finish(p *harness.Pending, err error, out any) {
	if err != nil {
		p.Unknown()
	} else {
		p.Return(out)
	}
}

// audit reads every key and counter from a fresh client once the workload
// is over.
func (r *run) audit(n *harness.Node, metaAddr string) {
	const id = 1000
	ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.OpTimeout)
	c, err := sys.Open(ctx, sys.Options{Variant: r.variant, Host: n, Meta: metaAddr})
	cancel()
	if err != nil {
		r.Violate(checkers.Invariant, "audit: open a fresh client: %v", err)
		return
	}
	defer c.Close()
	ok := true
	for w := 0; w < r.cfg.Writers; w++ {
		for k := 0; k < r.cfg.KeysPerWriter; k++ {
			key := writerKey(w, k)
			p := r.h.Call(id, kv.Get(key))
			v, found, err := r.auditGet(c, key)
			finish(p, err, kv.Got(v, found))
			ok = ok && err == nil
		}
	}
	for i := 0; i < r.cfg.Counters; i++ {
		key := counterKey(i)
		v, found, err := r.auditGet(c, key)
		if err != nil {
			ok = false
			continue
		}
		n := int64(0)
		if found {
			if n, err = strconv.ParseInt(v, 10, 64); err != nil {
				r.Violate(checkers.Invariant, "counter %s holds %q, not an integer", key, v)
				continue
			}
		}
		r.Mu.Lock()
		r.finals[key] = n
		r.Mu.Unlock()
	}
	r.Mu.Lock()
	r.auditOK = ok
	r.Mu.Unlock()
}

// auditGet reads key, retrying for a few call timeouts.
func (r *run) auditGet(c *sys.Client, key string) (string, bool, error) {
	var err error
	for try := 0; try < 3; try++ {
		ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.OpTimeout)
		var v string
		var found bool
		v, found, err = c.Get(ctx, key)
		cancel()
		if err == nil {
			return v, found, nil
		}
	}
	return "", false, err
}

// check runs the checks over the finished run.
// Check judges the finished run.
func (r *run) Check() []checkers.Violation {
	name := r.name
	var vs []checkers.Violation
	ops, incrs := r.h.Operations(), r.hi.Operations()
	vs = append(vs, r.checkDeadlines()...)
	vs = append(vs, r.checkRecovery()...)
	vs = append(vs, r.checkPending()...)
	vs = append(vs, r.checkRefreshRate()...)
	vs = append(vs, kv.Check(ops, checkers.LinOptions{Name: name, NoVisualization: true})...)
	if r.auditOK {
		vs = append(vs, r.checkCounters(incrs)...)
	} else {
		vs = append(vs, checkers.Violationf(checkers.Invariant, "audit: a fresh client could not read every key once the faults were over"))
	}
	return vs
}

// checkDeadlines: every call returns within its deadline plus epsilon.
func (r *run) checkDeadlines() []checkers.Violation {
	var bad []string
	for _, c := range r.calls {
		if c.end < 0 || c.end-c.start > r.cfg.OpTimeout+epsilon {
			bad = append(bad, fmt.Sprintf("client %d %s(%s) called at %v took %v", c.client, c.op, c.key, c.start, c.end-c.start))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Timeliness,
		"call deadline: every call must return within its timeout %v + %v; %d of %d did not:%s",
		r.cfg.OpTimeout, epsilon, len(bad), len(r.calls), scenarios.Lines(bad))}
}

// checkRecovery: once a partition's configuration last changed (meta moved
// its primary away from a crashed node, an administrator moved it, a dead
// secondary was dropped) at time t, every call to it issued from t + the
// recovery bound on, until the next crash, reaches the primary and
// succeeds.
func (r *run) checkRecovery() []checkers.Violation {
	bound := r.cfg.recoveryBound()
	var crashes []time.Duration
	crashedAt := map[string]time.Duration{}
	for _, f := range r.faults {
		if f.kind != "move" {
			crashes = append(crashes, f.at)
			crashedAt[f.node] = f.at
		}
	}
	// wasDead reports whether node had crashed by time at.
	wasDead := func(node string, at time.Duration) bool {
		t, ok := crashedAt[node]
		return ok && t <= at
	}
	var bad []string
	checked := 0
	for p := 0; p < r.cfg.Partitions; p++ {
		var last *sys.Change
		var history []string
		for i := range r.changes {
			c := &r.changes[i]
			if c.Partition != p {
				continue
			}
			last = c
			at := c.At.Sub(r.Start())
			switch {
			case c.Reason == "move" && wasDead(c.From, at):
				history = append(history, fmt.Sprintf("moved away from crashed %s to %s by the administrator at %v", c.From, c.To, at))
			case c.Reason == "move":
				history = append(history, fmt.Sprintf("moved by the administrator from %s to %s at %v", c.From, c.To, at))
			case c.From == c.Dead:
				history = append(history, fmt.Sprintf("moved away from crashed %s to %s at %v", c.Dead, c.To, at))
			default:
				history = append(history, fmt.Sprintf("dropped dead secondary %s at %v", c.Dead, at))
			}
		}
		if last == nil {
			continue
		}
		t := last.At.Sub(r.Start())
		from, until := t+bound, time.Duration(1<<62)
		for _, at := range crashes {
			if at > t && at < until {
				until = at
			}
		}
		var failed []string
		n := 0
		for _, c := range r.calls {
			if c.part != p || c.client >= 1000 || c.start < from || c.start >= until {
				continue
			}
			n++
			if c.err != "" {
				failed = append(failed, fmt.Sprintf("client %d %s(%s) at %v: %s", c.client, c.op, c.key, c.start, c.err))
			}
		}
		checked += n
		if len(failed) > 0 {
			bad = append(bad, fmt.Sprintf("partition %d (%s; primary now %s): %d of %d calls issued from %v on failed:%s",
				p, strings.Join(history, ", "), last.To, len(failed), n, from, indent(scenarios.Lines(failed))))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Timeliness,
		"bounded recovery: once meta has moved a partition's primary (away from a crashed node, or at an administrator's request) at t, "+
			"calls issued from t + %v (call timeout %v + refresh interval %v + meta round trip %v) must reach the new primary and succeed; "+
			"faults: %s:%s", bound, r.cfg.OpTimeout, refreshInterval, metaRTT, r.faultList(), scenarios.Lines(bad))}
}

func (r *run) faultList() string {
	var s []string
	for _, f := range r.faults {
		s = append(s, fmt.Sprintf("%s at %v", f.what, f.at))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// checkPending: no session's pendingResp grows past the number of callers.
func (r *run) checkPending() []checkers.Violation {
	callers := r.cfg.Writers + r.cfg.Readers
	if r.stats.MaxPending > callers {
		return []checkers.Violation{checkers.Violationf(checkers.Invariant,
			"pendingResp bounded: a session held %d pending calls, with only %d callers", r.stats.MaxPending, callers)}
	}
	return nil
}

// checkRefreshRate: configuration refreshes start at least the refresh
// interval apart.
func (r *run) checkRefreshRate() []checkers.Violation {
	var bad []string
	rs := r.stats.Refreshes
	for i := 1; i < len(rs); i++ {
		if gap := rs[i].Sub(rs[i-1]); gap < refreshInterval {
			bad = append(bad, fmt.Sprintf("refresh at %v, %v after the one at %v", rs[i].Sub(r.Start()), gap, rs[i-1].Sub(r.Start())))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Invariant,
		"refresh rate: configuration refreshes must be at least %v apart; %d of %d were not:%s",
		refreshInterval, len(bad), len(rs), scenarios.Lines(bad))}
}

// checkCounters: Incr is applied at most once and never lost. With ok the
// increments that succeeded and unknown those that failed (which may or
// may not have been applied), each counter's final value F satisfies
// ok <= F <= ok + unknown, and the successful increments returned distinct
// values no greater than F.
func (r *run) checkCounters(ops []harness.Operation) []checkers.Violation {
	var bad []string
	for i := 0; i < r.cfg.Counters; i++ {
		key := counterKey(i)
		var results []int64
		unknown := 0
		for _, op := range ops {
			if op.Input.(incrInput).Key != key {
				continue
			}
			if op.Unknown {
				unknown++
			} else {
				results = append(results, op.Output.(int64))
			}
		}
		final := r.finals[key]
		slices.Sort(results)
		ok := int64(len(results))
		switch {
		case final < ok:
			bad = append(bad, fmt.Sprintf("%s is %d after %d successful increments: an increment was lost", key, final, ok))
		case final > ok+int64(unknown):
			bad = append(bad, fmt.Sprintf("%s is %d after %d successful and %d failed increments: an increment was applied twice", key, final, ok, unknown))
		}
		for j := range results {
			if j > 0 && results[j] == results[j-1] {
				bad = append(bad, fmt.Sprintf("two increments of %s both returned %d", key, results[j]))
			}
		}
		if len(results) > 0 && results[len(results)-1] > final {
			bad = append(bad, fmt.Sprintf("an increment of %s returned %d, more than its final value %d", key, results[len(results)-1], final))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.NotLinearizable,
		"counters: each Incr must be applied at most once and never lost:%s", scenarios.Lines(bad))}
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
