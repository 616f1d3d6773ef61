package mutate

import (
	"go/ast"
	"go/token"
	"strings"
)

// stmtLists calls visit with every statement list in body: blocks, case
// and select clauses, those of function literals included.
func stmtLists(body *ast.BlockStmt, visit func(list []ast.Stmt)) {
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BlockStmt:
			visit(n.List)
		case *ast.CaseClause:
			visit(n.Body)
		case *ast.CommClause:
			visit(n.Body)
		}
		return true
	})
}

// inspectFlat is ast.Inspect that does not enter function literals: their
// code runs at another time, on another path.
func inspectFlat(n ast.Node, f func(ast.Node) bool) {
	ast.Inspect(n, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		return f(n)
	})
}

// callOf returns the call a statement makes: an expression statement's,
// or a defer's.
func callOf(s ast.Stmt) (call *ast.CallExpr, deferred bool) {
	switch s := s.(type) {
	case *ast.ExprStmt:
		c, _ := ast.Unparen(s.X).(*ast.CallExpr)
		return c, false
	case *ast.DeferStmt:
		return s.Call, true
	}
	return nil, false
}

// method returns the receiver and name of a call x.m(...), unless x is an
// imported package.
func (f *file) method(c *ast.CallExpr) (recv ast.Expr, name string, ok bool) {
	sel, isSel := c.Fun.(*ast.SelectorExpr)
	if !isSel || f.isPackage(sel.X) {
		return nil, "", false
	}
	return sel.X, sel.Sel.Name, true
}

// pkgFunc returns the package and name of a call p.F(...) of an imported
// package's function.
func (f *file) pkgFunc(c *ast.CallExpr) (pkg, name string, ok bool) {
	sel, isSel := c.Fun.(*ast.SelectorExpr)
	if !isSel || !f.isPackage(sel.X) {
		return "", "", false
	}
	return sel.X.(*ast.Ident).Name, sel.Sel.Name, true
}

func (f *file) isPackage(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && f.imports[id.Name]
}

// builtin returns the name of a call of close, delete, make, new ... by an
// unqualified name.
func builtin(c *ast.CallExpr) string {
	if id, ok := c.Fun.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// lockCall recognises x.Lock(), x.RLock(), x.Unlock() and x.RUnlock() (of
// harness.Mutex, harness.RWMutex, sync.Mutex, sync.RWMutex or any Locker):
// it returns the receiver's text without spaces, whether the call takes
// the lock, and whether it is the read lock.
func (f *file) lockCall(s ast.Stmt) (recv string, lock, read, deferred, ok bool) {
	c, deferred := callOf(s)
	if c == nil || len(c.Args) != 0 {
		return "", false, false, false, false
	}
	x, name, isMethod := f.method(c)
	if !isMethod {
		return "", false, false, false, false
	}
	switch name {
	case "Lock":
		lock = true
	case "RLock":
		lock, read = true, true
	case "Unlock":
	case "RUnlock":
		read = true
	default:
		return "", false, false, false, false
	}
	return strings.Join(strings.Fields(f.text(x)), ""), lock, read, deferred, true
}

// section is a critical section: x.Lock() at list[lock], released by
// x.Unlock() at list[unlock] or by defer x.Unlock() at list[deferAt].
type section struct {
	list            []ast.Stmt
	lock            int
	unlock, deferAt int // -1 when absent
	recv            string
	recvText        string
	lockName        string
	unlockName      string
	read            bool
}

// inner returns the statements the section holds the lock for (the defer
// that releases it left out).
func (s section) inner() []ast.Stmt {
	if s.unlock >= 0 {
		return s.list[s.lock+1 : s.unlock]
	}
	var out []ast.Stmt
	for i := s.lock + 1; i < len(s.list); i++ {
		if i != s.deferAt {
			out = append(out, s.list[i])
		}
	}
	return out
}

// end is the statement that releases the lock.
func (s section) end() ast.Stmt {
	if s.unlock >= 0 {
		return s.list[s.unlock]
	}
	return s.list[s.deferAt]
}

// sections finds the critical sections that open in list: a Lock whose
// Unlock (or deferred Unlock) is a later statement of the same list.
func (f *file) sections(list []ast.Stmt) []section {
	var out []section
	for i, s := range list {
		recv, lock, read, deferred, ok := f.lockCall(s)
		if !ok || !lock || deferred {
			continue
		}
		sec := section{list: list, lock: i, unlock: -1, deferAt: -1, recv: recv, read: read,
			recvText: f.text(s.(*ast.ExprStmt).X.(*ast.CallExpr).Fun.(*ast.SelectorExpr).X)}
		sec.lockName, sec.unlockName = "Lock", "Unlock"
		if read {
			sec.lockName, sec.unlockName = "RLock", "RUnlock"
		}
		for j := i + 1; j < len(list); j++ {
			r, l, rd, d, ok := f.lockCall(list[j])
			if !ok || r != recv || rd != read {
				continue
			}
			if l {
				break // locked again before any unlock: not a section
			}
			if d {
				sec.deferAt = j
			} else {
				sec.unlock = j
			}
			break
		}
		if sec.unlock >= 0 || sec.deferAt >= 0 {
			out = append(out, sec)
		}
	}
	return out
}

// touchesLock reports whether n (outside function literals) locks or
// unlocks the section's lock.
func (f *file) touchesLock(n ast.Node, sec section) bool {
	found := false
	inspectFlat(n, func(n ast.Node) bool {
		if s, ok := n.(ast.Stmt); ok {
			if r, _, rd, _, ok := f.lockCall(s); ok && r == sec.recv && rd == sec.read {
				found = true
			}
		}
		return !found
	})
	return found
}

// movable reports whether a statement may change places with another:
// not a jump, a label, an empty statement or a declaration of a label.
func movable(s ast.Stmt) bool {
	switch s.(type) {
	case *ast.ReturnStmt, *ast.BranchStmt, *ast.LabeledStmt, *ast.EmptyStmt:
		return false
	}
	return true
}

// declares returns the names a statement declares in its block.
func declares(s ast.Stmt) map[string]bool {
	names := map[string]bool{}
	switch s := s.(type) {
	case *ast.AssignStmt:
		if s.Tok == token.DEFINE {
			for _, l := range s.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
					names[id.Name] = true
				}
			}
		}
	case *ast.DeclStmt:
		if gd, ok := s.Decl.(*ast.GenDecl); ok {
			for _, sp := range gd.Specs {
				switch sp := sp.(type) {
				case *ast.ValueSpec:
					for _, n := range sp.Names {
						names[n.Name] = true
					}
				case *ast.TypeSpec:
					names[sp.Name.Name] = true
				}
			}
		}
	}
	return names
}

// uses reports whether n mentions one of names.
func uses(n ast.Node, names map[string]bool) bool {
	if len(names) == 0 {
		return false
	}
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && names[id.Name] {
			found = true
		}
		return !found
	})
	return found
}

// dropped is what replaces a dropped call: assignments to _ of the
// receiver and of the arguments that are names or selectors, so that a
// variable the call alone used (a cancel func) still counts as used.
func (f *file) dropped(c *ast.CallExpr) string {
	var keep []string
	add := func(e ast.Expr) {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			if x.Name == "nil" || x.Name == "true" || x.Name == "false" || f.imports[x.Name] {
				return
			}
		case *ast.SelectorExpr:
			if f.isPackage(x.X) {
				return
			}
		default:
			return
		}
		keep = append(keep, "_ = "+f.text(e))
	}
	switch fun := c.Fun.(type) {
	case *ast.SelectorExpr:
		add(fun.X)
	case *ast.Ident:
		switch fun.Name {
		case "close", "delete", "panic", "print", "println":
		default:
			add(fun)
		}
	}
	for _, a := range c.Args {
		add(a)
	}
	return strings.Join(keep, "; ")
}

// isErrCall recognises E.Err(), a context's check.
func isErrCall(e ast.Expr) bool {
	c, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok || len(c.Args) != 0 {
		return false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Err"
}

func isNil(e ast.Expr) bool {
	id, ok := ast.Unparen(e).(*ast.Ident)
	return ok && id.Name == "nil"
}

// nilCheck returns the compared expression of x == nil or x != nil.
func nilCheck(e ast.Expr) (x ast.Expr, eq, ok bool) {
	b, isBin := ast.Unparen(e).(*ast.BinaryExpr)
	if !isBin || (b.Op != token.EQL && b.Op != token.NEQ) {
		return nil, false, false
	}
	switch {
	case isNil(b.Y):
		return b.X, b.Op == token.EQL, true
	case isNil(b.X):
		return b.Y, b.Op == token.EQL, true
	}
	return nil, false, false
}

// isDoneRecv recognises <-E.Done(), a receive from a context's channel.
func isDoneRecv(e ast.Expr) bool {
	u, ok := ast.Unparen(e).(*ast.UnaryExpr)
	if !ok || u.Op != token.ARROW {
		return false
	}
	c, ok := ast.Unparen(u.X).(*ast.CallExpr)
	if !ok || len(c.Args) != 0 {
		return false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Done"
}

// commIsDone reports whether a select clause receives from E.Done().
func commIsDone(cc *ast.CommClause) bool {
	switch s := cc.Comm.(type) {
	case *ast.ExprStmt:
		return isDoneRecv(s.X)
	case *ast.AssignStmt:
		return len(s.Rhs) == 1 && isDoneRecv(s.Rhs[0])
	}
	return false
}

// harnessDone recognises P.Done(ctx), a Select case of package P (heddle's
// harness) that proceeds once ctx is done, and returns P.
func (f *file) harnessDone(e ast.Expr) (string, bool) {
	c, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok || len(c.Args) != 1 {
		return "", false
	}
	pkg, name, ok := f.pkgFunc(c)
	return pkg, ok && name == "Done"
}

// harnessSelect recognises P.Select(cases...).
func (f *file) harnessSelect(c *ast.CallExpr) bool {
	_, name, ok := f.pkgFunc(c)
	return ok && name == "Select"
}

// neverCase is a Select case of package pkg that never proceeds: a receive
// from a nil *Chan. It keeps the positions of the other cases, which
// Select's result counts.
func neverCase(pkg string) string {
	return "(*" + pkg + ".Chan[struct{}])(nil).RecvCase(nil, nil)"
}

// header returns the parts of a statement that run when it starts, its
// nested blocks left out.
func header(s ast.Stmt) []ast.Node {
	var out []ast.Node
	add := func(ns ...ast.Node) {
		for _, n := range ns {
			if n != nil {
				out = append(out, n)
			}
		}
	}
	switch s := s.(type) {
	case *ast.ExprStmt:
		add(s.X)
	case *ast.SendStmt:
		add(s)
	case *ast.AssignStmt:
		for _, e := range s.Rhs {
			add(e)
		}
	case *ast.DeclStmt:
		add(s)
	case *ast.ReturnStmt:
		for _, e := range s.Results {
			add(e)
		}
	case *ast.IfStmt:
		add(s.Init, s.Cond)
	case *ast.SwitchStmt:
		add(s.Init, s.Tag)
	case *ast.SelectStmt:
		add(s)
	}
	return out
}

// chanOp reports whether a statement communicates on a channel as it
// starts: a send or receive (ch <- v, <-ch, select), close(ch), or
// heddle's c.Send(v), c.Recv() and P.Select(...).
func (f *file) chanOp(s ast.Stmt) bool {
	if _, ok := s.(*ast.SelectStmt); ok {
		return true
	}
	if _, ok := s.(*ast.SendStmt); ok {
		return true
	}
	found := false
	for _, h := range header(s) {
		inspectFlat(h, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.UnaryExpr:
				found = found || n.Op == token.ARROW
			case *ast.CallExpr:
				if builtin(n) == "close" && len(n.Args) == 1 {
					found = true
				}
				if _, name, ok := f.method(n); ok {
					found = found || (name == "Send" && len(n.Args) == 1) || (name == "Recv" && len(n.Args) == 0)
				}
				found = found || f.harnessSelect(n)
			}
			return !found
		})
	}
	return found
}

// pure reports whether a statement reads or writes nothing another
// goroutine can reach: no field, element, pointer, call, channel, closure
// or address taken; bare names are taken to be the function's own
// variables or constants (the systems keep no mutable package state).
// Moving such a statement across a lock or a channel operation, or
// releasing a lock before it, cannot change what another goroutine sees.
func (f *file) pure(s ast.Stmt) bool {
	ok := true
	ast.Inspect(s, func(n ast.Node) bool {
		if !ok {
			return false
		}
		switch n := n.(type) {
		case *ast.SelectorExpr:
			ok = f.isPackage(n.X)
		case *ast.IndexExpr, *ast.IndexListExpr, *ast.StarExpr, *ast.CallExpr,
			*ast.SendStmt, *ast.FuncLit, *ast.GoStmt, *ast.DeferStmt, *ast.SelectStmt, *ast.RangeStmt:
			ok = false
		case *ast.UnaryExpr:
			ok = n.Op != token.ARROW && n.Op != token.AND
		}
		return ok
	})
	return ok
}

// allPure reports whether every statement of list is pure.
func (f *file) allPure(list []ast.Stmt) bool {
	for _, s := range list {
		if !f.pure(s) {
			return false
		}
	}
	return true
}
