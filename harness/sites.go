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

// blockedSites dumps every goroutine's stack and returns, for each one, the
// innermost frame that is not heddle's runtime or Go's: where the program
// stands. Only failure reports pay for it.
func blockedSites() map[int64]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	sites := map[int64]string{}
	for _, block := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(block, "\n")
		rest, ok := strings.CutPrefix(lines[0], "goroutine ")
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(rest[:max(strings.IndexByte(rest, ' '), 0)], 10, 64)
		if err != nil {
			continue
		}
		// Frames come in pairs: the function, then "\tfile:line +0x..".
		for i := 1; i+1 < len(lines); i += 2 {
			fn, file := lines[i], strings.TrimSpace(lines[i+1])
			if isRuntimeFrame(fn, file) {
				continue
			}
			if j := strings.LastIndex(file, " +0x"); j >= 0 {
				file = file[:j]
			}
			sites[id] = trimPath(file)
			break
		}
	}
	return sites
}

// isRuntimeFrame reports whether a frame belongs to Go's runtime or to
// heddle's own machinery (not its tests), rather than to the program.
func isRuntimeFrame(fn, file string) bool {
	if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "sync.") || strings.HasPrefix(fn, "internal/") ||
		strings.HasPrefix(fn, "iter.") || strings.HasPrefix(fn, "created by iter.") {
		return true
	}
	if strings.Contains(fn, "heddle-go/heddle/harness.") {
		return !strings.Contains(file, "_test.go")
	}
	return false
}
