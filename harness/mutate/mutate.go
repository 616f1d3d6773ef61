// Package mutate generates concurrency mutants of a Go package: copies of
// one of its files with one synchronisation mistake put in (a lock pair
// dropped, a critical section split, a cleanup skipped, a buffered channel
// made unbuffered, a select that no longer watches its context, ...), each
// ready to be built in place of the original through `go build -overlay`,
// so that the package's tree is never written.
//
// A mutant that the checks of a sweep do not notice (a survivor) is a bug
// the sweep would miss: its workload never takes the path, or a check is
// looser than the system's promise. The heddle command runs each mutant of
// a case's system against the case's fixed variant (`heddle mutate CASE`);
// this package knows nothing of cases: Generate takes a package directory
// and a filter on positions (Options.Keep), which the command makes from the
// coverage of a sweep, so that only code the sweep runs is mutated.
//
// Operators recognise heddle's primitives (harness.Mutex, harness.NewChan,
// harness.Select with harness.Done, harness.WithTimeout's cancel, ...) and
// the standard ones (sync.Mutex, make(chan T, n), select with
// <-ctx.Done(), context.WithCancel's cancel, ...) by their syntax, so that
// the same generator serves a user's own package. See Operators.
//
// A mutant's id (e.g. "lock-pair-3f9a12c0") is derived from the file's
// name, the enclosing function, the operator and the text of the code it
// changes, with an ordinal only among identical texts of one function: it
// does not change when code elsewhere is added, removed or moved. Mutants
// that cannot change behaviour are marked by hand, by id, in an
// equivalents file (see ParseEquivalents).
package mutate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Mutant is one mutated copy of a file of the package.
type Mutant struct {
	// ID identifies the mutant across runs: the operator's name and eight
	// hex digits of a hash of the file name, the enclosing function, the
	// operator and the text the mutant changes.
	ID string `json:"id"`
	// Operator is the name of the operator that made it.
	Operator string `json:"operator"`
	// File is the absolute path of the mutated file; Line the line of the
	// code the mutant is about; Func the enclosing function
	// ("(*ConsumerList).Remove", "StartClient").
	File string `json:"file"`
	Line int    `json:"line"`
	Func string `json:"func"`
	// Desc says in one line what the mutant does ("move `x := m[k]`
	// before s.mu.Lock()").
	Desc string `json:"desc"`
	// Before and After are the source lines the mutant changes, trimmed and
	// joined by " / ", as they were and as they are in the mutant.
	Before string `json:"before"`
	After  string `json:"after"`
	// Changes lists the changed lines one by one.
	Changes []Change `json:"changes"`
	// Src is the whole mutated file.
	Src []byte `json:"-"`
}

// Change is one source line a mutant changes.
type Change struct {
	Line   int    `json:"line"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Where renders the mutant's place as file:line, the file by its base name.
func (m Mutant) Where() string { return fmt.Sprintf("%s:%d", filepath.Base(m.File), m.Line) }

// Overlay writes the mutated file and an overlay description into dir and
// returns the description's path, for `go build -overlay PATH`: the build
// then compiles the mutant in place of the original file, which stays as it
// is on disk.
func (m Mutant) Overlay(dir string) (string, error) {
	src := filepath.Join(dir, filepath.Base(m.File))
	if err := os.WriteFile(src, m.Src, 0o644); err != nil {
		return "", fmt.Errorf("writing mutant %s: %w", m.ID, err)
	}
	data, err := json.Marshal(struct{ Replace map[string]string }{map[string]string{m.File: src}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("writing the overlay of mutant %s: %w", m.ID, err)
	}
	return path, nil
}

// Options configures Generate.
type Options struct {
	// Operators names the operators to apply; empty means all of them.
	Operators []string
	// Keep, if set, says whether code at a position may be mutated (heddle
	// mutate keeps what the fixed variant's sweep covered). A mutant is
	// made only where Keep accepts every statement it is about (for
	// early-return: the defer and at least one of the returns it skips).
	// Positions carry absolute file names.
	Keep func(pos token.Position) bool
}

// Generate returns the mutants of the package in dir (its Go files for the
// current platform, tests excluded), sorted by file, line and id. Two
// operators that would make the same file keep only the first one's mutant;
// a mutant that changes nothing is not made.
func Generate(dir string, opts Options) ([]Mutant, error) {
	ops, err := selectOperators(opts.Operators)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	bp, err := build.ImportDir(abs, 0)
	if err != nil {
		return nil, fmt.Errorf("reading package %s: %w", dir, err)
	}
	var out []Mutant
	for _, name := range bp.GoFiles {
		f, err := parseFile(filepath.Join(abs, name))
		if err != nil {
			return nil, err
		}
		ms, err := f.mutants(ops, opts.Keep)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.ID < b.ID
	})
	return out, nil
}

func selectOperators(names []string) ([]Operator, error) {
	all := Operators()
	if len(names) == 0 {
		return all, nil
	}
	var out []Operator
	for _, n := range names {
		op, ok := LookupOperator(n)
		if !ok {
			return nil, fmt.Errorf("unknown mutation operator %q; known: %s", n, strings.Join(OperatorNames(), ", "))
		}
		out = append(out, op)
	}
	return out, nil
}

// file is one parsed source file.
type file struct {
	fset *token.FileSet
	tf   *token.File
	path string
	src  []byte
	ast  *ast.File
	// imports holds the names under which the file refers to its imports.
	imports map[string]bool
}

func parseFile(path string) (*file, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return parseSource(path, src)
}

func parseSource(path string, src []byte) (*file, error) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	f := &file{fset: fset, tf: fset.File(af.Pos()), path: path, src: src, ast: af, imports: map[string]bool{}}
	for _, im := range af.Imports {
		p := strings.Trim(im.Path.Value, "`\"")
		name := p[strings.LastIndex(p, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		f.imports[name] = true
	}
	return f, nil
}

func (f *file) off(p token.Pos) int { return f.tf.Offset(p) }

// text is the source of a node.
func (f *file) text(n ast.Node) string { return string(f.src[f.off(n.Pos()):f.off(n.End())]) }

// between is the source from the end of a to the start of b.
func (f *file) between(a, b ast.Node) string { return string(f.src[f.off(a.End()):f.off(b.Pos())]) }

func (f *file) position(n ast.Node) token.Position { return f.fset.Position(n.Pos()) }

// short renders a node for a description: its first line, quoted, at most
// 60 characters, with "{...}" for what follows.
func (f *file) short(n ast.Node) string {
	t := f.text(n)
	line, rest, more := strings.Cut(t, "\n")
	line = strings.TrimSpace(line)
	if more && strings.TrimSpace(rest) != "" {
		line += " ...}"
	}
	if len(line) > 60 {
		line = line[:57] + "..."
	}
	return "`" + line + "`"
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// site is one place an operator mutates.
type site struct {
	// at is the node whose line the report shows.
	at ast.Node
	// need are the nodes Keep must accept; of some, at least one must be
	// accepted.
	need, some []ast.Node
	// key is the text the mutant's id is derived from.
	key string
	// desc is the mutant's description.
	desc  string
	edits []edit
}

func (f *file) replace(n ast.Node, text string) edit {
	return edit{f.off(n.Pos()), f.off(n.End()), text}
}

func (f *file) insert(p token.Pos, text string) edit {
	o := f.off(p)
	return edit{o, o, text}
}

// mutants applies ops to every function of the file.
func (f *file) mutants(ops []Operator, keep func(token.Position) bool) ([]Mutant, error) {
	var out []Mutant
	seen := map[string]bool{string(f.src): true}
	ordinals := map[string]int{}
	for _, op := range ops {
		for _, d := range f.ast.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn := funcName(fd)
			for _, s := range op.find(f, fd.Body) {
				if !f.kept(s, keep) {
					continue
				}
				src, err := apply(f.src, s.edits)
				if err != nil {
					return nil, fmt.Errorf("%s: operator %s at %s: %w", f.path, op.Name, f.position(s.at), err)
				}
				k := strings.Join([]string{filepath.Base(f.path), fn, op.Name, normalize(s.key)}, "\x00")
				n := ordinals[k]
				ordinals[k] = n + 1
				if seen[string(src)] {
					continue
				}
				seen[string(src)] = true
				sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d", k, n))
				m := Mutant{ID: op.Name + "-" + hex.EncodeToString(sum[:4]), Operator: op.Name, File: f.path,
					Line: f.position(s.at).Line, Func: fn, Desc: s.desc, Src: src}
				m.Changes, m.Before, m.After = changes(f.src, src, m.Line)
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// kept reports whether keep accepts the site.
func (f *file) kept(s site, keep func(token.Position) bool) bool {
	if keep == nil {
		return true
	}
	for _, n := range append([]ast.Node{s.at}, s.need...) {
		if !keep(f.position(n)) {
			return false
		}
	}
	if len(s.some) == 0 {
		return true
	}
	for _, n := range s.some {
		if keep(f.position(n)) {
			return true
		}
	}
	return false
}

// apply makes the edits, which must not overlap.
func apply(src []byte, edits []edit) ([]byte, error) {
	es := append([]edit(nil), edits...)
	sort.SliceStable(es, func(i, j int) bool { return es[i].start < es[j].start })
	var b bytes.Buffer
	at := 0
	for _, e := range es {
		if e.start < at || e.end < e.start || e.end > len(src) {
			return nil, fmt.Errorf("overlapping edits")
		}
		b.Write(src[at:e.start])
		b.WriteString(e.text)
		at = e.end
	}
	b.Write(src[at:])
	return b.Bytes(), nil
}

// changes compares the lines of the original and the mutant. Operators
// keep the number of lines, so lines correspond; if they did not, the one
// change reported is the mutant's line.
func changes(orig, mut []byte, line int) ([]Change, string, string) {
	a := strings.Split(string(orig), "\n")
	b := strings.Split(string(mut), "\n")
	var cs []Change
	if len(a) == len(b) {
		for i := range a {
			if a[i] != b[i] {
				cs = append(cs, Change{Line: i + 1, Before: strings.TrimSpace(a[i]), After: strings.TrimSpace(b[i])})
			}
		}
	} else if line >= 1 && line <= len(a) && line <= len(b) {
		cs = append(cs, Change{Line: line, Before: strings.TrimSpace(a[line-1]), After: strings.TrimSpace(b[line-1])})
	}
	var before, after []string
	for _, c := range cs {
		before = append(before, orEmpty(c.Before))
		after = append(after, orEmpty(c.After))
	}
	return cs, strings.Join(before, " / "), strings.Join(after, " / ")
}

func orEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// normalize collapses white space, so that reformatting keeps ids.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// funcName names a function declaration as a stack trace would:
// "(*ConsumerList).Remove", "ConsumerList.Len", "StartClient".
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	name := "?"
	if id, ok := t.(*ast.Ident); ok {
		name = id.Name
	}
	if star != "" {
		return fmt.Sprintf("(*%s).%s", name, fd.Name.Name)
	}
	return name + "." + fd.Name.Name
}
