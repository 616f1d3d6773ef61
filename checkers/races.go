package checkers

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/heddle-go/heddle/harness"
)

// RaceAccess is one of the two accesses of a data race report.
type RaceAccess struct {
	// Op is "read", "write", "atomic read" or "atomic write".
	Op string
	// Previous is true for the earlier access of the pair.
	Previous bool
	// Goroutine is the goroutine id as the report gives it ("7", "main").
	Goroutine string
	// Func and Site are the access's top frame in the program: the first
	// frame that is not the runtime's, the standard library's internals or
	// heddle's scheduler (e.g. a runtime.slicecopy is attributed to the
	// function that called copy). Site is file:line, the file shortened to
	// its last two path elements.
	Func, Site string
	// Via is the runtime function the access happened in, if Func is not
	// the very top frame (e.g. "runtime.slicecopy").
	Via string
	// CreatedAt is where the goroutine was started ("" for main), as
	// "file:line (function)".
	CreatedAt string
}

// RaceReport is one "WARNING: DATA RACE" block of the race detector's
// output.
type RaceReport struct {
	// Access is the current access; Previous the earlier one it races with.
	Access, Previous RaceAccess
	// Text is the block as the race detector printed it.
	Text string
}

// Key identifies the race by its pair of sites, whichever access came
// first: the race detector reports each such pair once per process.
func (r RaceReport) Key() string {
	a, b := r.Access.Site, r.Previous.Site
	if b < a {
		a, b = b, a
	}
	return a + " vs " + b
}

// Violation renders the report as a DataRace violation: a summary line
// with both accesses' top frames and where their goroutines were started,
// then the report itself.
func (r RaceReport) Violation() Violation {
	return Violationf(harness.DataRace, "data race: %s vs %s%s\n%s", r.Access.describe(), r.Previous.describe(), r.created(), r.Text)
}

func (a RaceAccess) describe() string {
	s := a.Op
	if a.Previous {
		s = "previous " + s
	}
	s = fmt.Sprintf("%s by goroutine %s at %s in %s", s, a.Goroutine, a.Site, a.Func)
	if a.Via != "" {
		s += " (via " + a.Via + ")"
	}
	return s
}

func (r RaceReport) created() string {
	var parts []string
	for _, a := range []RaceAccess{r.Access, r.Previous} {
		if a.CreatedAt != "" {
			parts = append(parts, fmt.Sprintf("goroutine %s created at %s", a.Goroutine, a.CreatedAt))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

const (
	raceWarning   = "WARNING: DATA RACE"
	raceSeparator = "=================="
)

var (
	raceAccessLine  = regexp.MustCompile(`^(Previous )?(?i:(atomic )?(read|write))(?: of size \d+)? at 0x[0-9a-f]+ by (main goroutine|goroutine (\d+)):$`)
	raceCreatedLine = regexp.MustCompile(`^Goroutine (\d+) \([^)]*\) created at:$`)
)

// ParseRaceReports finds the race detector's "WARNING: DATA RACE" blocks in
// a process's output (a test binary, a worker run with
// GORACE=halt_on_error=1) and returns one DataRace violation per block, in
// order. Output that is not part of a block is ignored.
func ParseRaceReports(output string) []Violation {
	var out []Violation
	for _, r := range ParseRaces(output) {
		out = append(out, r.Violation())
	}
	return out
}

// ParseRaces is ParseRaceReports with the reports' structure.
func ParseRaces(output string) []RaceReport {
	lines := strings.Split(strings.ReplaceAll(output, "\r\n", "\n"), "\n")
	var reports []RaceReport
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != raceWarning {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != raceSeparator && strings.TrimSpace(lines[j]) != raceWarning {
			j++
		}
		reports = append(reports, parseRace(lines[i:j]))
		i = j - 1
	}
	return reports
}

// parseRace reads one block: sections separated by blank lines, each a
// header line followed by frames (a function line, then an indented
// file:line line).
func parseRace(block []string) RaceReport {
	r := RaceReport{Text: strings.TrimRight(strings.Join(block, "\n"), "\n")}
	var accesses []RaceAccess
	created := map[string]string{}
	for i := 1; i < len(block); i++ {
		header := strings.TrimSpace(block[i])
		if header == "" {
			continue
		}
		var frames []frame
		j := i + 1
		for j+1 < len(block) && strings.TrimSpace(block[j]) != "" {
			frames = append(frames, frame{fn: strings.TrimSpace(block[j]), site: siteOfLine(block[j+1])})
			j += 2
		}
		if m := raceAccessLine.FindStringSubmatch(header); m != nil {
			a := RaceAccess{Op: strings.ToLower(m[2] + m[3]), Previous: m[1] != "", Goroutine: m[5]}
			if a.Goroutine == "" {
				a.Goroutine = "main"
			}
			top, k := programFrame(frames)
			a.Func, a.Site = top.fn, top.site
			if k > 0 {
				a.Via = funcName(frames[0].fn)
			}
			a.Func = funcName(a.Func)
			accesses = append(accesses, a)
		} else if m := raceCreatedLine.FindStringSubmatch(header); m != nil {
			top, _ := programFrame(frames)
			if top.site != "" {
				created[m[1]] = fmt.Sprintf("%s (%s)", top.site, funcName(top.fn))
			}
		}
		i = j - 1
	}
	for k := range accesses {
		accesses[k].CreatedAt = created[accesses[k].Goroutine]
	}
	for _, a := range accesses {
		if a.Previous {
			r.Previous = a
		} else if r.Access.Op == "" {
			r.Access = a
		}
	}
	return r
}

type frame struct{ fn, site string }

// programFrame returns the first frame that belongs to the program, and its
// index; if there is none, the first frame.
func programFrame(frames []frame) (frame, int) {
	for k, f := range frames {
		if !systemFrame(f) {
			return f, k
		}
	}
	if len(frames) == 0 {
		return frame{}, 0
	}
	return frames[0], 0
}

// systemFrame reports a frame of the runtime, the standard library's
// synchronisation internals, or heddle's own runtime (not its tests).
func systemFrame(f frame) bool {
	for _, p := range []string{"runtime.", "internal/", "sync/atomic.", "sync.", "reflect."} {
		if strings.HasPrefix(f.fn, p) {
			return true
		}
	}
	heddle := strings.HasPrefix(f.fn, "github.com/heddle-go/heddle/harness.") ||
		strings.HasPrefix(f.fn, "github.com/heddle-go/heddle/harness/std/")
	return heddle && !strings.Contains(f.site, "_test.go:")
}

// funcName drops the argument list of a frame's function line.
func funcName(fn string) string {
	if i := strings.LastIndex(fn, "("); i > 0 && strings.HasSuffix(fn, ")") {
		return fn[:i]
	}
	return fn
}
