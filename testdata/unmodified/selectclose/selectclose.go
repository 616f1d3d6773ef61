// Package selectclose streams numbers to a consumer that stops early: the
// producer selects between sending and quitting, and the consumer closes
// the data channel itself, racing the select's send case.
package selectclose

// StreamBuggy produces numbers on a channel until told to quit, and
// consumes the first two. The consumer closes both channels when it is done:
// a producer whose select is about to send panics on the closed channel (a
// select's send case on a closed channel panics too).
func StreamBuggy() []int {
	data := make(chan int)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case data <- i:
			case <-quit:
				return
			}
		}
	}()
	got := []int{<-data, <-data}
	close(quit)
	close(data)
	<-done
	return got
}

// StreamFixed only closes quit: the data channel belongs to the producer,
// and is never closed under it.
func StreamFixed() []int {
	data := make(chan int)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case data <- i:
			case <-quit:
				return
			}
		}
	}()
	got := []int{<-data, <-data}
	close(quit)
	<-done
	return got
}
