package checkers

import (
	"fmt"
	"regexp"
	"strings"

	"go.uber.org/goleak"

	"github.com/heddle-go/heddle/harness"
)

// Leaks looks, with goleak, for goroutines still alive that should not be:
// for a real-mode case, call it after the run (and after the system's
// shutdown), typically with the option from WatchLeaks or
// goleak.IgnoreCurrent() taken before the run. goleak waits briefly for
// goroutines on their way out before it reports them. It returns one Leak
// violation per leaked goroutine, with its state, top function, where it
// is blocked and who started it. (In deterministic mode the World accounts
// for its goroutines itself: see FromResult.)
func Leaks(opts ...goleak.Option) []Violation {
	err := goleak.Find(opts...)
	if err == nil {
		return nil
	}
	return parseLeaks(err.Error())
}

// LeakWatch remembers the goroutines alive when it was made.
type LeakWatch struct {
	ignore goleak.Option
}

// WatchLeaks remembers the goroutines alive now, so that Check reports only
// the goroutines started after it.
func WatchLeaks() LeakWatch { return LeakWatch{ignore: goleak.IgnoreCurrent()} }

// Check reports, as Leaks does, the goroutines alive now that were not alive
// when the watch was made.
func (w LeakWatch) Check(opts ...goleak.Option) []Violation {
	return Leaks(append([]goleak.Option{w.ignore}, opts...)...)
}

// goleak renders each goroutine as "Goroutine N in state S, with F on top
// of the stack:" followed by its full stack.
var leakHeader = regexp.MustCompile(`Goroutine (\d+) in state ([^,]+), with (\S+) on top of the stack:`)

func parseLeaks(text string) []Violation {
	locs := leakHeader.FindAllStringSubmatchIndex(text, -1)
	if len(locs) == 0 {
		return []Violation{Violationf(harness.Leak, "goroutines left behind:\n%s", text)}
	}
	var out []Violation
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		id, state, top := text[loc[2]:loc[3]], text[loc[4]:loc[5]], text[loc[6]:loc[7]]
		stack := strings.TrimRight(strings.TrimSpace(text[loc[1]:end]), "]")
		var b strings.Builder
		fmt.Fprintf(&b, "goroutine %s still alive after the run, %s in %s", id, state, top)
		if at := firstStackSite(stack); at != "" {
			fmt.Fprintf(&b, " at %s", at)
		}
		if by := createdBy(stack); by != "" {
			fmt.Fprintf(&b, ", created by %s", by)
		}
		b.WriteString(": whoever started it must stop it (cancel its context, close its channel) and wait for it.\n")
		b.WriteString(stack)
		out = append(out, Violation{Kind: harness.Leak, Message: b.String()})
	}
	return out
}

// firstStackSite returns file:line of the first frame of a goroutine dump
// that is not in the runtime.
func firstStackSite(stack string) string {
	lines := strings.Split(stack, "\n")
	for i := 0; i+1 < len(lines); i++ {
		fn := strings.TrimSpace(lines[i])
		if strings.HasPrefix(fn, "goroutine ") || strings.HasPrefix(fn, "created by ") || !strings.HasPrefix(lines[i+1], "\t") {
			continue
		}
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/") || strings.HasPrefix(fn, "sync.") {
			i++
			continue
		}
		return siteOfLine(lines[i+1])
	}
	return ""
}

// createdBy returns "function at file:line" from a goroutine dump's
// "created by" lines.
func createdBy(stack string) string {
	lines := strings.Split(stack, "\n")
	for i, l := range lines {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "created by "); ok {
			if i+1 < len(lines) {
				return rest + " at " + siteOfLine(lines[i+1])
			}
			return rest
		}
	}
	return ""
}

// siteOfLine turns "\t/path/to/file.go:12 +0x1d" into "to/file.go:12".
func siteOfLine(line string) string {
	line = strings.TrimSpace(line)
	if i := strings.LastIndex(line, " +0x"); i >= 0 {
		line = line[:i]
	}
	return shortPath(line)
}

// shortPath keeps the last two elements of a path.
func shortPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return p
	}
	if j := strings.LastIndexByte(p[:i], '/'); j >= 0 {
		return p[j+1:]
	}
	return p
}
