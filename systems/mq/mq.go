// Package mq is a reference implementation of Milvus's RocksMQ server, the
// part where milvus-io/milvus #40481 lived: DestroyConsumerGroup raced with
// Notify (fixed by #40482, then #39387).
//
// Topics hold messages with increasing ids (in a Storage). A consumer group
// keeps a cursor per topic, and its one consumer a wake-up channel of
// capacity one. Produce appends and wakes every consumer of the topic;
// Notify wakes one group (after a Seek); Consume reads from the group's
// cursor; DestroyConsumerGroup deletes the cursor, closes the consumer's
// channel and removes it from the topic's registry. A per-topic lock
// guards Produce, group creation, registration and destruction.
//
// The Buggy variant is the code as reported: Destroy shifts the registry's
// slice in place under the topic lock, while Notify reads it with no lock.
// The Fixed variant keeps the registry in a ConsumerList with its own
// reader/writer lock. Every other line is shared.
//
// All concurrency goes through package harness, so the package runs under
// heddle's deterministic scheduler and, outside a World, as ordinary Go.
package mq

import (
	"errors"

	"github.com/heddle-go/heddle/harness"
)

// Variant selects the implementation of the consumer registry.
type Variant int

const (
	// Buggy is RocksMQ as reported in milvus #40481.
	Buggy Variant = iota
	// Fixed is RocksMQ with the consumer list of the fix, closing and
	// removing a consumer in one critical section.
	Fixed
)

// String returns "buggy" or "fixed", the case's variant names.
func (v Variant) String() string {
	if v == Fixed {
		return "fixed"
	}
	return "buggy"
}

// Errors the server returns.
var (
	ErrTopicNotFound  = errors.New("mq: topic not found")
	ErrTopicExists    = errors.New("mq: topic already exists")
	ErrGroupNotFound  = errors.New("mq: consumer group not found")
	ErrGroupExists    = errors.New("mq: consumer group already exists")
	ErrConsumerExists = errors.New("mq: the group already has a consumer on this topic")
)

// Server is the message queue. Make one with New; it is safe for
// concurrent use.
type Server struct {
	variant Variant
	store   Storage

	mu     harness.Mutex // guards topics and groups (sync.Maps upstream)
	topics map[string]*topic
	groups map[groupKey]*cursor
}

type topic struct {
	name      string
	mu        harness.Mutex // the per-topic lock
	consumers consumerSet
}

type groupKey struct{ topic, group string }

// cursor is a consumer group's cursor on one topic.
type cursor struct {
	mu   harness.Mutex // orders Consume and Seek (upstream: the consumer lock)
	next int64         // the smallest id the next Consume may return
	gone bool          // destroyed
}

// New returns a server of the given variant that keeps messages in store.
func New(v Variant, store Storage) *Server {
	return &Server{variant: v, store: store, topics: make(map[string]*topic), groups: make(map[groupKey]*cursor)}
}

// Variant returns the server's variant.
func (s *Server) Variant() Variant { return s.variant }

// CreateTopic creates an empty topic.
func (s *Server) CreateTopic(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.topics[name]; ok {
		return ErrTopicExists
	}
	if err := s.store.CreateTopic(name); err != nil {
		return err
	}
	t := &topic{name: name}
	if s.variant == Buggy {
		t.consumers = &racyConsumers{}
	} else {
		t.consumers = &ConsumerList{}
	}
	s.topics[name] = t
	return nil
}

func (s *Server) topic(name string) (*topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.topics[name]
	if !ok {
		return nil, ErrTopicNotFound
	}
	return t, nil
}

func (s *Server) group(topic, name string) (*cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.topics[topic]; !ok {
		return nil, ErrTopicNotFound
	}
	g, ok := s.groups[groupKey{topic, name}]
	if !ok {
		return nil, ErrGroupNotFound
	}
	return g, nil
}

// Produce appends payloads to topic and wakes every consumer of the topic.
// It returns the ids the messages got, in order.
func (s *Server) Produce(topic string, payloads ...string) ([]int64, error) {
	t, err := s.topic(topic)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ids, err := s.store.Append(topic, payloads)
	if err != nil {
		return nil, err
	}
	t.consumers.notifyAll()
	return ids, nil
}

// CreateConsumerGroup creates group on topic, its cursor at the topic's
// first message.
func (s *Server) CreateConsumerGroup(topic, group string) error {
	t, err := s.topic(topic)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := groupKey{topic, group}
	if _, ok := s.groups[k]; ok {
		return ErrGroupExists
	}
	s.groups[k] = &cursor{}
	return nil
}

// RegisterConsumer adds c to its topic's consumers. Its group must exist
// and have no consumer yet.
func (s *Server) RegisterConsumer(c *Consumer) error {
	t, err := s.topic(c.Topic)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := s.group(c.Topic, c.Group); err != nil {
		return err
	}
	return t.consumers.add(c)
}

// DestroyConsumerGroup deletes group's cursor on topic, closes its
// consumer's channel and removes the consumer from the topic's registry.
func (s *Server) DestroyConsumerGroup(topic, group string) error {
	t, err := s.topic(topic)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.Lock()
	g, ok := s.groups[groupKey{topic, group}]
	delete(s.groups, groupKey{topic, group})
	s.mu.Unlock()
	if !ok {
		return ErrGroupNotFound
	}
	g.mu.Lock()
	g.gone = true
	g.mu.Unlock()
	// The variants differ inside remove: see racyConsumers.remove (Buggy)
	// and ConsumerList.Remove (Fixed).
	t.consumers.remove(group)
	return nil
}

// ExistConsumerGroup reports whether group exists on topic.
func (s *Server) ExistConsumerGroup(topic, group string) bool {
	_, err := s.group(topic, group)
	return err == nil
}

// HasConsumer reports whether group has a registered consumer on topic.
func (s *Server) HasConsumer(topic, group string) bool {
	t, err := s.topic(topic)
	if err != nil {
		return false
	}
	return t.consumers.get(group) != nil
}

// Consume returns up to n messages of topic from group's cursor, in id
// order, and moves the cursor past them.
func (s *Server) Consume(topic, group string, n int) ([]Message, error) {
	g, err := s.group(topic, group)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone {
		return nil, ErrGroupNotFound
	}
	msgs, err := s.store.Read(topic, g.next, n)
	if err != nil {
		return nil, err
	}
	if len(msgs) > 0 {
		g.next = msgs[len(msgs)-1].ID + 1
	}
	return msgs, nil
}

// Seek moves group's cursor on topic so that the next Consume starts at
// the first message whose id is at least id. It does not wake the
// consumer: callers follow it with Notify, as RocksMQ's client does.
func (s *Server) Seek(topic, group string, id int64) error {
	g, err := s.group(topic, group)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone {
		return ErrGroupNotFound
	}
	g.next = id
	return nil
}

// Notify wakes group's consumer on topic and returns how many consumers it
// found (0 or 1). It takes no topic lock, upstream as here; in the Buggy
// variant it takes no lock at all.
func (s *Server) Notify(topic, group string) int {
	t, err := s.topic(topic)
	if err != nil {
		return 0
	}
	return t.consumers.notify(group)
}

// Position returns group's cursor on topic: the smallest id its next
// Consume may return.
func (s *Server) Position(topic, group string) (int64, error) {
	g, err := s.group(topic, group)
	if err != nil {
		return 0, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone {
		return 0, ErrGroupNotFound
	}
	return g.next, nil
}

// LastID returns the id of topic's last message, or 0 if it has none.
func (s *Server) LastID(topic string) (int64, error) {
	if _, err := s.topic(topic); err != nil {
		return 0, err
	}
	return s.store.LastID(topic)
}
