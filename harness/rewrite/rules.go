package rewrite

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"
)

// walk registers a rule for every construct of the file that changes, and a
// decoration for every channel that crosses between rewritten code and code
// that is not rewritten.
func (r *fileRewriter) walk() {
	info := r.p.info
	ast.Inspect(r.f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ChanType:
			r.chanType(n)
		case *ast.SelectorExpr:
			r.dropInSelector(n)
			if r.p.cfg.Tests {
				r.testingMethod(n)
			}
		case *ast.FuncDecl:
			if r.p.cfg.Tests {
				r.testFunc(n)
			}
		case *ast.Ident:
			r.dropInIdent(n)
		case *ast.GoStmt:
			r.goStmt(n)
		case *ast.SendStmt:
			r.flowSend(n.Chan, n.Value)
			if !r.skip[n] {
				r.send(n)
			}
		case *ast.UnaryExpr:
			if n.Op == token.ARROW && !r.skip[n] {
				r.recv(n)
			}
		case *ast.RangeStmt:
			if isChan(info.TypeOf(n.X)) {
				r.rangeChan(n)
			}
		case *ast.SelectStmt:
			r.selectStmt(n)
		case *ast.CallExpr:
			r.call(n)
		case *ast.AssignStmt:
			r.flowAssign(n)
		case *ast.ValueSpec:
			r.flowValueSpec(n)
		case *ast.ReturnStmt:
			r.flowReturn(n)
		case *ast.CompositeLit:
			r.flowCompositeLit(n)
		case *ast.BinaryExpr:
			r.compare(n)
		}
		return true
	})
}

// chanType: chan T, <-chan T, chan<- T -> lang.Chan[T].
func (r *fileRewriter) chanType(n *ast.ChanType) {
	r.rules[n] = func() {
		r.w.glue(r.lang() + ".Chan[")
		r.render(n.Value)
		r.w.glue("]")
	}
}

// dropInSelector: sync.Mutex -> <drop-in sync>.Mutex, and so on.
func (r *fileRewriter) dropInSelector(n *ast.SelectorExpr) {
	x, ok := n.X.(*ast.Ident)
	if !ok {
		return
	}
	pn, ok := r.p.info.Uses[x].(*types.PkgName)
	if !ok || !isDropIn(r.p.info.Uses[n.Sel]) {
		return
	}
	r.removed[pn]++
	path := dropIns[pn.Imported().Path()].path
	r.rules[n] = func() {
		r.w.glue(r.alias(path) + ".")
		r.w.copy(n.Sel.Pos(), n.Sel.End())
	}
}

// dropInIdent: a dot-imported Mutex -> <drop-in sync>.Mutex.
func (r *fileRewriter) dropInIdent(n *ast.Ident) {
	obj := r.p.info.Uses[n]
	if !isDropIn(obj) {
		return
	}
	if sel, ok := r.parent[n].(*ast.SelectorExpr); ok && sel.Sel == n {
		return
	}
	path := dropIns[obj.Pkg().Path()].path
	r.rules[n] = func() {
		r.w.glue(r.alias(path) + ".")
		r.w.copy(n.Pos(), n.End())
	}
}

// on renders lang.On(c) for the channel expression c.
func (r *fileRewriter) on(c ast.Expr) {
	r.w.glue(r.lang() + ".On(")
	r.render(c)
	r.w.glue(")")
}

// send: c <- v -> lang.On(c).Send(v).
func (r *fileRewriter) send(n *ast.SendStmt) {
	r.needLang(n.Chan)
	r.rules[n] = func() {
		r.on(n.Chan)
		r.w.glue(".Send(")
		r.render(n.Value)
		r.w.glue(")")
	}
}

// recv: <-c -> lang.On(c).Recv(), or RecvOK() where two values are taken.
func (r *fileRewriter) recv(n *ast.UnaryExpr) {
	r.needLang(n.X)
	method := ".Recv()"
	if r.commaOk(n) {
		method = ".RecvOK()"
	}
	r.rules[n] = func() {
		r.on(n.X)
		r.w.glue(method)
	}
}

// commaOk reports whether the receive n is the right-hand side of v, ok :=
// (or =, or var v, ok =).
func (r *fileRewriter) commaOk(n ast.Expr) bool {
	p := r.parent[n]
	for {
		pe, ok := p.(*ast.ParenExpr)
		if !ok {
			break
		}
		p = r.parent[pe]
	}
	switch p := p.(type) {
	case *ast.AssignStmt:
		return len(p.Lhs) == 2 && len(p.Rhs) == 1
	case *ast.ValueSpec:
		return len(p.Names) == 2 && len(p.Values) == 1
	}
	return false
}

// call handles make, close, len and cap of channels, and the flows of a
// call's arguments into its parameters.
func (r *fileRewriter) call(n *ast.CallExpr) {
	info := r.p.info
	fun := ast.Unparen(n.Fun)
	if tv, ok := info.Types[fun]; ok && tv.IsType() {
		if len(n.Args) == 1 {
			t := tv.Type
			r.flow(n.Args[0], t, func() bool { return r.p.typeForeign(t, func() bool { return false }) })
		}
		return
	}
	if id, ok := fun.(*ast.Ident); ok {
		if b, ok := info.Uses[id].(*types.Builtin); ok {
			r.builtin(n, b.Name())
			return
		}
	}
	sig, ok := info.TypeOf(n.Fun).Underlying().(*types.Signature)
	if !ok {
		return
	}
	calleeForeign := r.p.callForeign(n)
	params := sig.Params()
	for i, a := range n.Args {
		var pt types.Type
		switch {
		case sig.Variadic() && i >= params.Len()-1:
			if n.Ellipsis.IsValid() {
				continue
			}
			pt = params.At(params.Len() - 1).Type().(*types.Slice).Elem()
		case i < params.Len():
			pt = params.At(i).Type()
		default:
			continue
		}
		r.flow(a, pt, func() bool { return r.p.typeForeign(pt, func() bool { return calleeForeign }) })
	}
}

func (r *fileRewriter) builtin(n *ast.CallExpr, name string) {
	info := r.p.info
	switch name {
	case "make":
		if len(n.Args) == 0 || !isChan(info.TypeOf(n.Args[0])) {
			return
		}
		t := info.TypeOf(n.Args[0])
		if r.p.typeForeign(t, func() bool { return false }) {
			return // a named channel type of code that is not rewritten
		}
		r.rules[n] = func() {
			r.w.glue(r.lang() + ".Make[")
			r.render(n.Args[0])
			r.w.glue("](")
			if len(n.Args) < 2 {
				r.w.glue("0")
			} else if size := n.Args[1]; r.isInt(size) {
				r.render(size)
			} else {
				r.w.glue(r.lang() + ".Size(")
				r.render(size)
				r.w.glue(")")
			}
			r.w.glue(")")
		}
	case "close", "len", "cap":
		if len(n.Args) != 1 || !isChan(info.TypeOf(n.Args[0])) {
			return
		}
		method := map[string]string{"close": ".Close()", "len": ".Len()", "cap": ".Cap()"}[name]
		r.needLang(n.Args[0])
		r.rules[n] = func() {
			r.on(n.Args[0])
			r.w.glue(method)
		}
	case "append":
		if len(n.Args) < 2 || n.Ellipsis.IsValid() {
			return
		}
		s, ok := info.TypeOf(n.Args[0]).Underlying().(*types.Slice)
		if !ok {
			return
		}
		elem, slice := s.Elem(), n.Args[0]
		for _, a := range n.Args[1:] {
			r.flow(a, elem, func() bool { return r.p.typeForeign(elem, func() bool { return r.p.originForeign(slice) }) })
		}
	}
}

// isInt reports whether e is an int or an untyped constant: a size make
// takes as it is.
func (r *fileRewriter) isInt(e ast.Expr) bool {
	tv := r.p.info.Types[e]
	if b, ok := tv.Type.(*types.Basic); ok && (b.Kind() == types.Int || b.Info()&types.IsUntyped != 0) {
		return true
	}
	return false
}

// rangeChan: for k := range c { body } ->
// for it := lang.On(c);; { k, ok := it.RecvOK(); if !ok { break }; body }
func (r *fileRewriter) rangeChan(n *ast.RangeStmt) {
	r.needLang(n.X)
	r.rules[n] = func() {
		it, ok := r.tmp("it"), r.tmp("ok")
		r.w.copy(n.For, n.For+3)
		r.w.glue(" " + it + " := ")
		r.on(n.X)
		r.w.glue(";; {")
		recv := ", " + ok + " := " + it + ".RecvOK(); if !" + ok + " { break };"
		switch {
		case n.Key == nil:
			r.w.glue("_" + recv)
		case n.Tok == token.DEFINE:
			r.render(n.Key)
			r.w.glue(recv)
		default:
			v := r.tmp("v")
			r.w.glue(v + recv + " ")
			r.render(n.Key)
			r.w.glue(" = " + v + ";")
		}
		r.renderList(n.Body.Lbrace+1, n.Body.Rbrace+1, stmts(n.Body.List))
	}
}

// renderList renders the source in [lo, hi) with the nodes in it rendered.
func (r *fileRewriter) renderList(lo, hi token.Pos, nodes []ast.Node) {
	pos := lo
	for _, c := range nodes {
		r.w.copy(pos, c.Pos())
		r.render(c)
		pos = c.End()
	}
	r.w.copy(pos, hi)
}

func stmts(list []ast.Stmt) []ast.Node {
	ns := make([]ast.Node, len(list))
	for i, s := range list {
		ns[i] = s
	}
	return ns
}

// selectStmt: a select statement becomes a switch over lang.Select, its
// cases evaluated, in source order, in the switch's init statement:
//
//	select {                      switch c0, c1 := lang.On(a).RecvCase(), lang.On(b).SendCase(v); lang.Select(true, c0, c1) {
//	case x, ok := <-a:       ->   case 0: x, ok := c0.V, c0.OK;
//	case b <- v:                  case 1:
//	default:                      default:
//	}                             }
//
// Without a default case the switch gets one that panics (Select never
// chooses it), so that a select whose every case returns is still a
// terminating statement. select {} becomes a loop around harness.Select(),
// which blocks forever (in a World, where the runtime sees it).
func (r *fileRewriter) selectStmt(n *ast.SelectStmt) {
	comms, hasDefault := r.selectComms(n)
	r.rules[n] = func() {
		if len(n.Body.List) == 0 {
			r.w.glue("for { " + r.alias(HarnessPath) + ".Select() }")
			return
		}
		r.selects++
		cases := r.selectCases(comms)
		r.w.glue("switch ")
		if len(comms) > 0 {
			r.selectInit(comms, cases)
		}
		r.w.gluef("%s.Select(%t", r.lang(), hasDefault)
		for _, cc := range comms {
			r.w.glue(", " + cases[cc].name)
		}
		r.w.glue(") {")
		r.selectBody(n, cases, hasDefault)
	}
}

// selectCase is a communication clause of a select statement as the
// rewrite names it: its index among lang.Select's cases and the variable
// that holds its case in the switch's init statement.
type selectCase struct {
	index int
	name  string
}

// selectComms returns a select statement's communication clauses, in
// source order, and whether it has a default clause. It marks each
// clause's send or receive as handled here, so that the send and receive
// rules leave it alone, and notes that its channel needs lang.On.
func (r *fileRewriter) selectComms(n *ast.SelectStmt) (comms []*ast.CommClause, hasDefault bool) {
	for _, s := range n.Body.List {
		cc := s.(*ast.CommClause)
		if cc.Comm == nil {
			hasDefault = true
			continue
		}
		comms = append(comms, cc)
		switch c := cc.Comm.(type) {
		case *ast.SendStmt:
			r.skip[c] = true
			r.needLang(c.Chan)
		case *ast.ExprStmt:
			u := ast.Unparen(c.X).(*ast.UnaryExpr)
			r.skip[u] = true
			r.needLang(u.X)
		case *ast.AssignStmt:
			u := ast.Unparen(c.Rhs[0]).(*ast.UnaryExpr)
			r.skip[u] = true
			r.needLang(u.X)
		}
	}
	return comms, hasDefault
}

// selectCases names the cases of the select being rendered (the r.selects'th
// of the file), with the package's fresh prefix so that the names cannot
// collide with the program's.
func (r *fileRewriter) selectCases(comms []*ast.CommClause) map[*ast.CommClause]selectCase {
	cases := make(map[*ast.CommClause]selectCase, len(comms))
	for i, cc := range comms {
		cases[cc] = selectCase{index: i, name: fmt.Sprintf("%ss%d_%d", r.p.prefix, r.selects, i)}
	}
	return cases
}

// selectInit writes the switch's init statement, s0, s1 := On(a).RecvCase(),
// On(b).SendCase(v): the cases' channels and sent values are evaluated
// there, once and in source order, as Go evaluates a select's.
func (r *fileRewriter) selectInit(comms []*ast.CommClause, cases map[*ast.CommClause]selectCase) {
	for i, cc := range comms {
		if i > 0 {
			r.w.glue(", ")
		}
		r.w.glue(cases[cc].name)
	}
	r.w.glue(" := ")
	for i, cc := range comms {
		if i > 0 {
			r.w.glue(", ")
		}
		switch c := cc.Comm.(type) {
		case *ast.SendStmt:
			r.on(c.Chan)
			r.w.glue(".SendCase(")
			r.render(c.Value)
			r.w.glue(")")
		case *ast.ExprStmt:
			r.on(ast.Unparen(c.X).(*ast.UnaryExpr).X)
			r.w.glue(".RecvCase()")
		case *ast.AssignStmt:
			r.on(ast.Unparen(c.Rhs[0]).(*ast.UnaryExpr).X)
			r.w.glue(".RecvCase()")
		}
	}
	r.w.glue("; ")
}

// selectBody writes the switch's clauses from the select's, the source
// between them copied so that the lines stay where they were, and the
// panicking default that keeps a select without one a terminating
// statement.
func (r *fileRewriter) selectBody(n *ast.SelectStmt, cases map[*ast.CommClause]selectCase, hasDefault bool) {
	pos := n.Body.Lbrace + 1
	for _, s := range n.Body.List {
		cc := s.(*ast.CommClause)
		r.w.copy(pos, cc.Case)
		if cc.Comm == nil {
			r.w.copy(cc.Case, cc.Colon+1)
		} else {
			r.selectClauseHead(cc, cases[cc])
		}
		r.renderList(cc.Colon+1, cc.End(), stmts(cc.Body))
		pos = cc.End()
	}
	r.w.copy(pos, n.Body.Rbrace)
	if !hasDefault {
		r.w.glue("; default: panic(\"heddle: select chose no case\")")
	}
	r.w.copy(n.Body.Rbrace, n.Body.Rbrace+1)
}

// selectClauseHead writes a communication clause's case line, case i:,
// and for a receive that assigns (x, ok := <-a) the assignment from the
// chosen case's value and ok.
func (r *fileRewriter) selectClauseHead(cc *ast.CommClause, c selectCase) {
	r.w.gluef("case %d:", c.index)
	a, ok := cc.Comm.(*ast.AssignStmt)
	if !ok {
		return
	}
	r.w.glue(" ")
	r.render(a.Lhs[0])
	vals := c.name + ".V"
	if len(a.Lhs) == 2 {
		r.w.glue(", ")
		r.render(a.Lhs[1])
		vals += ", " + c.name + ".OK"
	}
	r.w.glue(" " + a.Tok.String() + " " + vals + ";")
}

// goStmt: go f(x, y) -> { fn, a0, a1 := f, x, y; harness.Go(func() { fn(a0, a1) }) }.
// The function value and the arguments are evaluated at the statement, as
// Go evaluates them. A function named statically (f, pkg.F, T.M, a function
// literal, a builtin) and constant arguments need no evaluation and are left
// in the call, so that untyped constants and type inference work as written.
func (r *fileRewriter) goStmt(n *ast.GoStmt) {
	call := n.Call
	fun := ast.Unparen(call.Fun)
	captureFun := !r.staticFunc(fun)
	if lit, ok := fun.(*ast.FuncLit); ok && len(call.Args) == 0 && lit.Type.Params.NumFields() == 0 && lit.Type.Results == nil {
		r.rules[n] = func() { // go func() { ... }() -> harness.Go(func() { ... })
			r.w.glue(r.alias(HarnessPath) + ".Go(")
			r.render(lit)
			r.w.glue(")")
		}
		return
	}
	r.rules[n] = func() { r.goCall(call, captureFun) }
}

// goCapture is one value a go statement evaluates before its goroutine
// starts: the variable that holds it, the expression, and the conversion
// (or "") that keeps an untyped argument's type.
type goCapture struct {
	name string
	e    ast.Expr
	conv string
}

// goCaptures is what a go statement's call captures: all its captures in
// the order Go evaluates them, the function value's variable ("" when the
// function is named statically), and each argument's variable ("" for a
// constant left in the call).
type goCaptures struct {
	all  []goCapture
	fn   string
	args []string
}

// goCall writes a go statement whose call needs its function value or
// arguments evaluated at the statement: the captures in a block around
// harness.Go, and the call, from the captured variables, in the goroutine.
func (r *fileRewriter) goCall(call *ast.CallExpr, captureFun bool) {
	c := r.captureGoCall(call, captureFun)
	if len(c.all) > 0 {
		r.writeGoCaptures(c.all)
	}
	r.w.glue(r.alias(HarnessPath) + ".Go(func() { ")
	if _, isClose := r.rules[call]; isClose && len(call.Args) == 1 {
		// go close(c): the only channel builtin a go statement may call.
		r.w.glue(r.lang() + ".On(" + c.args[0] + ").Close() })")
	} else {
		r.writeGoroutineCall(call, c)
		r.w.glue(") })")
	}
	if len(c.all) > 0 {
		r.w.glue(" }")
	}
}

// captureGoCall names the values a go statement's call captures: the
// function value unless it is named statically, then every argument that is
// not a constant (a constant is left in the call, where its untyped type
// still works).
func (r *fileRewriter) captureGoCall(call *ast.CallExpr, captureFun bool) goCaptures {
	var c goCaptures
	if captureFun {
		c.fn = r.tmp("fn")
		c.all = append(c.all, goCapture{name: c.fn, e: call.Fun})
	}
	c.args = make([]string, len(call.Args))
	for i, a := range call.Args {
		if tv := r.p.info.Types[a]; tv.Value != nil || tv.IsNil() {
			continue // a constant: left in the call
		}
		c.args[i] = r.tmp("a")
		c.all = append(c.all, goCapture{name: c.args[i], e: a, conv: r.untypedConversion(a)})
	}
	return c
}

// writeGoCaptures opens the block around a go statement and evaluates its
// captures there: { fn, a0 := f, x; (converted where an untyped argument
// needs its type kept).
func (r *fileRewriter) writeGoCaptures(caps []goCapture) {
	r.w.glue("{ ")
	for i, c := range caps {
		if i > 0 {
			r.w.glue(", ")
		}
		r.w.glue(c.name)
	}
	r.w.glue(" := ")
	for i, c := range caps {
		if i > 0 {
			r.w.glue(", ")
		}
		if c.conv != "" {
			r.w.glue(c.conv + "(")
		}
		r.render(c.e)
		if c.conv != "" {
			r.w.glue(")")
		}
	}
	r.w.glue("; ")
}

// writeGoroutineCall writes the call the goroutine makes, without its
// closing parenthesis (the caller adds it): fn(a0, 1, a2... with the
// captured variables where there are some, and the statically named
// function and the constant arguments as written.
func (r *fileRewriter) writeGoroutineCall(call *ast.CallExpr, c goCaptures) {
	if c.fn != "" {
		r.w.glue(c.fn)
	} else {
		r.render(call.Fun)
	}
	r.w.glue("(")
	for i, a := range call.Args {
		if i > 0 {
			r.w.glue(", ")
		}
		if c.args[i] == "" {
			r.render(a)
		} else {
			r.w.glue(c.args[i])
		}
	}
	if call.Ellipsis.IsValid() {
		r.w.glue("...")
	}
}

// staticFunc reports whether fun names a function without evaluating
// anything: a function literal, a builtin, a function (f, pkg.F, F[T]) or a
// method expression (T.M).
func (r *fileRewriter) staticFunc(fun ast.Expr) bool {
	if _, ok := fun.(*ast.FuncLit); ok {
		return true
	}
	id := calleeIdent(fun)
	if id == nil {
		return false
	}
	switch r.p.info.Uses[id].(type) {
	case *types.Builtin:
		return true
	case *types.Func:
		x := fun
		for {
			switch e := x.(type) {
			case *ast.IndexExpr:
				x = e.X
				continue
			case *ast.IndexListExpr:
				x = e.X
				continue
			case *ast.ParenExpr:
				x = e.X
				continue
			}
			break
		}
		if sel, ok := x.(*ast.SelectorExpr); ok {
			if s, ok := r.p.info.Selections[sel]; ok {
				return s.Kind() == types.MethodExpr
			}
		}
		return true
	}
	return false
}

// untypedConversion returns the conversion that keeps the type of an untyped
// argument (a comparison passed to a parameter of a named boolean type) once
// it is copied into a variable, or "".
func (r *fileRewriter) untypedConversion(a ast.Expr) string {
	var def types.Type
	switch e := ast.Unparen(a).(type) {
	case *ast.BinaryExpr:
		switch e.Op {
		case token.EQL, token.NEQ, token.LSS, token.LEQ, token.GTR, token.GEQ, token.LAND, token.LOR:
			def = types.Typ[types.Bool]
		case token.SHL, token.SHR:
			if r.p.info.Types[e.X].Value == nil {
				return ""
			}
			def = types.Typ[types.Int]
		default:
			return ""
		}
	case *ast.UnaryExpr:
		if e.Op != token.NOT {
			return ""
		}
		def = types.Typ[types.Bool]
	default:
		return ""
	}
	t := r.p.info.TypeOf(a)
	if t == nil || types.Identical(t, def) {
		return ""
	}
	s, err := r.typeString(t, false)
	if err != nil {
		r.p.errorf(a.Pos(), "an argument of a go statement of type %s: %v", t, err)
		return ""
	}
	return s
}

// needLang wraps e, a channel used by an operation, if it is a Go channel
// from code that is not rewritten.
func (r *fileRewriter) needLang(e ast.Expr) {
	if isChan(r.p.info.TypeOf(e)) && r.p.chanForeign(e) {
		r.wrap(e)
	}
}

// flow handles the value e going where a value of type target goes (an
// assignment, an argument, a result, an element): a nil channel becomes the
// zero Chan, a Go channel going to rewritten code is wrapped, and a
// rewritten channel going to code that is not rewritten is exported.
// targetForeign says whether the target, a channel, stays a Go channel.
func (r *fileRewriter) flow(e ast.Expr, target types.Type, targetForeign func() bool) {
	if !isChan(target) {
		return
	}
	if id, ok := ast.Unparen(e).(*ast.Ident); ok {
		if _, isNil := r.p.info.Uses[id].(*types.Nil); isNil {
			if !targetForeign() {
				r.nilChan(id, target)
			}
			return
		}
	}
	if !isChan(r.p.info.TypeOf(e)) {
		return
	}
	ef, tf := r.p.chanForeign(e), targetForeign()
	switch {
	case ef && !tf:
		r.wrap(e)
	case !ef && tf:
		r.export(e, target)
	}
}

// wrap makes the Go channel e a lang.Chan: lang.Done(ctx) for ctx.Done(),
// lang.Wrap (WrapRecv, WrapSend) otherwise.
func (r *fileRewriter) wrap(e ast.Expr) {
	if _, ok := r.decor[e]; ok {
		return
	}
	if _, ok := r.rules[e]; ok {
		return
	}
	if recv := r.contextDone(e); recv != nil {
		r.rules[e] = func() {
			r.w.glue(r.lang() + ".Done(")
			r.render(recv)
			r.w.glue(")")
		}
		return
	}
	fn := ".Wrap("
	switch r.p.info.TypeOf(e).Underlying().(*types.Chan).Dir() {
	case types.RecvOnly:
		fn = ".WrapRecv("
	case types.SendOnly:
		fn = ".WrapSend("
	}
	r.decor[e] = decoration{before: r.lang() + fn, after: ")"}
}

// export makes the rewritten channel e the Go channel that target, a type of
// code that is not rewritten, needs.
func (r *fileRewriter) export(e ast.Expr, target types.Type) {
	if _, ok := r.decor[e]; ok {
		return
	}
	fn := ".Export("
	switch target.Underlying().(*types.Chan).Dir() {
	case types.RecvOnly:
		fn = ".ExportRecv("
	case types.SendOnly:
		fn = ".ExportSend("
	}
	r.decor[e] = decoration{before: r.lang() + fn, after: ")"}
}

// contextDone returns x if e is x.Done() for a context of code that is not
// rewritten, or nil.
func (r *fileRewriter) contextDone(e ast.Expr) ast.Expr {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok || len(call.Args) != 0 {
		return nil
	}
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Done" {
		return nil
	}
	s, ok := r.p.info.Selections[sel]
	if !ok || s.Kind() != types.MethodVal || r.p.rewritten(s.Obj().Pkg()) {
		return nil
	}
	if !isContext(r.p.info.TypeOf(sel.X)) {
		return nil
	}
	return sel.X
}

// isContext reports whether t has the methods of context.Context.
func isContext(t types.Type) bool {
	ms := types.NewMethodSet(t)
	if _, ok := t.Underlying().(*types.Interface); !ok {
		ms = types.NewMethodSet(types.NewPointer(t))
	}
	for _, name := range []string{"Deadline", "Done", "Err", "Value"} {
		if ms.Lookup(nil, name) == nil {
			return false
		}
	}
	return true
}

// nilChan: a nil channel of a rewritten type -> its zero value.
func (r *fileRewriter) nilChan(id *ast.Ident, t types.Type) {
	r.rules[id] = func() {
		s, err := r.typeString(t, false)
		if err != nil {
			r.p.errorf(id.Pos(), "a nil channel of type %s: %v", t, err)
			r.w.glue("nil")
			return
		}
		if strings.HasPrefix(s, "*") || strings.HasPrefix(s, "func") {
			s = "(" + s + ")"
		}
		r.w.glue(s + "{}")
	}
}

// compare: c == nil -> lang.IsNil(c), c != nil -> !lang.IsNil(c), for a
// rewritten channel c; a Go channel compared with a rewritten one is
// wrapped.
func (r *fileRewriter) compare(n *ast.BinaryExpr) {
	if n.Op != token.EQL && n.Op != token.NEQ {
		return
	}
	info := r.p.info
	x, y := n.X, n.Y
	isNil := func(e ast.Expr) bool {
		id, ok := ast.Unparen(e).(*ast.Ident)
		if !ok {
			return false
		}
		_, ok = info.Uses[id].(*types.Nil)
		return ok
	}
	if isNil(x) {
		x, y = y, x
	}
	if !isChan(info.TypeOf(x)) {
		return
	}
	if isNil(y) {
		if r.p.chanForeign(x) {
			return
		}
		r.rules[n] = func() {
			if n.Op == token.NEQ {
				r.w.glue("!")
			}
			r.w.glue(r.lang() + ".IsNil(")
			r.render(x)
			r.w.glue(")")
		}
		return
	}
	if xf, yf := r.p.chanForeign(x), r.p.chanForeign(y); xf != yf {
		if xf {
			r.wrap(x)
		} else {
			r.wrap(y)
		}
	}
}

// flowSend: the value sent goes where the channel's elements go.
func (r *fileRewriter) flowSend(ch, v ast.Expr) {
	c, ok := r.p.info.TypeOf(ch).Underlying().(*types.Chan)
	if !ok {
		return
	}
	elem := c.Elem()
	r.flow(v, elem, func() bool { return r.p.typeForeign(elem, func() bool { return r.p.originForeign(ch) }) })
}

func (r *fileRewriter) flowAssign(n *ast.AssignStmt) {
	info := r.p.info
	if len(n.Lhs) != len(n.Rhs) {
		return
	}
	for i, l := range n.Lhs {
		rhs := n.Rhs[i]
		if n.Tok == token.DEFINE {
			if id, ok := l.(*ast.Ident); ok {
				if v, ok := info.Defs[id].(*types.Var); ok {
					t := v.Type()
					r.flow(rhs, t, func() bool { return r.p.typeForeign(t, func() bool { return false }) })
					continue
				}
			}
		}
		if n.Tok != token.ASSIGN && n.Tok != token.DEFINE {
			continue
		}
		t := info.TypeOf(l)
		r.flow(rhs, t, func() bool { return r.p.chanForeign(l) })
	}
}

func (r *fileRewriter) flowValueSpec(n *ast.ValueSpec) {
	if len(n.Values) != len(n.Names) {
		return
	}
	for i, name := range n.Names {
		v, ok := r.p.info.Defs[name].(*types.Var)
		if !ok {
			continue
		}
		t := v.Type()
		r.flow(n.Values[i], t, func() bool { return r.p.typeForeign(t, func() bool { return false }) })
	}
}

func (r *fileRewriter) flowReturn(n *ast.ReturnStmt) {
	var sig *types.Signature
	for p := r.parent[n]; p != nil && sig == nil; p = r.parent[p] {
		switch f := p.(type) {
		case *ast.FuncLit:
			sig, _ = r.p.info.TypeOf(f).(*types.Signature)
		case *ast.FuncDecl:
			if fn, ok := r.p.info.Defs[f.Name].(*types.Func); ok {
				sig = fn.Type().(*types.Signature)
			}
		}
	}
	if sig == nil || sig.Results().Len() != len(n.Results) {
		return
	}
	for i, e := range n.Results {
		t := sig.Results().At(i).Type()
		r.flow(e, t, func() bool { return r.p.typeForeign(t, func() bool { return false }) })
	}
}

func (r *fileRewriter) flowCompositeLit(n *ast.CompositeLit) {
	t := r.p.info.TypeOf(n)
	if t == nil {
		return
	}
	switch u := t.Underlying().(type) {
	case *types.Struct:
		for i, e := range n.Elts {
			var field *types.Var
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if id, ok := kv.Key.(*ast.Ident); ok {
					field, _ = r.p.info.Uses[id].(*types.Var)
				}
				e = kv.Value
			} else if i < u.NumFields() {
				field = u.Field(i)
			}
			if field == nil {
				continue
			}
			ft, fpkg := field.Type(), field.Pkg()
			r.flow(e, ft, func() bool { return r.p.typeForeign(ft, func() bool { return !r.p.rewritten(fpkg) }) })
		}
	case *types.Slice, *types.Array, *types.Map:
		var key, elem types.Type
		switch u := u.(type) {
		case *types.Slice:
			elem = u.Elem()
		case *types.Array:
			elem = u.Elem()
		case *types.Map:
			key, elem = u.Key(), u.Elem()
		}
		local := func(t types.Type) func() bool {
			return func() bool { return r.p.typeForeign(t, func() bool { return false }) }
		}
		for _, e := range n.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if key != nil {
					r.flow(kv.Key, key, local(key))
				}
				e = kv.Value
			}
			r.flow(e, elem, local(elem))
		}
	}
}
