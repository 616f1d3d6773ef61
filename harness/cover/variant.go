package cover

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
)

// Region is a range of a package's source: code that runs only under
// another variant of the system than the one measured.
type Region struct {
	// File is the base name of the file in the package's directory.
	File string `json:"file"`
	// StartLine, StartCol, EndLine and EndCol delimit the region, both
	// ends included.
	StartLine int `json:"start_line"`
	StartCol  int `json:"start_col"`
	EndLine   int `json:"end_line"`
	EndCol    int `json:"end_col"`
	// Why says what puts the region on another variant's path.
	Why string `json:"why"`
}

// Contains reports whether line:col of file (a base name) lies in r.
func (r Region) Contains(file string, line, col int) bool {
	return r.File == file && before(r.StartLine, r.StartCol, line, col) && before(line, col, r.EndLine, r.EndCol)
}

// InRegions reports whether line:col of file lies in one of regions.
func InRegions(regions []Region, file string, line, col int) bool {
	for _, r := range regions {
		if r.Contains(file, line, col) {
			return true
		}
	}
	return false
}

// VariantOnly returns the regions of the Go package in dir (its files for
// the current platform, tests excluded) that do not run when the system is
// the variant named by the constant self (e.g. "Fixed"): code that only the
// other variants run. The other variants are the constants declared in the
// same const block as self (Buggy, Merged, ...). A package without such a
// constant has no regions.
//
// The analysis reads syntax only, and recognises these forms, E being any
// expression (s.variant, c.opts.Variant, v):
//
//   - if E == Other { R } and if E != Self { R }: R (with && of such
//     conditions as well; ! and || are followed);
//   - if E == Self { ... } else { R }: R; and if E == Self { ...; return }
//     with no else: every statement after it in the same block;
//   - switch E { case Other: R }: R; default: R when a case names Self;
//   - a type, function or method that the package uses only inside such
//     regions (a type built only by a Buggy branch, as &racyConsumers{}; a
//     helper only the Buggy branch calls): its declarations, with their
//     bodies. Methods are matched by name, so only a name that one method
//     of the package has and no interface of the package declares is
//     followed. A function the package never calls is not left out.
//
// What it cannot see (a variant chosen through a table of functions, a
// flag read at run time) stays counted: the measure can only be too
// strict. What it sees wrongly (an exported function the Buggy branch
// calls here and another package calls too) is caught by the coverage
// itself: Summarize counts a block of a region that ran as covered.
func VariantOnly(dir, self string) ([]Region, error) {
	fset, files, err := parsePackage(dir)
	if err != nil {
		return nil, err
	}
	others := peers(files, self)
	if len(others) == 0 {
		return nil, nil
	}
	a := &variantAnalysis{fset: fset, self: self, others: others, src: map[string][]byte{}}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				a.walk(fd.Body)
			}
		}
	}
	a.propagate(files)
	sort.Slice(a.regions, func(i, j int) bool {
		x, y := a.regions[i], a.regions[j]
		if x.File != y.File {
			return x.File < y.File
		}
		return before(x.StartLine, x.StartCol, y.StartLine, y.StartCol) && (x.StartLine != y.StartLine || x.StartCol != y.StartCol)
	})
	return a.regions, nil
}

// parsePackage parses the non-test Go files of the package in dir that
// build on this platform.
func parsePackage(dir string) (*token.FileSet, []*ast.File, error) {
	bp, err := build.ImportDir(dir, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("reading package %s: %w", dir, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing %s: %w", name, err)
		}
		files = append(files, f)
	}
	return fset, files, nil
}

// peers returns the other constants of the const block that declares self.
func peers(files []*ast.File, self string) map[string]bool {
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			var names []string
			found := false
			for _, s := range gd.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					names = append(names, n.Name)
					found = found || n.Name == self
				}
			}
			if !found {
				continue
			}
			others := map[string]bool{}
			for _, n := range names {
				if n != self && n != "_" {
					others[n] = true
				}
			}
			return others
		}
	}
	return nil
}

type variantAnalysis struct {
	fset    *token.FileSet
	self    string
	others  map[string]bool
	regions []Region
	src     map[string][]byte
}

func (a *variantAnalysis) add(from, to token.Pos, why string) {
	s, e := a.fset.Position(from), a.fset.Position(to)
	a.regions = append(a.regions, Region{File: filepath.Base(s.Filename), StartLine: s.Line, StartCol: s.Column,
		EndLine: e.Line, EndCol: e.Column, Why: why})
}

func (a *variantAnalysis) inRegions(pos token.Pos) bool {
	p := a.fset.Position(pos)
	return InRegions(a.regions, filepath.Base(p.Filename), p.Line, p.Column)
}

// text renders an expression for a region's Why.
func (a *variantAnalysis) text(e ast.Node) string {
	p := a.fset.Position(e.Pos())
	src, ok := a.src[p.Filename]
	if !ok {
		src, _ = readFile(p.Filename)
		a.src[p.Filename] = src
	}
	end := a.fset.Position(e.End()).Offset
	if src == nil || end > len(src) {
		return "?"
	}
	return strings.Join(strings.Fields(string(src[p.Offset:end])), " ")
}

// variantName returns the constant e names when it is one of the variants.
func (a *variantAnalysis) variantName(e ast.Expr) (string, bool) {
	var name string
	switch e := e.(type) {
	case *ast.Ident:
		name = e.Name
	case *ast.SelectorExpr:
		name = e.Sel.Name
	case *ast.ParenExpr:
		return a.variantName(e.X)
	default:
		return "", false
	}
	return name, name == a.self || a.others[name]
}

// truth is what cond is when the variant is self: 1 true, -1 false, 0 not
// known.
func (a *variantAnalysis) truth(e ast.Expr) int {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return a.truth(e.X)
	case *ast.UnaryExpr:
		if e.Op == token.NOT {
			return -a.truth(e.X)
		}
	case *ast.BinaryExpr:
		switch e.Op {
		case token.LAND:
			l, r := a.truth(e.X), a.truth(e.Y)
			switch {
			case l == -1 || r == -1:
				return -1
			case l == 1 && r == 1:
				return 1
			}
		case token.LOR:
			l, r := a.truth(e.X), a.truth(e.Y)
			switch {
			case l == 1 || r == 1:
				return 1
			case l == -1 && r == -1:
				return -1
			}
		case token.EQL, token.NEQ:
			name, ok := a.variantName(e.Y)
			if _, both := a.variantName(e.X); both == ok {
				// Neither side, or both, name a variant.
				return 0
			}
			if !ok {
				name, _ = a.variantName(e.X)
			}
			t := -1
			if name == a.self {
				t = 1
			}
			if e.Op == token.NEQ {
				t = -t
			}
			return t
		}
	}
	return 0
}

// walk finds the regions of one function body.
func (a *variantAnalysis) walk(body *ast.BlockStmt) {
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IfStmt:
			switch a.truth(n.Cond) {
			case -1:
				a.add(n.Body.Lbrace, n.Body.Rbrace, fmt.Sprintf("runs only when not %s: if %s", a.self, a.text(n.Cond)))
			case 1:
				if n.Else != nil {
					// From the end of the then-block: the cover tool starts
					// the else's block before its brace.
					a.add(n.Body.End(), n.Else.End()-1, fmt.Sprintf("runs only when not %s: else of if %s", a.self, a.text(n.Cond)))
				}
			}
		case *ast.SwitchStmt:
			a.switchRegions(n)
		case *ast.BlockStmt:
			a.restAfterReturn(n.List)
		case *ast.CaseClause:
			a.restAfterReturn(n.Body)
		case *ast.CommClause:
			a.restAfterReturn(n.Body)
		}
		return true
	})
}

// restAfterReturn marks what follows `if E == Self { ...; return }` in a
// statement list: only another variant gets there.
func (a *variantAnalysis) restAfterReturn(list []ast.Stmt) {
	for i, s := range list {
		is, ok := s.(*ast.IfStmt)
		if !ok || is.Else != nil || i == len(list)-1 || a.truth(is.Cond) != 1 || !terminates(is.Body) {
			continue
		}
		a.add(list[i+1].Pos(), list[len(list)-1].End()-1, fmt.Sprintf("runs only when not %s: after if %s { ... return }", a.self, a.text(is.Cond)))
		return
	}
}

func terminates(b *ast.BlockStmt) bool {
	if len(b.List) == 0 {
		return false
	}
	switch s := b.List[len(b.List)-1].(type) {
	case *ast.ReturnStmt, *ast.BranchStmt:
		return true
	case *ast.ExprStmt:
		if c, ok := s.X.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "panic" {
				return true
			}
		}
	}
	return false
}

func (a *variantAnalysis) switchRegions(sw *ast.SwitchStmt) {
	listsSelf := false
	type clause struct {
		cc    *ast.CaseClause
		never bool
	}
	var clauses []clause
	for _, s := range sw.Body.List {
		cc := s.(*ast.CaseClause)
		if cc.List == nil {
			clauses = append(clauses, clause{cc: cc})
			continue
		}
		never := true
		for _, e := range cc.List {
			if sw.Tag != nil {
				name, ok := a.variantName(e)
				if !ok {
					never = false
				} else if name == a.self {
					never, listsSelf = false, true
				}
			} else {
				switch a.truth(e) {
				case 1:
					never, listsSelf = false, true
				case 0:
					never = false
				}
			}
		}
		clauses = append(clauses, clause{cc: cc, never: never})
	}
	for _, c := range clauses {
		if c.cc.List == nil {
			c.never = listsSelf
		}
		if c.never && len(c.cc.Body) > 0 {
			a.add(c.cc.Colon+1, c.cc.End()-1, fmt.Sprintf("runs only when not %s: a switch case for other variants", a.self))
		}
	}
}

// propagate adds the types, functions and methods that only code in the
// regions uses (in this package: a use from another package is not seen,
// which is why Summarize counts a block of a region that ran as covered),
// until nothing more is added.
func (a *variantAnalysis) propagate(files []*ast.File) {
	funcs := map[string]*ast.FuncDecl{}     // unexported functions
	methods := map[string][]*ast.FuncDecl{} // every method, by name
	typeMethods := map[string][]*ast.FuncDecl{}
	types := map[string]bool{} // unexported types
	ifaceMethods := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					funcs[d.Name.Name] = d
					continue
				}
				methods[d.Name.Name] = append(methods[d.Name.Name], d)
				if t := recvType(d); t != "" {
					typeMethods[t] = append(typeMethods[t], d)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok {
						continue
					}
					types[ts.Name.Name] = true
					if it, ok := ts.Type.(*ast.InterfaceType); ok {
						for _, m := range it.Methods.List {
							for _, n := range m.Names {
								ifaceMethods[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	done := map[*ast.FuncDecl]bool{}
	excludeDecl := func(d *ast.FuncDecl, why string) {
		if done[d] {
			return
		}
		done[d] = true
		a.add(d.Pos(), d.End()-1, why)
	}
	for changed := true; changed; {
		changed = false
		uses := a.uses(files, done)
		for name := range types {
			if a.onlyInRegions(uses.idents[name]) {
				delete(types, name)
				for _, m := range typeMethods[name] {
					excludeDecl(m, fmt.Sprintf("runs only when not %s: a method of %s, which only code for other variants uses", a.self, name))
				}
				changed = true
			}
		}
		for name, d := range funcs {
			if a.onlyInRegions(uses.idents[name]) {
				delete(funcs, name)
				excludeDecl(d, fmt.Sprintf("runs only when not %s: %s is called only by code for other variants", a.self, name))
				changed = true
			}
		}
		for name, ds := range methods {
			if len(ds) != 1 || ifaceMethods[name] || done[ds[0]] {
				continue
			}
			if a.onlyInRegions(uses.selectors[name]) {
				excludeDecl(ds[0], fmt.Sprintf("runs only when not %s: %s is called only by code for other variants", a.self, name))
				changed = true
			}
		}
	}
}

// recvType is the name of a method's receiver type.
func recvType(d *ast.FuncDecl) string {
	t := d.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.ParenExpr:
			t = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

type usesOf struct {
	idents    map[string][]token.Pos // identifiers, outside declarations' own names
	selectors map[string][]token.Pos // x.name
}

// uses collects where identifiers and selectors are used, outside the
// declarations already excluded, outside declared names, and outside each
// declaration's own uses of itself (a function's recursion, a method's
// receiver type, a type's reference to itself).
func (a *variantAnalysis) uses(files []*ast.File, excluded map[*ast.FuncDecl]bool) usesOf {
	u := usesOf{idents: map[string][]token.Pos{}, selectors: map[string][]token.Pos{}}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if excluded[d] {
					continue
				}
				self := d.Name.Name
				if d.Recv != nil {
					self = recvType(d)
				}
				ast.Inspect(d.Type, a.identVisitor(u, self))
				if d.Body != nil {
					ast.Inspect(d.Body, a.identVisitor(u, self))
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						ast.Inspect(s.Type, a.identVisitor(u, s.Name.Name))
					case *ast.ValueSpec:
						if s.Type != nil {
							ast.Inspect(s.Type, a.identVisitor(u, ""))
						}
						for _, v := range s.Values {
							ast.Inspect(v, a.identVisitor(u, ""))
						}
					}
				}
			}
		}
	}
	return u
}

func (a *variantAnalysis) identVisitor(u usesOf, self string) func(ast.Node) bool {
	return func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			u.selectors[n.Sel.Name] = append(u.selectors[n.Sel.Name], n.Pos())
			ast.Inspect(n.X, a.identVisitor(u, self))
			return false
		case *ast.Ident:
			if n.Name != self {
				u.idents[n.Name] = append(u.idents[n.Name], n.Pos())
			}
		}
		return true
	}
}

// onlyInRegions reports whether there is at least one use and every one
// lies in a region.
func (a *variantAnalysis) onlyInRegions(uses []token.Pos) bool {
	if len(uses) == 0 {
		return false
	}
	for _, p := range uses {
		if !a.inRegions(p) {
			return false
		}
	}
	return true
}
