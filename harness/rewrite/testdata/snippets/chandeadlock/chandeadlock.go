// Package chandeadlock is a snippet with a bug: each goroutine waits to
// receive before it sends.
package chandeadlock

func Program() string {
	a, b := make(chan int), make(chan int)
	go func() {
		<-a
		b <- 1
	}()
	<-b
	a <- 1
	return "done"
}
