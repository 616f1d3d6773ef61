// Package condwait is a queue whose consumers wait on a sync.Cond with an
// if instead of a for: a consumer woken after another took the item pops
// from an empty queue.
package condwait

import "sync"

// Queue is a FIFO of ints that consumers wait on.
type Queue struct {
	mu    sync.Mutex
	cond  *sync.Cond
	items []int
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	q := &Queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Put adds an item and wakes every waiting consumer.
func (q *Queue) Put(v int) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.cond.Broadcast()
}

// GetBuggy waits once if the queue is empty, then takes the first item: a
// consumer woken by a Broadcast after another consumer took the item finds
// the queue empty, and the slice index panics.
func (q *Queue) GetBuggy() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		q.cond.Wait()
	}
	v := q.items[0]
	q.items = q.items[1:]
	return v
}

// GetFixed waits until the queue has an item, however often it is woken.
func (q *Queue) GetFixed() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 {
		q.cond.Wait()
	}
	v := q.items[0]
	q.items = q.items[1:]
	return v
}

// Run has two consumers take two items that one producer puts, and returns
// their sum.
func Run(get func(*Queue) int) int {
	q := NewQueue()
	var wg sync.WaitGroup
	var mu sync.Mutex
	sum := 0
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := get(q)
			mu.Lock()
			sum += v
			mu.Unlock()
		}()
	}
	q.Put(1)
	q.Put(2)
	wg.Wait()
	return sum
}
