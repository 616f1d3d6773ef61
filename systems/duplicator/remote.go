package duplicator

import (
	"context"
	"encoding/json"

	"github.com/heddle-go/heddle/harness"
)

// remote is the remote cluster: it applies the writes shipped to it, each
// once, and acknowledges every batch.
type remote struct {
	obs   *Observer
	mu    harness.Mutex
	seen  map[int]int64 // per partition: the last decree applied or skipped
	store map[string]string
}

// Remote returns the main function of the remote cluster's node.
func Remote(cfg Config, obs *Observer) func(n *harness.Node) {
	return func(n *harness.Node) { _ = ServeRemote(n.Context(), n, cfg, obs) }
}

// ServeRemote runs the remote cluster on host, listening on cfg.Port, until
// ctx is done. A batch covers decrees (From, To]; writes of decrees it has
// already seen (a batch shipped again after a lost ack or a restart of the
// primary) are skipped.
func ServeRemote(ctx context.Context, host harness.Host, cfg Config, obs *Observer) error {
	l, err := host.Listen(cfg.Port)
	if err != nil {
		return err
	}
	defer l.Close()
	r := &remote{obs: obs, seen: map[int]int64{}, store: map[string]string{}}
	for {
		c, err := l.Accept(ctx)
		if err != nil {
			return err
		}
		harness.Go(func() { r.serve(ctx, c) })
	}
}

func (r *remote) serve(ctx context.Context, c harness.Conn) {
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
		r.apply(req)
		out, _ := json.Marshal(shipResponse{P: req.P, To: req.To})
		if c.Send(ctx, out) != nil {
			return
		}
	}
}

func (r *remote) apply(req shipRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range req.Muts {
		if m.Decree <= r.seen[req.P] {
			continue
		}
		r.store[m.Key] = m.Value
		r.obs.remoteApplied(req.P, m)
	}
	r.seen[req.P] = max(r.seen[req.P], req.To)
}
