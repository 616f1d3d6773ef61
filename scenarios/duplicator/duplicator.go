package duplicator

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

// Case is race case 5: Pegasus duplication ships the last mutation
// minutes late (apache/incubator-pegasus #2050, fixed by #2048). Clients
// write in bursts separated by silences; during the second burst the remote
// cluster is unreachable for a while, during the third the primary crashes
// and restarts from its private log. Once writes stop, every committed write
// must reach the remote cluster within a few load polls: Buggy waits for the
// group check's empty write, 100-200 s, and is found as Timeliness; Fixed
// must pass every check.
func Case() explore.Case {
	return explore.Case{
		Name:    "duplicator",
		Bug:     "apache/incubator-pegasus #2050 (fix #2048)",
		Summary: "Pegasus duplication loads the private log only up to max_commit_on_disk, so the last write reaches the remote cluster only after the next empty write, 100-200 s later",
		Variants: []explore.Variant{
			{
				Name:   "buggy",
				Expect: []harness.Kind{checkers.Timeliness},
				Match:  checkers.MessageContains(checkers.Timeliness, "duplication lag after burst"),
				Seeds:  20,
				Check:  Check(sys.Buggy, DefaultConfig()),
			},
			{
				Name:  "fixed",
				Seeds: 2000,
				Check: Check(sys.Fixed, DefaultConfig()),
			},
		},
	}
}

// Config sizes the duplicator workload.
type Config struct {
	// System is the duplicator's own configuration.
	System sys.Config
	// Clients write concurrently during each of Bursts bursts of
	// BurstLength, pausing up to WriteGap between writes.
	Clients, Bursts int
	BurstLength     time.Duration
	WriteGap        time.Duration
	// SilenceMin and SilenceMax bound the silence after each burst but the
	// last (drawn from the seed).
	SilenceMin, SilenceMax time.Duration
	// FinalWait bounds the silence after the last burst: the run waits for
	// every committed write to reach the remote, at most this long.
	FinalWait time.Duration
	// LagBound is the timeliness property: once writes stop, every
	// committed write reaches the remote cluster within LagBound.
	LagBound time.Duration
	// Partition cuts the primary from the remote cluster during the second
	// burst; Crash crashes and restarts the primary during the third.
	Partition, Crash bool
}

// DefaultConfig is the workload the case runs: Pegasus' timings
// (100 s group checks, 100 ms load polls), two partitions, two clients,
// three bursts of 5 s, and a lag bound of five polls.
func DefaultConfig() Config {
	return Config{
		System:      sys.DefaultConfig(),
		Clients:     2,
		Bursts:      3,
		BurstLength: 5 * time.Second,
		WriteGap:    200 * time.Millisecond,
		SilenceMin:  time.Second,
		SilenceMax:  30 * time.Second,
		FinalWait:   250 * time.Second,
		LagBound:    500 * time.Millisecond,
		Partition:   true,
		Crash:       true,
	}
}

// scaledForReal shrinks the durations so that a run on the wall clock
// takes seconds: a group check every 2 s, a load poll every 5 ms, a lag
// bound of 500 ms (generous: real runs share the processors).
func (c Config) scaledForReal() Config {
	s := &c.System
	s.GroupCheckInterval = 2 * time.Second
	s.LoadDelay = 5 * time.Millisecond
	s.AckDelay = time.Millisecond
	s.ShipTimeout = 100 * time.Millisecond
	s.ShipRetry = 5 * time.Millisecond
	s.ConfirmInterval = 50 * time.Millisecond
	c.BurstLength = time.Second
	c.WriteGap = 20 * time.Millisecond
	c.SilenceMin, c.SilenceMax = 100*time.Millisecond, 300*time.Millisecond
	c.FinalWait = 5 * time.Second
	c.LagBound = 500 * time.Millisecond
	return c
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
}

// Check returns the Check of a variant: it runs the workload with the
// run's options and returns the run's result and every violation its checks
// found. In real mode the workload runs with scaled-down timings.
func Check(v sys.Variant, cfg Config) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return scenarios.Check(func(opts harness.Options, _ faults.Plan) (scenarios.Workload, error) {
		return newRun(v, cfg, opts), nil
	})
}

// writeKey names one write: partition and decree.
type writeKey struct {
	P      int
	Decree int64
}

type stamped struct {
	m  sys.Mutation
	at time.Duration
}

// recorder keeps every event the checks need. Its methods are the
// system's observer; they take its own lock only.
type recorder struct {
	t0        time.Time
	mu        harness.Mutex
	committed []map[int64]stamped // per partition, by decree
	remote    [][]stamped         // per partition, in order applied
	delivered map[writeKey]bool
	shipped   map[[2]int][]int64 // per (partition, incarnation): decrees in ship order
	lasts     map[[2]int][]int64 // per (partition, incarnation): last_decree over time
	confirmed [][]int64          // per partition: confirmed_decree over time
	bad       []checkers.Violation
}

func newRecorder(partitions int) *recorder {
	r := &recorder{t0: harness.Now(), committed: make([]map[int64]stamped, partitions),
		remote: make([][]stamped, partitions), delivered: map[writeKey]bool{},
		shipped: map[[2]int][]int64{}, lasts: map[[2]int][]int64{}, confirmed: make([][]int64, partitions)}
	for p := range r.committed {
		r.committed[p] = map[int64]stamped{}
	}
	return r
}

func (r *recorder) now() time.Duration { return harness.Since(r.t0) }

func (r *recorder) observer() *sys.Observer {
	return &sys.Observer{
		Committed: func(p int, m sys.Mutation) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if old, ok := r.committed[p][m.Decree]; ok {
				if old.m != m {
					r.bad = append(r.bad, checkers.Violationf(checkers.Invariant,
						"the committed history of partition %d must never change: decree %d was %v, a restarted primary committed %v",
						p, m.Decree, old.m, m))
				}
				return
			}
			r.committed[p][m.Decree] = stamped{m, r.now()}
		},
		Shipped: func(p, inc int, muts []sys.Mutation, last, applied int64) {
			r.mu.Lock()
			defer r.mu.Unlock()
			k := [2]int{p, inc}
			for _, m := range muts {
				if m.Decree > applied || m.Decree > last {
					r.bad = append(r.bad, checkers.Violationf(checkers.Invariant,
						"every shipped decree must be <= last_applied_decree at ship time: partition %d shipped %v at %v while the replica had applied up to %d (batch up to %d)",
						p, m, r.now(), applied, last))
				}
				r.shipped[k] = append(r.shipped[k], m.Decree)
			}
		},
		Progressed: func(p, inc int, pr sys.Progress) {
			r.mu.Lock()
			defer r.mu.Unlock()
			k := [2]int{p, inc}
			r.lasts[k] = append(r.lasts[k], pr.LastDecree)
			if n := len(r.confirmed[p]); n == 0 || r.confirmed[p][n-1] != pr.ConfirmedDecree {
				r.confirmed[p] = append(r.confirmed[p], pr.ConfirmedDecree)
			}
			if pr.ConfirmedDecree > pr.LastDecree {
				r.bad = append(r.bad, checkers.Violationf(checkers.Invariant,
					"duplication progress of partition %d: confirmed_decree %d must not pass last_decree %d",
					p, pr.ConfirmedDecree, pr.LastDecree))
			}
		},
		RemoteApplied: func(p int, m sys.Mutation) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.remote[p] = append(r.remote[p], stamped{m, r.now()})
			r.delivered[writeKey{p, m.Decree}] = true
		},
	}
}

// allDelivered reports whether every committed write reached the remote.
func (r *recorder) allDelivered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, ms := range r.committed {
		for d, s := range ms {
			if !s.m.Empty && !r.delivered[writeKey{p, d}] {
				return false
			}
		}
	}
	return true
}

// history returns partition p's committed writes (no empty writes), in
// decree order.
func (r *recorder) history(p int) []stamped {
	var out []stamped
	for _, s := range r.committed[p] {
		if !s.m.Empty {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b stamped) int { return int(a.m.Decree - b.m.Decree) })
	return out
}

// run is one run of the workload.
type run struct {
	scenarios.Run
	v     sys.Variant
	cfg   Config
	rec   *recorder
	quiet []time.Duration // when each burst's writes had all returned
	// lags and writes are measured by Check (see Report).
	lags    []time.Duration
	writes  int
	primary *harness.Node
	client  *harness.Node
	remote  *harness.Node
}

func newRun(v sys.Variant, cfg Config, opts harness.Options) *run {
	if opts.Mode == harness.Real {
		cfg = cfg.scaledForReal()
	}
	return &run{v: v, cfg: cfg}
}

// Measure runs the workload once with opts, checks it, and reports the lag
// of each burst.
func Measure(v sys.Variant, cfg Config, opts harness.Options) Report {
	r := newRun(v, cfg, opts)
	res := scenarios.Execute(opts, r)
	rep := Report{Result: res, Violations: append(checkers.FromResult(res), r.Violations()...)}
	if r.Completed() && !res.Failed() {
		rep.Violations = append(rep.Violations, r.Check()...)
		rep.Lags, rep.Writes = r.lags, r.writes
	}
	return rep
}

// Main runs the workload.
func (r *run) Main() {
	cfg := r.cfg.System
	r.rec = newRecorder(cfg.Partitions)
	disk := sys.NewDisk(cfg.Partitions)
	obs := r.rec.observer()
	r.primary = harness.NewNode("primary", sys.Primary(r.v, cfg, disk, obs))
	r.remote = harness.NewNode("remote", sys.Remote(cfg, obs))
	r.client = harness.NewNode("client", nil)
	for _, n := range []*harness.Node{r.remote, r.primary, r.client} {
		if err := n.Start(); err != nil {
			panic(err)
		}
	}
	defer r.stop()
	for b := range r.cfg.Bursts {
		r.burst(b)
		r.quiet = append(r.quiet, r.rec.now())
		if b < r.cfg.Bursts-1 {
			span := r.cfg.SilenceMax - r.cfg.SilenceMin
			harness.Sleep(r.cfg.SilenceMin + time.Duration(harness.IntN(int(span)+1)))
			continue
		}
		// The last silence: wait for the stragglers.
		poll := max(r.cfg.LagBound, r.cfg.System.LoadDelay)
		for start := harness.Now(); harness.Since(start) < r.cfg.FinalWait; {
			harness.Sleep(poll)
			if r.rec.allDelivered() && harness.Since(start) > r.cfg.LagBound {
				break
			}
		}
	}
	r.Complete()
}

// stop crashes every node: their goroutines end with the run.
func (r *run) stop() {
	for _, n := range []*harness.Node{r.primary, r.remote, r.client} {
		if n.Alive() {
			_ = n.Crash(harness.CrashReset)
		}
	}
}

// burst runs one burst of writes, with its fault.
func (r *run) burst(b int) {
	end := harness.Now().Add(r.cfg.BurstLength)
	var wg harness.WaitGroup
	for c := range r.cfg.Clients {
		wg.Add(1)
		if err := r.client.Go(func() { defer wg.Done(); r.writer(c, b, end) }); err != nil {
			wg.Done()
		}
	}
	// ms draws a time in [lo, lo+span) milliseconds of a 5 s burst, scaled
	// to the burst's length.
	ms := func(lo, span int) time.Duration {
		d := time.Duration(lo+harness.IntN(span)) * time.Millisecond
		return d * (r.cfg.BurstLength / time.Millisecond) / 5000
	}
	switch {
	case b == 1 && r.cfg.Partition:
		wg.Go(func() {
			harness.Sleep(ms(0, 1000))
			r.fault(faults.Partition("primary", "remote"))
			harness.Sleep(ms(500, 1500))
			r.fault(faults.Heal())
		})
	case b == 2 && r.cfg.Crash:
		wg.Go(func() {
			harness.Sleep(ms(500, 1000))
			r.fault(faults.Crash("primary"))
			harness.Sleep(ms(100, 900))
			r.fault(faults.Restart("primary"))
		})
	}
	wg.Wait()
}

func (r *run) fault(f faults.Fault) {
	harness.Note("nemesis: %s", f)
	if err := faults.Apply(f); err != nil {
		panic(err)
	}
}

// writer is one client: it writes until end, reconnecting after errors (a
// write whose call failed has an unknown outcome; the checks use what the
// primary committed).
func (r *run) writer(c, b int, end time.Time) {
	var cl *sys.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	gap := int(r.cfg.WriteGap)
	for i := 0; harness.Now().Before(end); i++ {
		ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
		if cl == nil {
			var err error
			cl, err = sys.Dial(ctx, r.client, "primary:"+fmt.Sprint(r.cfg.System.Port))
			if err != nil {
				cl = nil
			}
		}
		if cl != nil {
			p := harness.IntN(r.cfg.System.Partitions)
			if _, err := cl.Write(ctx, p, fmt.Sprintf("c%d-b%d-%d", c, b, i), fmt.Sprint(i)); err != nil {
				cl.Close()
				cl = nil
			}
		}
		cancel()
		if cl == nil {
			harness.Sleep(r.cfg.System.LoadDelay)
			continue
		}
		harness.Sleep(time.Duration(harness.IntN(gap + 1)))
	}
}

// Check judges the recorded run: the violations its observer saw during the
// run, and every property over the whole of it.
func (r *run) Check() []checkers.Violation {
	vs, lags, writes := r.check()
	r.lags, r.writes = lags, writes
	return append(slices.Clone(r.rec.bad), vs...)
}

// check runs every property over the recorded run, and measures the lag
// of each burst.
func (r *run) check() (vs []checkers.Violation, lags []time.Duration, writes int) {
	rec := r.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	parts := r.cfg.System.Partitions

	// Timeliness, per burst: once its writes stop, each reaches the remote
	// within LagBound.
	var all []checkers.Stamped[writeKey]
	for p := range parts {
		for _, s := range rec.remote[p] {
			all = append(all, checkers.Stamp(s.at, writeKey{p, s.m.Decree}))
		}
	}
	burstOf := func(at time.Duration) int {
		for b, q := range r.quiet {
			if at <= q {
				return b
			}
		}
		return len(r.quiet) - 1
	}
	committed := make([][]checkers.Stamped[writeKey], len(r.quiet))
	lastOf := make([]map[int]stamped, len(r.quiet)) // per burst, per partition
	for b := range lastOf {
		lastOf[b] = map[int]stamped{}
	}
	for p := range parts {
		for _, s := range rec.history(p) {
			writes++
			b := burstOf(s.at)
			committed[b] = append(committed[b], checkers.Stamp(s.at, writeKey{p, s.m.Decree}))
			lastOf[b][p] = s
		}
	}
	firstDelivery := map[writeKey]time.Duration{}
	for _, d := range all {
		if t, ok := firstDelivery[d.Value]; !ok || d.At < t {
			firstDelivery[d.Value] = d.At
		}
	}
	for b := range r.quiet {
		lag := time.Duration(0)
		for p, s := range lastOf[b] {
			t, ok := firstDelivery[writeKey{p, s.m.Decree}]
			if !ok {
				lag = -1
				break
			}
			lag = max(lag, t-s.at)
		}
		lags = append(lags, lag)
		in := map[writeKey]bool{}
		for _, c := range committed[b] {
			in[c.Value] = true
		}
		var mine []checkers.Stamped[writeKey]
		for _, d := range all {
			if in[d.Value] {
				mine = append(mine, d)
			}
		}
		for _, v := range checkers.DeliveredWithin(committed[b], mine, r.cfg.LagBound) {
			if v.Kind == checkers.Timeliness {
				lagText := "never, during the run"
				if lag >= 0 {
					lagText = lag.String()
				}
				v.Message = fmt.Sprintf("duplication lag after burst %d of %d: once writes stop, every committed write must reach the remote cluster within %v (%d load polls); the burst's last write took %s. %s",
					b+1, len(r.quiet), r.cfg.LagBound, r.cfg.LagBound/r.cfg.System.LoadDelay, lagText, v.Message)
			}
			vs = append(vs, v)
		}
	}

	for p := range parts {
		hist := rec.history(p)
		pos := map[int64]int{}
		var want []sys.Mutation
		for i, s := range hist {
			pos[s.m.Decree] = i
			want = append(want, s.m)
		}
		var got []sys.Mutation
		var idx []int
		for _, s := range rec.remote[p] {
			got = append(got, s.m)
			i, ok := pos[s.m.Decree]
			if !ok {
				i = -1
			}
			idx = append(idx, i)
			if c, ok := rec.committed[p][s.m.Decree]; !ok || c.at > s.at {
				vs = append(vs, checkers.Violationf(checkers.Invariant,
					"the remote cluster must only apply committed writes: partition %d, %v applied at %v before the primary committed it",
					p, s.m, s.at))
			}
		}
		// The remote is a prefix of the primary's committed history, and it
		// applied each write once, in decree order, with no gap.
		vs = append(vs, checkers.Prefix(fmt.Sprintf("the remote cluster's writes of partition %d", p), got, want)...)
		vs = append(vs, checkers.Consecutive(fmt.Sprintf("the positions, in the primary's committed history, of the writes the remote cluster applied for partition %d", p), idx)...)
		vs = append(vs, checkers.Monotonic(fmt.Sprintf("confirmed_decree of partition %d", p), rec.confirmed[p])...)
	}
	keys := make([][2]int, 0, len(rec.shipped))
	for k := range rec.shipped {
		keys = append(keys, k)
	}
	for k := range rec.lasts {
		if _, ok := rec.shipped[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	for _, k := range keys {
		if ds, ok := rec.shipped[k]; ok {
			vs = append(vs, checkers.StrictlyIncreasing(fmt.Sprintf("decrees shipped by partition %d (primary incarnation %d)", k[0], k[1]), ds)...)
		}
		vs = append(vs, checkers.Monotonic(fmt.Sprintf("last_decree of partition %d (primary incarnation %d)", k[0], k[1]), rec.lasts[k])...)
	}
	return vs, lags, writes
}
