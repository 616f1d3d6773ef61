// Package mq is a reference implementation of Milvus's RocksMQ server, the
// part where milvus-io/milvus #40481 lived: DestroyConsumerGroup raced with
// Notify (fixed by #40482, then #39387).
//
// Topics hold messages with increasing ids. A consumer group keeps a cursor
// per topic, and its one consumer a wake-up channel of capacity one.
// Produce appends and wakes every consumer of the topic; Notify wakes one
// group (after a Seek); Consume reads from the group's cursor;
// DestroyConsumerGroup deletes the cursor, closes the consumer's channel and
// removes it from the topic's registry. A per-topic lock guards Produce,
// group creation, registration and destruction.
//
// The Buggy variant is the code as reported: Destroy shifts the registry's
// slice in place under the topic lock, while Notify reads it with no lock.
// The Fixed variant keeps the registry in a ConsumerList with its own
// reader/writer lock. Every other line is shared.
//
// # Durability
//
// New makes a server that keeps everything in memory. Open makes one on a
// write-ahead log (a Log handle on a Disk, the files RocksDB keeps) and
// recovers its state from it: topics and their messages, consumer groups
// and their cursors, as RocksMQ's design keeps them in RocksDB and its meta
// kv (current_id per group and topic). Every call the caller must be able
// to rely on after a crash is synced before it returns: CreateTopic,
// Produce, CreateConsumerGroup, DestroyConsumerGroup and Seek. (Upstream
// writes with RocksDB's default WriteOptions, without sync: a power loss
// may lose acknowledged messages there; only a process crash is safe. This
// implementation syncs, so that "no acknowledged message is lost" holds for
// both.) Consume writes its cursor move without a sync: a crash may take a
// group back to a position it had already passed (the messages come
// again), never past one it had not reached, except for the batch of a
// Consume that the crash interrupted before it returned. Messages become
// visible to consumers only once they are durable, so no consumer ever
// sees a message that a crash can take away.
//
// Registrations of consumers and wake-up channels live in memory only: a
// restarted server has groups without consumers until the application
// registers them again (Broker's OnStart).
//
// # Nodes and clients
//
// Broker runs a server on a node of the simulated network (harness.Node),
// in-process like RocksMQ inside Milvus standalone: each incarnation of the
// node opens the Disk and recovers; a crash stops every goroutine of the
// incarnation (its consumers included) and loses what the disk does not
// keep. Its clients live outside the node and call in; a call runs on a
// goroutine of the node and fails with ErrUnavailable when the node is down
// (it did not run), or ErrInterrupted when the node crashes before the call
// returns (its outcome is unknown).
//
// All concurrency goes through package harness, so the package runs under
// heddle's deterministic scheduler and, outside a World, as ordinary Go.
package mq

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

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
	ErrNoMessages     = errors.New("mq: no messages to produce")
	ErrClosed         = errors.New("mq: the server is closed")
)

// Message is one message of a topic.
type Message struct {
	// ID orders the messages of a topic: a later message has a larger id.
	ID int64
	// Payload is the message's content.
	Payload string
}

// Server is the message queue. Make one with New or Open; it is safe for
// concurrent use.
type Server struct {
	variant Variant
	log     *Log // nil: nothing persists

	create harness.Mutex // serialises CreateTopic, which syncs
	mu     harness.Mutex // guards the fields below (sync.Maps upstream)
	topics map[string]*topic
	groups map[groupKey]*cursor
	lastID int64 // one id counter for every topic, as RocksMQ's allocator
	closed bool
}

type topic struct {
	name      string
	mu        harness.Mutex // the per-topic lock
	consumers consumerSet

	data harness.RWMutex // guards msgs
	msgs []Message       // durable messages, in id order
}

type groupKey struct{ topic, group string }

// cursor is a consumer group's cursor on one topic.
type cursor struct {
	mu   harness.Mutex // orders Consume and Seek (upstream: the consumer lock)
	next int64         // the smallest id the next Consume may return
	gone bool          // destroyed
}

// New returns a server of the given variant that keeps everything in
// memory.
func New(v Variant) *Server {
	s := &Server{variant: v, topics: make(map[string]*topic), groups: make(map[groupKey]*cursor)}
	return s
}

// Open returns a server of the given variant on log, with the state the
// log's records describe: the recovery of a restarted RocksMQ.
func Open(v Variant, log *Log) (*Server, error) {
	recs, err := log.Records()
	if err != nil {
		return nil, fmt.Errorf("mq: open: %w", err)
	}
	s := New(v)
	for i, r := range recs {
		if err := s.apply(r); err != nil {
			return nil, fmt.Errorf("mq: open: record %d (%v): %w", i+1, r, err)
		}
	}
	s.log = log
	return s, nil
}

// apply replays one record of the log, during Open.
func (s *Server) apply(r Record) error {
	if r.Op == RecTopic {
		if _, ok := s.topics[r.Topic]; ok {
			return ErrTopicExists
		}
		s.topics[r.Topic] = s.newTopic(r.Topic)
		return nil
	}
	t, ok := s.topics[r.Topic]
	if !ok {
		return ErrTopicNotFound
	}
	k := groupKey{r.Topic, r.Group}
	switch r.Op {
	case RecAppend:
		for _, m := range r.Msgs {
			if n := len(t.msgs); n > 0 && m.ID <= t.msgs[n-1].ID {
				return fmt.Errorf("message id %d after id %d", m.ID, t.msgs[n-1].ID)
			}
			t.msgs = append(t.msgs, m)
			s.lastID = max(s.lastID, m.ID)
		}
	case RecCreateGroup:
		if _, ok := s.groups[k]; ok {
			return ErrGroupExists
		}
		s.groups[k] = &cursor{}
	case RecDestroyGroup:
		if _, ok := s.groups[k]; !ok {
			return ErrGroupNotFound
		}
		delete(s.groups, k)
	case RecCursor:
		// A Consume that read before the group's Destroy may write its
		// cursor after the Destroy's record: the group is gone, and a
		// later group of the same name starts afresh.
		if g, ok := s.groups[k]; ok {
			g.next = r.Pos
		}
	default:
		return fmt.Errorf("unknown record kind %v", r.Op)
	}
	return nil
}

func (s *Server) newTopic(name string) *topic {
	t := &topic{name: name}
	if s.variant == Buggy {
		t.consumers = &racyConsumers{}
	} else {
		t.consumers = &ConsumerList{}
	}
	return t
}

// durable writes r to the log and syncs it; persist only writes it.
func (s *Server) durable(r Record) error {
	if s.log == nil {
		return nil
	}
	return s.log.Commit(r)
}

func (s *Server) persist(r Record) error {
	if s.log == nil {
		return nil
	}
	return s.log.Write(r)
}

// CreateTopic creates an empty topic.
func (s *Server) CreateTopic(name string) error {
	s.create.Lock()
	defer s.create.Unlock()
	s.mu.Lock()
	_, exists := s.topics[name]
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case exists:
		return ErrTopicExists
	}
	if err := s.durable(Record{Op: RecTopic, Topic: name}); err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	s.mu.Lock()
	s.topics[name] = s.newTopic(name)
	s.mu.Unlock()
	return nil
}

func (s *Server) topic(name string) (*topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	t, ok := s.topics[name]
	if !ok {
		return nil, ErrTopicNotFound
	}
	return t, nil
}

func (s *Server) group(topic, name string) (*topic, *cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	t, ok := s.topics[topic]
	if !ok {
		return nil, nil, ErrTopicNotFound
	}
	g, ok := s.groups[groupKey{topic, name}]
	if !ok {
		return nil, nil, ErrGroupNotFound
	}
	return t, g, nil
}

// Produce appends payloads to topic and wakes every consumer of the topic.
// It returns the ids the messages got, in order, once they are durable.
func (s *Server) Produce(topic string, payloads ...string) ([]int64, error) {
	if len(payloads) == 0 {
		return nil, ErrNoMessages
	}
	t, err := s.topic(topic)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.Lock()
	msgs := make([]Message, len(payloads))
	ids := make([]int64, len(payloads))
	for i, p := range payloads {
		s.lastID++
		msgs[i], ids[i] = Message{ID: s.lastID, Payload: p}, s.lastID
	}
	s.mu.Unlock()
	if err := s.durable(Record{Op: RecAppend, Topic: topic, Msgs: msgs}); err != nil {
		return nil, fmt.Errorf("produce to %s: %w", topic, err)
	}
	t.data.Lock()
	t.msgs = append(t.msgs, msgs...)
	t.data.Unlock()
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
	k := groupKey{topic, group}
	s.mu.Lock()
	_, ok := s.groups[k]
	s.mu.Unlock()
	if ok {
		return ErrGroupExists
	}
	if err := s.durable(Record{Op: RecCreateGroup, Topic: topic, Group: group}); err != nil {
		return fmt.Errorf("create group %s on %s: %w", group, topic, err)
	}
	s.mu.Lock()
	s.groups[k] = &cursor{}
	s.mu.Unlock()
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
	if _, _, err := s.group(c.Topic, c.Group); err != nil {
		return err
	}
	return t.consumers.add(c)
}

// DestroyConsumerGroup deletes group's cursor on topic, once the deletion
// is durable, closes its consumer's channel and removes the consumer from
// the topic's registry.
func (s *Server) DestroyConsumerGroup(topic, group string) error {
	t, err := s.topic(topic)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := groupKey{topic, group}
	s.mu.Lock()
	g, ok := s.groups[k]
	s.mu.Unlock()
	if !ok {
		return ErrGroupNotFound
	}
	if err := s.durable(Record{Op: RecDestroyGroup, Topic: topic, Group: group}); err != nil {
		return fmt.Errorf("destroy group %s on %s: %w", group, topic, err)
	}
	s.mu.Lock()
	delete(s.groups, k)
	s.mu.Unlock()
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
	_, _, err := s.group(topic, group)
	return err == nil
}

// Groups returns the names of topic's consumer groups, sorted.
func (s *Server) Groups(topic string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if _, ok := s.topics[topic]; !ok {
		return nil, ErrTopicNotFound
	}
	var out []string
	for k := range s.groups {
		if k.topic == topic {
			out = append(out, k.group)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Topics returns the names of the topics, sorted.
func (s *Server) Topics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.topics))
	for name := range s.topics {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
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
// order, and moves the cursor past them (writing the move to the log,
// without a sync).
func (s *Server) Consume(topic, group string, n int) ([]Message, error) {
	t, g, err := s.group(topic, group)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone {
		return nil, ErrGroupNotFound
	}
	msgs := t.read(g.next, n)
	if len(msgs) == 0 {
		return msgs, nil
	}
	next := msgs[len(msgs)-1].ID + 1
	if err := s.persist(Record{Op: RecCursor, Topic: topic, Group: group, Pos: next}); err != nil {
		return nil, fmt.Errorf("consume %s/%s: %w", topic, group, err)
	}
	g.next = next
	return msgs, nil
}

// read returns up to n messages whose id is at least from, in id order.
func (t *topic) read(from int64, n int) []Message {
	t.data.RLock()
	defer t.data.RUnlock()
	i := sort.Search(len(t.msgs), func(i int) bool { return t.msgs[i].ID >= from })
	j := min(len(t.msgs), i+max(n, 0))
	return append([]Message(nil), t.msgs[i:j]...)
}

// Seek moves group's cursor on topic so that the next Consume starts at
// the first message whose id is at least id, once the move is durable. It
// does not wake the consumer: callers follow it with Notify, as RocksMQ's
// client does.
func (s *Server) Seek(topic, group string, id int64) error {
	_, g, err := s.group(topic, group)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone {
		return ErrGroupNotFound
	}
	if err := s.durable(Record{Op: RecCursor, Topic: topic, Group: group, Pos: id}); err != nil {
		return fmt.Errorf("seek %s/%s: %w", topic, group, err)
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
	_, g, err := s.group(topic, group)
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
	t, err := s.topic(topic)
	if err != nil {
		return 0, err
	}
	t.data.RLock()
	defer t.data.RUnlock()
	if n := len(t.msgs); n > 0 {
		return t.msgs[n-1].ID, nil
	}
	return 0, nil
}

// Close stops the server: every consumer's channel is closed (its client
// loop exits) and every later call fails with ErrClosed. Groups and
// messages stay in the log. Closing twice does nothing.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	type entry struct {
		t      *topic
		groups []string
	}
	byTopic := map[string]*entry{}
	for name, t := range s.topics {
		byTopic[name] = &entry{t: t}
	}
	for k := range s.groups {
		byTopic[k.topic].groups = append(byTopic[k.topic].groups, k.group)
	}
	s.mu.Unlock()
	// Map order is not seeded: sort, to keep the schedule deterministic.
	for _, name := range slices.Sorted(maps.Keys(byTopic)) {
		e := byTopic[name]
		slices.Sort(e.groups)
		e.t.mu.Lock()
		for _, g := range e.groups {
			e.t.consumers.remove(g)
		}
		e.t.mu.Unlock()
	}
}
