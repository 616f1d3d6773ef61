package rewrite

import (
	"go/ast"
	"go/types"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GotestPath is the import path of the package that rewritten tests call
// (Config.Tests).
const GotestPath = Module + "/harness/gotest"

// With Config.Tests, the rewrite also makes the package's tests run under
// heddle test (package gotest):
//
//	func TestX(t *testing.T) {   ->  func TestX(t *testing.T) {gotest.Test(t, func(t *testing.T) {
//		body                         	body
//	}                                })}
//
// and points testing's Cleanup, Context, Parallel and Run, called on a
// *testing.T (Cleanup and Context also on a *testing.B, *testing.F or
// testing.TB), at gotest.Of(x), whose methods have the same signatures. The
// body keeps its lines: what is added goes on the lines of the braces.

// testFunc wraps the body of a Test function of a _test.go file.
func (r *fileRewriter) testFunc(n *ast.FuncDecl) {
	if !strings.HasSuffix(filepath.Base(r.p.fset.File(n.Pos()).Name()), "_test.go") || !IsTestFunc(n, r.p.info) {
		return
	}
	field := n.Type.Params.List[0]
	typ := string(r.w.src[int(field.Type.Pos())-r.w.base : int(field.Type.End())-r.w.base])
	outer, inner := "", "_"
	if len(field.Names) == 1 && field.Names[0].Name != "_" {
		outer, inner = field.Names[0].Name, field.Names[0].Name
	} else {
		// The test does not name its *testing.T: name it for the call.
		outer = r.tmp("t")
		r.rules[n.Type.Params] = func() {
			r.w.glue("(" + outer + " ")
			r.w.copy(field.Type.Pos(), field.Type.End())
			r.w.glue(")")
		}
	}
	r.decor[n.Body] = decoration{
		before: "{" + r.alias(GotestPath) + ".Test(" + outer + ", func(" + inner + " " + typ + ") ",
		after:  ")}",
	}
}

// IsTestFunc reports whether a declaration of a _test.go file is a Test
// function for go test: func TestXxx(t *testing.T), with a body. info gives
// the parameter's type.
func IsTestFunc(n *ast.FuncDecl, info *types.Info) bool {
	if n.Recv != nil || n.Body == nil || n.Type.TypeParams != nil || !isTestName(n.Name.Name) {
		return false
	}
	params := n.Type.Params.List
	if len(params) != 1 || len(params[0].Names) > 1 || n.Type.Results != nil && len(n.Type.Results.List) > 0 {
		return false
	}
	return isTestingType(info.TypeOf(params[0].Type), "*testing.T")
}

// isTestName reports whether name is a Test function's for go test: Test,
// or Test followed by a character that is not a lower-case letter.
func isTestName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Test")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLower(r)
}

// isTestingType reports whether t is one of testing's types, named as
// types.TypeString names it ("*testing.T", "testing.TB", ...).
func isTestingType(t types.Type, names ...string) bool {
	if t == nil {
		return false
	}
	s := types.TypeString(t, nil)
	for _, n := range names {
		if s == n {
			return true
		}
	}
	return false
}

// testingMethod: x.Cleanup(f), x.Context(), x.Parallel(), x.Run(name, f) of a
// test -> gotest.Of(x).Cleanup(f), ...
func (r *fileRewriter) testingMethod(n *ast.SelectorExpr) {
	sel := r.p.info.Selections[n]
	if sel == nil || sel.Kind() != types.MethodVal {
		return
	}
	fn, ok := sel.Obj().(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "testing" {
		return
	}
	switch fn.Name() {
	case "Cleanup", "Context":
		if !isTestingType(sel.Recv(), "*testing.T", "*testing.B", "*testing.F", "testing.TB") {
			return
		}
	case "Parallel", "Run":
		if !isTestingType(sel.Recv(), "*testing.T") {
			return
		}
	default:
		return
	}
	if _, ok := r.decor[n.X]; ok {
		return
	}
	r.decor[n.X] = decoration{before: r.alias(GotestPath) + ".Of(", after: ")"}
}
