// Package foreign stands for a third-party package that heddle does not
// rewrite: its channels are Go channels.
package foreign

// Watcher has a channel field, as fsnotify's does.
type Watcher struct {
	Events chan string
}

// NewWatcher returns a Watcher whose channel holds events.
func NewWatcher(events ...string) *Watcher {
	w := &Watcher{Events: make(chan string, len(events))}
	for _, e := range events {
		w.Events <- e
	}
	close(w.Events)
	return w
}

// Numbers returns a closed channel holding 1..n.
func Numbers(n int) <-chan int {
	c := make(chan int, n)
	for i := 1; i <= n; i++ {
		c <- i
	}
	close(c)
	return c
}

// Fill sends n values on c and closes it.
func Fill(c chan<- int, n int) {
	for i := range n {
		c <- i
	}
	close(c)
}

// Channels returns several channels at once.
func Channels() []chan int { return []chan int{make(chan int, 1), make(chan int, 1)} }

type secret struct{}

// Secret returns a channel whose element type other packages cannot name.
func Secret() chan secret { return make(chan secret) }
