// Package cover turns the coverage counters of a sweep into a measured
// figure: which statements of a package the sweep ran, which it never ran,
// and which it need not run because only another variant of the system
// executes them.
//
// A sweep's workers are built with `go build -cover -coverpkg=...` and run
// with GOCOVERDIR set; `go tool covdata textfmt` merges what they wrote into
// a text profile, which ReadProfile reads. VariantOnly finds, from the
// package's syntax alone, the code that runs only under another variant
// (the Buggy branch of `if s.variant == Buggy`, the methods of a type only
// that branch builds, ...). Summarize combines the two into a package's
// statement coverage and its uncovered lines, with their source.
//
// The package knows nothing of cases: the heddle command maps a case to its
// system package (systems/<case>) and its variant to the identifier
// (fixed -> Fixed) that VariantOnly looks for.
package cover

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Block is one basic block of a coverage profile: a range of source, the
// number of statements in it, and how many times it ran.
type Block struct {
	// File is the file as the profile names it: the package's import path
	// and the file's base name ("example.com/m/systems/mq/mq.go").
	File string
	// StartLine, StartCol, EndLine and EndCol delimit the block (lines and
	// columns from 1, the end exclusive as the cover tool writes it).
	StartLine, StartCol, EndLine, EndCol int
	// Stmts is the number of statements in the block.
	Stmts int
	// Count is how many times the block ran (or 1 for ran, in set mode).
	Count int
}

// Profile is a merged coverage profile.
type Profile struct {
	// Mode is the profile's mode: set, count or atomic.
	Mode string
	// Blocks are sorted by file and position; a block listed several times
	// (one line per counter file) appears once, with its counts added.
	Blocks []Block
}

// ReadProfile reads the text profile at path (see ParseProfile).
func ReadProfile(path string) (*Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading coverage profile: %w", err)
	}
	defer f.Close()
	p, err := ParseProfile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParseProfile reads a text coverage profile, as `go tool covdata textfmt`
// and `go test -coverprofile` write it: a "mode: M" line, then one line per
// block, "file:L1.C1,L2.C2 stmts count".
func ParseProfile(r io.Reader) (*Profile, error) {
	p := &Profile{}
	type key struct {
		file           string
		sl, sc, el, ec int
	}
	index := map[key]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if mode, ok := strings.CutPrefix(line, "mode: "); ok {
			if p.Mode != "" && p.Mode != mode {
				return nil, fmt.Errorf("line %d: mode %s after mode %s", n, mode, p.Mode)
			}
			p.Mode = mode
			continue
		}
		if p.Mode == "" {
			return nil, fmt.Errorf("line %d: block before the mode line", n)
		}
		b, err := parseBlock(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		k := key{b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol}
		if i, ok := index[k]; ok {
			if p.Mode == "set" {
				p.Blocks[i].Count = max(p.Blocks[i].Count, b.Count)
			} else {
				p.Blocks[i].Count += b.Count
			}
			continue
		}
		index[k] = len(p.Blocks)
		p.Blocks = append(p.Blocks, b)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if p.Mode == "" {
		return nil, fmt.Errorf("no mode line: not a coverage profile")
	}
	sort.SliceStable(p.Blocks, func(i, j int) bool {
		a, b := p.Blocks[i], p.Blocks[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.StartLine != b.StartLine {
			return a.StartLine < b.StartLine
		}
		return a.StartCol < b.StartCol
	})
	return p, nil
}

// parseBlock reads "file:L1.C1,L2.C2 stmts count"; the file name may hold
// colons, so the position is found from the right.
func parseBlock(line string) (Block, error) {
	bad := fmt.Errorf("bad block %q: want file:L1.C1,L2.C2 stmts count", line)
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return Block{}, bad
	}
	count, err1 := strconv.Atoi(fields[len(fields)-1])
	stmts, err2 := strconv.Atoi(fields[len(fields)-2])
	head := strings.Join(fields[:len(fields)-2], " ")
	colon := strings.LastIndexByte(head, ':')
	if err1 != nil || err2 != nil || colon <= 0 || count < 0 || stmts < 0 {
		return Block{}, bad
	}
	from, to, ok := strings.Cut(head[colon+1:], ",")
	if !ok {
		return Block{}, bad
	}
	sl, sc, ok1 := lineCol(from)
	el, ec, ok2 := lineCol(to)
	if !ok1 || !ok2 {
		return Block{}, bad
	}
	return Block{File: head[:colon], StartLine: sl, StartCol: sc, EndLine: el, EndCol: ec, Stmts: stmts, Count: count}, nil
}

func lineCol(s string) (line, col int, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found {
		return 0, 0, false
	}
	l, err1 := strconv.Atoi(a)
	c, err2 := strconv.Atoi(b)
	return l, c, err1 == nil && err2 == nil && l > 0 && c > 0
}

// contains reports whether the position line:col lies in the block.
func (b Block) contains(line, col int) bool {
	return before(b.StartLine, b.StartCol, line, col) && before(line, col, b.EndLine, b.EndCol)
}

// before reports whether l1:c1 comes at or before l2:c2.
func before(l1, c1, l2, c2 int) bool { return l1 < l2 || (l1 == l2 && c1 <= c2) }

// Covered reports whether the statement at line:col of file (named as the
// profile names it) ran: whether a block that holds that position ran. A
// position no block holds (outside any function) did not run.
func (p *Profile) Covered(file string, line, col int) bool {
	i := sort.Search(len(p.Blocks), func(i int) bool { return p.Blocks[i].File >= file })
	for ; i < len(p.Blocks) && p.Blocks[i].File == file; i++ {
		b := p.Blocks[i]
		if b.StartLine > line {
			break
		}
		if b.Count > 0 && b.contains(line, col) {
			return true
		}
	}
	return false
}

// Package returns the blocks of the package with the given import path
// (not those of its sub-packages).
func (p *Profile) Package(importPath string) []Block {
	var out []Block
	for _, b := range p.Blocks {
		dir, _, ok := cutLast(b.File, "/")
		if ok && dir == importPath {
			out = append(out, b)
		}
	}
	return out
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
