package metaclient

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// metaSession is the client's session with one meta server. Each query
// dials, asks and hangs up: a dial to a black-holed meta waits until the
// context is done, as a connect to a vanished machine does.
type metaSession struct {
	host harness.Host
	addr string
}

func newMetaSession(host harness.Host, addr string) *metaSession {
	return &metaSession{host: host, addr: addr}
}

func (ms *metaSession) queryConfig(ctx context.Context, table string) (*QueryConfigResponse, error) {
	c, err := ms.host.Dial(ctx, ms.addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Send(ctx, encode(request{Op: opQueryConfig, Table: table})); err != nil {
		return nil, err
	}
	b, err := c.Recv(ctx)
	if err != nil {
		return nil, err
	}
	var resp QueryConfigResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// metaCallFunc is one RPC to one meta.
type metaCallFunc func(context.Context, *metaSession) (*QueryConfigResponse, error)

// metaCall is one query to the meta servers, switching to the leader as
// it learns where it is. Run may be called once.
type metaCall struct {
	variant  Variant
	host     harness.Host
	delay    time.Duration
	respCh   *harness.Chan[*QueryConfigResponse]
	backupCh *harness.Chan[struct{}]
	callFunc metaCallFunc

	lock        harness.RWMutex // guards metaIPAddrs and metas
	metaIPAddrs []string
	metas       []*metaSession
	lead        int
	// newLead is the index of the meta that answered ERR_OK, stored by the
	// goroutine that got the answer.
	newLead uint32

	// Accounting of the goroutines Run starts (heddle's addition, not
	// upstream's): a lock-free list with one record per goroutine, marked
	// done by the goroutine itself as its last action (before its
	// WaitGroup's Done). Atomics, so that the accounting adds no
	// scheduling point; a flag per goroutine, so that it orders no
	// goroutine of the call before another. Run reads the records as it
	// returns, which orders the goroutines already finished before Run's
	// caller, and only those.
	records atomic.Pointer[goRecord]
	// leftRunning is how many of them had not finished when Run returned
	// (written and read by Run's caller only).
	leftRunning int
}

type goRecord struct {
	done atomic.Bool
	next *goRecord
}

func newMetaCall(v Variant, host harness.Host, delay time.Duration, lead int, metas []*metaSession, callFunc metaCallFunc, metaIPAddrs []string) *metaCall {
	return &metaCall{
		variant:     v,
		host:        host,
		delay:       delay,
		metas:       metas,
		metaIPAddrs: metaIPAddrs,
		lead:        lead,
		newLead:     uint32(lead),
		respCh:      harness.NewChan[*QueryConfigResponse](0),
		callFunc:    callFunc,
		backupCh:    harness.NewChan[struct{}](0),
	}
}

// goCounted runs f on a new goroutine of the call, accounted for; wg, if
// not nil, is done when f has returned.
func (c *metaCall) goCounted(wg *harness.WaitGroup, f func()) {
	r := &goRecord{}
	for {
		r.next = c.records.Load()
		if c.records.CompareAndSwap(r.next, r) {
			break
		}
	}
	harness.Go(func() {
		defer func() {
			r.done.Store(true)
			if wg != nil {
				wg.Done()
			}
		}()
		f()
	})
}

// running returns how many goroutines started by Run have not finished.
func (c *metaCall) running() int {
	n := 0
	for r := c.records.Load(); r != nil; r = r.next {
		if !r.done.Load() {
			n++
		}
	}
	return n
}

// Run asks the metas and returns the first ERR_OK answer, or ctx.Err().
func (c *metaCall) Run(ctx context.Context) (*QueryConfigResponse, error) {
	// The subroutines are cancelled when this call ends.
	subCtx, cancel := harness.WithCancel(ctx)
	var wg harness.WaitGroup
	wg.Add(2) // ensures the two goroutines below have exited when Run returns

	c.goCounted(&wg, func() {
		// Ask the believed leader.
		if !c.issueSingleMeta(subCtx, c.lead) {
			// It failed: start the backups at once.
			harness.Select(harness.Done(subCtx), c.backupCh.SendCase(struct{}{}))
		}
	})

	c.goCounted(&wg, func() {
		// Ask the backups after the delay, or as soon as the leader failed.
		t := harness.NewTimer(c.delay)
		defer t.Stop()
		switch harness.Select(t.C.RecvCase(nil, nil), c.backupCh.RecvCase(nil, nil), harness.Done(subCtx)) {
		case 0, 1:
			c.issueBackupMetas(subCtx)
		}
	})

	// The result is always an ERR_OK answer or the context's error.
	var resp *QueryConfigResponse
	if harness.Select(c.respCh.RecvCase(&resp, nil), harness.Done(ctx)) == 0 {
		cancel()
		wg.Wait()
		c.leftRunning = c.running()
		return resp, nil
	}
	cancel()
	wg.Wait()
	c.leftRunning = c.running()
	return nil, ctx.Err()
}

// issueSingleMeta asks the meta at index curLeader; it returns false if
// another meta should be tried.
func (c *metaCall) issueSingleMeta(ctx context.Context, curLeader int) bool {
	var meta *metaSession
	if c.variant != Buggy {
		// FIX(#2257): read the list under the lock; call outside it.
		c.lock.RLock()
		meta = c.metas[curLeader]
		c.lock.RUnlock()
	} else {
		// BUG(upstream #2256): unlocked read; backups append concurrently.
		meta = c.metas[curLeader]
	}
	resp, err := c.callFunc(ctx, meta)

	if err == nil && resp.Err == ErrForward {
		addr := resp.Forward
		if addr == "" {
			return false
		}
		if c.variant != Buggy {
			// FIX(#2257, and beyond it): look the address up and append it
			// in one critical section, so two backups forwarded to the same
			// new leader add it once; call it outside the lock.
			c.lock.Lock()
			found := slices.Contains(c.metaIPAddrs, addr)
			if !found {
				c.metaIPAddrs = append(c.metaIPAddrs, addr)
				c.metas = append(c.metas, newMetaSession(c.host, addr))
				curLeader = len(c.metas) - 1
				meta = c.metas[curLeader]
			}
			c.lock.Unlock()
			if !found {
				resp, err = c.callFunc(ctx, meta)
			}
		} else {
			found := false
			c.lock.Lock()
			for i := range c.metaIPAddrs {
				if addr == c.metaIPAddrs[i] {
					found = true
					break
				}
			}
			c.lock.Unlock()
			if !found {
				c.lock.Lock()
				c.metaIPAddrs = append(c.metaIPAddrs, addr)
				c.metas = append(c.metas, newMetaSession(c.host, addr))
				c.lock.Unlock()
				// BUG(upstream #2256): the list is read again without the lock.
				curLeader = len(c.metas) - 1
				resp, err = c.callFunc(ctx, c.metas[curLeader])
			}
		}
	}

	if err != nil || resp.Err == ErrForward {
		return false
	}
	// The RPC succeeded: this meta is the leader now.
	atomic.StoreUint32(&c.newLead, uint32(curLeader))
	harness.Select(harness.Done(ctx), c.respCh.SendCase(resp))
	return true
}

// issueBackupMetas asks every meta but the believed leader, in parallel.
func (c *metaCall) issueBackupMetas(ctx context.Context) {
	if c.variant == Buggy {
		// BUG(upstream #2256): one goroutine per backup, not waited for:
		// they outlive Run, and append to the lists while its caller reads
		// them.
		for i := range c.metas {
			if i == c.lead {
				continue
			}
			c.goCounted(nil, func() { c.issueSingleMeta(ctx, i) })
		}
		return
	}
	// FIX(#2257): iterate over a snapshot (issueSingleMeta may append) and
	// wait for every backup goroutine before returning.
	c.lock.RLock()
	n := len(c.metas)
	c.lock.RUnlock()
	var wg harness.WaitGroup
	for i := 0; i < n; i++ {
		if i == c.lead {
			continue
		}
		wg.Add(1)
		c.goCounted(&wg, func() { c.issueSingleMeta(ctx, i) })
	}
	wg.Wait()
}
