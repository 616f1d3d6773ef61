// Package rewrite is heddle's source rewriter: it turns a type-checked Go
// package into one that runs on heddle's runtime, for `heddle test`, which
// builds the rewritten files through go test -overlay and so never writes
// the user's files.
//
// What it rewrites, in every file of the package (its _test.go files too):
//
//   - go f(x, y): harness.Go, with the function value and the arguments
//     evaluated at the statement, as Go does;
//   - channel types, in every position (fields, parameters, results, maps,
//     slices and channels of channels, named channel types with methods):
//     lang.Chan[T], whatever the direction;
//   - make(chan T[, n]), send, both receive forms, close, len, cap, for range
//     over a channel, select (send and receive cases in every form, default,
//     and select {}), nil channels (assigned, returned, passed, compared):
//     the operations of package lang;
//   - references to the concurrency API of sync, sync/atomic, time and
//     context (sync.Mutex, atomic.Int64, time.Sleep, *time.Timer,
//     context.WithTimeout, ...): heddle's drop-in packages under harness/std.
//     The standard import stays for the rest (time.Duration, context.Context).
//   - channels that come from packages that are not rewritten (ctx.Done(), a
//     field of a third-party struct): wrapped where they enter rewritten code
//     (lang.Done, lang.Wrap), and rewritten channels passed to such packages
//     unwrapped (lang.Export).
//
// The rewrite patches byte ranges of the original source: code it does not
// change is byte-identical and stays on its line, and where generated code
// moves a piece of the original, a /*line*/ directive puts it back on its
// original line, so every position that the compiler, a panic, the race
// detector or heddle prints is the original file's and line.
//
// A command (heddle test) uses it in four steps: Load the packages to test
// with their test variants (go/packages), Rewrite them, telling which import
// paths are rewritten in the same build (the main module's packages), write
// each File into a cache directory with Overlay.Add (files are named by their
// content's hash, so unchanged code is written once), and run go test
// -overlay with Overlay.WriteFile's file. When the tested module is not
// heddle itself, its go.mod must require Module (a replace, or a version)
// for the packages rewritten code imports: overlay go.mod (and go.sum) the
// same way. Positions need no mapping back: the go command reports an
// overlaid file under its original path, and the directives give the
// original lines.
//
// What v1 does not rewrite (the rewritten package then fails to compile, or
// the construct behaves as described):
//
//   - type parameters constrained by channel types, and operations on values
//     whose type is such a type parameter;
//   - reflection on channels (reflect.TypeOf(ch).Kind() is Struct), printing
//     a channel with fmt (it prints as a struct), and type switches or
//     assertions that tell a channel's direction (the direction is not kept);
//   - a channel type inside a composite type (a []chan T, a func(chan T))
//     that crosses between rewritten code and code that is not rewritten;
//     a single channel crosses (wrapped or exported), and inside a World an
//     exported channel panics, saying so;
//   - a type declared in rewritten code that implements an interface of
//     code that is not rewritten through a method with a channel in its
//     signature (a custom context.Context), and a value of a drop-in type
//     (a sync.Mutex, a *time.Timer) passed to code that is not rewritten,
//     which expects the standard type;
//   - inside a World, a Go channel of code that is not rewritten is polled
//     at scheduling points (see package lang): two goroutines of the World
//     never meet on an unbuffered one, and one that nothing in the World
//     fills is waited for until the step limit;
//   - cgo files (files that import "C") are left as they are;
//   - files with //line directives of their own keep them, but positions in
//     code this package changes follow the physical file.
package rewrite

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strings"
)

// Module is the import path of heddle's module, whose packages rewritten code
// imports.
const Module = "github.com/heddle-go/heddle"

// Import paths of the packages that rewritten code uses.
const (
	LangPath    = Module + "/harness/std/lang"
	HarnessPath = Module + "/harness"
	SyncPath    = Module + "/harness/std/sync"
	AtomicPath  = Module + "/harness/std/sync/atomic"
	TimePath    = Module + "/harness/std/time"
	ContextPath = Module + "/harness/std/context"
)

// Config says what a rewrite may assume about the packages around the one it
// rewrites.
type Config struct {
	// Rewritten reports whether the package with this import path is
	// rewritten too (in the same go test), so that its channels are heddle's.
	// Channels of every other package (the standard library, other modules)
	// are Go channels. Nil means that only the package being rewritten is.
	Rewritten func(importPath string) bool
	// Source returns the content of a file of the package, as it was when
	// the package was loaded; nil means os.ReadFile.
	Source func(path string) ([]byte, error)
	// Tests makes the package's tests run under heddle test: the body of
	// every Test function of its _test.go files is wrapped in
	// gotest.Test (GotestPath), which runs it once per seed as the main
	// goroutine of a World, and testing's Cleanup, Context, Parallel and
	// Run go through gotest.Of (see package gotest).
	Tests bool
}

// File is one rewritten file.
type File struct {
	// Path is the original file's path, as the package was loaded (go list
	// gives absolute paths): the key of go test's -overlay.
	Path string
	// Content is the rewritten source.
	Content []byte
}

// Error is a construct that the rewriter cannot rewrite, at its position in
// the original source.
type Error struct {
	Pos token.Position
	Msg string
}

// Error says where and what: file:line:col: heddle: the message.
func (e *Error) Error() string { return fmt.Sprintf("%s: heddle: %s", e.Pos, e.Msg) }

// Errors is every Error of a rewrite.
type Errors []*Error

// Error lists every error, one a line.
func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Package rewrites the files of one type-checked package (info must hold
// Types, Defs, Uses, Implicits, Selections, Scopes and Instances) and returns
// a File for every file it changed, in the order of files. Files that need no
// change (no channel, no go statement, no use of the concurrency API) are not
// returned: go test reads them as they are. An error is an Errors listing
// every construct it cannot rewrite; the files are then not returned.
func Package(cfg Config, fset *token.FileSet, pkg *types.Package, info *types.Info, files []*ast.File) ([]File, error) {
	p := newPkgRewriter(cfg, fset, pkg, info, files)
	var out []File
	for _, f := range files {
		content, changed, err := p.file(f)
		if err != nil {
			return nil, err
		}
		if changed {
			out = append(out, File{Path: fset.File(f.Pos()).Name(), Content: content})
		}
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool {
			a, b := p.errs[i].Pos, p.errs[j].Pos
			if a.Filename != b.Filename {
				return a.Filename < b.Filename
			}
			return a.Offset < b.Offset
		})
		return nil, p.errs
	}
	return out, nil
}
