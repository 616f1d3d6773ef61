// Package gostmt is a snippet: every form of go statement, with its function
// value and arguments evaluated at the statement.
package gostmt

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

type counter struct {
	mu  sync.Mutex
	log []string
}

func (c *counter) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, s)
}

type val struct{ n int }

func (v val) report(c *counter, wg *sync.WaitGroup) {
	defer wg.Done()
	c.add(fmt.Sprint("value receiver ", v.n))
}

func (v *val) reportPtr(c *counter, wg *sync.WaitGroup) {
	defer wg.Done()
	c.add(fmt.Sprint("pointer receiver ", v.n))
}

func variadic(c *counter, wg *sync.WaitGroup, xs ...int) {
	defer wg.Done()
	c.add(fmt.Sprint("variadic ", xs))
}

func generic[T any](c *counter, wg *sync.WaitGroup, x T) {
	defer wg.Done()
	c.add(fmt.Sprintf("generic %T %v", x, x))
}

type flag bool

func named(c *counter, wg *sync.WaitGroup, f flag, y int64) {
	defer wg.Done()
	c.add(fmt.Sprint("named ", f, " ", y))
}

func results(c *counter, wg *sync.WaitGroup) (int, error) {
	defer wg.Done()
	c.add("results")
	return 1, nil
}

func Program() string {
	c := &counter{}
	var wg sync.WaitGroup
	n := 1
	wg.Add(11)
	go variadic(c, &wg, n, 2)           // plain call, variadic spread by the call
	go variadic(c, &wg, []int{n, 3}...) // variadic with ...
	v := val{n: 1}
	go v.report(c, &wg) // method value, value receiver copied now
	p := &val{n: 2}
	go p.reportPtr(c, &wg) // method value, pointer receiver
	f := (*val).reportPtr
	go f(&val{n: 7}, c, &wg) // function value
	go func(x int) {         // closure with an argument
		defer wg.Done()
		c.add(fmt.Sprint("closure ", x))
	}(n)
	go generic(c, &wg, n)           // generic, inferred
	go generic[string](c, &wg, "s") // generic, explicit
	go named(c, &wg, n == 1, 1<<n)  // untyped arguments
	go results(c, &wg)              // results discarded
	go (*val).reportPtr(p, c, &wg)  // method expression
	closing := make(chan int)
	go close(closing) // a builtin
	<-closing
	n = 100
	v.n = 100
	wg.Wait()
	sort.Strings(c.log)
	return strings.Join(c.log, "; ")
}
