package metaclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// MetaAddr returns the address of the meta server running on the node
// named name.
func MetaAddr(name string) string { return fmt.Sprintf("%s:%d", name, MetaPort) }

// MetaMain is a meta server: the main of a node. It listens on MetaPort
// and answers queries and administrative requests until the node crashes.
// A meta starts (and restarts) as a follower that knows no leader: it
// forwards every query with an empty address until an administrator tells
// it who leads.
func MetaMain(n *harness.Node) {
	ctx := n.Context()
	l, err := n.Listen(MetaPort)
	if err != nil {
		return
	}
	defer l.Close()
	s := &metaServer{self: n.Addr(MetaPort), tables: map[string]TableConfig{}}
	for {
		c, err := l.Accept(ctx)
		if err != nil {
			return
		}
		harness.Go(func() { s.serve(ctx, c) })
	}
}

// metaServer is one incarnation's state.
type metaServer struct {
	self string

	mu         harness.Mutex // guards the fields below
	leader     bool
	leaderAddr string // the leader this meta believes in ("" unknown)
	tables     map[string]TableConfig

	// open counts the connections accepted and not closed (heddle's
	// accounting, reported to an administrator's stats request). An
	// atomic, not mu: in real mode a crashed node's goroutines close
	// their connections after the World is gone, where a lock of the
	// harness must not be taken.
	open atomic.Int64
}

// serve answers the requests of one connection, one at a time.
func (s *metaServer) serve(ctx context.Context, c harness.Conn) {
	c = s.track(c)
	defer c.Close()
	for {
		b, err := c.Recv(ctx)
		if err != nil {
			return
		}
		var req request
		if err := json.Unmarshal(b, &req); err != nil {
			return
		}
		if c.Send(ctx, encode(s.handle(req))) != nil {
			return
		}
	}
}

// track counts c among the server's open connections until it is closed.
func (s *metaServer) track(c harness.Conn) harness.Conn {
	s.open.Add(1)
	return &trackedConn{Conn: c, s: s}
}

// trackedConn is a connection the server counts as open until its first
// Close.
type trackedConn struct {
	harness.Conn
	s      *metaServer
	closed atomic.Bool
}

// Close implements harness.Conn.
func (t *trackedConn) Close() error {
	if t.closed.CompareAndSwap(false, true) {
		t.s.open.Add(-1)
	}
	return t.Conn.Close()
}

func (s *metaServer) handle(req request) QueryConfigResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := QueryConfigResponse{Err: ErrOK, Table: req.Table, From: s.self}
	switch req.Op {
	case opQueryConfig:
		if !s.leader {
			resp.Err, resp.Forward = ErrForward, s.leaderAddr
			break
		}
		cfg, ok := s.tables[req.Table]
		if !ok {
			resp.Err = ErrObjectNotFound
			break
		}
		resp.Config = cfg
	case opPromote:
		s.leader, s.leaderAddr = true, s.self
		s.tables = maps.Clone(req.Tables)
		if s.tables == nil {
			s.tables = map[string]TableConfig{}
		}
	case opDemote:
		s.leader, s.leaderAddr = false, req.Leader
	case opSetLeader:
		if s.leader {
			resp.Err = ErrInvalidState
			break
		}
		s.leaderAddr = req.Leader
	case opWrite:
		if !s.leader {
			resp.Err, resp.Forward = ErrForward, s.leaderAddr
			break
		}
		if req.Config.Version > s.tables[req.Table].Version {
			s.tables[req.Table] = req.Config
		}
		resp.Config = s.tables[req.Table]
	case opStats:
		resp.Open = int(s.open.Load())
	default:
		resp.Err = ErrInvalidState
	}
	return resp
}

// Admin sends administrative requests to meta servers: it stands in for
// the meta servers' election and the configuration store behind them.
// Every method waits for the meta's acknowledgement (or ctx).
type Admin struct {
	// Host is where the requests come from (a node of the World).
	Host harness.Host
}

// Promote makes the meta at addr the leader, holding tables.
func (a Admin) Promote(ctx context.Context, addr string, tables map[string]TableConfig) error {
	return a.do(ctx, addr, request{Op: opPromote, Tables: tables})
}

// Demote makes the leader at addr a follower that forwards to leader.
func (a Admin) Demote(ctx context.Context, addr, leader string) error {
	return a.do(ctx, addr, request{Op: opDemote, Leader: leader})
}

// SetLeader tells the follower at addr that leader leads.
func (a Admin) SetLeader(ctx context.Context, addr, leader string) error {
	return a.do(ctx, addr, request{Op: opSetLeader, Leader: leader})
}

// Write installs cfg for table on the leader at addr (an older version
// changes nothing).
func (a Admin) Write(ctx context.Context, addr, table string, cfg TableConfig) error {
	return a.do(ctx, addr, request{Op: opWrite, Table: table, Config: cfg})
}

// OpenConns returns how many connections the meta at addr has open, the
// one that asks included: after every client has hung up, one. A meta
// that keeps more leaks them (its serve goroutines wait on them forever).
func (a Admin) OpenConns(ctx context.Context, addr string) (int, error) {
	resp, err := a.ask(ctx, addr, request{Op: opStats})
	return resp.Open, err
}

// do sends req to addr and waits for an ERR_OK answer.
func (a Admin) do(ctx context.Context, addr string, req request) error {
	_, err := a.ask(ctx, addr, req)
	return err
}

// ask sends req to addr and returns its ERR_OK answer. A meta that is
// starting may not listen yet: a refused dial is retried.
func (a Admin) ask(ctx context.Context, addr string, req request) (QueryConfigResponse, error) {
	var resp QueryConfigResponse
	var c harness.Conn
	for {
		var err error
		c, err = a.Host.Dial(ctx, addr)
		if err == nil {
			break
		}
		if !errors.Is(err, harness.ErrConnRefused) {
			return resp, err
		}
		harness.Sleep(time.Millisecond)
	}
	defer c.Close()
	if err := c.Send(ctx, encode(req)); err != nil {
		return resp, err
	}
	b, err := c.Recv(ctx)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return resp, err
	}
	if resp.Err != ErrOK {
		return resp, fmt.Errorf("metaclient: %s %s: %s", req.Op, addr, resp.Err)
	}
	return resp, nil
}
