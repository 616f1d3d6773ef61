// Package basic is a snippet: channels, go statements and select.
package basic

import (
	"fmt"
	"sync"
	"time"
)

type Events chan int

func (e Events) Publish(v int) { e <- v }

func producer(out chan<- int, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := range n {
		out <- i
	}
}

func Program() string {
	var wg sync.WaitGroup
	ch := make(chan int, 3)
	wg.Add(1)
	go producer(ch, 3, &wg)
	wg.Wait()
	close(ch)
	sum := 0
	for v := range ch {
		sum += v
	}
	e := make(Events, 1)
	e.Publish(5)
	v, ok := <-e
	var nilc chan int
	select {
	case x := <-nilc:
		return fmt.Sprint("nil chosen", x)
	case <-time.After(time.Millisecond):
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
	}()
	<-done
	if nilc == nil {
		sum += 100
	}
	return fmt.Sprint(sum, v, ok, len(ch), cap(ch))
}
