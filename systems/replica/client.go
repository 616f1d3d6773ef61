package replica

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Options configures a client.
type Options struct {
	// Variant is the client's implementation.
	Variant Variant
	// Host is where the client dials from (a node, or harness.TCP()).
	Host harness.Host
	// Meta is the meta server's address.
	Meta string
	// RefreshInterval is the least time between two configuration
	// refreshes; 0 means one second.
	RefreshInterval time.Duration
	// MetaTimeout bounds one configuration query; 0 means one second.
	MetaTimeout time.Duration
	// DialTimeout bounds one dial; 0 means one second.
	DialTimeout time.Duration
	// DialInterval is the least time between two dials of one session; 0
	// means 100ms.
	DialInterval time.Duration
	// RetryBackoff is the first pause before a retry (0 means 10ms); it
	// doubles up to MaxRetryBackoff (0 means 200ms).
	RetryBackoff, MaxRetryBackoff time.Duration
	// OnRefresh, if set, is called (on the refreshing goroutine) when a
	// configuration refresh starts.
	OnRefresh func(at time.Time)
	// OnRefreshRequest, if set, is called (on the calling goroutine) each
	// time a failed attempt asks for a configuration refresh, whether or
	// not a refresh is already asked for. With OnRefresh it lets a test see
	// that every request is served by a refresh that starts after it, and
	// that no refresh starts unasked.
	OnRefreshRequest func(at time.Time)
	// UnsafeRetryWrites makes the connector retry Set, Del and Incr after
	// failures that leave their outcome unknown, as it does Get (and as the
	// upstream client does). It is wrong (a write may then take effect
	// twice, around another one); tests use it to show that they notice.
	UnsafeRetryWrites bool
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.RefreshInterval, time.Second)
	def(&o.MetaTimeout, time.Second)
	def(&o.DialTimeout, time.Second)
	def(&o.DialInterval, 100*time.Millisecond)
	def(&o.RetryBackoff, 10*time.Millisecond)
	def(&o.MaxRetryBackoff, 200*time.Millisecond)
	return o
}

// Stats are counters of a client's life.
type Stats struct {
	// MaxPending is the largest pendingResp any session had.
	MaxPending int
	// Refreshes lists when each configuration refresh started, the first
	// (in Open) included.
	Refreshes []time.Time
	// Sessions counts the node sessions made (replacements included).
	Sessions int
	// SessionsClosed counts the sessions closed for good: their loops have
	// returned. Close closes every session the client made, so once it
	// has returned SessionsClosed equals Sessions.
	SessionsClosed int
}

// stats is Stats under a lock: every session updates it.
type stats struct {
	mu harness.Mutex
	s  Stats
}

func (st *stats) pending(n int) {
	st.mu.Lock()
	st.s.MaxPending = max(st.s.MaxPending, n)
	st.mu.Unlock()
}

// Client is a table's client: the table connector over node sessions.
type Client struct {
	opts     Options
	ctx      context.Context // the client's life
	cancel   context.CancelFunc
	wg       harness.WaitGroup
	stats    stats
	refreshc *harness.Chan[struct{}] // capacity 1: a refresh is wanted

	mu          harness.Mutex
	closed      bool
	parts       []PartitionConfig // the routing table
	sessions    map[string]*session
	old         []*session // replaced sessions, to wait for at Close
	lastRefresh time.Time
}

// Open makes a client and loads the table's configuration from meta.
func Open(ctx context.Context, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	c := &Client{opts: opts, refreshc: harness.NewChan[struct{}](1), sessions: map[string]*session{}}
	c.ctx, c.cancel = harness.WithCancel(context.Background())
	if err := c.queryConfig(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.wg.Go(c.loopForRefresh)
	return c, nil
}

// Close closes every session and stops the client's goroutines.
func (c *Client) Close() {
	c.cancel()
	c.mu.Lock()
	c.closed = true
	// In a fixed order (by address, older sessions first): a map's order
	// would make two runs of one seed differ.
	all := c.old
	for _, addr := range slices.Sorted(maps.Keys(c.sessions)) {
		all = append(all, c.sessions[addr])
	}
	c.old, c.sessions = nil, map[string]*session{}
	c.mu.Unlock()
	slices.SortStableFunc(all, func(a, b *session) int { return cmp.Compare(a.addr, b.addr) })
	for _, s := range all {
		s.close()
	}
	c.wg.Wait()
}

// Stats returns the client's counters so far.
func (c *Client) Stats() Stats {
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	s := c.stats.s
	s.Refreshes = slices.Clone(s.Refreshes)
	return s
}

// Config returns the client's routing table.
func (c *Client) Config() []PartitionConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]PartitionConfig, len(c.parts))
	for i, pc := range c.parts {
		out[i] = pc.clone()
	}
	return out
}

// Partition returns the partition of key.
func (c *Client) Partition(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return PartitionOf(key, len(c.parts))
}

// session returns the node session of addr, replacing a closed one; nil
// once the client is closed.
func (c *Client) session(addr string) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	s := c.sessions[addr]
	if s == nil || s.isClosed() {
		if s != nil {
			c.old = append(c.old, s)
		}
		s = newSession(c.opts.Variant, c.opts.Host, addr,
			sessionOptions{dialTimeout: c.opts.DialTimeout, dialInterval: c.opts.DialInterval}, &c.stats)
		c.sessions[addr] = s
		c.stats.mu.Lock()
		c.stats.s.Sessions++
		c.stats.mu.Unlock()
	}
	return s
}

// requestRefresh asks for a configuration refresh; requests made while one
// is waiting are one request.
func (c *Client) requestRefresh() {
	if c.opts.OnRefreshRequest != nil {
		c.opts.OnRefreshRequest(harness.Now())
	}
	harness.Select(c.refreshc.SendCase(struct{}{}), harness.Default())
}

// loopForRefresh refreshes the configuration when asked, at most once per
// RefreshInterval.
func (c *Client) loopForRefresh() {
	for {
		if harness.Select(c.refreshc.RecvCase(nil, nil), harness.Done(c.ctx)) == 1 {
			return
		}
		c.mu.Lock()
		wait := c.opts.RefreshInterval - harness.Since(c.lastRefresh)
		c.mu.Unlock()
		if !sleepCtx(c.ctx, wait) {
			return
		}
		// Requests that came while waiting are served by this refresh.
		harness.Select(c.refreshc.RecvCase(nil, nil), harness.Default())
		_ = c.queryConfig(c.ctx)
	}
}

// queryConfig loads the configuration from meta and adopts every partition
// whose ballot is newer than the cached one.
func (c *Client) queryConfig(ctx context.Context) error {
	start := harness.Now()
	c.mu.Lock()
	c.lastRefresh = start
	c.mu.Unlock()
	c.stats.mu.Lock()
	c.stats.s.Refreshes = append(c.stats.s.Refreshes, start)
	c.stats.mu.Unlock()
	if c.opts.OnRefresh != nil {
		c.opts.OnRefresh(start)
	}
	s := c.session(c.opts.Meta)
	if s == nil {
		return ErrClientClosed
	}
	qctx, cancel := harness.WithTimeout(ctx, c.opts.MetaTimeout)
	defer cancel()
	resp, err := s.CallWithGpid(qctx, &msg{Type: tQuery})
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range resp.Config {
		for len(c.parts) <= pc.Index {
			c.parts = append(c.parts, PartitionConfig{Index: len(c.parts)})
		}
		if pc.Ballot > c.parts[pc.Index].Ballot {
			c.parts[pc.Index] = pc.clone()
		}
	}
	return nil
}

// route returns key's partition and its primary's address.
func (c *Client) route(key string) (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := PartitionOf(key, len(c.parts))
	if p >= len(c.parts) {
		return p, ""
	}
	return p, c.parts[p].Primary
}

// handleReplicaError maps the error of one attempt to what the connector
// does next: refresh the configuration, and retry.
func (c *Client) handleReplicaError(err error, idempotent bool) (refresh, retry bool) {
	var re *ReplicaError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		if c.opts.Variant == Buggy {
			// BUG(upstream #1856): a timeout is not taken as a sign that the
			// routing may be stale: no refresh, so later calls go to the
			// dead node again, and time out again.
			return false, false
		}
		// FIX(#1916): a timeout refreshes the configuration. No retry: the
		// call's deadline is gone.
		return true, false
	case errors.Is(err, context.Canceled), errors.Is(err, ErrClientClosed):
		return false, false
	case errors.As(err, &re):
		switch re.Code {
		case CodeInvalidState, CodeObjectNotFound, CodeNoPrimary:
			return true, true // not applied: safe to retry
		case CodeAborted:
			return true, idempotent || c.opts.UnsafeRetryWrites
		}
		return false, false
	case errors.Is(err, ErrSessionReset):
		return true, idempotent || c.opts.UnsafeRetryWrites
	case errors.Is(err, ErrSessionClosed), errors.Is(err, ErrSendFailed):
		return true, true // not sent: safe to retry
	}
	return false, false
}

// do runs one operation: it routes op to its partition's primary and
// retries as handleReplicaError says, with backoff, until ctx is done.
func (c *Client) do(ctx context.Context, op *msg, idempotent bool) (*msg, error) {
	backoff := c.opts.RetryBackoff
	applied := false // an attempt may have been applied
	for {
		part, addr := c.route(op.Key)
		var resp *msg
		var err error
		if addr == "" {
			err = &ReplicaError{Code: CodeNoPrimary, Part: part}
		} else {
			s := c.session(addr)
			if s == nil {
				return nil, outcome(ErrClientClosed, applied)
			}
			req := *op
			req.Type, req.Part = tReq, part
			resp, err = s.CallWithGpid(ctx, &req)
			if err == nil && resp.Err != "" {
				err = &ReplicaError{Code: resp.Err, Addr: addr, Part: part}
			}
		}
		if err == nil {
			return resp, nil
		}
		applied = applied || Ambiguous(err)
		refresh, retry := c.handleReplicaError(err, idempotent)
		if refresh {
			c.requestRefresh()
		}
		if !retry {
			return nil, outcome(err, applied)
		}
		if !sleepCtx(ctx, backoff) {
			return nil, outcome(ctx.Err(), applied)
		}
		backoff = min(2*backoff, c.opts.MaxRetryBackoff)
	}
}

// outcome returns the error a call gives up with: err, wrapped in
// ErrNotApplied when no attempt can have been applied (applied false)
// although err alone leaves it unknown.
func outcome(err error, applied bool) error {
	if applied || !Ambiguous(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrNotApplied, err)
}

// Set writes value to key. It is retried only after failures that prove
// it was not applied; after others it fails with an error for which
// Ambiguous is true.
func (c *Client) Set(ctx context.Context, key, value string) error {
	_, err := c.do(ctx, &msg{Op: opSet, Key: key, Value: value}, false)
	return err
}

// Get reads key.
func (c *Client) Get(ctx context.Context, key string) (value string, found bool, err error) {
	resp, err := c.do(ctx, &msg{Op: opGet, Key: key}, true)
	if err != nil {
		return "", false, err
	}
	return resp.Value, resp.Found, nil
}

// Del removes key. Like Set, it is retried only after failures that prove
// it was not applied.
func (c *Client) Del(ctx context.Context, key string) error {
	_, err := c.do(ctx, &msg{Op: opDel, Key: key}, false)
	return err
}

// Incr adds delta to the integer at key (absent counts as 0) and returns
// the new value. Like Set, it is retried only after failures that prove it
// was not applied.
func (c *Client) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	resp, err := c.do(ctx, &msg{Op: opIncr, Key: key, Delta: delta}, false)
	if err != nil {
		return 0, err
	}
	return resp.N, nil
}
