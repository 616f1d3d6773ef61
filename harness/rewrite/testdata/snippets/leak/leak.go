// Package leak is a snippet with a bug: the caller gives up after a timeout
// and returns, and the worker stays blocked forever on its unbuffered reply.
package leak

import "time"

func Program() string {
	reply := make(chan string)
	go func() {
		time.Sleep(2 * time.Second)
		reply <- "late"
	}()
	select {
	case r := <-reply:
		return r
	case <-time.After(time.Second):
		return "timeout"
	}
}
