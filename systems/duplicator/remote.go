package duplicator

import (
	"context"
	"encoding/json"

	"github.com/heddle-go/heddle/harness"
)

// RemoteStore is what the remote cluster keeps across a crash of its node:
// its data and, per partition, the last decree it applied or skipped (a
// remote cluster is replicated and durable; only the node that answers the
// ships goes away). Make it outside the remote's node and hand the same
// RemoteStore to every incarnation. It is safe for concurrent use.
//
// Its lock outlives the node, so no critical section of it reaches a
// scheduling point: a crash, which stops a goroutine at a scheduling point,
// strikes before or after a batch is applied, never in the middle with the
// lock held (as a crashed process's locks do not outlive it). The Disk
// follows the same rule.
type RemoteStore struct {
	mu    harness.Mutex
	seen  map[int]int64 // per partition: the last decree applied or skipped
	store map[string]string
}

// NewRemoteStore returns an empty remote cluster.
func NewRemoteStore() *RemoteStore {
	return &RemoteStore{seen: map[int]int64{}, store: map[string]string{}}
}

// Seen returns the last decree of partition p the remote cluster applied or
// skipped (as empty, or shipped before).
func (s *RemoteStore) Seen(p int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[p]
}

// Get returns the remote cluster's value of key.
func (s *RemoteStore) Get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.store[key]
	return v, ok
}

// Remote returns the main function of the remote cluster's node: ServeRemote
// with the node's context and incarnation. store must be the same for every
// incarnation.
func Remote(cfg Config, store *RemoteStore, obs *Observer) func(n *harness.Node) {
	return func(n *harness.Node) { _ = ServeRemote(n.Context(), n, n.Incarnation(), cfg, store, obs) }
}

// ServeRemote runs the remote cluster on host, listening on cfg.Port, until
// ctx is done. A batch covers decrees (From, To]; writes of decrees it has
// already seen (a batch shipped again after a lost ack or a restart of the
// primary) are skipped. incarnation numbers this life of the node for the
// observer.
func ServeRemote(ctx context.Context, host harness.Host, incarnation int, cfg Config, store *RemoteStore, obs *Observer) error {
	l, err := host.Listen(cfg.Port)
	if err != nil {
		return err
	}
	obs.resource(RoleRemote, incarnation, ResListener, +1)
	defer func() {
		l.Close()
		obs.resource(RoleRemote, incarnation, ResListener, -1)
	}()
	for {
		c, err := l.Accept(ctx)
		if err != nil {
			return err
		}
		c = countConn(c, obs, RoleRemote, incarnation, ResServedShip)
		harness.Go(func() { serveShips(ctx, c, store, obs) })
	}
}

// serveShips applies the batches of one ship connection and acknowledges
// each, until the primary hangs up or the remote stops.
func serveShips(ctx context.Context, c harness.Conn, store *RemoteStore, obs *Observer) {
	defer c.Close()
	for {
		b, err := c.Recv(ctx)
		if err != nil {
			return
		}
		var req shipRequest
		if json.Unmarshal(b, &req) != nil {
			return
		}
		store.apply(req, obs)
		out, _ := json.Marshal(shipResponse{P: req.P, To: req.To})
		if c.Send(ctx, out) != nil {
			return
		}
	}
}

func (s *RemoteStore) apply(req shipRequest, obs *Observer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range req.Muts {
		if m.Decree <= s.seen[req.P] {
			continue
		}
		s.store[m.Key] = m.Value
		obs.remoteApplied(req.P, m)
	}
	s.seen[req.P] = max(s.seen[req.P], req.To)
}
