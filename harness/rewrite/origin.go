package rewrite

import (
	"go/ast"
	"go/token"
	"go/types"
)

// Where a channel comes from decides what it is once rewritten: a channel
// type written in a rewritten package becomes lang.Chan, while one written in
// a package that is not rewritten (the standard library, another module)
// stays a Go channel. Types are structural, so the type of an expression
// does not say which; its origin does. A channel of a named type is what its
// declaration's package makes it. For an unnamed channel type, origin follows
// the expression back to the declaration its type comes from: a variable
// declared with a type, a field, a function's result.

// varSource is how a variable of the package got its type.
type varSource struct {
	init  ast.Expr // the expression it was initialised from; nil: declared with a type
	multi bool     // init is a call (or comma-ok receive) whose first result it takes
}

// collectVars records how every variable declared without a type in the
// package's files got its type.
func (p *pkgRewriter) collectVars() {
	def := func(id *ast.Ident, init ast.Expr, multi bool) {
		if v, ok := p.info.Defs[id].(*types.Var); ok {
			p.vars[v] = varSource{init: init, multi: multi}
		}
	}
	for _, f := range p.files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				if n.Type != nil {
					return true
				}
				for i, name := range n.Names {
					switch {
					case len(n.Values) == len(n.Names):
						def(name, n.Values[i], false)
					case len(n.Values) == 1:
						def(name, n.Values[0], true)
					}
				}
			case *ast.AssignStmt:
				if n.Tok != token.DEFINE {
					return true
				}
				for i, l := range n.Lhs {
					id, ok := l.(*ast.Ident)
					if !ok {
						continue
					}
					switch {
					case len(n.Rhs) == len(n.Lhs):
						def(id, n.Rhs[i], false)
					case len(n.Rhs) == 1:
						def(id, n.Rhs[0], true)
					}
				}
			case *ast.RangeStmt:
				if n.Tok != token.DEFINE {
					return true
				}
				for _, l := range []ast.Expr{n.Key, n.Value} {
					if id, ok := l.(*ast.Ident); ok {
						def(id, n.X, true)
					}
				}
			}
			return true
		})
	}
}

// rewritten reports whether the package's channels are heddle's.
func (p *pkgRewriter) rewritten(pkg *types.Package) bool {
	if pkg == nil || pkg == p.pkg || pkg.Path() == p.pkg.Path() {
		return true
	}
	return p.cfg.Rewritten != nil && p.cfg.Rewritten(pkg.Path())
}

// isChan reports whether t is a channel type (named or not).
func isChan(t types.Type) bool {
	if t == nil {
		return false
	}
	_, ok := t.Underlying().(*types.Chan)
	return ok
}

// chanForeign reports whether e, a channel, is a Go channel once the package
// is rewritten (it comes from code that is not rewritten).
func (p *pkgRewriter) chanForeign(e ast.Expr) bool {
	return p.typeForeign(p.info.TypeOf(e), func() bool { return p.originForeign(e) })
}

// typeForeign reports whether the channel type t is a Go channel once
// rewritten; origin decides for an unnamed type.
func (p *pkgRewriter) typeForeign(t types.Type, origin func() bool) bool {
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		return !p.rewritten(t.Obj().Pkg())
	case *types.TypeParam:
		return false
	}
	return origin()
}

// originForeign reports whether the unnamed part of e's type was written in
// code that is not rewritten.
func (p *pkgRewriter) originForeign(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return p.originForeign(e.X)
	case *ast.Ident:
		switch obj := p.info.Uses[e].(type) {
		case *types.Var:
			return p.varForeign(obj)
		}
		if v, ok := p.info.Defs[e].(*types.Var); ok {
			return p.varForeign(v)
		}
		return false
	case *ast.SelectorExpr:
		if sel, ok := p.info.Selections[e]; ok {
			obj := sel.Obj()
			if sel.Kind() == types.FieldVal {
				return !p.rewritten(obj.Pkg()) && !inDropInType(obj)
			}
			return !p.rewritten(obj.Pkg()) // a method value or expression
		}
		obj := p.info.Uses[e.Sel]
		return obj != nil && !p.rewritten(obj.Pkg()) && !isDropIn(obj)
	case *ast.CallExpr:
		return p.callForeign(e)
	case *ast.IndexExpr:
		return p.originForeign(e.X)
	case *ast.IndexListExpr:
		return p.originForeign(e.X)
	case *ast.SliceExpr:
		return p.originForeign(e.X)
	case *ast.StarExpr:
		return p.originForeign(e.X)
	case *ast.UnaryExpr:
		return p.originForeign(e.X)
	}
	// Composite and function literals, type assertions and conversions
	// have their type written here.
	return false
}

// callForeign reports whether the results of call come from code that is not
// rewritten (before any wrapping this package adds).
func (p *pkgRewriter) callForeign(call *ast.CallExpr) bool {
	fun := ast.Unparen(call.Fun)
	if tv, ok := p.info.Types[fun]; ok && tv.IsType() {
		return false // a conversion to a type written here
	}
	if id := calleeIdent(fun); id != nil {
		switch obj := p.info.Uses[id].(type) {
		case *types.Builtin:
			if obj.Name() == "append" && len(call.Args) > 0 {
				return p.originForeign(call.Args[0])
			}
			return false
		case *types.Func:
			return !p.rewritten(obj.Pkg()) && !isDropIn(obj)
		}
	}
	if sel, ok := fun.(*ast.SelectorExpr); ok {
		if s, ok := p.info.Selections[sel]; ok && s.Kind() != types.FieldVal {
			return !p.rewritten(s.Obj().Pkg())
		}
	}
	return p.originForeign(fun) // a function value
}

// calleeIdent returns the identifier that names a function called by name
// (f, pkg.F, F[T], pkg.F[T]), or nil.
func calleeIdent(fun ast.Expr) *ast.Ident {
	switch f := ast.Unparen(fun).(type) {
	case *ast.Ident:
		return f
	case *ast.SelectorExpr:
		return f.Sel
	case *ast.IndexExpr:
		return calleeIdent(f.X)
	case *ast.IndexListExpr:
		return calleeIdent(f.X)
	}
	return nil
}

// varForeign reports whether variable v holds values of code that is not
// rewritten: a variable of such a package, or one of this package declared
// without a type from such a value. A channel itself is wrapped where such a
// variable is declared from it, so only composite values (a slice of Go
// channels from a third-party function) make a variable of this package
// foreign.
func (p *pkgRewriter) varForeign(v *types.Var) bool {
	if !p.rewritten(v.Pkg()) {
		return true
	}
	if f, ok := p.varMemo[v]; ok {
		return f
	}
	src, ok := p.vars[v]
	if !ok || src.init == nil {
		return false
	}
	p.varMemo[v] = false // a cycle through v adds nothing
	var f bool
	switch {
	case src.multi:
		f = p.originForeign(src.init)
	case isChan(v.Type()):
		f = false // wrapped at the declaration
	default:
		f = p.originForeign(src.init)
	}
	p.varMemo[v] = f
	return f
}
