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
//		fmt.Println(res.Err()) // deadlock, leak, panic, ... with the seed and strategy
//	}
//
// At every primitive call the strategy (RandomWalk, PCT, Replay or Guided,
// optionally Jittered) picks which goroutine runs next; the seed decides
// every choice, so the same seed gives the same run, with the same
// Result.TraceHash. Replay(seed, Result.Schedule) replays a run exactly, and
// fails it as Diverged when the program no longer follows the schedule.
//
// # Time
//
// Virtual time moves to the next timer when every goroutine is blocked: a
// two-minute timeout costs nothing. It also moves as a scheduling choice
// (see Strategy): timers due at the same instant fire in an order the
// strategy picks, interleaved with the goroutines they wake; a timer due
// within a millisecond may fire while goroutines are still runnable; and
// while every runnable goroutine is spinning (polling again, without
// progress, what it polled before: Yield, Poll, a Select that takes its
// Default case, a failed TryLock), the next timer may fire however far
// ahead, so a busy-polling program does not freeze the clock; a goroutine
// that polled two different channels and went on with its work is not
// spinning, and the clock does not jump under it. Jittered adds seeded lateness to every timer. When every goroutine
// is blocked and no timer is pending, the run ends with a Deadlock naming
// each goroutine's blocking and creation sites (and, for a goroutine waiting
// for a lock, who holds it); goroutines still alive after main returns are a
// Leak.
//
// # The race detector
//
// Goroutines of a World hand control to each other through a token written
// and read in assembly by functions the race detector does not instrument, so
// a handoff is no happens-before edge. Edges come only from the primitives,
// where Go's runtime puts them: an Unlock before the next Lock, a send before
// its receive completes, Done before Wait returns, arming a timer before its
// tick is received, a cancel before Err reports it, and so on. The primitives
// also perform the reads and writes Go's runtime reports to the race
// detector (a send reads its channel and a close writes it; WaitGroup's Add
// from zero reads, and its first Wait writes, a word of the WaitGroup; a
// RWMutex reads itself), so a close racing a send, or an Add racing a Wait,
// is reported as it would be without heddle. Buffered channels follow Go's
// model slot by slot (the k-th receive before the k+C-th send, and no more).
// Under go test -race a seeded schedule therefore reports a data race as if
// the goroutines had really run in parallel, and reports nothing for a
// program that synchronises correctly; a race reported during a Run is also
// a DataRace failure in its Result, with the seed and strategy.
//
// The race detector reports each distinct race once per process; to
// attribute one race to many seeds, run each exploration in its own process
// (GORACE=halt_on_error=1 ends a process at its first race, exit status 66).
//
// # One World at a time
//
// A process runs one World at a time: the primitives find it through one
// package-level variable, since a goroutine cannot know which World started
// it without goroutine-local storage. A Run called while another World runs
// (from inside a World, or from a parallel test: t.Parallel) fails at once,
// as Stuck, saying where the running World was started. A Real World stays
// the active one after its Run returned until its last goroutine ended, so
// that goroutines it left behind keep their own World; a later Run waits a
// few seconds for them and then fails, naming them.
//
// # Rules for programs
//
// Inside a World, every goroutine must be started with Go and every blocking
// operation must go through this package: a standard channel, lock, sleep or
// I/O blocks the real goroutine and the run fails as Stuck after
// Options.Watchdog. A goroutine started by a plain go statement that calls
// into heddle is caught where possible and reported (Stuck, naming its go
// statement) instead of the deadlock it causes. Contexts that a goroutine
// waits on must come from WithCancel, WithTimeout or WithDeadline
// (context.WithValue of one is fine). Channels made in one World cannot be
// used in another. Code that spins on shared state outside this package
// (atomics) should call Poll before a load and Progress before a store, so
// that the spin is noticed.
//
// # Real mode
//
// Options{Mode: Real} runs main and the goroutines started through Go as
// ordinary goroutines with the standard library's primitives, optionally
// perturbed by seeded yields (Options.Perturb). The World still keeps count:
// Run waits for its goroutines after main returns (Options.Drain) and reports
// those left as a Leak, turns a panic in any of them into a Panic failure,
// and reports a run in which nothing moves for Options.Watchdog (every
// goroutine blocked, no timer pending) as a Deadlock instead of hanging.
// main runs on a goroutine of the World, not on Run's caller: a t.FailNow in
// main ends main (the test is marked failed) and Run returns.
//
// # Handoffs
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
//
// # Where a step's time goes
//
// Measured with pprof and perf on BenchmarkFixedSeed of scenarios/catalog
// (one seed of each case's fixed variant in process, as a worker runs it;
// 2-core machine shared with other work). A step costs about 0.6-1.7 us of
// CPU without -race and 2.8-8 us with it, 3 to 6 times more. Under -race,
// 43% of the CPU is the race detector's own code (shadow memory of every
// instrumented read and write of the program, checkers and libraries it
// runs, about half of that; vector clocks of the sync operations and of
// goroutine starts and ends, the rest), 33% Go's runtime (the scheduler
// waking and parking goroutines at handoffs, allocation, GC, stack growth
// of fresh goroutines), 7% the kernel, 16% Go code of heddle, the cases
// and their libraries (JSON, fmt, porcupine). Without -race, heddle's share
// is larger: the runtime's own scheduling and the coroutine switches are
// cheap, and finding each goroutine's runtime id for failure reports (one
// runtime.Stack per goroutine started) alone is a tenth of the CPU.
//
// What depends on heddle: a goroutine of a World costs about 10 us of CPU
// under -race from Go to its unwinding at the end of the run, 5 us without
// (BenchmarkSpawn), and the cases start one every 20 to 40 steps; a handoff
// is a token swap and, for a goroutine that slept, a channel operation
// (BenchmarkPingPongRatio: 6 scheduling steps a round trip, 2 of them
// switches: every primitive call is a scheduling point, by design, since
// each is a place where another goroutine may be chosen). A goroutine's
// real goroutine is not reused across runs, although that would save most
// of its cost: the race detector's "created at" of a reused goroutine
// would name the wrong go statement, and failure pages map race reports to
// goroutines by it. Wait queues are kept short: a select, a network wait
// and a cancelled context take their waiters and children off whatever did
// not wake them. In a sweep, workers send the schedule of failing runs
// only, and collect garbage at GOGC=400 (package explore).
//
// Why a step under -race costs several times a step without it, whatever
// heddle does: without -race control passes as a coroutine switch
// (iter.Pull), several times cheaper than waking a parked goroutine; under
// -race it cannot, because iter.Pull's switches are synchronisation for
// the race detector and would order every goroutine of the World after
// every other, hiding every race (TestCoroutineHandoffHidesRaces), so it
// passes with the token, which wakes a real goroutine. Go's own switch
// between two goroutines over an unbuffered channel costs about 3 times
// more under -race than without it (BenchmarkPingPong/native, make bench),
// and a heddle step under -race is at least such a switch.
package harness
