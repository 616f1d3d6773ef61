package routingtable

import (
	"context"
	"errors"

	"github.com/heddle-go/heddle/harness"
)

// Instance is one cluster member, an Olric process: a server, the
// membership layer and the routing table.
type Instance struct {
	cfg Config

	ctx    context.Context
	cancel context.CancelFunc
	srv    *server
	cl     *client
	d      *discovery
	rt     *RoutingTable

	shutMu   harness.Mutex // guards shutting and shutErr
	shutting bool          // Shutdown was called
	shutErr  error         // what the first Shutdown returned
	shutDone *harness.Chan[struct{}]
}

// New makes an instance; its birth date (which decides who coordinates) is
// now. parent bounds its life (a node's Context in a simulation). It
// registers every handler; Start serves them.
func New(parent context.Context, cfg Config) *Instance {
	cfg = cfg.withDefaults()
	in := &Instance{cfg: cfg, shutDone: harness.NewChan[struct{}](0)}
	in.ctx, in.cancel = harness.WithCancel(parent)
	birth := harness.Now().UnixNano()
	self := Member{Name: cfg.Name, Birthdate: birth, ID: memberID(cfg.Name, birth)}
	in.cl = newClient(cfg.Host)
	in.srv = newServer(in.ctx, cfg.Host, cfg.Port)
	in.d = newDiscovery(in.ctx, &in.cfg, in.cl)
	in.rt = newRoutingTable(in.ctx, &in.cfg, in.d, in.cl, self)
	in.registerHandlers()
	return in
}

func (in *Instance) registerHandlers() {
	d := in.d
	member := func(f func(req request) response) handlerFunc {
		return func(_ context.Context, req request) response {
			if !d.ready() {
				return errResponse(ErrServerGone) // memberlist is not listening yet
			}
			return f(req)
		}
	}
	in.srv.handle(cmdJoin, member(d.handleJoin))
	in.srv.handle(cmdAlive, member(func(req request) response { d.merge(req.Subject, true); return response{} }))
	in.srv.handle(cmdLeave, member(func(req request) response { d.remove(req.Subject, cmdLeave, true); return response{} }))
	in.srv.handle(cmdDead, member(func(req request) response { d.remove(req.Subject, cmdDead, true); return response{} }))
	in.srv.handle(cmdPing, member(func(request) response { return response{} }))
	in.rt.registerHandlers(in.srv)
}

// Start starts the member as Olric does: serve (the handlers are live from
// here), join (Buggy: inside RoutingTable.Start; Fixed: RoutingTable.Join
// first), start the routing table, and wait until bootstrapped, at most
// BootstrapTimeout (ErrOperationTimeout).
func (in *Instance) Start() error {
	addr, err := in.srv.start()
	if err != nil {
		return err
	}
	in.rt.setAddr(addr)
	if in.cfg.Variant == Fixed {
		if err := in.rt.Join(); err != nil {
			return err
		}
	}
	if err := in.rt.Start(); err != nil {
		return err
	}
	return in.rt.CheckBootstrap()
}

// Shutdown leaves the cluster and stops every goroutine of the member,
// waiting for them at most until ctx is done.
//
// Only the first call shuts the member down; a call made while it runs
// waits for it (at most until its own ctx is done) and returns what it
// returned. (A second call used to tear the member down under the first:
// it cancelled the member's context while the first still told the others
// it was leaving, and they kept it until their prober declared it dead.)
func (in *Instance) Shutdown(ctx context.Context) error {
	in.shutMu.Lock()
	first := !in.shutting
	in.shutting = true
	in.shutMu.Unlock()
	if !first {
		if harness.Select(in.shutDone.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
			return ctx.Err()
		}
		in.shutMu.Lock()
		defer in.shutMu.Unlock()
		return in.shutErr
	}
	err := in.rt.Shutdown(ctx)
	err = errors.Join(err, in.srv.shutdown(ctx))
	in.cl.close()
	in.cancel()
	in.shutMu.Lock()
	in.shutErr = err
	in.shutMu.Unlock()
	in.shutDone.Close()
	return err
}

// Self returns the member's identity (its Addr once Start has served). It
// may be called at any time, while Start runs too.
func (in *Instance) Self() Member { return in.rt.self() }

// Config returns the configuration, defaults filled in.
func (in *Instance) Config() Config { return in.cfg }

// RoutingTable returns the member's routing table.
func (in *Instance) RoutingTable() *RoutingTable { return in.rt }

// View returns the member's routing state.
func (in *Instance) View() View { return in.rt.view() }

// Members returns the members this one knows alive, sorted by name.
func (in *Instance) Members() []Member { return in.d.snapshot() }

// Coordinator returns the member this one takes for the coordinator.
func (in *Instance) Coordinator() Member { return in.d.coordinator() }

// Client asks members for partition owners.
type Client struct{ cl *client }

// NewClient returns a client on host.
func NewClient(host harness.Host) *Client { return &Client{cl: newClient(host)} }

// Lookup asks the member at addr for the primary owner of part.
func (c *Client) Lookup(ctx context.Context, addr string, part int) (LookupResult, error) {
	resp, err := c.cl.do(ctx, addr, request{Cmd: cmdLookup, Part: part})
	if err != nil {
		return LookupResult{}, err
	}
	if resp.Lookup == nil {
		return LookupResult{}, errors.New("routingtable: lookup without an answer")
	}
	return *resp.Lookup, nil
}

// Close closes the client's connections.
func (c *Client) Close() { c.cl.close() }
