package mq

import (
	"sort"

	"github.com/heddle-go/heddle/harness"
)

// Message is one message of a topic.
type Message struct {
	// ID orders the messages of a topic: a later message has a larger id.
	ID int64
	// Payload is the message's content.
	Payload string
}

// Storage keeps the messages of every topic, ordered by id. RocksMQ keeps
// them in RocksDB; the reference implementation keeps them in memory
// (MemStorage). A Storage is safe for concurrent use.
type Storage interface {
	// CreateTopic makes an empty topic; ErrTopicExists if it is there.
	CreateTopic(topic string) error
	// Append stores payloads at the end of topic, in order, and returns the
	// ids it gave them, each larger than every id given before.
	Append(topic string, payloads []string) ([]int64, error)
	// Read returns up to n messages of topic whose id is at least from, in
	// id order.
	Read(topic string, from int64, n int) ([]Message, error)
	// LastID returns the id of topic's last message, or 0 for an empty topic.
	LastID(topic string) (int64, error)
}

// MemStorage is a Storage in memory. Ids come from one counter shared by
// every topic, starting at 1, as RocksMQ's id allocator does. The zero value
// is not usable; call NewMemStorage.
type MemStorage struct {
	mu     harness.RWMutex
	topics map[string][]Message
	lastID int64
}

// NewMemStorage returns an empty MemStorage.
func NewMemStorage() *MemStorage {
	return &MemStorage{topics: make(map[string][]Message)}
}

// CreateTopic implements Storage.
func (m *MemStorage) CreateTopic(topic string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.topics[topic]; ok {
		return ErrTopicExists
	}
	m.topics[topic] = nil
	return nil
}

// Append implements Storage.
func (m *MemStorage) Append(topic string, payloads []string) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msgs, ok := m.topics[topic]
	if !ok {
		return nil, ErrTopicNotFound
	}
	ids := make([]int64, len(payloads))
	for i, p := range payloads {
		m.lastID++
		ids[i] = m.lastID
		msgs = append(msgs, Message{ID: m.lastID, Payload: p})
	}
	m.topics[topic] = msgs
	return ids, nil
}

// Read implements Storage.
func (m *MemStorage) Read(topic string, from int64, n int) ([]Message, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	msgs, ok := m.topics[topic]
	if !ok {
		return nil, ErrTopicNotFound
	}
	i := sort.Search(len(msgs), func(i int) bool { return msgs[i].ID >= from })
	j := min(len(msgs), i+max(n, 0))
	return append([]Message(nil), msgs[i:j]...), nil
}

// LastID implements Storage.
func (m *MemStorage) LastID(topic string) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	msgs, ok := m.topics[topic]
	if !ok {
		return 0, ErrTopicNotFound
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	return msgs[len(msgs)-1].ID, nil
}
