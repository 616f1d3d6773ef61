package routingtable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"

	"github.com/heddle-go/heddle/harness"
)

// Commands of the wire protocol: membership (memberlist's part) and the
// routing table's (Olric's internal RESP commands).
const (
	cmdJoin          = "JOIN"          // a member joins: answer with the members known
	cmdAlive         = "ALIVE"         // gossip: Subject is alive
	cmdLeave         = "LEAVE"         // gossip: Subject left
	cmdDead          = "DEAD"          // gossip: Subject failed a probe
	cmdPing          = "PING"          // the prober's probe
	cmdUpdateRouting = "UPDATEROUTING" // the coordinator pushes a table
	cmdLookup        = "LOOKUP"        // a client asks for a partition's owner
)

// request is one message to a member.
type request struct {
	Cmd     string
	From    Member
	Subject Member
	// UPDATEROUTING: the coordinator's id, the table's version and the
	// encoded table (the signature is its hash).
	Coordinator uint64
	Version     Version
	Payload     []byte
	// LOOKUP: the partition.
	Part int
}

// response answers one request.
type response struct {
	Err     string
	Members []Member // JOIN: the members known
	Lookup  *LookupResult
}

// remoteError is an error a member answered with.
type remoteError struct{ msg string }

func (e remoteError) Error() string { return e.msg }

// handlerFunc serves one request.
type handlerFunc func(ctx context.Context, req request) response

// server serves requests on one listener: a goroutine accepts connections
// and one goroutine per connection reads requests, runs their handler and
// answers, one request at a time (a RESP server's shape).
type server struct {
	host harness.Host
	port int
	mux  map[string]handlerFunc // filled before start, read-only after

	ctx    context.Context
	cancel context.CancelFunc

	mu      harness.Mutex // guards ln, conns, started, closed
	ln      harness.Listener
	conns   []harness.Conn // a slice, not a map: closing them in a seeded order
	started bool
	closed  bool
	wg      harness.WaitGroup
}

func newServer(parent context.Context, host harness.Host, port int) *server {
	ctx, cancel := harness.WithCancel(parent)
	return &server{host: host, port: port, mux: map[string]handlerFunc{}, ctx: ctx, cancel: cancel}
}

// handle registers h for cmd. Call it before start.
func (s *server) handle(cmd string, h handlerFunc) { s.mux[cmd] = h }

// start listens and serves in the background; it returns the address.
func (s *server) start() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrServerGone
	}
	if s.started {
		return "", errors.New("routingtable: server already started")
	}
	ln, err := s.host.Listen(s.port)
	if err != nil {
		return "", err
	}
	s.ln, s.started = ln, true
	s.wg.Go(func() { s.acceptLoop(ln) })
	return ln.Addr(), nil
}

func (s *server) acceptLoop(ln harness.Listener) {
	for {
		c, err := ln.Accept(s.ctx)
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns = append(s.conns, c)
		s.wg.Go(func() { s.serveConn(c) })
		s.mu.Unlock()
	}
}

func (s *server) serveConn(c harness.Conn) {
	defer func() {
		s.mu.Lock()
		for i, x := range s.conns {
			if x == c {
				s.conns = append(s.conns[:i], s.conns[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		c.Close()
	}()
	for {
		b, err := c.Recv(s.ctx)
		if err != nil {
			return
		}
		var resp response
		if req, err := decodeRequest(b); err != nil {
			resp.Err = fmt.Sprintf("bad request: %v", err)
		} else if h, ok := s.mux[req.Cmd]; ok {
			resp = h(s.ctx, req)
		} else {
			resp.Err = fmt.Sprintf("unknown command %q", req.Cmd)
		}
		if err := c.Send(s.ctx, resp.encode()); err != nil {
			return
		}
	}
}

// shutdown stops accepting, closes every connection and waits until every
// goroutine of the server has returned (handlers included), or ctx is done.
func (s *server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	conns := append([]harness.Conn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.cancel()
	return waitCtx(ctx, &s.wg)
}

// waitCtx waits for wg until ctx is done.
func waitCtx(ctx context.Context, wg *harness.WaitGroup) error {
	done := harness.NewChan[struct{}](0)
	harness.Go(func() {
		wg.Wait()
		done.Close()
	})
	if harness.Select(done.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
		return ctx.Err()
	}
	return nil
}

// client sends requests to members over pooled connections: an idle
// connection is reused, otherwise a new one is dialed. A request that fails
// on a reused connection before any answer (the peer restarted or closed
// it) is retried once on a new one, as connection pools do.
type client struct {
	host   harness.Host
	mu     harness.Mutex // guards idle, closed
	idle   map[string][]harness.Conn
	closed bool
}

func newClient(host harness.Host) *client {
	return &client{host: host, idle: map[string][]harness.Conn{}}
}

// do sends req to addr and returns the answer.
func (c *client) do(ctx context.Context, addr string, req request) (response, error) {
	b := req.encode()
	for attempt := 0; ; attempt++ {
		// The retry dials: the pool may hold more connections to the
		// peer's previous incarnation, as dead as the first.
		conn, reused, err := c.get(ctx, addr, attempt > 0)
		if err != nil {
			return response{}, err
		}
		out, err := roundTrip(ctx, conn, b)
		if err != nil {
			conn.Close()
			if reused && attempt == 0 && stale(err) && ctx.Err() == nil {
				continue
			}
			return response{}, err
		}
		c.put(addr, conn)
		resp, err := decodeResponse(out)
		if err != nil {
			return response{}, err
		}
		if resp.Err != "" {
			return resp, remoteError{resp.Err}
		}
		return resp, nil
	}
}

func roundTrip(ctx context.Context, conn harness.Conn, b []byte) ([]byte, error) {
	if err := conn.Send(ctx, b); err != nil {
		return nil, err
	}
	return conn.Recv(ctx)
}

// stale reports whether err means the connection was already dead.
func stale(err error) bool {
	return errors.Is(err, harness.ErrConnReset) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// get returns an idle connection to addr, or (none idle, or fresh) a new
// one; reused tells which.
func (c *client) get(ctx context.Context, addr string, fresh bool) (conn harness.Conn, reused bool, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, ErrServerGone
	}
	if q := c.idle[addr]; len(q) > 0 && !fresh {
		conn := q[len(q)-1]
		c.idle[addr] = q[:len(q)-1]
		c.mu.Unlock()
		return conn, true, nil
	}
	c.mu.Unlock()
	conn, err = c.host.Dial(ctx, addr)
	return conn, false, err
}

func (c *client) put(addr string, conn harness.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return
	}
	c.idle[addr] = append(c.idle[addr], conn)
}

// closeAddr closes the idle connections to addr (a member that left).
func (c *client) closeAddr(addr string) {
	c.mu.Lock()
	q := c.idle[addr]
	delete(c.idle, addr)
	c.mu.Unlock()
	for _, conn := range q {
		conn.Close()
	}
}

// close closes every idle connection; connections in use are closed when
// their request returns.
func (c *client) close() {
	c.mu.Lock()
	c.closed = true
	addrs := make([]string, 0, len(c.idle))
	for addr := range c.idle {
		addrs = append(addrs, addr)
	}
	sort.Strings(addrs) // map order is random: close in a fixed one
	var all []harness.Conn
	for _, addr := range addrs {
		all = append(all, c.idle[addr]...)
	}
	c.idle = map[string][]harness.Conn{}
	c.mu.Unlock()
	for _, conn := range all {
		conn.Close()
	}
}
