package scenarios

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
	"github.com/heddle-go/heddle/systems/replica"
)

func init() { Register(Replica()) }

// Replica is race case 2: the Pegasus Go client never refreshes its routing
// after a replica server dies (apache/incubator-pegasus #1856, fixed by
// #1916). Four replica servers hold a four-partition table; clients write,
// read, delete and increment while a replica server crashes with calls
// pending and meta moves its primaries away, an administrator moves a
// primary, another replica server may vanish (black hole) or the new
// primary may crash while the client refreshes its configuration. Buggy
// must show the bounded-recovery violation (Timeliness): calls issued well
// after meta moved the primary still fail. Fixed must pass every check.
func Replica() harness.Case {
	return harness.Case{
		Name:    "replica",
		Bug:     "apache/incubator-pegasus #1856 (fix #1916)",
		Summary: "Pegasus Go client: when a replica server dies, pending calls wait for their deadline and DeadlineExceeded refreshes nothing, so the client routes to the dead node forever",
		Variants: []harness.Variant{
			{
				Name:         "buggy",
				Expect:       []string{string(checkers.Timeliness)},
				Match:        replicaRecoveryMatch,
				ShrinkFaults: replicaShrinkFaults(DefaultReplicaConfig),
				Seeds:        50,
				Check:        ReplicaCheck(replica.Buggy, DefaultReplicaConfig),
			},
			{
				Name:  "fixed",
				Seeds: 2000,
				Check: ReplicaCheck(replica.Fixed, DefaultReplicaConfig),
			},
		},
	}
}

// replicaRecoveryMatch tells the bug from other timeliness violations: the
// bounded-recovery property broken on a partition whose primary moved away
// from a crashed node (not the call deadline).
func replicaRecoveryMatch(v harness.Violation) bool {
	return v.Kind == string(checkers.Timeliness) && strings.HasPrefix(v.Message, "bounded recovery: ") &&
		strings.Contains(v.Message, "moved away from crashed")
}

// ReplicaConfig sizes the replica workload.
type ReplicaConfig struct {
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

// DefaultReplicaConfig is the workload the case runs.
var DefaultReplicaConfig = ReplicaConfig{
	Replicas: 4, Partitions: 4,
	Writers: 3, Readers: 1, KeysPerWriter: 3, Counters: 2,
	Duration:  8 * time.Second,
	OpTimeout: time.Second,
}

// Timings of the system the case runs (the client's defaults).
const (
	// replicaRefreshInterval is the client's least time between two
	// configuration refreshes.
	replicaRefreshInterval = time.Second
	// replicaMetaRTT bounds one round trip between the client and meta:
	// twice the largest link latency plus jitter.
	replicaMetaRTT = 2 * (harness.MaxLatency + harness.MaxLatency/4)
	// replicaEpsilon is the slack a call gets past its deadline.
	replicaEpsilon = 10 * time.Millisecond
	// replicaLease is how long meta waits for beacons before it declares a
	// replica server dead.
	replicaLease = time.Second
)

// replicaRecoveryBound is how long after a partition's last configuration
// change calls to it must succeed again: the call timeout (a call to the
// dead node times out), the refresh interval (the refresh it triggers may
// wait for the rate limit), and one round trip to meta.
func (cfg ReplicaConfig) recoveryBound() time.Duration {
	return cfg.OpTimeout + replicaRefreshInterval + replicaMetaRTT
}

// replicaCall is one call a client made, for the timing checks.
type replicaCall struct {
	client     int
	op, key    string
	part       int
	start, end time.Duration // since the run began; end -1 if it never returned
	err        string
}

// replicaIncr is an Incr's input, as its history records it.
type replicaIncr struct {
	Key   string
	Delta int64
}

// replicaFault is one fault the nemesis injected, for the report.
type replicaFault struct {
	at   time.Duration
	what string
	node string
	kind string // "crash", "blackhole", "move"
}

// replicaRun is one run of the workload.
type replicaRun struct {
	cfg     ReplicaConfig
	variant replica.Variant
	plan    replicaPlan
	start   time.Time
	reps    []string // replica server addresses
	names   []string // their node names

	mu        harness.Mutex // guards everything below
	h         harness.History
	hi        harness.History // Incr
	calls     []replicaCall
	changes   []replica.Change
	primaries []string // the primary of each partition, as meta's changes say
	faults    []replicaFault
	vs        []harness.Violation
	stats     replica.Stats
	finals    map[string]int64 // counters' final values, read by the auditor
	auditOK   bool
	done      bool
	// refreshArmed: crash a new primary when the client next refreshes.
	refreshArmed bool
	refreshCrash *harness.Chan[struct{}]
}

var replicaKV checkers.KV[string, string]

// ReplicaCheck returns the Check of a variant: it runs the workload with
// opts and returns the run's result and every violation its checks found.
func ReplicaCheck(v replica.Variant, cfg ReplicaConfig) func(harness.Options) (*harness.Result, []harness.Violation) {
	return func(opts harness.Options) (*harness.Result, []harness.Violation) {
		r := &replicaRun{cfg: cfg, variant: v, finals: map[string]int64{}, plan: replicaPlanFor(opts.Seed, cfg)}
		if opts.Faults != "" {
			p, err := parseReplicaPlan(opts.Faults, cfg)
			if err != nil {
				return &harness.Result{Seed: opts.Seed}, []harness.Violation{checkers.Invariant.Violationf("fault plan: %v", err)}
			}
			r.plan = p
		}
		res := harness.Run(opts, r.main)
		vs := checkers.FromResult(res)
		vs = append(vs, r.vs...)
		if r.done && !res.Failed() {
			vs = append(vs, r.check(fmt.Sprintf("replica-%s-seed%d", v, opts.Seed))...)
		}
		return res, vs
	}
}

func (r *replicaRun) violate(k checkers.Kind, format string, args ...any) {
	r.mu.Lock()
	r.vs = append(r.vs, k.Violationf(format, args...))
	r.mu.Unlock()
}

func (r *replicaRun) since() time.Duration { return harness.Since(r.start) }

func (r *replicaRun) main() {
	r.start = harness.Now()
	cfg := r.cfg
	metaAddr := fmt.Sprintf("meta:%d", replica.MetaPort)
	for i := 0; i < cfg.Replicas; i++ {
		r.names = append(r.names, fmt.Sprintf("r%d", i+1))
		r.reps = append(r.reps, fmt.Sprintf("r%d:%d", i+1, replica.ReplicaPort))
	}
	for _, pc := range replica.InitialConfig(r.reps, cfg.Partitions, 3) {
		r.primaries = append(r.primaries, pc.Primary)
	}
	r.refreshCrash = harness.NewChan[struct{}](1)

	meta := harness.NewNode("meta", replica.MetaMain(replica.MetaConfig{
		Replicas: r.reps, Partitions: cfg.Partitions, Lease: replicaLease,
		OnChange: r.onChange,
	}))
	nodes := []*harness.Node{meta}
	for _, name := range r.names {
		nodes = append(nodes, harness.NewNode(name, replica.ReplicaMain(replica.ReplicaConfig{Meta: metaAddr})))
	}
	clientNode := harness.NewNode("client", nil)
	admin := harness.NewNode("admin", nil)
	auditor := harness.NewNode("auditor", nil)
	nodes = append(nodes, clientNode, admin, auditor)
	for _, n := range nodes {
		if err := n.Start(); err != nil {
			r.violate(checkers.Invariant, "start %s: %v", n, err)
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
		opts := replica.Options{Variant: r.variant, Host: clientNode, Meta: metaAddr,
			OnRefresh: r.onRefresh, UnsafeRetryIncr: cfg.fault == "blind-incr"}
		ctx, cancel := harness.WithTimeout(context.Background(), cfg.OpTimeout)
		c, err := replica.Open(ctx, opts)
		cancel()
		if err != nil {
			r.violate(checkers.Invariant, "open the client: %v", err)
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
		r.mu.Lock()
		r.stats = st
		r.mu.Unlock()
	})
	if err != nil {
		r.violate(checkers.Invariant, "start the clients: %v", err)
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
		r.violate(checkers.Invariant, "start the audit: %v", err)
		return
	}
	auditDone.Recv()
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

// onChange records meta's configuration changes (from meta's goroutines).
func (r *replicaRun) onChange(c replica.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
	r.primaries[c.Partition] = c.To
	harness.Note("meta: partition %d ballot %d: primary %s -> %s (%s %s)", c.Partition, c.Ballot, c.From, c.To, c.Reason, c.Dead)
}

// onRefresh is told when the client starts a configuration refresh; when
// armed, it has the nemesis crash a new primary right then.
func (r *replicaRun) onRefresh(time.Time) {
	r.mu.Lock()
	armed := false
	if r.refreshArmed {
		for _, c := range r.changes {
			armed = armed || (c.Reason == "dead" && c.From == c.Dead) // after a failover
		}
	}
	if armed {
		r.refreshArmed = false
	}
	r.mu.Unlock()
	if armed {
		harness.Select(r.refreshCrash.SendCase(struct{}{}), harness.Default())
	}
}

// replicaStep is one fault of a replica fault plan.
type replicaStep struct {
	At   time.Duration
	Kind string // "move", "crash", "blackhole", "refresh-crash"
	// Part is the partition whose primary a move moves (to its first live
	// secondary) or a crash crashes.
	Part int
	// Node is the replica server a black hole takes (or, if that one has
	// crashed already, the next live one).
	Node string
}

// replicaPlan is the nemesis of one run. Its notation, for Options.Faults
// and saved failures, is one step per "; ":
//
//	move p2 @293ms; crash p1 @642ms; blackhole r3 @1.234s; refresh-crash
//
// "refresh-crash" has no time: once meta has moved a primary away from a
// crashed node, the next configuration refresh of the client crashes the
// primary that took over, right when the refresh starts.
type replicaPlan []replicaStep

// String writes the plan in its notation.
func (p replicaPlan) String() string {
	var out []string
	for _, s := range p {
		switch s.Kind {
		case "move", "crash":
			out = append(out, fmt.Sprintf("%s p%d @%v", s.Kind, s.Part, s.At))
		case "blackhole":
			out = append(out, fmt.Sprintf("blackhole %s @%v", s.Node, s.At))
		default:
			out = append(out, s.Kind)
		}
	}
	return strings.Join(out, "; ")
}

// parseReplicaPlan reads a plan in its notation.
func parseReplicaPlan(text string, cfg ReplicaConfig) (replicaPlan, error) {
	var p replicaPlan
	for _, part := range strings.Split(text, ";") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		bad := fmt.Errorf("replica: bad fault %q: want \"move pN @T\", \"crash pN @T\", \"blackhole rN @T\" or \"refresh-crash\"", strings.TrimSpace(part))
		s := replicaStep{Kind: f[0]}
		switch {
		case s.Kind == "refresh-crash" && len(f) == 1:
		case (s.Kind == "move" || s.Kind == "crash") && len(f) == 3 && strings.HasPrefix(f[1], "p") && strings.HasPrefix(f[2], "@"):
			n, err := strconv.Atoi(f[1][1:])
			if err != nil || n < 0 || n >= cfg.Partitions {
				return nil, bad
			}
			s.Part = n
			if s.At, err = time.ParseDuration(f[2][1:]); err != nil || s.At < 0 {
				return nil, bad
			}
		case s.Kind == "blackhole" && len(f) == 3 && strings.HasPrefix(f[1], "r") && strings.HasPrefix(f[2], "@"):
			n, err := strconv.Atoi(f[1][1:])
			if err != nil || n < 1 || n > cfg.Replicas {
				return nil, bad
			}
			s.Node = f[1]
			if s.At, err = time.ParseDuration(f[2][1:]); err != nil || s.At < 0 {
				return nil, bad
			}
		default:
			return nil, bad
		}
		p = append(p, s)
	}
	return p, nil
}

// replicaPlanFor returns the plan seed makes: an administrator's move of a
// primary, a crash of a primary's server, and maybe a second fault, either
// a black hole (another replica server vanishes) or a crash during refresh
// (the primary that took over crashes while the client refreshes). At most
// two replica servers die: every partition keeps a replica.
func replicaPlanFor(seed int64, cfg ReplicaConfig) replicaPlan {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7265706c696361)) // "replica"
	ms := func(lo, n int) time.Duration { return time.Duration(lo+rng.IntN(n)) * time.Millisecond }
	moveAt, movePart := ms(200, 2800), rng.IntN(cfg.Partitions)
	crashAt, crashPart := ms(300, 900), rng.IntN(cfg.Partitions)
	p := replicaPlan{
		{At: moveAt, Kind: "move", Part: movePart},
		{At: crashAt, Kind: "crash", Part: crashPart},
	}
	switch rng.IntN(3) {
	case 1:
		p = append(p, replicaStep{At: crashAt + ms(0, 1500), Kind: "blackhole", Node: fmt.Sprintf("r%d", 1+rng.IntN(cfg.Replicas))})
	case 2:
		p = append(p, replicaStep{Kind: "refresh-crash"})
	}
	slices.SortStableFunc(p, func(a, b replicaStep) int { return int(a.At - b.At) })
	return p
}

// replicaShrinkFaults shrinks a failing run's plan: it drops steps, one at
// a time, as long as the violation still shows.
func replicaShrinkFaults(cfg ReplicaConfig) harness.FaultShrinker {
	return func(seed int64, plan string, reproduces func(string) bool) (string, error) {
		p := replicaPlanFor(seed, cfg)
		if plan != "" {
			var err error
			if p, err = parseReplicaPlan(plan, cfg); err != nil {
				return "", err
			}
		}
		for i := 0; i < len(p); {
			c := slices.Delete(slices.Clone(p), i, i+1)
			if reproduces(c.String()) {
				p = c
			} else {
				i++
			}
		}
		return p.String(), nil
	}
}

// nemesis runs the plan.
func (r *replicaRun) nemesis(admin *harness.Node, metaAddr string, workersDone *harness.Chan[struct{}]) {
	harness.Note("nemesis plan: %s", r.plan)
	var crashed string
	refreshCrash := false
	for _, s := range r.plan {
		if s.Kind == "refresh-crash" {
			refreshCrash = true
			r.mu.Lock()
			r.refreshArmed = true
			r.mu.Unlock()
			continue
		}
		if d := s.At - r.since(); d > 0 {
			harness.Sleep(d)
		}
		switch s.Kind {
		case "move":
			r.move(admin, metaAddr, s.Part)
		case "crash":
			r.mu.Lock()
			addr := r.primaries[s.Part]
			r.mu.Unlock()
			if c := r.crash(addr, harness.CrashReset); c != "" {
				crashed = c
			}
		case "blackhole":
			i := slices.Index(r.names, s.Node)
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
	r.mu.Lock()
	target := ""
	for _, c := range r.changes {
		if c.Reason == "dead" && c.From == c.Dead && c.To != "" && c.To != crashed {
			target = c.To
			break
		}
	}
	r.mu.Unlock()
	if target != "" {
		r.crash(target, harness.CrashReset)
	}
}

// move has the administrator move the primary of partition part to its
// first live secondary (trying the replica servers in order).
func (r *replicaRun) move(admin *harness.Node, metaAddr string, part int) {
	for _, to := range r.reps {
		ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
		var err error
		done := harness.NewChan[struct{}](0)
		if admin.Go(func() {
			defer done.Close()
			err = replica.MovePrimary(ctx, admin, metaAddr, part, to)
		}) != nil {
			cancel()
			return
		}
		done.Recv()
		cancel()
		if err == nil {
			r.record(replicaFault{what: fmt.Sprintf("move the primary of partition %d to %s", part, to), node: to, kind: "move"})
			return
		}
	}
}

// crash crashes the replica server at addr and returns addr.
func (r *replicaRun) crash(addr string, mode harness.CrashMode) string {
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
	r.record(replicaFault{what: f.String(), node: addr, kind: kind})
	return addr
}

func (r *replicaRun) record(f replicaFault) {
	f.at = r.since()
	r.mu.Lock()
	r.faults = append(r.faults, f)
	r.mu.Unlock()
}

// call runs one client call with the run's timeout and records it.
func (r *replicaRun) call(c *replica.Client, client int, op, key string, f func(ctx context.Context) error) error {
	ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.OpTimeout)
	defer cancel()
	rec := replicaCall{client: client, op: op, key: key, part: c.Partition(key), start: r.since(), end: -1}
	err := f(ctx)
	rec.end = r.since()
	if r.cfg.fault == "late-return" && err == nil && op == "get" && client == 0 {
		rec.end += 3 * r.cfg.OpTimeout
	}
	if err != nil {
		rec.err = err.Error()
	}
	r.mu.Lock()
	r.calls = append(r.calls, rec)
	r.mu.Unlock()
	return err
}

func replicaWriterKey(w, k int) string { return fmt.Sprintf("w%d-k%d", w, k) }
func replicaCounterKey(i int) string   { return fmt.Sprintf("ctr%d", i) }

// replicaThink pauses between two calls.
func replicaThink() { harness.Sleep(time.Duration(20+harness.IntN(60)) * time.Millisecond) }

// writer sets, deletes and reads its own keys, and increments counters.
func (r *replicaRun) writer(c *replica.Client, w int) {
	seq := 0
	for r.since() < r.cfg.Duration {
		replicaThink()
		key := replicaWriterKey(w, harness.IntN(r.cfg.KeysPerWriter))
		x := harness.IntN(10)
		if r.cfg.fault == "blind-incr" && x < 8 {
			x = 9 // mostly increments: more of them in flight at the crash
		}
		switch {
		case x < 4:
			seq++
			v := fmt.Sprintf("%d.%d", w, seq)
			if r.cfg.fault == "lose-write" && seq%7 == 3 {
				p := r.h.Call(w, replicaKV.Put(key, v))
				p.Return(replicaKV.Done())
				continue
			}
			p := r.h.Call(w, replicaKV.Put(key, v))
			err := r.call(c, w, "set", key, func(ctx context.Context) error { return c.Set(ctx, key, v) })
			replicaFinish(p, err, replicaKV.Done())
		case x < 5:
			p := r.h.Call(w, replicaKV.Delete(key))
			err := r.call(c, w, "del", key, func(ctx context.Context) error { return c.Del(ctx, key) })
			replicaFinish(p, err, replicaKV.Done())
		case x < 8:
			r.get(c, w, key)
		default:
			ck := replicaCounterKey(harness.IntN(r.cfg.Counters))
			p := r.hi.Call(w, replicaIncr{Key: ck, Delta: 1})
			var n int64
			err := r.call(c, w, "incr", ck, func(ctx context.Context) error {
				var err error
				n, err = c.Incr(ctx, ck, 1)
				return err
			})
			replicaFinish(p, err, n)
		}
	}
}

// reader reads every writer's keys.
func (r *replicaRun) reader(c *replica.Client, id int) {
	for r.since() < r.cfg.Duration {
		replicaThink()
		r.get(c, id, replicaWriterKey(harness.IntN(r.cfg.Writers), harness.IntN(r.cfg.KeysPerWriter)))
	}
}

func (r *replicaRun) get(c *replica.Client, client int, key string) {
	p := r.h.Call(client, replicaKV.Get(key))
	var v string
	var found bool
	err := r.call(c, client, "get", key, func(ctx context.Context) error {
		var err error
		v, found, err = c.Get(ctx, key)
		return err
	})
	replicaFinish(p, err, replicaKV.Got(v, found))
}

// replicaFinish records a call's outcome: every failure leaves it unknown (a
// failure that proves the call was not applied is recorded the same way,
// which only loosens the check).
func replicaFinish(p *harness.Pending, err error, out any) {
	if err != nil {
		p.Unknown()
	} else {
		p.Return(out)
	}
}

// audit reads every key and counter from a fresh client once the workload
// is over.
func (r *replicaRun) audit(n *harness.Node, metaAddr string) {
	const id = 1000
	ctx, cancel := harness.WithTimeout(context.Background(), r.cfg.OpTimeout)
	c, err := replica.Open(ctx, replica.Options{Variant: r.variant, Host: n, Meta: metaAddr})
	cancel()
	if err != nil {
		r.violate(checkers.Invariant, "audit: open a fresh client: %v", err)
		return
	}
	defer c.Close()
	ok := true
	for w := 0; w < r.cfg.Writers; w++ {
		for k := 0; k < r.cfg.KeysPerWriter; k++ {
			key := replicaWriterKey(w, k)
			p := r.h.Call(id, replicaKV.Get(key))
			v, found, err := r.auditGet(c, key)
			replicaFinish(p, err, replicaKV.Got(v, found))
			ok = ok && err == nil
		}
	}
	for i := 0; i < r.cfg.Counters; i++ {
		key := replicaCounterKey(i)
		v, found, err := r.auditGet(c, key)
		if err != nil {
			ok = false
			continue
		}
		n := int64(0)
		if found {
			if n, err = strconv.ParseInt(v, 10, 64); err != nil {
				r.violate(checkers.Invariant, "counter %s holds %q, not an integer", key, v)
				continue
			}
		}
		r.mu.Lock()
		r.finals[key] = n
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.auditOK = ok
	r.mu.Unlock()
}

// auditGet reads key, retrying for a few call timeouts.
func (r *replicaRun) auditGet(c *replica.Client, key string) (string, bool, error) {
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
func (r *replicaRun) check(name string) []harness.Violation {
	var vs []harness.Violation
	ops, incrs := r.h.Operations(), r.hi.Operations()
	vs = append(vs, r.checkDeadlines()...)
	vs = append(vs, r.checkRecovery()...)
	vs = append(vs, r.checkPending()...)
	vs = append(vs, r.checkRefreshRate()...)
	vs = append(vs, replicaKV.Check(ops, checkers.LinOptions{Name: name, NoVisualization: true})...)
	if r.auditOK {
		vs = append(vs, r.checkCounters(incrs)...)
	} else {
		vs = append(vs, checkers.Invariant.Violationf("audit: a fresh client could not read every key once the faults were over"))
	}
	return vs
}

// checkDeadlines: every call returns within its deadline plus epsilon.
func (r *replicaRun) checkDeadlines() []harness.Violation {
	var bad []string
	for _, c := range r.calls {
		if c.end < 0 || c.end-c.start > r.cfg.OpTimeout+replicaEpsilon {
			bad = append(bad, fmt.Sprintf("client %d %s(%s) called at %v took %v", c.client, c.op, c.key, c.start, c.end-c.start))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []harness.Violation{checkers.Timeliness.Violationf(
		"call deadline: every call must return within its timeout %v + %v; %d of %d did not:%s",
		r.cfg.OpTimeout, replicaEpsilon, len(bad), len(r.calls), replicaLines(bad))}
}

// checkRecovery: once a partition's configuration last changed (meta moved
// its primary away from a crashed node, an administrator moved it, a dead
// secondary was dropped) at time t, every call to it issued from t + the
// recovery bound on, until the next crash, reaches the primary and
// succeeds.
func (r *replicaRun) checkRecovery() []harness.Violation {
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
		var last *replica.Change
		var history []string
		for i := range r.changes {
			c := &r.changes[i]
			if c.Partition != p {
				continue
			}
			last = c
			at := c.At.Sub(r.start)
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
		t := last.At.Sub(r.start)
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
				p, strings.Join(history, ", "), last.To, len(failed), n, from, replicaIndent(replicaLines(failed))))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []harness.Violation{checkers.Timeliness.Violationf(
		"bounded recovery: once meta has moved a partition's primary (away from a crashed node, or at an administrator's request) at t, "+
			"calls issued from t + %v (call timeout %v + refresh interval %v + meta round trip %v) must reach the new primary and succeed; "+
			"faults: %s:%s", bound, r.cfg.OpTimeout, replicaRefreshInterval, replicaMetaRTT, r.faultList(), replicaLines(bad))}
}

func (r *replicaRun) faultList() string {
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
func (r *replicaRun) checkPending() []harness.Violation {
	callers := r.cfg.Writers + r.cfg.Readers
	if r.stats.MaxPending > callers {
		return []harness.Violation{checkers.Invariant.Violationf(
			"pendingResp bounded: a session held %d pending calls, with only %d callers", r.stats.MaxPending, callers)}
	}
	return nil
}

// checkRefreshRate: configuration refreshes start at least the refresh
// interval apart.
func (r *replicaRun) checkRefreshRate() []harness.Violation {
	var bad []string
	rs := r.stats.Refreshes
	for i := 1; i < len(rs); i++ {
		if gap := rs[i].Sub(rs[i-1]); gap < replicaRefreshInterval {
			bad = append(bad, fmt.Sprintf("refresh at %v, %v after the one at %v", rs[i].Sub(r.start), gap, rs[i-1].Sub(r.start)))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []harness.Violation{checkers.Invariant.Violationf(
		"refresh rate: configuration refreshes must be at least %v apart; %d of %d were not:%s",
		replicaRefreshInterval, len(bad), len(rs), replicaLines(bad))}
}

// checkCounters: Incr is applied at most once and never lost. With ok the
// increments that succeeded and unknown those that failed (which may or
// may not have been applied), each counter's final value F satisfies
// ok <= F <= ok + unknown, and the successful increments returned distinct
// values no greater than F.
func (r *replicaRun) checkCounters(ops []harness.Operation) []harness.Violation {
	var bad []string
	for i := 0; i < r.cfg.Counters; i++ {
		key := replicaCounterKey(i)
		var results []int64
		unknown := 0
		for _, op := range ops {
			if op.Input.(replicaIncr).Key != key {
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
	return []harness.Violation{checkers.NotLinearizable.Violationf(
		"counters: each Incr must be applied at most once and never lost:%s", replicaLines(bad))}
}

func replicaLines(items []string) string {
	const max = 8
	var b strings.Builder
	for i, s := range items {
		if i == max {
			fmt.Fprintf(&b, "\n  ... and %d more", len(items)-max)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(s)
	}
	return b.String()
}

func replicaIndent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
