package duplicator

import (
	"fmt"
	"slices"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

// An auditor reads the state the system keeps outside its nodes while the
// clients write: the private logs and the confirmed decrees on the Disk,
// and what the remote cluster has (RemoteStore), through their exported
// reads. Each read is checked against what the recorder knew when it
// began (a floor: what was logged, confirmed or delivered before cannot be
// missing) and when it returned (a ceiling: a confirmed decree or the
// remote's last decree vouches for every write up to it, which must have
// reached the remote by then); the logs read are checked at the end
// against the final private logs (auditRead).

// auditOps are the reads an auditor makes.
var auditOps = []string{"Disk.Log", "Disk.ReadFrom", "Disk.MaxDecreeOnDisk", "Disk.MaxCommitOnDisk",
	"Disk.Confirmed", "Disk.Partitions", "RemoteStore.Seen", "RemoteStore.Get"}

// auditRead is a log an auditor read: Log(p) (from 0) or ReadFrom(p,
// from).
type auditRead struct {
	op   string
	p    int
	from int64
	got  []sys.Mutation
	at   time.Duration
}

// floors are what the recorder knew of partition p when a read began.
type floors struct {
	logged, lc, confirmed, delivered int64
}

// audit makes the auditor's volleys of reads during a burst of about span:
// each at a time in the burst, or as a client dials, writes or hangs up, so
// that reads meet the clients' calls and each other's (two auditors woken
// by one call read at once). A volley reads one partition (the one written,
// when a write woke it) with every read, in a random order.
func (r *run) audit(span time.Duration) {
	for range r.cfg.Audits {
		p := harness.IntN(r.cfg.System.Partitions)
		if call := []string{"", "Dial", "Write", "Write", "Write", "Close"}[harness.IntN(6)]; call != "" {
			t := harness.NewTimer(span + time.Millisecond)
			var of int
			if harness.Select(r.rec.waitCall(call).RecvCase(&of, nil), t.C.RecvCase(nil, nil)) == 0 && of >= 0 && of < r.cfg.System.Partitions {
				p = of // the partition written
			}
			t.Stop()
		} else {
			harness.Sleep(time.Duration(harness.IntN(int(span) + 1)))
		}
		ops := slices.Clone(auditOps)
		for i := len(ops) - 1; i > 0; i-- {
			j := harness.IntN(i + 1)
			ops[i], ops[j] = ops[j], ops[i]
		}
		for _, op := range ops {
			r.auditOnce(op, p)
		}
	}
}

// auditOnce makes one read of partition p and checks it.
func (r *run) auditOnce(op string, p int) {
	rec := r.rec
	rec.mu.Lock()
	var key, value string
	if n := len(rec.acked); op == "RemoteStore.Get" && n > 0 {
		a := rec.acked[harness.IntN(n)]
		key, value, p = a.key, a.value, a.p
	}
	f := floors{rec.loggedMax[p], rec.lcMax[p], rec.confirmedMax[p], rec.deliveredMax[p]}
	keyDelivered := key != "" && rec.keyDelivered(p, key)
	rec.mu.Unlock()

	sp := rec.begin(op, partitionObject(p), "auditor")
	// The read itself comes a little later, so that the system's
	// goroutines run between the recorder's lock and the read: a read the
	// recorder's lock does not order after the system's last write is one
	// the race detector can judge.
	if harness.IntN(2) == 0 {
		harness.Sleep(time.Duration(1 + harness.IntN(int(r.cfg.System.LoadDelay))))
	}
	var got int64
	var read *auditRead
	switch op {
	case "Disk.Log":
		read = &auditRead{op: op, p: p, got: r.disk.Log(p)}
	case "Disk.ReadFrom":
		from := 1 + int64(harness.IntN(int(f.logged)+2))
		read = &auditRead{op: op, p: p, from: from, got: r.disk.ReadFrom(p, from)}
	case "Disk.MaxDecreeOnDisk":
		got = r.disk.MaxDecreeOnDisk(p)
	case "Disk.MaxCommitOnDisk":
		got = r.disk.MaxCommitOnDisk(p)
	case "Disk.Confirmed":
		got = r.disk.Confirmed(p)
	case "Disk.Partitions":
		// Partitions takes no lock, so the call is no scheduling point:
		// the Yield stands for its entry, where another goroutine may run
		// (another auditor's Partitions among them) before it reads.
		harness.Yield()
		got = int64(r.disk.Partitions())
	case "RemoteStore.Seen":
		got = r.store.Seen(p)
	case "RemoteStore.Get":
		if key == "" {
			key = "never-written"
		}
		v, ok := r.store.Get(key)
		rec.end(sp)
		r.checkGet(key, value, v, ok, keyDelivered)
		return
	}
	rec.end(sp)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if read != nil {
		read.at = rec.now()
		rec.audits = append(rec.audits, *read)
		rec.checkLogRead(*read, f)
		return
	}
	rec.checkRead(op, p, got, f, r.cfg.System.Partitions)
}

// keyDelivered reports whether the write of key reached the remote
// cluster. Under r.mu.
func (r *recorder) keyDelivered(p int, key string) bool {
	for d, s := range r.committed[p] {
		if s.m.Key == key {
			_, ok := r.delivered[p][d]
			return ok
		}
	}
	return false
}

// checkGet checks RemoteStore.Get(key): a write delivered before the read
// began is there with its value (keys are written once); a key never
// written is not.
func (r *run) checkGet(key, want, got string, ok, delivered bool) {
	switch {
	case delivered && (!ok || got != want):
		r.Violate(checkers.Invariant, "RemoteStore.Get(%q) = %q, %v after the write %s=%s reached the remote cluster", key, got, ok, key, want)
	case want == "" && ok:
		r.Violate(checkers.Invariant, "RemoteStore.Get(%q) = %q, but no client ever wrote that key", key, got)
	}
}

// checkRead checks a read that returns a number against its floors, and
// the decrees a confirmed decree or the remote's last decree vouch for.
// Under r.mu.
func (r *recorder) checkRead(op string, p int, got int64, f floors, partitions int) {
	low := map[string]int64{"Disk.MaxDecreeOnDisk": f.logged, "Disk.MaxCommitOnDisk": f.lc,
		"Disk.Confirmed": f.confirmed, "RemoteStore.Seen": f.delivered}
	switch {
	case op == "Disk.Partitions":
		if got != int64(partitions) {
			r.violate(checkers.Invariant, "Disk.Partitions() = %d, the primary serves %d", got, partitions)
		}
		return
	case got < low[op]:
		r.violate(checkers.Invariant, "%s(%d) = %d at %v, but %d was already %s before the read began",
			op, p, got, r.now(), low[op], map[string]string{"Disk.MaxDecreeOnDisk": "logged", "Disk.MaxCommitOnDisk": "logged as committed",
				"Disk.Confirmed": "reported confirmed", "RemoteStore.Seen": "delivered"}[op])
	}
	if op != "Disk.Confirmed" && op != "RemoteStore.Seen" {
		return
	}
	// Everything up to got was acknowledged by the remote cluster: it has
	// every committed write up to there.
	for d := int64(1); d <= got; d++ {
		c, ok := r.committed[p][d]
		if _, sent := r.delivered[p][d]; !ok || (!c.m.Empty && !sent) {
			r.violate(checkers.Invariant, "%s(%d) = %d at %v, but the remote cluster has not got decree %d (%s): a confirmed decree, or the remote's last decree, must only cover delivered writes",
				op, p, got, r.now(), d, describeCommitted(c, ok))
			return
		}
	}
}

func describeCommitted(c stamped, ok bool) string {
	if !ok {
		return "never committed"
	}
	return c.m.String()
}

// checkLogRead checks a log read as it returns: decrees consecutive (from
// 1, or from its start for ReadFrom), last_committed_decree below each
// decree and never going back, and at least what was logged before the
// read began. Under r.mu.
func (r *recorder) checkLogRead(a auditRead, f floors) {
	what := fmt.Sprintf("%s(%d", a.op, a.p)
	if a.op == "Disk.ReadFrom" {
		what += fmt.Sprintf(", %d", a.from)
	}
	what += ")"
	next := int64(1)
	if a.op == "Disk.ReadFrom" {
		next = a.from
	}
	var lc int64
	for i, m := range a.got {
		switch {
		case m.Decree != next:
			r.violate(checkers.Invariant, "%s at %v: entry %d is decree %d, want %d (the log holds every decree once, in order)", what, r.now(), i, m.Decree, next)
			return
		case m.LastCommitted >= m.Decree || m.LastCommitted < lc:
			r.violate(checkers.Invariant, "%s at %v: entry %v carries last_committed_decree %d: it must be below its decree and never go back (was %d)", what, r.now(), m, m.LastCommitted, lc)
			return
		}
		next++
		lc = m.LastCommitted
	}
	if last := next - 1; last < f.logged {
		r.violate(checkers.Invariant, "%s at %v ends at decree %d, but decree %d was logged before the read began", what, r.now(), last, f.logged)
	}
}
