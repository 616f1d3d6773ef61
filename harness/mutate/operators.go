package mutate

import (
	"fmt"
	"go/ast"
	"go/token"
	"strings"
)

// Operator is one kind of concurrency mutation. Operators find their
// places from syntax alone; each place gives one mutant.
type Operator struct {
	// Name is the operator's name: in reports, in --operators and as the
	// prefix of its mutants' ids.
	Name string
	// Doc says what the operator changes and which forms it recognises.
	Doc string
	// find returns the places in a function body where the operator
	// applies.
	find func(f *file, body *ast.BlockStmt) []site
}

// Operators returns every operator, in the order Generate applies them
// (when two make the same file, the first one's mutant is kept).
func Operators() []Operator {
	return []Operator{
		{Name: "lock-pair", Doc: "drop a critical section's Lock and its Unlock (RLock/RUnlock too; explicit or deferred; " +
			"any x.Lock(): harness.Mutex, harness.RWMutex, sync.Mutex, sync.RWMutex)", find: lockPair},
		{Name: "split-section", Doc: "split a critical section in two: x.Unlock(); x.Lock() after its first statement", find: splitSection},
		{Name: "move-out", Doc: "move the first statement of a critical section before its Lock, or the last one after its Unlock", find: moveOut},
		{Name: "drop-cleanup", Doc: "drop a cleanup call, deferred or not: x.Close() (channels, connections, listeners), close(ch), " +
			"x.Done() (WaitGroup), cancel() and x.cancel() (a context's cancel func), x.Stop() (timers, tickers), delete(m, k)", find: dropCleanup},
		{Name: "chan-buffer", Doc: "make a buffered channel unbuffered, or an unbuffered one buffered (capacity 1): " +
			"P.NewChan[T](n) of heddle's harness, make(chan T, n)", find: chanBuffer},
		{Name: "drop-done-case", Doc: "stop a select from watching its context: remove case <-ctx.Done() from a select statement; " +
			"replace P.Done(ctx) in P.Select(...) by a case that never proceeds (a nil channel's receive), keeping the cases' positions", find: dropDoneCase},
		{Name: "swap-chan", Doc: "swap a channel operation with the statement before or after it: ch <- v, <-ch, select, close(ch), " +
			"c.Send(v), c.Recv(), P.Select(...)", find: swapChan},
		{Name: "ignore-ctx", Doc: "make a loop ignore its context: every ctx.Err() check in it holds no more " +
			"(E.Err() != nil becomes false, E.Err() == nil true, also through err := E.Err()), and every Done case of its selects never proceeds", find: ignoreCtx},
		{Name: "early-return", Doc: "return early without the deferred cleanup: a defer still runs on the path that reaches the end " +
			"of its block, but not on the returns before it", find: earlyReturn},
	}
}

// OperatorNames returns the names of every operator, in order.
func OperatorNames() []string {
	var out []string
	for _, op := range Operators() {
		out = append(out, op.Name)
	}
	return out
}

// LookupOperator returns the operator with the given name.
func LookupOperator(name string) (Operator, bool) {
	for _, op := range Operators() {
		if op.Name == name {
			return op, true
		}
	}
	return Operator{}, false
}

// eachSection calls visit with every critical section of the body.
func eachSection(f *file, body *ast.BlockStmt, visit func(section)) {
	stmtLists(body, func(list []ast.Stmt) {
		for _, sec := range f.sections(list) {
			visit(sec)
		}
	})
}

func lockPair(f *file, body *ast.BlockStmt) []site {
	var out []site
	eachSection(f, body, func(sec section) {
		lock := sec.list[sec.lock]
		s := site{at: lock, key: f.text(lock) + "\n" + f.text(sec.end()),
			desc: "drop " + f.short(lock) + " and " + f.short(sec.end())}
		// A local variable the lock is reached through (mu, or t of t.mu)
		// stays used, or the mutant would not compile ("declared and not
		// used"); its address is taken, so nothing is read.
		removed := []ast.Node{lock, sec.end()}
		inner := sec.inner()
		if len(inner) > 0 {
			s.need = append(s.need, inner[0])
			s.key += "\n" + f.text(inner[0])
		}
		// Locks and unlocks inside the section (an unlock before an early
		// return) go too: the whole section runs without the lock.
		for _, st := range inner {
			inspectFlat(st, func(n ast.Node) bool {
				if x, ok := n.(ast.Stmt); ok {
					if r, _, rd, _, ok := f.lockCall(x); ok && r == sec.recv && rd == sec.read {
						removed = append(removed, x)
						return false
					}
				}
				return true
			})
		}
		keep := ""
		if id := rootIdent(lock.(*ast.ExprStmt).X.(*ast.CallExpr).Fun.(*ast.SelectorExpr).X); id != nil && !usedBesides(body, id.Name, removed) {
			keep = "_ = &" + id.Name
		}
		s.edits = append(s.edits, f.replace(lock, keep))
		for _, r := range removed[1:] {
			s.edits = append(s.edits, f.replace(r, ""))
		}
		out = append(out, s)
	})
	return out
}

func splitSection(f *file, body *ast.BlockStmt) []site {
	var out []site
	eachSection(f, body, func(sec section) {
		inner := sec.inner()
		// Releasing the lock next to code that touches nothing shared
		// changes nothing another goroutine can see.
		if len(inner) < 2 || !movable(inner[0]) || terminal(inner[0]) || f.pure(inner[0]) || f.allPure(inner[1:]) {
			return
		}
		text := "; " + sec.recvText + "." + sec.unlockName + "(); " + sec.recvText + "." + sec.lockName + "()"
		out = append(out, site{at: inner[0], need: []ast.Node{inner[1]},
			key:   f.text(sec.list[sec.lock]) + "\n" + f.text(inner[0]),
			desc:  "release and retake " + sec.recvText + " after " + f.short(inner[0]),
			edits: []edit{f.insert(inner[0].End(), text)}})
	})
	return out
}

// rotate moves the last of the consecutive statements list[from..to] to
// the front, keeping the text between statements where it was (so the
// file keeps its number of lines).
func (f *file) rotate(list []ast.Stmt, from, to int) edit {
	var b strings.Builder
	b.WriteString(f.text(list[to]))
	for i := from; i < to; i++ {
		b.WriteString(f.between(list[i], list[i+1]))
		b.WriteString(f.text(list[i]))
	}
	return edit{f.off(list[from].Pos()), f.off(list[to].End()), b.String()}
}

func moveOut(f *file, body *ast.BlockStmt) []site {
	var out []site
	eachSection(f, body, func(sec section) {
		inner := sec.inner()
		if len(inner) < 2 {
			return // moving the only statement out is dropping the pair
		}
		lockKey := f.text(sec.list[sec.lock])
		// The first statement, before the Lock (and before a deferred
		// Unlock that follows the Lock).
		first := inner[0]
		firstAt := indexOf(sec.list, first)
		if movable(first) && !f.pure(first) && !f.touchesLock(first, sec) && firstAt > sec.lock {
			if _, ok := first.(*ast.DeferStmt); !ok {
				out = append(out, site{at: first, key: lockKey + "\nfirst\n" + f.text(first),
					desc:  "move " + f.short(first) + " before " + f.short(sec.list[sec.lock]),
					edits: []edit{f.rotate(sec.list, sec.lock, firstAt)}})
			}
		}
		// The last statement, after an explicit Unlock.
		if sec.unlock < 0 {
			return
		}
		last := sec.list[sec.unlock-1]
		if movable(last) && !f.pure(last) && !f.touchesLock(last, sec) && !terminal(last) {
			if _, ok := last.(*ast.DeferStmt); !ok {
				out = append(out, site{at: last, key: lockKey + "\nlast\n" + f.text(last),
					desc:  "move " + f.short(last) + " after " + f.short(sec.end()),
					edits: []edit{f.rotate(sec.list, sec.unlock-1, sec.unlock)}})
			}
		}
	})
	return out
}

func indexOf(list []ast.Stmt, s ast.Stmt) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// terminal reports whether a statement ends its block's path (a return,
// a jump, a panic).
func terminal(s ast.Stmt) bool {
	switch s := s.(type) {
	case *ast.ReturnStmt, *ast.BranchStmt:
		return true
	case *ast.ExprStmt:
		if c, ok := s.X.(*ast.CallExpr); ok && builtin(c) == "panic" {
			return true
		}
	}
	return false
}

// isCleanup recognises the calls drop-cleanup drops.
func (f *file) isCleanup(c *ast.CallExpr) bool {
	switch b := builtin(c); {
	case b == "close" && len(c.Args) == 1, b == "delete" && len(c.Args) == 2:
		return true
	case b != "" && len(c.Args) == 0 && strings.Contains(strings.ToLower(b), "cancel"):
		return true
	}
	_, name, ok := f.method(c)
	if !ok || len(c.Args) != 0 {
		return false
	}
	switch name {
	case "Close", "Stop", "Done":
		return true
	}
	return strings.Contains(strings.ToLower(name), "cancel")
}

func dropCleanup(f *file, body *ast.BlockStmt) []site {
	var out []site
	stmtLists(body, func(list []ast.Stmt) {
		for _, s := range list {
			c, _ := callOf(s)
			if c == nil || !f.isCleanup(c) {
				continue
			}
			out = append(out, site{at: s, key: f.text(s), desc: "drop " + f.short(s), edits: []edit{f.replace(s, f.dropped(c))}})
		}
	})
	return out
}

func chanBuffer(f *file, body *ast.BlockStmt) []site {
	var out []site
	ast.Inspect(body, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		var capArg ast.Expr
		switch {
		case isNewChan(c):
			capArg = c.Args[0]
		case builtin(c) == "make" && len(c.Args) >= 1 && isChanType(c.Args[0]):
			if len(c.Args) == 1 {
				out = append(out, site{at: c, key: f.text(c), desc: "unbuffered to capacity 1: " + f.short(c), edits: []edit{f.insert(c.Rparen, ", 1")}})
				return true
			}
			capArg = c.Args[1]
		default:
			return true
		}
		to := "0"
		if lit, ok := ast.Unparen(capArg).(*ast.BasicLit); ok && lit.Kind == token.INT && lit.Value == "0" {
			to = "1"
		}
		out = append(out, site{at: c, key: f.text(c), desc: "capacity " + f.text(capArg) + " to " + to + ": " + f.short(c), edits: []edit{f.replace(capArg, to)}})
		return true
	})
	return out
}

// isNewChan recognises NewChan[T](n) and P.NewChan[T](n).
func isNewChan(c *ast.CallExpr) bool {
	if len(c.Args) != 1 {
		return false
	}
	var fun ast.Expr
	switch x := c.Fun.(type) {
	case *ast.IndexExpr:
		fun = x.X
	case *ast.IndexListExpr:
		fun = x.X
	default:
		return false
	}
	switch x := fun.(type) {
	case *ast.Ident:
		return x.Name == "NewChan"
	case *ast.SelectorExpr:
		return x.Sel.Name == "NewChan"
	}
	return false
}

func isChanType(e ast.Expr) bool {
	_, ok := ast.Unparen(e).(*ast.ChanType)
	return ok
}

// blankOut replaces a node by the newlines it spans, keeping the file's
// line numbers.
func (f *file) blankOut(n ast.Node) edit {
	return f.replace(n, strings.Repeat("\n", strings.Count(f.text(n), "\n")))
}

// doneEdits returns the edits that stop the selects in loop (outside
// function literals and nested loops) from watching a context, one per
// Done case.
func (f *file) doneEdits(loop *ast.ForStmt) (edits []edit) {
	inspectFlat(loop, func(x ast.Node) bool {
		if _, ok := x.(*ast.ForStmt); ok && x != loop {
			return false
		}
		switch x := x.(type) {
		case *ast.SelectStmt:
			for _, cl := range x.Body.List {
				if cc := cl.(*ast.CommClause); commIsDone(cc) {
					edits = append(edits, f.blankOut(cc))
				}
			}
		case *ast.CallExpr:
			if f.harnessSelect(x) {
				for _, a := range x.Args {
					if pkg, ok := f.harnessDone(a); ok {
						edits = append(edits, f.replace(a, neverCase(pkg)))
					}
				}
			}
		}
		return true
	})
	return edits
}

func dropDoneCase(f *file, body *ast.BlockStmt) []site {
	var out []site
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectStmt:
			for _, cl := range n.Body.List {
				if cc := cl.(*ast.CommClause); commIsDone(cc) {
					out = append(out, site{at: n, key: f.text(cc.Comm), desc: "remove `case " + f.text(cc.Comm) + ":` from a select", edits: []edit{f.blankOut(cc)}})
				}
			}
		case *ast.CallExpr:
			if f.harnessSelect(n) {
				for _, a := range n.Args {
					if pkg, ok := f.harnessDone(a); ok {
						out = append(out, site{at: n, key: f.text(n) + "\n" + f.text(a),
							desc:  "a Select stops watching " + f.short(a) + ": " + f.short(n),
							edits: []edit{f.replace(a, neverCase(pkg))}})
					}
				}
			}
		}
		return true
	})
	return out
}

func swapChan(f *file, body *ast.BlockStmt) []site {
	var out []site
	stmtLists(body, func(list []ast.Stmt) {
		done := map[int]bool{}
		pair := func(i int) {
			if i < 0 || i+1 >= len(list) || done[i] {
				return
			}
			done[i] = true
			a, b := list[i], list[i+1]
			if !movable(a) || !movable(b) || terminal(a) || uses(b, declares(a)) || f.pure(a) || f.pure(b) {
				return
			}
			at := a
			if !f.chanOp(a) {
				at = b
			}
			out = append(out, site{at: at, need: []ast.Node{a, b}, key: f.text(a) + "\n" + f.text(b),
				desc:  "swap " + f.short(a) + " and " + f.short(b),
				edits: []edit{f.rotate(list, i, i+1)}})
		}
		for i, s := range list {
			if f.chanOp(s) {
				pair(i - 1)
				pair(i)
			}
		}
	})
	return out
}

func ignoreCtx(f *file, body *ast.BlockStmt) []site {
	var out []site
	ast.Inspect(body, func(n ast.Node) bool {
		loop, ok := n.(*ast.ForStmt)
		if !ok {
			return true
		}
		var edits []edit
		// Each comparison is edited once: an if's own check is found
		// through the if, not again as a comparison.
		edited := map[ast.Expr]bool{}
		check := func(cond ast.Expr, eq bool) {
			if edited[cond] {
				return
			}
			edited[cond] = true
			t := f.text(cond)
			if eq {
				edits = append(edits, f.replace(cond, "("+t+" || true)"))
			} else {
				edits = append(edits, f.replace(cond, "("+t+" && false)"))
			}
		}
		inspectFlat(loop, func(x ast.Node) bool {
			if x != loop {
				if _, ok := x.(*ast.ForStmt); ok {
					return false // an inner loop is a mutant of its own
				}
			}
			switch x := x.(type) {
			case *ast.IfStmt:
				// if err := ctx.Err(); err != nil
				if as, ok := x.Init.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 && isErrCall(as.Rhs[0]) {
					if v, eq, ok := nilCheck(x.Cond); ok {
						if id, ok := v.(*ast.Ident); ok && f.text(as.Lhs[0]) == id.Name {
							check(x.Cond, eq)
						}
					}
				}
			case *ast.BinaryExpr:
				if v, eq, ok := nilCheck(x); ok && isErrCall(v) {
					check(x, eq)
				}
			}
			return true
		})
		edits = append(edits, f.doneEdits(loop)...)
		if len(edits) == 0 {
			return true
		}
		need := ast.Node(loop)
		if len(loop.Body.List) > 0 {
			need = loop.Body.List[0]
		}
		header := f.text(loop)
		if i := strings.IndexByte(header, '{'); i >= 0 {
			header = header[:i]
		}
		key := header
		for _, e := range edits {
			key += "\n" + string(f.src[e.start:e.end])
		}
		out = append(out, site{at: loop, need: []ast.Node{need}, key: key, edits: edits,
			desc: fmt.Sprintf("the loop %s ignores its context (%d checks)", "`"+strings.TrimSpace(header)+"`", len(edits))})
		return true
	})
	return out
}

// skipFlag is the variable an early-return mutant adds.
const skipFlag = "heddleMutantSkip"

func earlyReturn(f *file, body *ast.BlockStmt) []site {
	var out []site
	stmtLists(body, func(list []ast.Stmt) {
		for i, s := range list {
			d, ok := s.(*ast.DeferStmt)
			if !ok {
				continue
			}
			var returns []ast.Node
			for j := i + 1; j < len(list); j++ {
				if j == len(list)-1 {
					if _, ok := list[j].(*ast.ReturnStmt); ok {
						break // the block's own last return: the path that keeps the cleanup
					}
				}
				inspectFlat(list[j], func(n ast.Node) bool {
					if r, ok := n.(*ast.ReturnStmt); ok {
						returns = append(returns, r)
					}
					return true
				})
			}
			if len(returns) == 0 {
				continue
			}
			edits := []edit{f.replace(d, skipFlag+" := false; defer func() { if !"+skipFlag+" { "+f.text(d.Call)+" } }()")}
			for _, r := range returns {
				edits = append(edits, f.insert(r.Pos(), skipFlag+" = true; "))
			}
			out = append(out, site{at: d, some: returns, key: f.text(d), edits: edits,
				desc: fmt.Sprintf("skip %s on %d early return(s)", f.short(d), len(returns))})
		}
	})
	return out
}

// usedBesides reports whether body uses the variable name outside the
// removed statements, declarations aside: whether a variable declared in
// body stays used once they are gone. (A parameter may go unused.)
func usedBesides(body *ast.BlockStmt, name string, removed []ast.Node) bool {
	declared, used := false, false
	ast.Inspect(body, func(n ast.Node) bool {
		for _, r := range removed {
			if n == r {
				return false
			}
		}
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == name {
						declared = true
					} else {
						ast.Inspect(l, func(x ast.Node) bool {
							used = used || isIdent(x, name)
							return true
						})
					}
				}
				for _, r := range n.Rhs {
					ast.Inspect(r, func(x ast.Node) bool {
						used = used || isIdent(x, name)
						return true
					})
				}
				return false
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				declared = declared || id.Name == name
			}
			for _, v := range n.Values {
				ast.Inspect(v, func(x ast.Node) bool {
					used = used || isIdent(x, name)
					return true
				})
			}
			return false
		case *ast.Ident:
			used = used || n.Name == name
		}
		return true
	})
	return used || !declared
}

func isIdent(n ast.Node, name string) bool {
	id, ok := n.(*ast.Ident)
	return ok && id.Name == name
}

// rootIdent returns the variable an expression x.f.g starts from.
func rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			return x
		case *ast.SelectorExpr:
			e = x.X
		default:
			return nil
		}
	}
}
