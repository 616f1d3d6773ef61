// Package lines is a snippet whose result is made of source positions:
// runtime.Caller in code the rewrite changes, and the stack of a panic.
package lines

import (
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

func here() string {
	_, file, line, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", filepath.Base(file), line)
}

var site = regexp.MustCompile(`lines\.go:\d+`)

// panicSites runs f and returns the positions of this file in the stack of
// its panic.
func panicSites(f func()) (sites string) {
	defer func() {
		if recover() != nil {
			sites = strings.Join(site.FindAllString(string(debug.Stack()), -1), ",")
		}
	}()
	f()
	return ""
}

func Program() string {
	var out []string
	ch := make(chan string, 4)
	done := make(chan bool)
	go func(
		c chan string,
	) {
		c <- here()
		done <- true
	}(
		ch,
	)
	<-done
	select {
	case ch <- here():
	case <-done:
	}
	for s := range ch {
		out = append(out, s, here())
		if len(ch) == 0 {
			break
		}
	}
	var nilMap map[string]int
	out = append(out, panicSites(func() {
		select {
		case v := <-ch:
			out = append(out, v)
		default:
			nilMap[here()] = 1
		}
	}))
	var closed = make(chan int)
	close(closed)
	out = append(out, panicSites(func() {
		closed <- 1
	}))
	return strings.Join(out, " ")
}
