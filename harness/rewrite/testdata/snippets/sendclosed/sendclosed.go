// Package sendclosed is a snippet with a bug: after a timeout the caller
// closes the reply channel, and a slow worker then sends on it.
package sendclosed

import "time"

func Program() string {
	reply := make(chan int)
	go func() {
		time.Sleep(time.Duration(len("work")) * time.Millisecond)
		reply <- 1 // panics once the caller has given up
	}()
	select {
	case v := <-reply:
		_ = v
		return "answer"
	case <-time.After(4 * time.Millisecond):
		close(reply)
		time.Sleep(10 * time.Millisecond)
		return "timeout"
	}
}
