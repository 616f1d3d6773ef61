package rewrite

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"os"
	"sort"
	"strconv"
	"strings"
)

// pkgRewriter holds what every file of one package shares.
type pkgRewriter struct {
	cfg    Config
	fset   *token.FileSet
	pkg    *types.Package
	info   *types.Info
	files  []*ast.File
	prefix string // starts every identifier the rewrite adds; no identifier of the package does
	errs   Errors

	vars    map[*types.Var]varSource
	varMemo map[*types.Var]bool
}

func newPkgRewriter(cfg Config, fset *token.FileSet, pkg *types.Package, info *types.Info, files []*ast.File) *pkgRewriter {
	p := &pkgRewriter{
		cfg: cfg, fset: fset, pkg: pkg, info: info, files: files,
		vars: map[*types.Var]varSource{}, varMemo: map[*types.Var]bool{},
	}
	p.prefix = freshPrefix(files)
	p.collectVars()
	return p
}

// freshPrefix returns "_heddle" followed by the smallest number (none first)
// such that no identifier of the files starts with it.
func freshPrefix(files []*ast.File) string {
	var names []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && strings.HasPrefix(id.Name, "_heddle") {
				names = append(names, id.Name)
			}
			return true
		})
	}
	for i := 0; ; i++ {
		p := "_heddle"
		if i > 0 {
			p += strconv.Itoa(i)
		}
		clash := false
		for _, n := range names {
			if strings.HasPrefix(n, p) {
				clash = true
				break
			}
		}
		if !clash {
			return p
		}
	}
}

func (p *pkgRewriter) errorf(pos token.Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: p.fset.Position(pos), Msg: fmt.Sprintf(format, args...)})
}

// fileRewriter rewrites one file.
type fileRewriter struct {
	p      *pkgRewriter
	f      *ast.File
	w      writer
	rules  map[ast.Node]func()
	decor  map[ast.Node]decoration
	dirty  map[ast.Node]bool
	parent map[ast.Node]ast.Node
	skip   map[ast.Node]bool // send and receive operations of select cases

	imports  map[string]string // import path -> alias, of the packages the rewrite uses
	removed  map[*types.PkgName]int
	selects  int
	tmpCount int
}

// file rewrites f and reports whether it changed.
func (p *pkgRewriter) file(f *ast.File) ([]byte, bool, error) {
	for _, imp := range f.Imports {
		if imp.Path.Value == `"C"` {
			return nil, false, nil // cgo: left as it is
		}
	}
	tf := p.fset.File(f.Pos())
	read := p.cfg.Source
	if read == nil {
		read = os.ReadFile
	}
	src, err := read(tf.Name())
	if err != nil {
		return nil, false, fmt.Errorf("rewrite: reading %s: %w", tf.Name(), err)
	}
	if len(src) != tf.Size() {
		return nil, false, fmt.Errorf("rewrite: %s changed since it was loaded", tf.Name())
	}
	r := &fileRewriter{
		p: p, f: f,
		w:     writer{fset: p.fset, src: src, base: tf.Base(), file: tf.Name(), line: 1},
		rules: map[ast.Node]func(){}, decor: map[ast.Node]decoration{},
		dirty: map[ast.Node]bool{}, parent: map[ast.Node]ast.Node{}, skip: map[ast.Node]bool{},
		imports: map[string]string{}, removed: map[*types.PkgName]int{},
	}
	r.buildParents()
	r.walk()
	if len(r.rules) == 0 && len(r.decor) == 0 {
		return nil, false, nil
	}
	r.blankImports()
	r.markDirty()
	const placeholder = "\x00imports\x00"
	name := f.Name
	r.rules[name] = func() {
		r.w.copy(name.Pos(), name.End())
		r.w.glue(placeholder)
	}
	r.dirty[f] = true
	r.renderFile(tf)
	out := r.w.buf.String()
	out = strings.Replace(out, placeholder, r.importDecl(), 1)
	return []byte(out), true, nil
}

// renderFile renders the whole file, comments before the package clause and
// after the last declaration included.
func (r *fileRewriter) renderFile(tf *token.File) {
	pos := token.Pos(tf.Base())
	for _, c := range children(r.f) {
		r.w.copy(pos, c.Pos())
		r.render(c)
		pos = c.End()
	}
	r.w.copy(pos, token.Pos(tf.Base()+tf.Size()))
}

func (r *fileRewriter) buildParents() {
	var stack []ast.Node
	ast.Inspect(r.f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		if len(stack) > 0 {
			r.parent[n] = stack[len(stack)-1]
		}
		stack = append(stack, n)
		return true
	})
}

// markDirty marks every ancestor of a node with a rule or a decoration.
func (r *fileRewriter) markDirty() {
	mark := func(n ast.Node) {
		for p := r.parent[n]; p != nil && !r.dirty[p]; p = r.parent[p] {
			r.dirty[p] = true
		}
	}
	for n := range r.rules {
		mark(n)
	}
	for n := range r.decor {
		mark(n)
	}
}

// alias returns the name under which the file imports path for the rewrite,
// adding the import.
func (r *fileRewriter) alias(path string) string {
	if a, ok := r.imports[path]; ok {
		return a
	}
	var a string
	switch path {
	case LangPath:
		a = r.p.prefix + "lang"
	case HarnessPath:
		a = r.p.prefix + "harness"
	case GotestPath:
		a = r.p.prefix + "gotest"
	default:
		for std, d := range dropIns {
			if d.path == path {
				a = r.p.prefix + strings.ReplaceAll(std, "/", "_")
			}
		}
		if a == "" {
			a = fmt.Sprintf("%sp%d", r.p.prefix, len(r.imports))
		}
	}
	r.imports[path] = a
	return a
}

func (r *fileRewriter) lang() string { return r.alias(LangPath) }

// tmp returns a fresh name for a variable the rewrite adds.
func (r *fileRewriter) tmp(what string) string {
	r.tmpCount++
	return fmt.Sprintf("%s%s%d", r.p.prefix, what, r.tmpCount)
}

// importDecl is the import declaration added after the package clause, on
// its line.
func (r *fileRewriter) importDecl() string {
	if len(r.imports) == 0 {
		return ""
	}
	paths := make([]string, 0, len(r.imports))
	for p := range r.imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	b.WriteString("; import (")
	for i, p := range paths {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %q", r.imports[p], p)
	}
	b.WriteString(")")
	return b.String()
}

// blankImports turns an import of sync, sync/atomic, time or context whose
// every use the rewrite moved to a drop-in into a blank import, which keeps
// the file's lines and compiles.
func (r *fileRewriter) blankImports() {
	uses := map[*types.PkgName]int{}
	for id, obj := range r.p.info.Uses {
		if pn, ok := obj.(*types.PkgName); ok && r.inFile(id) {
			uses[pn]++
		}
	}
	for _, spec := range r.f.Imports {
		var pn *types.PkgName
		if spec.Name != nil {
			pn, _ = r.p.info.Defs[spec.Name].(*types.PkgName)
		} else {
			pn, _ = r.p.info.Implicits[spec].(*types.PkgName)
		}
		if pn == nil || r.removed[pn] == 0 || r.removed[pn] != uses[pn] {
			continue
		}
		if spec.Name != nil && spec.Name.Name == "." {
			continue // a dot import may still be used by names that are not rewritten
		}
		r.rules[spec] = func() {
			r.w.glue("_ ")
			r.w.copy(spec.Path.Pos(), spec.Path.End())
		}
	}
}

func (r *fileRewriter) inFile(n ast.Node) bool {
	return n.Pos() >= r.f.FileStart && n.End() <= r.f.FileEnd
}
