package mutate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Equivalents are the mutants marked by hand as unable to change what the
// program does (a lock around a value no other goroutine touches, a
// cleanup that the next statement repeats): they are reported, with their
// reason, and left out of the kill rate, never silently.
//
// The file holds one mutant a line, its id then its reason:
//
//	# heddle mutate: equivalent mutants of systems/mq
//	lock-pair-3f9a12c0   the list is built before any goroutine starts
//	chan-buffer-0b1c2d3e the channel is only ever used by select with a default
//
// Blank lines and lines starting with # are skipped.
type Equivalents struct {
	// Path is the file the marks were read from ("" when none).
	Path string
	// Reasons maps each marked id to its reason.
	Reasons map[string]string
	// Lines maps each marked id to its line in the file.
	Lines map[string]int
}

var idPattern = regexp.MustCompile(`^([a-z]+(?:-[a-z]+)*)-([0-9a-f]{8})$`)

// LoadEquivalents reads the equivalents file at path; a file that does not
// exist marks nothing.
func LoadEquivalents(path string) (Equivalents, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Equivalents{Reasons: map[string]string{}, Lines: map[string]int{}}, nil
	}
	if err != nil {
		return Equivalents{}, fmt.Errorf("reading equivalent mutants: %w", err)
	}
	defer f.Close()
	return ParseEquivalents(path, f)
}

// ParseEquivalents reads an equivalents file; name is used in errors,
// which give the line: an id that is not one (operator-8hexdigits, of a
// known operator), an id without a reason, an id marked twice.
func ParseEquivalents(name string, r io.Reader) (Equivalents, error) {
	e := Equivalents{Path: name, Reasons: map[string]string{}, Lines: map[string]int{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason := line, ""
		if i := strings.IndexFunc(line, unicode.IsSpace); i >= 0 {
			id, reason = line[:i], strings.TrimSpace(line[i:])
		}
		m := idPattern.FindStringSubmatch(id)
		if m == nil {
			return Equivalents{}, fmt.Errorf("%s:%d: %q is not a mutant id (want OPERATOR-XXXXXXXX, as heddle mutate prints them)", name, n, id)
		}
		if _, ok := LookupOperator(m[1]); !ok {
			return Equivalents{}, fmt.Errorf("%s:%d: mutant %s: no operator is named %q (known: %s)", name, n, id, m[1], strings.Join(OperatorNames(), ", "))
		}
		if reason == "" {
			return Equivalents{}, fmt.Errorf("%s:%d: mutant %s is marked equivalent without a reason: say why it cannot change behaviour", name, n, id)
		}
		if prev, ok := e.Lines[id]; ok {
			return Equivalents{}, fmt.Errorf("%s:%d: mutant %s is already marked on line %d", name, n, id, prev)
		}
		e.Reasons[id], e.Lines[id] = reason, n
	}
	if err := sc.Err(); err != nil {
		return Equivalents{}, fmt.Errorf("%s: %w", name, err)
	}
	return e, nil
}

// Reason returns the reason a mutant is marked equivalent, and whether it
// is.
func (e Equivalents) Reason(id string) (string, bool) {
	r, ok := e.Reasons[id]
	return r, ok
}

// Stale returns the marked ids that none of ms has (the code they were
// about changed or went), sorted by their line in the file.
func (e Equivalents) Stale(ms []Mutant) []string {
	have := map[string]bool{}
	for _, m := range ms {
		have[m.ID] = true
	}
	var out []string
	for id := range e.Reasons {
		if !have[id] {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return e.Lines[out[i]] < e.Lines[out[j]] })
	return out
}
