package harness

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// A goroutine of a deterministic World that never comes back to the
// scheduler is outside heddle's control: blocked in code that is not
// heddle's (a standard-library or third-party package waiting for its own
// goroutines, real I/O, a standard lock or channel), or busy in a loop with
// no scheduling point. The watchdog abandons the run (see abandon); the
// message says which call the goroutine is stuck in and where the program
// made it, so that heddle test reports
//
//	goroutine 7 blocked in net.(*conn).Read [IO wait], outside heddle's control (client.go:88), without reaching a scheduling point for 10s of wall-clock time
//
// rather than a bare timeout.

// stuckMessage describes goroutine gid (goid: its runtime id), the World's
// running goroutine, which ran for the watchdog's time without reaching a
// scheduling point.
func (w *world) stuckMessage(gid int, goid int64) string {
	generic := fmt.Sprintf("goroutine %d ran for %v of wall-clock time without reaching a scheduling point "+
		"(a busy loop, or blocked outside heddle: a standard channel, lock, sleep or I/O)", gid, w.opts.Watchdog)
	if goid == 0 {
		return generic
	}
	d, ok := goroutineStates()[goid]
	if !ok {
		return generic
	}
	return describeOutside(d, gid, w.opts.Watchdog.String(), programPath())
}

// describeOutside words the stuck goroutine of a dump; program is the main
// module's path (whose frames are the program's own), or "".
func describeOutside(d dumpedGoroutine, gid int, watchdog, program string) string {
	call, site, inHeddle := outsideCall(d.frames, program)
	waited := fmt.Sprintf("without reaching a scheduling point for %s of wall-clock time", watchdog)
	switch {
	case d.state == "running" || d.state == "runnable" || d.state == "":
		where := ""
		if site != "" {
			where = " at " + site
		}
		return fmt.Sprintf("goroutine %d ran %s%s (a busy loop in code outside heddle's control, "+
			"or one with no channel, lock, atomic or sleep in it)", gid, waited, where)
	case inHeddle:
		return fmt.Sprintf("goroutine %d blocked [%s] waiting for a channel that only code outside heddle's control "+
			"can fill (a channel of a package that is not rewritten)%s, %s", gid, d.state, paren(site), waited)
	case call != "":
		return fmt.Sprintf("goroutine %d blocked in %s [%s], outside heddle's control%s, %s",
			gid, call, d.state, paren(site), waited)
	}
	return fmt.Sprintf("goroutine %d blocked [%s], outside heddle's control%s (a standard channel, lock, sleep or I/O), %s",
		gid, d.state, paren(site), waited)
}

func paren(site string) string {
	if site == "" {
		return ""
	}
	return " (" + site + ")"
}

// outsideCall finds, in a goroutine's frames (innermost first), the call
// the program made out of its own code and where it made it: the outermost
// frame of the run of frames that are not the program's and sit just inside
// its innermost frame of its own. The program's frames are those of its
// main module (program) when known, and otherwise those of neither the
// standard library nor heddle. inHeddle says the goroutine waits inside
// heddle's drop-ins (polling a channel from outside the World in real time).
func outsideCall(frames []frame, program string) (call, site string, inHeddle bool) {
	for i, f := range frames {
		if !isProgramFrame(f, program) {
			continue
		}
		site = trimPath(f.file)
		if i == 0 {
			return "", site, false
		}
		inner := frames[i-1]
		if isHeddleFrame(inner.fn, inner.file) {
			return "", site, true
		}
		return funcName(inner.fn), site, false
	}
	return "", "", false
}

// isProgramFrame reports whether a frame is the program's own code.
func isProgramFrame(f frame, program string) bool {
	fn := strings.TrimPrefix(f.fn, "created by ")
	if isRuntimeFrame(fn, f.file) || isHeddleFrame(fn, f.file) {
		return false
	}
	if program != "" {
		return fn == program || strings.HasPrefix(fn, program+".") || strings.HasPrefix(fn, program+"/") ||
			strings.HasPrefix(fn, "main.")
	}
	return !isStdFunc(fn)
}

// funcName drops the arguments from a frame's function line.
func funcName(fn string) string {
	if j := strings.LastIndexByte(fn, '('); j > 0 && strings.HasSuffix(fn, ")") {
		return fn[:j]
	}
	return fn
}

// programPath returns the path of the main module of this binary (a test
// binary's is the module of the package under test), or "".
func programPath() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path == "" {
		return ""
	}
	return bi.Main.Path
}

// programPC is callerPC(skip) moved out of heddle: the program counter of the
// innermost caller, from skip on, whose frame is not heddle's runtime or one
// of its drop-in packages (a rewritten program reaches a primitive through
// harness/std/lang, or an atomic through harness/std/sync/atomic). A program
// counter whose innermost frame is heddle's (heddle code inlined into the
// program's) is passed over for its caller's.
func programPC(skip int) uintptr {
	var pcs [12]uintptr
	n := runtime.Callers(skip+1, pcs[:])
	for _, pc := range pcs[:n] {
		f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
		if !isHeddleFrame(f.Function, f.File) {
			return pc
		}
	}
	if n > 0 {
		return pcs[0]
	}
	return 0
}
