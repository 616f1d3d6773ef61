package rewrite

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/token"
	"reflect"
	"sort"
	"strings"
)

// writer builds a rewritten file and keeps track of the line the compiler
// will assign to the next byte written, so that every piece of original
// source lands on its original line: before copying a piece whose line
// differs, it writes a /*line file:line:col*/ directive.
type writer struct {
	buf  bytes.Buffer
	fset *token.FileSet
	src  []byte
	base int // the token.File's base: offset = pos - base

	file string // the filename and line the compiler assigns to the next byte
	line int
}

// glue writes generated code.
func (w *writer) glue(s string) {
	w.buf.WriteString(s)
	w.line += strings.Count(s, "\n")
}

// gluef writes formatted generated code.
func (w *writer) gluef(format string, args ...any) { w.glue(fmt.Sprintf(format, args...)) }

// copy writes the original source in [lo, hi), on its original lines.
func (w *writer) copy(lo, hi token.Pos) {
	if lo >= hi {
		return
	}
	w.sync(lo)
	w.buf.Write(w.src[int(lo)-w.base : int(hi)-w.base])
	end := w.fset.Position(hi)
	w.file, w.line = end.Filename, end.Line
}

// sync makes the next byte written be reported at pos's line.
func (w *writer) sync(pos token.Pos) {
	p := w.fset.Position(pos)
	if p.Filename == w.file && p.Line == w.line {
		return
	}
	fmt.Fprintf(&w.buf, "/*line %s:%d:%d*/", p.Filename, p.Line, p.Column)
	w.file, w.line = p.Filename, p.Line
}

// render writes node n: through its rule if it has one, as the original
// source if nothing in it changes, and otherwise as the original source with
// its changed children rendered in place. A decoration (a wrap or an unwrap
// of a channel) goes around whatever n renders to.
func (r *fileRewriter) render(n ast.Node) {
	if d, ok := r.decor[n]; ok {
		r.w.glue(d.before)
		r.renderInner(n)
		r.w.glue(d.after)
		return
	}
	r.renderInner(n)
}

func (r *fileRewriter) renderInner(n ast.Node) {
	if rule, ok := r.rules[n]; ok {
		start := r.w.buf.Len()
		rule()
		if _, stmt := n.(ast.Stmt); stmt {
			// Keep the file's line count: a statement whose rewrite moved
			// pieces (a go statement's arguments on lines of their own) ends
			// with the lines it lost.
			lost := bytes.Count(r.w.src[int(n.Pos())-r.w.base:int(n.End())-r.w.base], []byte("\n")) -
				bytes.Count(r.w.buf.Bytes()[start:], []byte("\n"))
			if lost > 0 {
				r.w.glue(strings.Repeat("\n", lost))
			}
		}
		return
	}
	if !r.dirty[n] {
		r.w.copy(n.Pos(), n.End())
		return
	}
	pos := n.Pos()
	for _, c := range children(n) {
		if c.Pos() < n.Pos() || c.Pos() >= n.End() {
			continue // a comment outside n's range (a field's doc): the parent copies it
		}
		r.w.copy(pos, c.Pos())
		r.render(c)
		pos = c.End()
	}
	r.w.copy(pos, n.End())
}

// children returns the direct children of n in source order. A function
// declaration's type starts at the func keyword, before the receiver and the
// name: its parts are children instead.
func children(n ast.Node) []ast.Node {
	if fd, ok := n.(*ast.FuncDecl); ok {
		var cs []ast.Node
		for _, c := range []ast.Node{fd.Doc, fd.Recv, fd.Name, fd.Type.TypeParams, fd.Type.Params, fd.Type.Results, fd.Body} {
			if c != nil && !reflect.ValueOf(c).IsNil() {
				cs = append(cs, c)
			}
		}
		return cs
	}
	var cs []ast.Node
	ast.Inspect(n, func(c ast.Node) bool {
		if c == nil || c == n {
			return c == n
		}
		cs = append(cs, c)
		return false
	})
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Pos() < cs[j].Pos() })
	return cs
}

// decoration is generated code around a node's rendering.
type decoration struct{ before, after string }
