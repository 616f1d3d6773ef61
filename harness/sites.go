package harness

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
)

// currentGoid returns the runtime's id of the calling goroutine, read from the
// first line of its stack ("goroutine 42 [running]:").
func currentGoid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		id, _ := strconv.ParseInt(string(b[:i]), 10, 64)
		return id
	}
	return 0
}

// dumpedGoroutine is one goroutine of a stack dump of the whole process.
type dumpedGoroutine struct {
	id      int64
	state   string // "chan receive", "select", "running", ...
	blocked bool   // its state waits for another goroutine (not I/O, a sleep or a syscall)
	site    string // the innermost frame of the program (neither Go's runtime nor heddle)
	frames  []frame
	// goSite is the go statement that started it, creator the goroutine
	// that ran that statement, and createdBy the function holding it.
	goSite    string
	createdBy string
	creator   int64
}

type frame struct{ fn, file string }

// blockedStates are the goroutine states of a dump in which a goroutine
// waits for another goroutine of the program.
var blockedStates = []string{"chan receive", "chan send", "select", "sync.", "semacquire", "forever"}

// dumpAll parses a dump of every goroutine's stack.
func dumpAll() []dumpedGoroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []dumpedGoroutine
	for _, block := range strings.Split(string(buf), "\n\n") {
		if d, ok := parseGoroutine(block); ok {
			out = append(out, d)
		}
	}
	return out
}

// parseGoroutine parses one goroutine of a stack dump:
//
//	goroutine 7 [chan receive, 2 minutes]:
//	main.f(...)
//		/path/f.go:12 +0x25
//	created by main.main in goroutine 1
//		/path/main.go:30 +0x3d
func parseGoroutine(block string) (dumpedGoroutine, bool) {
	lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
	rest, ok := strings.CutPrefix(lines[0], "goroutine ")
	if !ok {
		return dumpedGoroutine{}, false
	}
	sp := strings.IndexByte(rest, ' ')
	if sp < 0 {
		return dumpedGoroutine{}, false
	}
	id, err := strconv.ParseInt(rest[:sp], 10, 64)
	if err != nil {
		return dumpedGoroutine{}, false
	}
	d := dumpedGoroutine{id: id}
	if a, b := strings.IndexByte(rest, '['), strings.LastIndexByte(rest, ']'); a >= 0 && b > a {
		d.state = rest[a+1 : b]
		if i := strings.IndexByte(d.state, ','); i >= 0 {
			d.state = d.state[:i]
		}
	}
	for _, p := range blockedStates {
		if strings.HasPrefix(d.state, p) {
			d.blocked = true
		}
	}
	for i := 1; i+1 < len(lines); i += 2 {
		fn, file := lines[i], strings.TrimSpace(lines[i+1])
		if j := strings.LastIndex(file, " +0x"); j >= 0 {
			file = file[:j]
		}
		if by, ok := strings.CutPrefix(fn, "created by "); ok {
			d.goSite = trimPath(file)
			d.createdBy = by
			if k := strings.LastIndex(by, " in goroutine "); k >= 0 {
				d.createdBy = by[:k]
				d.creator, _ = strconv.ParseInt(by[k+len(" in goroutine "):], 10, 64)
			}
			continue
		}
		d.frames = append(d.frames, frame{fn: fn, file: file})
		if d.site == "" && !isRuntimeFrame(fn, file) {
			d.site = trimPath(file)
		}
	}
	return d, true
}

// goroutineStates returns every goroutine of the process by runtime id.
func goroutineStates() map[int64]dumpedGoroutine {
	out := map[int64]dumpedGoroutine{}
	for _, d := range dumpAll() {
		out[d.id] = d
	}
	return out
}

// blockedSites dumps every goroutine's stack and returns, for each one, the
// innermost frame that is not heddle's runtime or Go's: where the program
// stands. Only failure reports pay for it. It also returns the strays:
// goroutines that are not the World's (world: its goroutines' runtime ids)
// but were started by a go statement of the program in one of them, or run
// heddle code, started by the program in Run's goroutine.
func blockedSites(world map[int64]bool) (map[int64]string, []strayReport) {
	sites := map[int64]string{}
	var strays []strayReport
	dump := dumpAll()
	run := int64(-1) // Run's goroutine: the one in harness.Run (one World at a time)
	for _, d := range dump {
		for _, f := range d.frames {
			if strings.HasPrefix(f.fn, "github.com/heddle-go/heddle/harness.Run(") {
				run = d.id
			}
		}
	}
	for _, d := range dump {
		if d.site != "" {
			sites[d.id] = d.site
		}
		if world[d.id] || d.id == run || d.createdBy == "" || isRuntimeFrame(d.createdBy, d.goSite) || isStdFunc(d.createdBy) {
			continue
		}
		call := heddleCall(d.frames)
		if world[d.creator] || (d.creator == run && call != "") {
			strays = append(strays, strayReport{goid: d.id, goSite: d.goSite, site: d.site, call: call})
		}
	}
	return sites, strays
}

// isStdFunc reports whether a function belongs to the standard library: the
// first element of its import path has no dot (and is not main).
func isStdFunc(fn string) bool {
	first := fn
	if i := strings.IndexByte(first, '/'); i >= 0 {
		first = first[:i]
	} else if i := strings.IndexByte(first, '.'); i >= 0 {
		first = first[:i]
	}
	return first != "main" && !strings.Contains(first, ".")
}

// heddleCall returns the outermost frame of heddle's runtime in frames (the
// call the program made into it), or "".
func heddleCall(frames []frame) string {
	call := ""
	for _, f := range frames {
		if isHeddleFrame(f.fn, f.file) {
			call = f.fn
			continue
		}
		if call != "" && !isRuntimeFrame(f.fn, f.file) {
			break
		}
	}
	if call == "" {
		return ""
	}
	if j := strings.LastIndexByte(call, '('); j > 0 && strings.HasSuffix(call, ")") {
		call = call[:j] // drop the arguments
	}
	return strings.TrimPrefix(call, "github.com/heddle-go/heddle/")
}

// strayOrigin reads the stack of a goroutine caught running heddle code
// outside the World (debug.Stack): the go statement that started it, where
// it called into heddle, and the call.
func strayOrigin(stack string) (goSite, site, call string) {
	d, ok := parseGoroutine(stack)
	if !ok {
		return "", "", ""
	}
	return d.goSite, d.site, heddleCall(d.frames)
}

// trimStack drops from a goroutine stack (as debug.Stack prints it) the
// frames of Go's panic machinery and runtime, of iter's coroutines and of
// heddle itself, which say nothing about the program; it returns the stack
// and the first frame left (for a panic: where the program panicked, or
// called the heddle primitive that did).
func trimStack(stack string) (trimmed, site string) {
	lines := strings.Split(strings.TrimRight(stack, "\n"), "\n")
	var out []string
	if len(lines) > 0 && strings.HasPrefix(lines[0], "goroutine ") {
		out = append(out, lines[0])
		lines = lines[1:]
	}
	for i := 0; i+1 < len(lines); i += 2 {
		fn, loc := lines[i], lines[i+1]
		file := strings.TrimSpace(loc)
		if j := strings.LastIndex(file, " +0x"); j >= 0 {
			file = file[:j]
		}
		if isRuntimeFrame(strings.TrimPrefix(fn, "created by "), file) || strings.HasPrefix(fn, "panic(") {
			continue
		}
		if site == "" && !strings.HasPrefix(fn, "created by ") {
			site = trimPath(file)
		}
		out = append(out, fn, loc)
	}
	return strings.Join(out, "\n") + "\n", site
}

// isRuntimeFrame reports whether a frame belongs to Go's runtime or to
// heddle's own machinery (not its tests), rather than to the program.
func isRuntimeFrame(fn, file string) bool {
	if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "runtime/debug.") || strings.HasPrefix(fn, "sync.") ||
		strings.HasPrefix(fn, "internal/") || strings.HasPrefix(fn, "iter.") || strings.HasPrefix(fn, "created by iter.") {
		return true
	}
	return isHeddleFrame(fn, file)
}

// isHeddleFrame reports whether a frame is heddle's runtime (harness, and
// the drop-in packages under harness/std), not its tests.
func isHeddleFrame(fn, file string) bool {
	fn = strings.TrimPrefix(fn, "created by ")
	if strings.HasPrefix(fn, "github.com/heddle-go/heddle/harness.") || strings.HasPrefix(fn, "github.com/heddle-go/heddle/harness/std/") {
		return !strings.Contains(file, "_test.go")
	}
	return false
}
