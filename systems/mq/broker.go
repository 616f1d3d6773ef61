package mq

import (
	"context"
	"errors"
	"fmt"

	"github.com/heddle-go/heddle/harness"
)

// Errors of a Broker's calls, besides the server's own. Both are worth a
// retry once the node is back.
var (
	// ErrUnavailable: the node is down or still recovering; the call did
	// not run (as a refused connection tells a client).
	ErrUnavailable = errors.New("mq: the broker is unavailable")
	// ErrInterrupted: the node crashed while the call ran; it may or may
	// not have taken effect (as a connection reset in the middle of a call
	// tells a client).
	ErrInterrupted = errors.New("mq: the broker crashed during the call: its outcome is unknown")
)

// BrokerConfig configures a Broker.
type BrokerConfig struct {
	// Variant is the server's implementation.
	Variant Variant
	// Disk is what every incarnation opens and recovers from.
	Disk *Disk
	// OnStart, if set, runs on the node after each recovery, before the
	// broker serves a call: the application registering its consumers
	// again (StartClient), as Milvus's components subscribe again after a
	// restart. inc is the node's incarnation (1, 2, ...).
	OnStart func(s *Server, inc int)
}

// Broker serves a Server from a node of the simulated network: the RocksMQ
// inside one process. Each start of the node (NewBroker's main) opens the
// Disk, recovers a Server from it, runs OnStart and then serves. Calls come
// from goroutines outside the node; each runs on a new goroutine of the
// node, so a crash stops it with everything else of the incarnation. Make
// one inside a World with NewBroker, then Start its node.
type Broker struct {
	cfg  BrokerConfig
	node *harness.Node

	mu  harness.Mutex // guards the fields below
	srv *Server       // the serving incarnation's; nil before the first start
	ctx context.Context
	inc int
	err error // why the last incarnation could not recover
}

// NewBroker registers the broker's node, named name, on the running World's
// network (not yet started: call Start, or let a fault plan restart it).
func NewBroker(name string, cfg BrokerConfig) *Broker {
	b := &Broker{cfg: cfg}
	b.node = harness.NewNode(name, b.main)
	return b
}

// Node returns the broker's node, for fault injection.
func (b *Broker) Node() *harness.Node { return b.node }

// Start starts the broker's node.
func (b *Broker) Start() error { return b.node.Start() }

// main is one incarnation of the node: recover, let the application
// register its consumers, serve.
func (b *Broker) main(n *harness.Node) {
	ctx, inc := n.Context(), n.Incarnation()
	s, err := Open(b.cfg.Variant, b.cfg.Disk.Open(fmt.Sprintf("%s incarnation %d", n.Name(), inc)))
	if err != nil {
		b.mu.Lock()
		b.err = fmt.Errorf("%s incarnation %d: %w", n.Name(), inc, err)
		b.mu.Unlock()
		return
	}
	if b.cfg.OnStart != nil {
		b.cfg.OnStart(s, inc)
	}
	b.mu.Lock()
	b.srv, b.ctx, b.inc, b.err = s, ctx, inc, nil
	b.mu.Unlock()
}

// call runs f on a new goroutine of the serving incarnation and returns
// its result: ErrUnavailable if there is no serving incarnation (f does not
// run), ErrInterrupted if it crashes before the caller learns f's result.
func call[T any](b *Broker, f func(s *Server) (T, error)) (T, error) {
	var zero T
	b.mu.Lock()
	s, ctx, inc, ferr := b.srv, b.ctx, b.inc, b.err
	b.mu.Unlock()
	if ferr != nil {
		return zero, ferr
	}
	if s == nil || ctx.Err() != nil {
		return zero, ErrUnavailable
	}
	type result struct {
		v   T
		err error
	}
	done := harness.NewChan[result](1) // the call never blocks on a caller that gave up
	if err := b.node.Go(func() {
		if b.node.Incarnation() != inc { // started on a later incarnation than s's
			done.Send(result{err: ErrUnavailable})
			return
		}
		v, err := f(s)
		done.Send(result{v, err})
	}); err != nil {
		return zero, ErrUnavailable
	}
	var r result
	if harness.Select(done.RecvCase(&r, nil), harness.Done(ctx)) == 1 {
		return zero, ErrInterrupted
	}
	return r.v, r.err
}

// do is call for a function without a result.
func do(b *Broker, f func(s *Server) error) error {
	_, err := call(b, func(s *Server) (struct{}, error) { return struct{}{}, f(s) })
	return err
}

// CreateTopic calls Server.CreateTopic.
func (b *Broker) CreateTopic(topic string) error {
	return do(b, func(s *Server) error { return s.CreateTopic(topic) })
}

// Produce calls Server.Produce.
func (b *Broker) Produce(topic string, payloads ...string) ([]int64, error) {
	return call(b, func(s *Server) ([]int64, error) { return s.Produce(topic, payloads...) })
}

// CreateConsumerGroup calls Server.CreateConsumerGroup.
func (b *Broker) CreateConsumerGroup(topic, group string) error {
	return do(b, func(s *Server) error { return s.CreateConsumerGroup(topic, group) })
}

// StartClient registers a new consumer of group on topic and starts its
// client loop, both on the node (StartClient): the loop is a goroutine of
// the serving incarnation and stops with it.
func (b *Broker) StartClient(topic, group string, opts ClientOptions) (*Client, error) {
	return call(b, func(s *Server) (*Client, error) { return StartClient(s, NewConsumer(topic, group), opts) })
}

// DestroyConsumerGroup calls Server.DestroyConsumerGroup.
func (b *Broker) DestroyConsumerGroup(topic, group string) error {
	return do(b, func(s *Server) error { return s.DestroyConsumerGroup(topic, group) })
}

// ExistConsumerGroup calls Server.ExistConsumerGroup.
func (b *Broker) ExistConsumerGroup(topic, group string) (bool, error) {
	return call(b, func(s *Server) (bool, error) { return s.ExistConsumerGroup(topic, group), nil })
}

// Groups calls Server.Groups.
func (b *Broker) Groups(topic string) ([]string, error) {
	return call(b, func(s *Server) ([]string, error) { return s.Groups(topic) })
}

// Topics calls Server.Topics.
func (b *Broker) Topics() ([]string, error) {
	return call(b, func(s *Server) ([]string, error) { return s.Topics(), nil })
}

// HasConsumer calls Server.HasConsumer.
func (b *Broker) HasConsumer(topic, group string) (bool, error) {
	return call(b, func(s *Server) (bool, error) { return s.HasConsumer(topic, group), nil })
}

// Consume calls Server.Consume.
func (b *Broker) Consume(topic, group string, n int) ([]Message, error) {
	return call(b, func(s *Server) ([]Message, error) { return s.Consume(topic, group, n) })
}

// Seek calls Server.Seek.
func (b *Broker) Seek(topic, group string, id int64) error {
	return do(b, func(s *Server) error { return s.Seek(topic, group, id) })
}

// Notify calls Server.Notify.
func (b *Broker) Notify(topic, group string) (int, error) {
	return call(b, func(s *Server) (int, error) { return s.Notify(topic, group), nil })
}

// Position calls Server.Position.
func (b *Broker) Position(topic, group string) (int64, error) {
	return call(b, func(s *Server) (int64, error) { return s.Position(topic, group) })
}

// LastID calls Server.LastID.
func (b *Broker) LastID(topic string) (int64, error) {
	return call(b, func(s *Server) (int64, error) { return s.LastID(topic) })
}

// Close closes the serving incarnation's server (Server.Close): its
// consumers' loops exit, and every later call fails until the node
// restarts.
func (b *Broker) Close() error {
	return do(b, func(s *Server) error { s.Close(); return nil })
}
