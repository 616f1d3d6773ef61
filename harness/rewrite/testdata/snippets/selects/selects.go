// Package selects is a snippet: select in every form.
package selects

import (
	"fmt"
	"strings"
)

func first(a, b chan int) (int, string) {
	select {
	case v := <-a:
		return v, "a"
	case v, ok := <-b:
		if !ok {
			return 0, "b closed"
		}
		return v, "b"
	}
}

func Program() string {
	var b strings.Builder
	a, c := make(chan int, 1), make(chan int, 1)
	a <- 1
	v, from := first(a, c)
	fmt.Fprint(&b, v, from, " ")
	close(c)
	v, from = first(make(chan int), c)
	fmt.Fprint(&b, v, from, " ")

	// Send, receive into existing variables, default.
	out := make(chan string, 1)
	var got string
	var ok bool
	for i := 0; i < 3; i++ {
		select {
		case out <- fmt.Sprint("m", i):
			fmt.Fprint(&b, "sent", i, " ")
		case got, ok = <-out:
			fmt.Fprint(&b, "got", got, ok, " ")
		}
	}
	select {
	case x := <-make(chan int):
		fmt.Fprint(&b, "impossible", x)
	default:
		fmt.Fprint(&b, "default ")
	}

	// A loop that turns channels off by setting them to nil, with break and
	// a labeled break.
	x, y := make(chan int, 2), make(chan int, 2)
	x <- 1
	x <- 2
	y <- 10
	close(x)
	close(y)
	sum := 0
loop:
	for {
		select {
		case v, ok := <-x:
			if !ok {
				x = nil
				if y == nil {
					break loop
				}
				break
			}
			sum += v
		case v, ok := <-y:
			if !ok {
				y = nil
				if x == nil {
					break loop
				}
				continue
			}
			sum += v
		}
	}
	fmt.Fprint(&b, "sum", sum, " ")

	// Only nil channels and a default.
	var nilc chan int
	select {
	case nilc <- 1:
		fmt.Fprint(&b, "impossible")
	case <-nilc:
		fmt.Fprint(&b, "impossible")
	default:
		fmt.Fprint(&b, "nil ")
	}

	// A parenthesized receive and a send of a channel.
	cc := make(chan chan int, 1)
	select {
	case cc <- a:
	}
	select {
	case got := (<-cc):
		fmt.Fprint(&b, got == a)
	}
	return b.String()
}

// Stop is never called: select {} must compile (and be a terminating
// statement).
func Stop() int {
	select {}
}
