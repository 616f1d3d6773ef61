// Package sendclosed gathers the results of workers until a deadline, and
// closes the results channel when the deadline comes: a worker that is late
// sends on a closed channel.
package sendclosed

import "time"

// GatherBuggy starts n workers and collects what they send until all have
// or the timeout passes; on a timeout it closes the channel, and a late
// worker's send panics.
func GatherBuggy(n int, work func(i int) int, timeout time.Duration) []int {
	results := make(chan int)
	for i := range n {
		go func() { results <- work(i) }()
	}
	deadline := time.After(timeout)
	var out []int
	for len(out) < n {
		select {
		case v := <-results:
			out = append(out, v)
		case <-deadline:
			close(results)
			return out
		}
	}
	return out
}

// GatherFixed gives every worker room in the channel and never closes it:
// a late worker's result is dropped with the channel.
func GatherFixed(n int, work func(i int) int, timeout time.Duration) []int {
	results := make(chan int, n)
	for i := range n {
		go func() { results <- work(i) }()
	}
	deadline := time.After(timeout)
	var out []int
	for len(out) < n {
		select {
		case v := <-results:
			out = append(out, v)
		case <-deadline:
			return out
		}
	}
	return out
}

// Work sleeps i+1 milliseconds and returns i.
func Work(i int) int {
	time.Sleep(time.Duration(i+1) * time.Millisecond)
	return i
}
