package replica

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// connState is a session's connection state.
type connState int

const (
	stateIdle   connState = iota // not connected: the next call asks for a dial
	stateReady                   // connected: the request and response loops run
	stateClosed                  // torn down or closed: calls fail at once
)

// call is one request waiting in a session.
type call struct {
	seq       uint64
	req       *msg
	done      *harness.Chan[callResult] // capacity 1: the one result
	abandoned bool                      // the caller gave up (guarded by session.mu)
}

type callResult struct {
	resp *msg
	err  error
}

// finish hands the call its result; only the first result counts.
func (c *call) finish(resp *msg, err error) {
	harness.Select(c.done.SendCase(callResult{resp: resp, err: err}), harness.Default())
}

// sessionOptions are the timings of a node session.
type sessionOptions struct {
	dialTimeout  time.Duration
	dialInterval time.Duration
}

// session is a node session: the client's connection to one server
// address, with a dialing loop, a request loop and a response loop.
type session struct {
	variant Variant
	host    harness.Host
	addr    string
	opts    sessionOptions
	ctx     context.Context // the session's life
	cancel  context.CancelFunc
	redial  *harness.Chan[struct{}] // capacity 1: a dial is wanted
	reqc    *harness.Chan[*call]    // calls handed to the request loop
	wg      harness.WaitGroup       // the loops
	stats   *stats

	mu       harness.Mutex
	state    connState
	conn     harness.Conn
	gen      int                     // the connection's generation
	connDone *harness.Chan[struct{}] // closed when the connection's loops must stop
	changed  *harness.Chan[struct{}] // closed (and replaced) at every state change
	dead     *harness.Chan[struct{}] // closed when the session is closed
	closeErr error                   // why it is closed
	pending  map[uint64]*call        // pendingResp: calls sent, by sequence id
	seq      uint64
	lastDial time.Time
}

func newSession(v Variant, host harness.Host, addr string, opts sessionOptions, stats *stats) *session {
	s := &session{
		variant: v, host: host, addr: addr, opts: opts, stats: stats,
		redial:  harness.NewChan[struct{}](1),
		reqc:    harness.NewChan[*call](0),
		changed: harness.NewChan[struct{}](0),
		dead:    harness.NewChan[struct{}](0),
		pending: map[uint64]*call{},
	}
	s.ctx, s.cancel = harness.WithCancel(context.Background())
	s.wg.Go(s.loopForDialing)
	return s
}

// String returns the session's address.
func (s *session) String() string { return s.addr }

// notify wakes every caller waiting for a state change; s.mu is held.
func (s *session) notify() {
	s.changed.Close()
	s.changed = harness.NewChan[struct{}](0)
}

func (s *session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateClosed
}

// tryDial asks the dialing loop for a dial, unless one is already asked.
func (s *session) tryDial() {
	harness.Select(s.redial.SendCase(struct{}{}), harness.Default())
}

// loopForDialing dials when asked and the session is not connected, and
// starts the request and response loops of each new connection.
func (s *session) loopForDialing() {
	for {
		if harness.Select(s.redial.RecvCase(nil, nil), harness.Done(s.ctx)) == 1 {
			return
		}
		s.mu.Lock()
		st, last := s.state, s.lastDial
		s.mu.Unlock()
		if st == stateClosed {
			return
		}
		if st == stateReady {
			continue
		}
		if !last.IsZero() && !sleepCtx(s.ctx, s.opts.dialInterval-harness.Since(last)) {
			return
		}
		dctx, cancel := harness.WithTimeout(s.ctx, s.opts.dialTimeout)
		conn, err := s.host.Dial(dctx, s.addr)
		cancel()
		s.mu.Lock()
		s.lastDial = harness.Now()
		s.mu.Unlock()
		if s.ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return
		}
		if err != nil {
			if s.variant == Buggy {
				// BUG(upstream #1856): a failed dial only ends this attempt.
				// The session stays as it is, its dialing loop lives on, and
				// the callers waiting for a connection wait for their
				// deadline: DeadlineExceeded, which refreshes nothing.
				continue
			}
			// FIX(#1916): a session that cannot connect is torn down; its
			// callers fail at once (nothing was sent) and the connector
			// refreshes the configuration and routes again.
			s.teardown(fmt.Errorf("%w: dial %s: %v", ErrSessionClosed, s.addr, err), nil)
			return
		}
		s.mu.Lock()
		if s.state != stateIdle {
			s.mu.Unlock()
			conn.Close()
			continue
		}
		s.gen++
		gen, done := s.gen, harness.NewChan[struct{}](0)
		s.conn, s.connDone, s.state = conn, done, stateReady
		s.notify()
		s.mu.Unlock()
		s.wg.Go(func() { s.loopForRequest(conn, gen, done) })
		s.wg.Go(func() { s.loopForResponse(conn, gen) })
	}
}

// loopForRequest registers each call handed over in pendingResp and writes
// its request to the connection.
func (s *session) loopForRequest(conn harness.Conn, gen int, done *harness.Chan[struct{}]) {
	for {
		var c *call
		if harness.Select(s.reqc.RecvCase(&c, nil), done.RecvCase(nil, nil), harness.Done(s.ctx)) != 0 {
			return
		}
		s.mu.Lock()
		if c.abandoned {
			s.mu.Unlock()
			continue
		}
		if s.gen != gen || s.state != stateReady {
			s.mu.Unlock()
			c.finish(nil, fmt.Errorf("%w: %s: the connection broke", ErrSessionClosed, s.addr))
			return
		}
		s.pending[c.seq] = c
		s.stats.pending(len(s.pending))
		s.mu.Unlock()
		req := *c.req
		req.Seq = c.seq
		if err := conn.Send(s.ctx, encode(&req)); err != nil {
			s.mu.Lock()
			delete(s.pending, c.seq)
			s.mu.Unlock()
			c.finish(nil, fmt.Errorf("%w to %s: %v", ErrSendFailed, s.addr, err))
			s.connBroken(gen, err)
			return
		}
	}
}

// loopForResponse reads responses and hands each to its caller by sequence
// id.
func (s *session) loopForResponse(conn harness.Conn, gen int) {
	for {
		b, err := conn.Recv(s.ctx)
		if err != nil {
			if s.ctx.Err() == nil {
				// EOF, a reset: the server is gone.
				s.connBroken(gen, err)
			}
			return
		}
		resp, err := decode(b)
		if err != nil {
			continue
		}
		s.mu.Lock()
		c := s.pending[resp.Seq]
		delete(s.pending, resp.Seq)
		s.mu.Unlock()
		if c != nil {
			c.finish(resp, nil)
		}
	}
}

// connBroken handles the end of connection gen, found by the response loop
// (EOF, reset) or the request loop (a failed write).
func (s *session) connBroken(gen int, cause error) {
	s.mu.Lock()
	if s.gen != gen || s.state != stateReady {
		s.mu.Unlock()
		return
	}
	if s.variant == Buggy {
		// BUG(upstream #1856): the loop just returns. The calls waiting in
		// pendingResp are not failed: each waits for its own deadline. The
		// session is not torn down either: it only stops being ready, and
		// its dialing loop lives on to redial the dead node for later calls.
		conn := s.conn
		s.state, s.conn = stateIdle, nil
		s.connDone.Close()
		s.connDone = nil
		s.notify()
		s.mu.Unlock()
		conn.Close() // the broken connection itself is let go
		return
	}
	s.mu.Unlock()
	// FIX(#1916, and better): every pending call fails at once with
	// ErrSessionReset and the session is torn down; the connector refreshes
	// the configuration and retries on a new session.
	s.teardown(fmt.Errorf("%w: %s: %v", ErrSessionClosed, s.addr, cause),
		fmt.Errorf("%w: %s: %v", ErrSessionReset, s.addr, cause))
}

// teardown closes the session for good: calls not yet sent fail with
// closeErr, calls in pendingResp with pendingErr (closeErr if nil).
func (s *session) teardown(closeErr, pendingErr error) {
	if pendingErr == nil {
		pendingErr = closeErr
	}
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	pend := s.pending
	s.pending = map[uint64]*call{}
	conn, done := s.conn, s.connDone
	s.state, s.closeErr, s.conn = stateClosed, closeErr, nil
	if done != nil {
		s.connDone = nil
		done.Close()
	}
	s.dead.Close()
	s.notify()
	s.mu.Unlock()
	s.cancel()
	if conn != nil {
		conn.Close()
	}
	// In the order the calls were sent: each finish may wake its caller,
	// and a map's order would make two runs of one seed differ.
	for _, c := range slices.SortedFunc(maps.Values(pend), func(a, b *call) int { return cmp.Compare(a.seq, b.seq) }) {
		c.finish(nil, pendingErr)
	}
}

// close closes the session and waits for its loops.
func (s *session) close() {
	s.teardown(ErrClientClosed, ErrClientClosed)
	s.wg.Wait()
	s.stats.mu.Lock()
	s.stats.s.SessionsClosed++
	s.stats.mu.Unlock()
}

// waitUntilReady waits until the session is connected, asking for a dial.
func (s *session) waitUntilReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		st, changed, err := s.state, s.changed, s.closeErr
		s.mu.Unlock()
		switch st {
		case stateReady:
			return nil
		case stateClosed:
			return err
		}
		s.tryDial()
		if harness.Select(changed.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
			return ctx.Err()
		}
	}
}

// CallWithGpid sends req (for partition req.Part) and waits for its
// response or for ctx to be done. When ctx is done before the request was
// handed to the connection, the error wraps ErrNotApplied.
func (s *session) CallWithGpid(ctx context.Context, req *msg) (*msg, error) {
	if err := s.waitUntilReady(ctx); err != nil {
		if ctx.Err() != nil && err == ctx.Err() {
			return nil, fmt.Errorf("%w: %w", ErrNotApplied, err)
		}
		return nil, err
	}
	c := &call{req: req, done: harness.NewChan[callResult](1)}
	s.mu.Lock()
	s.seq++
	c.seq = s.seq
	s.mu.Unlock()
	switch harness.Select(s.reqc.SendCase(c), harness.Done(ctx), s.dead.RecvCase(nil, nil)) {
	case 1:
		return nil, fmt.Errorf("%w: %w", ErrNotApplied, ctx.Err())
	case 2:
		s.mu.Lock()
		err := s.closeErr
		s.mu.Unlock()
		return nil, err
	}
	var r callResult
	if harness.Select(c.done.RecvCase(&r, nil), harness.Done(ctx)) == 1 {
		s.mu.Lock()
		c.abandoned = true
		delete(s.pending, c.seq)
		s.mu.Unlock()
		return nil, ctx.Err()
	}
	return r.resp, r.err
}
