package duplicator

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

// Check judges the recorded run: the violations its observer and auditors
// saw during the run, and every property over the whole of it.
func (r *run) Check() []checkers.Violation {
	vs, lags, writes := r.check()
	r.lags, r.writes = lags, writes
	return append(slices.Clone(r.rec.bad), vs...)
}

// check runs every property over the recorded run, and measures the lag
// of each burst.
func (r *run) check() (vs []checkers.Violation, lags []time.Duration, writes int) {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	vs, lags, writes = r.checkTimeliness(r.disruptions())
	vs = append(vs, r.checkHistories()...)
	vs = append(vs, r.checkAcked()...)
	vs = append(vs, r.checkFinal()...)
	vs = append(vs, r.checkResources()...)
	vs = append(vs, r.checkGroupChecks()...)
	return vs, lags, writes
}

// groupCheckSlack is how far apart, in virtual time, a group check may
// find a partition idle and log its empty write: a client's write may be
// prepared in between (a timer due within a millisecond may fire at a
// scheduling point, so the two may be a millisecond apart), and the
// observer reports a logged write a scheduling point after it was
// prepared.
const groupCheckSlack = 2 * time.Millisecond

// checkGroupChecks checks when the group check writes: an empty write
// other than a new primary's first is a group check that found no
// mutation prepared on its partition for a whole GroupCheckInterval, so
// it comes an interval or more after the mutation logged before it, or at
// the same moment (a write prepared as the check looked). A check that
// decided on a tick and wrote on a later one writes into a partition that
// is no longer idle. Deterministic mode only: in real mode the clock is
// the machine's. Under rec.mu.
func (r *run) checkGroupChecks() []checkers.Violation {
	if r.real {
		return nil
	}
	interval := r.cfg.System.GroupCheckInterval
	var bad []string
	keys := slices.Collect(maps.Keys(r.rec.logged))
	slices.SortFunc(keys, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	for _, k := range keys {
		log := slices.Clone(r.rec.logged[k])
		slices.SortFunc(log, func(a, b stamped) int { return int(a.m.Decree - b.m.Decree) })
		for j := 1; j < len(log); j++ {
			if !log[j].m.Empty {
				continue
			}
			if gap := log[j].at - log[j-1].at; gap > groupCheckSlack && gap < interval-groupCheckSlack {
				bad = append(bad, fmt.Sprintf("partition %d (primary incarnation %d): empty write at decree %d logged at %v, %v after decree %d",
					k[0], k[1], log[j].m.Decree, log[j].at, gap, log[j-1].m.Decree))
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Invariant,
		"group checks: a group check writes an empty mutation only once its partition saw no mutation prepared for a whole interval (%v); %d empty write(s) came sooner after the mutation before them:%s",
		interval, len(bad), scenarios.Lines(bad))}
}

// disruption is a stretch of time when a fault stood between the primary
// and the remote cluster (one of them down, their link cut, lossy or
// slow), and the time a ship may need after it to get going again (a ship
// sent into a partition waits out its timeout, then the retry pause).
type disruption struct {
	from, to  time.Duration
	allowance time.Duration
	what      string
}

// forever stands for a disruption that never ended.
const forever = time.Duration(1<<62 - 1)

// disruptions returns the disruptions of the run, from the plan's steps as
// they struck, in order of their start.
func (r *run) disruptions() []disruption {
	s := r.cfg.System
	var out []disruption
	type open struct {
		since     time.Duration
		allowance time.Duration
		what      string
	}
	down := map[string]*open{} // "primary", "remote", "links"
	end := func(key string, at time.Duration) {
		if o := down[key]; o != nil {
			out = append(out, disruption{o.since, at, o.allowance, o.what})
			delete(down, key)
		}
	}
	begin := func(key string, at, allowance time.Duration, what string) {
		if down[key] == nil {
			down[key] = &open{at, allowance, what}
		}
	}
	stuck := s.ShipTimeout + s.ShipRetry // a ship lost on the way
	for _, st := range r.steps {
		f := st.f
		if st.err != nil {
			continue
		}
		// A graceful stop takes its node down as a crash does.
		node, stop := f.Node, f.Kind == faults.KindAction && f.Action == actStop
		if stop {
			node = f.Arg
		}
		switch {
		case (f.Kind == faults.KindCrash || f.Kind == faults.KindBlackHole || stop) && node == "primary":
			begin("primary", st.at, 0, f.String())
		case (f.Kind == faults.KindCrash || stop) && node == "remote":
			begin("remote", st.at, s.ShipRetry, f.String())
		case f.Kind == faults.KindBlackHole && f.Node == "remote":
			begin("remote", st.at, stuck, f.String())
		case f.Kind == faults.KindRestart && (f.Node == "primary" || f.Node == "remote"):
			allowance := time.Duration(0)
			if f.Node == "remote" {
				allowance = s.ShipRetry
			}
			begin(f.Node, st.at, allowance, f.String()) // a restart of a running node crashes it first
			end(f.Node, st.at)
		case linkFault(f) && touchesShips(f):
			begin("links", st.at, stuck, f.String())
		case f.Kind == faults.KindHeal:
			end("links", st.at)
		}
	}
	for _, key := range []string{"primary", "remote", "links"} {
		end(key, forever)
	}
	slices.SortStableFunc(out, func(a, b disruption) int { return int(a.from - b.from) })
	return out
}

// touchesShips reports whether a link fault hits the way between the
// primary and the remote cluster.
func touchesShips(f faults.Fault) bool {
	if f.Kind == faults.KindIsolate {
		return f.Node == "primary" || f.Node == "remote"
	}
	return (f.From == "primary" && f.To == "remote") || (f.From == "remote" && f.To == "primary")
}

// deadline is when a write committed at c must have reached the remote
// cluster: bound after its commit, or after the end (plus allowance) of
// every disruption that began before the deadline so far and was not over
// (allowance included) when the write committed.
func deadline(c, bound time.Duration, ds []disruption) time.Duration {
	d := c + bound
	for _, x := range ds {
		if x.to == forever {
			if x.from <= d {
				return forever
			}
			continue
		}
		if x.from <= d && x.to+x.allowance >= c {
			d = max(d, x.to+x.allowance+bound)
		}
	}
	return d
}

// checkTimeliness checks that every committed write reached the remote
// cluster by its deadline, and measures each burst's lag. Under r.rec.mu.
func (r *run) checkTimeliness(ds []disruption) (vs []checkers.Violation, lags []time.Duration, writes int) {
	rec := r.rec
	first := make([]map[int64]time.Duration, len(rec.remote))
	for p, ss := range rec.remote {
		first[p] = map[int64]time.Duration{}
		for _, s := range ss {
			if _, ok := first[p][s.m.Decree]; !ok {
				first[p][s.m.Decree] = s.at
			}
		}
	}
	n := len(r.quiet)
	burstOf := func(at time.Duration) int {
		for b, q := range r.quiet {
			if at <= q {
				return b
			}
		}
		return n - 1
	}
	late := make([][]string, n)
	count := make([]int, n)
	lastOf := make([]map[int]stamped, n) // per burst, per partition
	for b := range lastOf {
		lastOf[b] = map[int]stamped{}
	}
	for p := range rec.committed {
		for _, s := range rec.history(p, false) {
			writes++
			b := burstOf(s.at)
			count[b]++
			lastOf[b][p] = s
			dl := deadline(s.at, r.cfg.LagBound, ds)
			t, ok := first[p][s.m.Decree]
			if ok && dl == s.at+r.cfg.LagBound {
				r.worstLag = max(r.worstLag, t-s.at)
			}
			switch {
			case !ok && dl == forever:
			case !ok:
				late[b] = append(late[b], fmt.Sprintf("partition %d %v committed at %v: never delivered (due by %v)", p, s.m, s.at, dl))
			case t > dl:
				late[b] = append(late[b], fmt.Sprintf("partition %d %v committed at %v: delivered at %v, %v after its commit (due by %v)", p, s.m, s.at, t, t-s.at, dl))
			}
		}
	}
	for b := range n {
		lag := time.Duration(0)
		for p, s := range lastOf[b] {
			t, ok := first[p][s.m.Decree]
			if !ok {
				lag = -1
				break
			}
			lag = max(lag, t-s.at)
		}
		lags = append(lags, lag)
		if len(late[b]) > 0 {
			vs = append(vs, checkers.Violationf(checkers.Timeliness,
				"%s %d of %d: every committed write must reach the remote cluster within %v (%.3g load polls) of its commit, or of the recovery from a fault on its way; %d of the burst's %d writes did not:%s",
				lagMessage, b+1, n, r.cfg.LagBound, float64(r.cfg.LagBound)/float64(r.cfg.System.LoadDelay), len(late[b]), count[b], scenarios.Lines(late[b])))
		}
	}
	return vs, lags, writes
}

// checkHistories checks, per partition, what the remote cluster applied
// against the primary's committed history, and the duplication's progress.
// Under r.rec.mu.
func (r *run) checkHistories() []checkers.Violation {
	rec := r.rec
	var vs []checkers.Violation
	for p := range rec.committed {
		hist := rec.history(p, false)
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
			if c, ok := rec.committed[p][s.m.Decree]; !ok || c.seq > s.seq {
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
	return vs
}

// checkAcked checks what the clients saw: a write acknowledged with a
// decree is the mutation the primary committed at that decree, and the
// decrees one client got on one partition increase. Under r.rec.mu.
func (r *run) checkAcked() []checkers.Violation {
	var bad []string
	lastOf := map[string]int64{}
	for _, a := range r.rec.acked {
		c, ok := r.rec.committed[a.p][a.decree]
		if !ok || c.m.Empty || c.m.Key != a.key || c.m.Value != a.value {
			bad = append(bad, fmt.Sprintf("client %s: %s=%s acknowledged as decree %d of partition %d, where the primary committed %s",
				a.client, a.key, a.value, a.decree, a.p, describeCommitted(c, ok)))
		}
		k := fmt.Sprintf("%s/%d", a.client, a.p)
		if last, ok := lastOf[k]; ok && a.decree <= last {
			bad = append(bad, fmt.Sprintf("client %s: %s acknowledged as decree %d of partition %d, after its write there of decree %d",
				a.client, a.key, a.decree, a.p, last))
		}
		lastOf[k] = a.decree
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Invariant,
		"a write the primary acknowledged must be the mutation it committed at the decree it answered, and one client's decrees on a partition must increase; %d did not:%s",
		len(bad), scenarios.Lines(bad))}
}

// checkFinal checks the state read at the end of the run: each private log
// holds the committed history (and at most an empty write still under
// way), the logs the auditors read were prefixes of it, and the remote
// cluster has exactly the writes delivered. Under r.rec.mu.
func (r *run) checkFinal() []checkers.Violation {
	f := r.final
	if f.logs == nil {
		return nil
	}
	rec := r.rec
	var vs []checkers.Violation
	for p, log := range f.logs {
		var hist []sys.Mutation
		for _, s := range rec.history(p, true) {
			hist = append(hist, s.m)
		}
		what := fmt.Sprintf("partition %d's committed history (empty writes included), against its private log at the end", p)
		vs = append(vs, checkers.Prefix(what, hist, log)...)
		if extra := log[min(len(hist), len(log)):]; len(extra) > 1 || (len(extra) == 1 && !extra[0].Empty) {
			vs = append(vs, checkers.Violationf(checkers.Invariant,
				"the private log of partition %d holds %d mutation(s) the primary never committed (first: %v): every logged mutation is committed, at the latest by a new primary's replay",
				p, len(extra), extra[0]))
		}
		if f.seen[p] < f.delivered[p] || (len(log) > 0 && f.seen[p] > log[len(log)-1].Decree) {
			vs = append(vs, checkers.Violationf(checkers.Invariant,
				"the remote cluster's last decree of partition %d is %d at the end: it must cover every decree delivered before it was read (up to %d) and no decree beyond the private log",
				p, f.seen[p], f.delivered[p]))
		}
		// A duplication reports a confirmed decree once it is on the Disk,
		// which a later incarnation starts from: the Disk never holds less.
		if f.confirmed[p] < f.reportedConfirmed[p] {
			vs = append(vs, checkers.Violationf(checkers.Invariant,
				"partition %d's confirmed decree on the Disk is %d at the end, but the duplication reported %d confirmed before it was read: it reported a decree it had not persisted",
				p, f.confirmed[p], f.reportedConfirmed[p]))
		}
	}
	for _, a := range rec.audits {
		log := f.logs[a.p]
		if a.op == "Disk.ReadFrom" {
			i := slices.IndexFunc(log, func(m sys.Mutation) bool { return m.Decree >= a.from })
			if i < 0 {
				i = len(log)
			}
			log = log[i:]
		}
		vs = append(vs, checkers.Prefix(fmt.Sprintf("%s(%d) read at %v, against the private log at the end", a.op, a.p, a.at), a.got, log)...)
	}
	for p, ms := range rec.committed {
		for d, s := range ms {
			if s.m.Empty {
				continue
			}
			_, sent := rec.delivered[p][d]
			got := f.remoteValues[s.m.Key]
			if sent != got.ok || (sent && got.value != s.m.Value) {
				vs = append(vs, checkers.Violationf(checkers.Invariant,
					"the remote cluster's value of %s is %q (present: %v) at the end, but the write %v of partition %d was delivered: %v",
					s.m.Key, got.value, got.ok, s.m, p, sent))
			}
		}
	}
	return vs
}

// checkResources checks what the live nodes hold once every client hung up
// and every write reached the remote cluster: the primary serves no client
// connection and runs one group check, one duplication and one confirm
// goroutine per partition; the remote cluster serves no more ship
// connections than the primary holds (one per partition at most).
// Incarnations that crashed are not judged: in a World their goroutines
// stop where they stand, and their connections break. Under r.rec.mu.
func (r *run) checkResources() []checkers.Violation {
	f := r.final
	if f.primaryHeld == nil {
		return nil
	}
	parts := r.cfg.System.Partitions
	var vs []checkers.Violation
	want := []struct {
		r     sys.Resource
		n     int
		where string
	}{
		{sys.ResListener, 1, "ServePrimary's Listen"},
		{sys.ResClientConn, r.rec.orphans[sys.RolePrimary], "accepted by ServePrimary, served by serveWrites until the client hangs up; the clients' hang-ups and resets lost on cut links are allowed for"},
		{sys.ResGroupCheck, parts, "started by ServePrimary, one per partition"},
		{sys.ResDuplication, parts, "started by ServePrimary, one per partition"},
		{sys.ResConfirm, parts, "started by the duplication, one per partition"},
	}
	for _, w := range want {
		got := f.primaryHeld[w.r]
		switch {
		case w.r == sys.ResClientConn && got > w.n:
			vs = append(vs, checkers.Violationf(harness.Leak, "the primary (incarnation %d) still serves %d client connection(s) once every client hung up, at most %d of them hang-ups lost on cut links (%s)",
				f.primaryInc, got, w.n, w.where))
		case w.r == sys.ResClientConn:
		case got > w.n:
			vs = append(vs, checkers.Violationf(harness.Leak, "the primary (incarnation %d) holds %d %s(s) at the end of the run, want %d (%s)",
				f.primaryInc, got, w.r, w.n, w.where))
		case got < w.n:
			vs = append(vs, checkers.Violationf(checkers.Invariant, "the primary (incarnation %d) holds %d %s(s) at the end of the run, want %d (%s)",
				f.primaryInc, got, w.r, w.n, w.where))
		}
	}
	ship := f.primaryHeld[sys.ResShipConn]
	if ship > parts {
		vs = append(vs, checkers.Violationf(harness.Leak, "the primary (incarnation %d) holds %d ship connections at the end of the run, one per partition at most (%d) (dialed by shipOnce, closed by closeConn)",
			f.primaryInc, ship, parts))
	}
	if got := f.remoteHeld[sys.ResListener]; got != 1 {
		vs = append(vs, checkers.Violationf(checkers.Invariant, "the remote cluster (incarnation %d) holds %d listeners at the end of the run, want 1 (ServeRemote's Listen)", f.remoteInc, got))
	}
	if served, lost := f.remoteHeld[sys.ResServedShip], r.rec.orphans[sys.RoleRemote]; served > ship+lost {
		vs = append(vs, checkers.Violationf(harness.Leak,
			"the remote cluster (incarnation %d) serves %d ship connection(s) at the end of the run, but the primary holds %d and at most %d were closed or reset across a cut link: a connection the primary closed, or one of a crashed primary, is still served (accepted by ServeRemote, served by serveShips)",
			f.remoteInc, served, ship, lost))
	}
	return vs
}
