package cover

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Summary is the statement coverage of one package: the figure `heddle run
// --cover` reports and `heddle mutate` filters its mutants by.
type Summary struct {
	// Package is the import path; Dir the directory of its source.
	Package string `json:"package"`
	Dir     string `json:"dir"`
	// Statements counts the package's statements on the measured path:
	// every statement the profile knows, less the excluded ones.
	Statements int `json:"statements"`
	// Covered counts those that ran at least once.
	Covered int `json:"covered"`
	// Excluded counts the statements left out because only another variant
	// runs them (see VariantOnly) and they did not run. A block of a region
	// that ran is on the measured path after all, and counts as covered.
	Excluded int `json:"excluded"`
	// Percent is Covered over Statements, in percent (100 when there are
	// none).
	Percent float64 `json:"percent"`
	// UncoveredLines counts the source lines of the blocks that never ran.
	UncoveredLines int `json:"uncovered_lines"`
	// Uncovered lists those lines as ranges, with their source.
	Uncovered []Lines `json:"uncovered"`
}

// Lines is a range of source lines of one file.
type Lines struct {
	// File is the base name of the file in the package's directory.
	File string `json:"file"`
	// Start and End are the first and last line, both included.
	Start int `json:"start"`
	End   int `json:"end"`
	// Source is the text of those lines.
	Source string `json:"source"`
}

// String renders the range as file:start-end (file:line for one line).
func (l Lines) String() string {
	if l.Start == l.End {
		return fmt.Sprintf("%s:%d", l.File, l.Start)
	}
	return fmt.Sprintf("%s:%d-%d", l.File, l.Start, l.End)
}

// Summarize measures the package importPath, whose source is in dir, in
// profile p, leaving out the statements of blocks that start in one of the
// exclude regions and never ran. It fails when the profile holds no block of the package
// (the workers were not built with -coverpkg naming it).
func Summarize(p *Profile, importPath, dir string, exclude []Region) (Summary, error) {
	s := Summary{Package: importPath, Dir: dir}
	blocks := p.Package(importPath)
	if len(blocks) == 0 {
		return s, fmt.Errorf("the coverage profile has no block of %s: were the workers built with -coverpkg naming it?", importPath)
	}
	type span struct{ start, end int }
	uncovered := map[string][]span{}
	for _, b := range blocks {
		_, file, _ := cutLast(b.File, "/")
		if b.Count == 0 && InRegions(exclude, file, b.StartLine, b.StartCol) {
			s.Excluded += b.Stmts
			continue
		}
		s.Statements += b.Stmts
		if b.Count > 0 {
			s.Covered += b.Stmts
			continue
		}
		if b.Stmts > 0 {
			uncovered[file] = append(uncovered[file], span{b.StartLine, b.EndLine})
		}
	}
	s.Percent = 100
	if s.Statements > 0 {
		s.Percent = 100 * float64(s.Covered) / float64(s.Statements)
	}
	files := make([]string, 0, len(uncovered))
	for f := range uncovered {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		spans := uncovered[file]
		sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
		var merged []span
		for _, sp := range spans {
			if n := len(merged); n > 0 && sp.start <= merged[n-1].end+1 {
				merged[n-1].end = max(merged[n-1].end, sp.end)
				continue
			}
			merged = append(merged, sp)
		}
		src, err := readFile(filepath.Join(dir, file))
		if err != nil {
			return s, err
		}
		lines := strings.Split(string(src), "\n")
		for _, sp := range merged {
			l := Lines{File: file, Start: sp.start, End: sp.end}
			if sp.start >= 1 && sp.end <= len(lines) {
				l.Source = strings.Join(lines[sp.start-1:sp.end], "\n")
			}
			s.Uncovered = append(s.Uncovered, l)
			s.UncoveredLines += sp.end - sp.start + 1
		}
	}
	return s, nil
}

func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading source: %w", err)
	}
	return b, nil
}
