package lang

import (
	"reflect"
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/det"
)

// Case is one communication of a Select: a *RecvCase or a *SendCase. The
// rewriter evaluates every case of a select statement, in source order, before
// calling Select, as the language does.
type Case interface {
	// world returns the case for harness.Select inside a deterministic
	// World; false for a Go channel, which is polled instead.
	world() (harness.SelectCase, bool)
	// poll tries the communication once without blocking (a Go channel
	// inside a World).
	poll() bool
	// goCase is the case for reflect.Select outside a World.
	goCase() reflect.SelectCase
	// received stores what reflect.Select received for the case.
	received(v reflect.Value, ok bool)
}

// RecvCase receives from a channel in a Select. Once Select has chosen it,
// V holds the value received and OK whether it came from a send (false: the
// channel is closed), as in case v, ok := <-c.
type RecvCase[T any] struct {
	V  T
	OK bool
	c  *core[T]
}

// RecvCase returns a receive case on the channel for Select.
func (o Ops[T]) RecvCase() *RecvCase[T] { return &RecvCase[T]{c: o.c} }

func (r *RecvCase[T]) world() (harness.SelectCase, bool) {
	k := r.c
	switch {
	case k == nil:
		return (*harness.Chan[T])(nil).RecvCase(nil, nil), true
	case k.h != nil:
		return k.h.RecvCase(&r.V, &r.OK), true
	case k.ctx != nil && det.Selectable(k.ctx):
		return harness.Done(k.ctx), true // V and OK stay zero: closed
	}
	return nil, false
}

func (r *RecvCase[T]) poll() bool {
	select {
	case v, ok := <-r.c.recvChan():
		r.V, r.OK = v, ok
		return true
	default:
		return false
	}
}

func (r *RecvCase[T]) goCase() reflect.SelectCase {
	k := r.c
	switch {
	case k == nil:
		return reflect.SelectCase{Dir: reflect.SelectRecv}
	case k.h != nil:
		panic(worldChanOutside)
	}
	return reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(k.recvChan())}
}

func (r *RecvCase[T]) received(v reflect.Value, ok bool) {
	reflect.ValueOf(&r.V).Elem().Set(v)
	r.OK = ok
}

// SendCase sends a value on a channel in a Select.
type SendCase[T any] struct {
	v T
	c *core[T]
}

// SendCase returns a case that sends v on the channel, for Select. v is
// evaluated now, as a select statement evaluates its send cases' values on
// entry.
func (o Ops[T]) SendCase(v T) *SendCase[T] { return &SendCase[T]{v: v, c: o.c} }

func (s *SendCase[T]) world() (harness.SelectCase, bool) {
	k := s.c
	switch {
	case k == nil:
		return (*harness.Chan[T])(nil).SendCase(s.v), true
	case k.h != nil:
		return k.h.SendCase(s.v), true
	}
	return nil, false
}

func (s *SendCase[T]) poll() bool {
	select {
	case s.c.sendChan() <- s.v:
		return true
	default:
		return false
	}
}

func (s *SendCase[T]) goCase() reflect.SelectCase {
	k := s.c
	switch {
	case k == nil:
		return reflect.SelectCase{Dir: reflect.SelectSend}
	case k.h != nil:
		panic(worldChanOutside)
	}
	return reflect.SelectCase{Dir: reflect.SelectSend, Chan: reflect.ValueOf(k.sendChan()), Send: reflect.ValueOf(&s.v).Elem()}
}

func (s *SendCase[T]) received(reflect.Value, bool) {}

const worldChanOutside = chanError("heddle: a channel of a deterministic World used outside it")

// Select performs one of the cases, as a select statement does, and returns
// its index: -1 for the default case, which exists when hasDefault is set.
// Among several ready cases it chooses one at random (from the run's seed
// inside a World); a nil channel's case is never chosen; with no case and no
// default it blocks forever.
//
// Inside a deterministic World the World's channels, and the Done channels
// of the drop-in's contexts, are waited for by the runtime (harness.Select).
// A Go channel among the cases is polled: the World's cases are tried, then
// the Go channels (from a position the seed draws), at every scheduling
// point until one is ready; once the World is idle, the Go channels are
// waited for in real time (see waitOutside).
func Select(hasDefault bool, cases ...Case) int {
	if !det.Active() {
		return selectGo(hasDefault, cases)
	}
	hcs := make([]harness.SelectCase, 0, len(cases)+1)
	index := make([]int, 0, len(cases))
	var polled []int
	for i, c := range cases {
		if hc, ok := c.world(); ok {
			hcs = append(hcs, hc)
			index = append(index, i)
		} else {
			polled = append(polled, i)
		}
	}
	if len(polled) == 0 {
		if hasDefault {
			hcs = append(hcs, harness.Default())
		}
		if j := harness.Select(hcs...); j < len(index) {
			return index[j]
		}
		return -1
	}
	hcs = append(hcs, harness.Default())
	var idleSince time.Time
	pause := 50 * time.Microsecond
	for {
		if j := harness.Select(hcs...); j < len(index) {
			return index[j]
		}
		start := 0
		if len(polled) > 1 {
			start = harness.IntN(len(polled))
		}
		for n := range polled {
			if i := polled[(start+n)%len(polled)]; cases[i].poll() {
				return i
			}
		}
		if hasDefault {
			return -1
		}
		// See waitOutside: once the World is idle, only code outside it
		// can make a Go channel ready.
		if !harness.Idle() {
			idleSince = time.Time{}
			continue
		}
		if idleSince.IsZero() {
			idleSince = time.Now()
		}
		d := pause
		if time.Since(idleSince) >= outsideLimit {
			d = -1
		}
		if i, ok := waitGoCases(cases, polled, d); ok {
			return i
		}
		pause = min(2*pause, maxOutsidePause)
	}
}

// waitGoCases waits, in real time, up to d (d < 0: with no limit) for one of
// the Go channels among cases (their indexes: polled) and performs it.
func waitGoCases(cases []Case, polled []int, d time.Duration) (int, bool) {
	scs := make([]reflect.SelectCase, len(polled), len(polled)+1)
	for n, i := range polled {
		scs[n] = cases[i].goCase()
	}
	timeout, stop := after(d)
	defer stop()
	if timeout != nil {
		scs = append(scs, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timeout)})
	}
	n, v, ok := reflect.Select(scs)
	if n == len(polled) {
		return 0, false
	}
	cases[polled[n]].received(v, ok)
	return polled[n], true
}

// selectGo is Select over Go channels.
func selectGo(hasDefault bool, cases []Case) int {
	scs := make([]reflect.SelectCase, len(cases), len(cases)+1)
	for i, c := range cases {
		scs[i] = c.goCase()
	}
	if hasDefault {
		scs = append(scs, reflect.SelectCase{Dir: reflect.SelectDefault})
	}
	i, v, ok := reflect.Select(scs)
	if i == len(cases) {
		return -1
	}
	cases[i].received(v, ok)
	return i
}
