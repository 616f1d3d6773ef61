// Package chantypes is a snippet: channel types in every position, and nil
// channels.
package chantypes

import (
	"fmt"
	"strings"
)

type Pipe struct {
	in   chan int
	out  <-chan int
	acks []chan<- bool
	byID map[string]chan string
	subs map[chan int]bool
	arr  [2]chan int
	ptr  *chan int
	fn   func(<-chan int) <-chan int
	cc   chan chan int
	rc   <-chan <-chan int
}

// Events is a named channel type with methods.
type Events chan string

func (e Events) Emit(s string) { e <- s }

func (e Events) Next() (string, bool) {
	s, ok := <-e
	return s, ok
}

type Source interface {
	Stream() <-chan int
}

type source struct{ c chan int }

func (s source) Stream() <-chan int { return s.c }

type Box[T any] struct{ v T }

func double(in <-chan int) <-chan int {
	out := make(chan int, cap(in))
	for v := range in {
		out <- 2 * v
	}
	close(out)
	return out
}

func maybe(ok bool) chan int {
	if !ok {
		return nil
	}
	return make(chan int)
}

func takes(c chan int, d <-chan int) string { return fmt.Sprint(c == nil, d == nil) }

func Program() string {
	var b strings.Builder
	in := make(chan int, 3)
	p := Pipe{
		in:   in,
		out:  in,
		acks: []chan<- bool{make(chan bool, 1)},
		byID: map[string]chan string{"a": make(chan string, 1)},
		subs: map[chan int]bool{in: true},
		fn:   double,
		cc:   make(chan chan int, 1),
	}
	p.arr[0] = in
	p.ptr = &p.in
	in <- 1
	in <- 2
	close(in)
	d := p.fn(p.in)
	fmt.Fprint(&b, <-d, <-d, " ")
	_, ok := <-d
	fmt.Fprint(&b, ok, " ")
	p.acks[0] <- true
	p.byID["a"] <- "x"
	fmt.Fprint(&b, <-p.byID["a"], p.subs[in], p.subs[make(chan int)], p.arr[0] == *p.ptr, p.out == (<-chan int)(in), " ")
	p.cc <- make(chan int, 5)
	fmt.Fprint(&b, cap(<-p.cc), " ")
	var rc <-chan <-chan int = p.rc
	fmt.Fprint(&b, rc == nil, p.rc == nil, " ")

	e := make(Events, 2)
	e.Emit("hello")
	s, ok := e.Next()
	var plain chan string = e
	plain <- "again"
	fmt.Fprint(&b, s, ok, <-Events(plain), " ")

	var src Source = source{c: make(chan int, 1)}
	src.(source).c <- 9
	fmt.Fprint(&b, <-src.Stream(), " ")

	var any1 any = in
	_, isChan := any1.(chan int)
	box := Box[chan int]{v: make(chan int, 4)}
	fmt.Fprint(&b, isChan, cap(box.v), " ")

	var nc chan int
	nc = maybe(false)
	p.in = nil
	fmt.Fprint(&b, nc == nil, nil != nc, p.in == nil, takes(nil, nil), maybe(true) != nil, len(nc), cap(nc))
	return b.String()
}
