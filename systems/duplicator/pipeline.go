package duplicator

import (
	"context"
	"encoding/json"

	"github.com/heddle-go/heddle/harness"
)

// batch is the duplication's prepare list (Pegasus mutation_batch): loaded
// mutations wait in it until it knows them committed, then go, in decree
// order and without the empty writes, to the ship stage.
type batch struct {
	lastCommitted int64
	prepared      map[int64]Mutation
	out           []Mutation
}

func newBatch(from int64) *batch {
	return &batch{lastCommitted: from, prepared: map[int64]Mutation{}}
}

// add puts a loaded mutation in the prepare list. Like any prepare list it
// commits up to the last_committed_decree the mutation carries. applied is
// the replica's last_applied_decree.
func (b *batch) add(v Variant, m Mutation, applied int64) {
	if m.Decree <= b.lastCommitted {
		return
	}
	if _, ok := b.prepared[m.Decree]; ok {
		return // loaded before
	}
	b.prepared[m.Decree] = m
	b.commit(m.LastCommitted)
	if v != Buggy && m.Decree <= applied {
		// FIX(#2048): the replica applied it, so it is committed, although no
		// logged mutation says so yet: commit it here.
		b.commit(m.Decree)
	}
}

// commit commits the prepared mutations up to decree d, in order, stopping
// at the first one not loaded.
func (b *batch) commit(d int64) {
	for b.lastCommitted < d {
		m, ok := b.prepared[b.lastCommitted+1]
		if !ok {
			return
		}
		delete(b.prepared, m.Decree)
		b.lastCommitted = m.Decree
		if !m.Empty {
			b.out = append(b.out, m)
		}
	}
}

// take returns the committed writes to ship and the last committed decree.
func (b *batch) take() ([]Mutation, int64) {
	out := b.out
	b.out = nil
	return out, b.lastCommitted
}

// duplication ships one partition's committed writes to the remote cluster.
type duplication struct {
	v    Variant
	r    *replica
	host harness.Host
	inc  int

	mu       harness.Mutex // guards progress
	progress Progress
	batch    *batch
	conn     harness.Conn
}

func newDuplication(v Variant, r *replica, host harness.Host, incarnation int) *duplication {
	c := r.disk.Confirmed(r.p)
	return &duplication{v: v, r: r, host: host, inc: incarnation,
		progress: Progress{LastDecree: c, ConfirmedDecree: c}, batch: newBatch(c)}
}

// loadBound is the last decree loading may go to.
func (d *duplication) loadBound() int64 {
	p := d.r.p
	if d.v == Buggy {
		// BUG(upstream #2050): the private log shows decree N committed only
		// once a later mutation carries last_committed_decree >= N. After
		// the last write nothing does, until the group check's empty write
		// 100-200 s later.
		return d.r.disk.MaxCommitOnDisk(p)
	}
	// FIX(#2048): what the replica has applied is committed.
	return min(d.r.disk.MaxDecreeOnDisk(p), d.r.lastAppliedDecree())
}

// run is the pipeline: load -> batch -> ship -> progress, until ctx is done.
func (d *duplication) run(ctx context.Context) {
	goCounted(d.r.obs, RolePrimary, d.inc, ResConfirm, func() { d.confirm(ctx) })
	defer d.closeConn()
	for ctx.Err() == nil {
		start := d.lastDecree() + 1
		if start > d.loadBound() {
			if !sleepCtx(ctx, d.r.cfg.LoadDelay) {
				return
			}
			continue
		}
		for _, m := range d.r.disk.ReadFrom(d.r.p, start) {
			d.batch.add(d.v, m, d.r.lastAppliedDecree())
		}
		if d.v == Fixed {
			// FIX(#2048), completed: a mutation loaded before the replica
			// applied it is committed once it is applied, not only when a
			// later mutation is loaded.
			d.batch.commit(d.r.lastAppliedDecree())
		}
		muts, last := d.batch.take()
		if last < start {
			if !sleepCtx(ctx, d.r.cfg.LoadDelay) {
				return
			}
			continue
		}
		if len(muts) > 0 {
			d.r.obs.shipped(d.r.p, d.inc, muts, last, d.r.lastAppliedDecree())
			if !d.ship(ctx, start, last, muts) {
				return
			}
		}
		d.mu.Lock()
		d.progress.LastDecree = last
		d.r.obs.progressed(d.r.p, d.inc, d.progress) // under d.mu: observed in the order it changed
		d.mu.Unlock()
	}
}

func (d *duplication) lastDecree() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.progress.LastDecree
}

// confirm persists last_decree as confirmed_decree every ConfirmInterval.
func (d *duplication) confirm(ctx context.Context) {
	for sleepCtx(ctx, d.r.cfg.ConfirmInterval) {
		d.mu.Lock()
		moved := d.progress.LastDecree > d.progress.ConfirmedDecree &&
			d.r.disk.setConfirmed(d.r.p, d.inc, d.progress.LastDecree) == nil
		if moved {
			d.progress.ConfirmedDecree = d.progress.LastDecree
			d.r.obs.progressed(d.r.p, d.inc, d.progress)
		}
		d.mu.Unlock()
	}
}

// shipRequest and shipResponse are the duplication protocol: the writes of
// decrees (From, To], in order; the remote acknowledges To.
type shipRequest struct {
	P    int        `json:"p"`
	From int64      `json:"from"`
	To   int64      `json:"to"`
	Muts []Mutation `json:"muts"`
}

type shipResponse struct {
	P  int   `json:"p"`
	To int64 `json:"to"`
}

// ship sends one batch until the remote acknowledges it; it returns false
// once ctx is done. A failed attempt waits ShipRetry before the next, but
// for one case: a connection kept from an earlier ship that turns out
// broken (the remote restarted while it sat idle) is replaced at once.
func (d *duplication) ship(ctx context.Context, start, last int64, muts []Mutation) bool {
	req, _ := json.Marshal(shipRequest{P: d.r.p, From: start, To: last, Muts: muts})
	cfg := d.r.cfg
	for ctx.Err() == nil {
		reused := d.conn != nil
		ok, broken := d.shipOnce(ctx, req, last)
		if ok {
			return true
		}
		d.closeConn()
		if reused && broken {
			continue
		}
		if !sleepCtx(ctx, cfg.ShipRetry) {
			return false
		}
	}
	return false
}

// shipOnce makes one attempt, within ShipTimeout: it dials if it has no
// connection, sends the batch and waits for its acknowledgement, skipping
// acknowledgements of earlier batches (a message duplicated on the way).
// broken reports a connection that failed at once, rather than timing out.
func (d *duplication) shipOnce(ctx context.Context, req []byte, last int64) (ok, broken bool) {
	actx, cancel := harness.WithTimeout(ctx, d.r.cfg.ShipTimeout)
	defer cancel()
	if d.conn == nil {
		// Counted from the dial on: the remote may accept it before the
		// dial returns.
		d.r.obs.resource(RolePrimary, d.inc, ResShipConn, +1)
		c, err := d.host.Dial(actx, d.r.cfg.RemoteAddr)
		if err != nil {
			d.r.obs.resource(RolePrimary, d.inc, ResShipConn, -1)
			return false, false
		}
		d.conn = &countedConn{Conn: c, release: func() { d.r.obs.resource(RolePrimary, d.inc, ResShipConn, -1) }}
	}
	if d.conn.Send(actx, req) != nil {
		return false, actx.Err() == nil
	}
	for {
		b, err := d.conn.Recv(actx)
		if err != nil {
			return false, actx.Err() == nil
		}
		var resp shipResponse
		if json.Unmarshal(b, &resp) != nil || resp.P != d.r.p {
			return false, false
		}
		if resp.To < last {
			continue // the answer to an earlier batch, delivered twice
		}
		return resp.To == last, false
	}
}

// closeConn closes the connection to the remote cluster, if there is one: a
// ship that failed does not trust it any more.
func (d *duplication) closeConn() {
	if d.conn == nil {
		return
	}
	d.conn.Close()
	d.conn = nil
}
