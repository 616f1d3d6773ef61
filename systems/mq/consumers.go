package mq

import "github.com/heddle-go/heddle/harness"

// Consumer is a consumer group's registration on a topic: the server wakes
// it through MsgMutex when there may be messages for it.
type Consumer struct {
	// Topic and Group name what the consumer reads.
	Topic string
	Group string
	// MsgMutex is the wake-up channel (the upstream name). Its capacity is
	// one, so wake-ups coalesce: a wake-up sent while one is pending is
	// dropped. The server closes it when the group is destroyed.
	MsgMutex *harness.Chan[struct{}]
}

// NewConsumer returns a consumer of group on topic with a fresh wake-up
// channel. Inside a deterministic World, call it from the World's goroutines.
func NewConsumer(topic, group string) *Consumer {
	return &Consumer{Topic: topic, Group: group, MsgMutex: harness.NewChan[struct{}](1)}
}

// wake sends a wake-up to c unless one is already pending. It panics if
// c's channel is closed, as a send on a closed channel does even inside a
// select with a default case.
func wake(c *Consumer) {
	harness.Select(c.MsgMutex.SendCase(struct{}{}), harness.Default())
}

// consumerSet is a topic's registry of consumers; the two variants differ
// only in its implementation. The server calls add, remove and notifyAll
// with the topic lock held, get and notify without it.
type consumerSet interface {
	add(c *Consumer) error
	remove(group string) bool
	get(group string) *Consumer
	notify(group string) int
	notifyAll() int
}

// racyConsumers is the registry as RocksMQ had it before the fix (Buggy): a
// slice published through a synchronised cell (a sync.Map entry upstream),
// loaded and stored whole, and modified in place by remove.
type racyConsumers struct {
	cell harness.Mutex // makes load and store atomic, as sync.Map's Load and Store are
	list []*Consumer
}

func (r *racyConsumers) load() []*Consumer {
	r.cell.Lock()
	defer r.cell.Unlock()
	return r.list
}

func (r *racyConsumers) store(l []*Consumer) {
	r.cell.Lock()
	defer r.cell.Unlock()
	r.list = l
}

// add copies the slice before appending: a newly registered consumer never
// lands in a backing array a reader may hold. (This keeps the variant's
// only unsynchronised write the one in remove.)
func (r *racyConsumers) add(c *Consumer) error {
	cs := r.load()
	for _, o := range cs {
		if o.Group == c.Group {
			return ErrConsumerExists
		}
	}
	next := make([]*Consumer, len(cs), len(cs)+1)
	copy(next, cs)
	r.store(append(next, c))
	return nil
}

// remove closes the group's consumer's channel and removes it.
func (r *racyConsumers) remove(group string) bool {
	cs := r.load()
	for i, c := range cs {
		if c.Group == group {
			c.MsgMutex.Close()
			// BUG (milvus #40481): the consumer is removed by shifting the
			// shared slice in place. The topic lock held here does not
			// keep out notify, which reads the same backing array with no
			// lock: a data race. Notify may then skip a live consumer, or
			// wake the consumer whose channel was closed just above and
			// panic with "send on closed channel". (Fixed: ConsumerList.)
			copy(cs[i:], cs[i+1:])
			r.store(cs[:len(cs)-1])
			return true
		}
	}
	return false
}

// get finds the group's consumer. BUG (milvus #40481): like notify, it
// reads the slice that remove shifts in place with no lock (upstream:
// ExistConsumerGroup ranging over the same slice).
func (r *racyConsumers) get(group string) *Consumer {
	for _, c := range r.load() {
		if c.Group == group {
			return c
		}
	}
	return nil
}

// notify wakes the group's consumer. BUG (milvus #40481): it holds no lock
// while it reads the slice that remove shifts in place.
func (r *racyConsumers) notify(group string) int {
	n := 0
	for _, c := range r.load() {
		if c.Group == group {
			wake(c)
			n++
		}
	}
	return n
}

// notifyAll wakes every consumer; the server holds the topic lock, which
// orders it with remove.
func (r *racyConsumers) notifyAll() int {
	cs := r.load()
	for _, c := range cs {
		wake(c)
	}
	return len(cs)
}

// ConsumerList is a topic's consumers behind their own reader/writer lock
// (the Fixed registry, after milvus #40482 and #39387). Notify holds the
// read lock while it sends; Remove closes the removed consumer's channel
// and takes it out of the list under the write lock, so no notifier can
// hold a consumer whose channel is closed. (Upstream closes the channel
// before taking the list's lock, which leaves that window open.) The zero
// value is an empty list.
type ConsumerList struct {
	mu   harness.RWMutex
	list []*Consumer
}

// Add registers c; ErrConsumerExists if its group already has a consumer.
func (l *ConsumerList) Add(c *Consumer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.list {
		if o.Group == c.Group {
			return ErrConsumerExists
		}
	}
	l.list = append(l.list, c)
	return nil
}

// Remove closes the channel of group's consumer and removes it from the
// list, both under the write lock. It reports whether there was one.
func (l *ConsumerList) Remove(group string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.list {
		if c.Group == group {
			// FIX: close and remove in one critical section; every reader
			// holds the read lock, so shifting in place is safe here.
			c.MsgMutex.Close()
			copy(l.list[i:], l.list[i+1:])
			l.list[len(l.list)-1] = nil
			l.list = l.list[:len(l.list)-1]
			return true
		}
	}
	return false
}

// Get returns group's consumer, or nil.
func (l *ConsumerList) Get(group string) *Consumer {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, c := range l.list {
		if c.Group == group {
			return c
		}
	}
	return nil
}

// Notify wakes group's consumer, under the read lock, and returns how many
// consumers it found (0 or 1).
func (l *ConsumerList) Notify(group string) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	n := 0
	for _, c := range l.list {
		if c.Group == group {
			wake(c)
			n++
		}
	}
	return n
}

// NotifyAll wakes every consumer, under the read lock, and returns how
// many there are.
func (l *ConsumerList) NotifyAll() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, c := range l.list {
		wake(c)
	}
	return len(l.list)
}

func (l *ConsumerList) add(c *Consumer) error      { return l.Add(c) }
func (l *ConsumerList) remove(group string) bool   { return l.Remove(group) }
func (l *ConsumerList) get(group string) *Consumer { return l.Get(group) }
func (l *ConsumerList) notify(group string) int    { return l.Notify(group) }
func (l *ConsumerList) notifyAll() int             { return l.NotifyAll() }
