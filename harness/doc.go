// Package harness is heddle's runtime: it runs a Go program deterministically,
// one goroutine at a time, on a virtual clock, with the race detector still
// able to see the program's data races.
//
// A program written against this package's primitives (Go, Mutex, RWMutex,
// WaitGroup, Once, Cond, Chan, Select, Sleep, Now, timers, tickers and
// contexts) is ordinary Go: with no World active every primitive is the
// standard library's. Inside Run it becomes a World:
//
//	res := harness.Run(harness.Options{Seed: 42}, func() {
//		// start goroutines with harness.Go, talk through harness.Chan ...
//	})
//	if res.Failed() {
//		fmt.Println(res.Err()) // deadlock, leak, panic, ... with the seed
//	}
//
// At every primitive call the strategy (RandomWalk, PCT or Replay) picks
// which goroutine runs next; the seed decides every choice, so the same seed
// gives the same run, with the same Result.TraceHash. Virtual time moves only
// when every goroutine is blocked, straight to the next timer: a two-minute
// timeout costs nothing. When every goroutine is blocked and no timer is
// pending, the run ends with a Deadlock naming each goroutine's blocking and
// creation sites; goroutines still alive after main returns are a Leak.
//
// # The race detector
//
// Goroutines of a World hand control to each other through a token written
// and read in assembly by functions the race detector does not instrument, so
// a handoff is no happens-before edge. Edges come only from the primitives,
// exactly where Go's memory model puts them (an Unlock before the next Lock, a
// send before its receive completes, Done before Wait returns, ...). Under
// go test -race a seeded schedule therefore reports a data race as if the
// goroutines had really run in parallel, and reports nothing for a program
// that synchronises correctly.
//
// The race detector reports each distinct race once per process; to
// attribute one race to many seeds, run each exploration in its own process
// (GORACE=halt_on_error=1 ends a process at its first race, exit status 66).
//
// # Rules for programs
//
// Inside a World, every goroutine must be started with Go and every blocking
// operation must go through this package: a standard channel, lock, sleep or
// I/O blocks the real goroutine and the run fails as Stuck after
// Options.Watchdog. Contexts that a goroutine waits on must come from
// WithCancel, WithTimeout or WithDeadline (context.WithValue of one is fine).
// Channels made in one World cannot be used in another.
//
// Under -race, handoffs go through that token (and, for a goroutine that
// waits long, a channel operation with the race detector's synchronisation
// handling off); such runs are fastest with GOMAXPROCS=1, since only one
// goroutine runs at a time anyway. Without -race no edge needs hiding, and
// goroutines are runtime coroutines (iter.Pull) switched by one driver: the
// same seed gives the same run either way. A World goroutine must not hold
// runtime.LockOSThread across a scheduling point.
//
// Goroutines that finish stay parked until Run ends (under -race): the race
// detector recycles the bookkeeping of goroutines that exited, which would
// hide races with them.
package harness
