package rewrite_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"

	"github.com/heddle-go/heddle/harness/rewrite"
)

// Package rewrites a type-checked package. The rewritten file keeps every
// line where it was; the command that runs the tests builds it through go
// test -overlay (see Load, Rewrite and Overlay for the whole path).
func ExamplePackage() {
	const src = `package pipe

func Double(in <-chan int) <-chan int {
	out := make(chan int, 1)
	go func() {
		for v := range in {
			out <- 2 * v
		}
		close(out)
	}()
	return out
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "/src/pipe/pipe.go", src, parser.ParseComments)
	if err != nil {
		panic(err)
	}
	info := &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{},
		Uses: map[*ast.Ident]types.Object{}, Implicits: map[ast.Node]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{}, Scopes: map[ast.Node]*types.Scope{},
		Instances: map[*ast.Ident]types.Instance{},
	}
	pkg, err := new(types.Config).Check("example.com/pipe", fset, []*ast.File{f}, info)
	if err != nil {
		panic(err)
	}
	source := func(string) ([]byte, error) { return []byte(src), nil }
	files, err := rewrite.Package(rewrite.Config{Source: source}, fset, pkg, info, []*ast.File{f})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s", files[0].Content)
	// Output:
	// package pipe; import (_heddleharness "github.com/heddle-go/heddle/harness"; _heddlelang "github.com/heddle-go/heddle/harness/std/lang")
	//
	// func Double(in _heddlelang.Chan[int]) _heddlelang.Chan[int] {
	// 	out := _heddlelang.Make[_heddlelang.Chan[int]](1)
	// 	_heddleharness.Go(func() {
	// 		for _heddleit1 := _heddlelang.On(in);; {v, _heddleok2 := _heddleit1.RecvOK(); if !_heddleok2 { break };
	// 			_heddlelang.On(out).Send(2 * v)
	// 		}
	// 		_heddlelang.On(out).Close()
	// 	})
	// 	return out
	// }
}
