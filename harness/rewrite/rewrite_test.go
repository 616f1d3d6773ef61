package rewrite

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// The table of rewritten names is exactly the exported API of each drop-in,
// and every name is one of the standard package's.
func TestDropInTable(t *testing.T) {
	var paths []string
	for std, d := range dropIns {
		paths = append(paths, std, d.path)
	}
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedTypes}, paths...)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*packages.Package{}
	for _, p := range pkgs {
		byPath[p.PkgPath] = p
	}
	for std, d := range dropIns {
		var exported []string
		scope := byPath[d.path].Types.Scope()
		for _, name := range scope.Names() {
			if ast.IsExported(name) {
				exported = append(exported, name)
			}
			if ast.IsExported(name) && byPath[std].Types.Scope().Lookup(name) == nil {
				t.Errorf("%s exports %s, which %s does not have", d.path, name, std)
			}
		}
		var table []string
		for n := range d.names {
			table = append(table, n)
		}
		sort.Strings(table)
		if strings.Join(exported, " ") != strings.Join(table, " ") {
			t.Errorf("%s:\nexports %v\ntable   %v", std, exported, table)
		}
	}
}

// rewriteAll rewrites the snippets without building them.
func rewriteAll(t *testing.T) []File {
	t.Helper()
	pkgs, err := Load(".", nil, snippetRoot+"...")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Rewrite(pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A rewritten file has the original's lines: as many, and every line that
// holds nothing the rewrite changes is byte-identical (a line that holds
// something it changes may only gain a /*line*/ directive elsewhere).
func TestLinesKept(t *testing.T) {
	changing := []string{"chan", "go ", "go(", "select", "<-", "sync.", "atomic.", "time.", "context.", "make(", "nil", "close(", "len(", "cap(", "range", "case ", "default:", "package ", "\"sync\"", "\"sync/atomic\"", ".Done()", "foreign."}
	files := rewriteAll(t)
	if len(files) < 10 {
		t.Fatalf("only %d files rewritten", len(files))
	}
	for _, f := range files {
		orig, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		moved := movedLines(t, f.Path, orig)
		ol, rl := strings.Split(string(orig), "\n"), strings.Split(string(f.Content), "\n")
		if len(ol) != len(rl) {
			t.Errorf("%s: %d lines, rewritten %d", f.Path, len(ol), len(rl))
			continue
		}
		for i, line := range ol {
			// A closing brace ends a go statement or a select, whose
			// rewrite closes there too.
			touched := strings.HasPrefix(strings.TrimSpace(line), "}") || moved[i+1]
			for _, c := range changing {
				touched = touched || strings.Contains(line, c)
			}
			if !touched && line != rl[i] && !strings.Contains(rl[i], "/*line ") {
				t.Errorf("%s:%d changed:\n%s\n%s", f.Path, i+1, line, rl[i])
			}
		}
	}
}

// movedLines returns the lines of the arguments of go statements, which the
// rewrite evaluates before the statement (on its first line).
func movedLines(t *testing.T, path string, src []byte) map[int]bool {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[int]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok && len(g.Call.Args) > 0 {
			for l := fset.Position(g.Call.Lparen).Line; l <= fset.Position(g.Call.Rparen).Line; l++ {
				lines[l] = true
			}
		}
		return true
	})
	return lines
}

// An import whose every use moved to a drop-in becomes blank; one still used
// for other names stays.
func TestImportsBlanked(t *testing.T) {
	for _, f := range rewriteAll(t) {
		if !strings.HasSuffix(f.Path, "snippets/basic/basic.go") {
			continue
		}
		if !bytes.Contains(f.Content, []byte("\t_ \"sync\"\n")) || !bytes.Contains(f.Content, []byte("\t\"time\"\n")) {
			t.Errorf("imports of basic.go:\n%s", f.Content)
		}
		return
	}
	t.Fatal("basic.go was not rewritten")
}

func TestFreshPrefix(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", "package p\nvar _heddle, _heddle1x = 1, 2\n", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p := freshPrefix([]*ast.File{f}); p != "_heddle2" {
		t.Errorf("prefix %q, want _heddle2", p)
	}
}

// A construct that cannot be rewritten is an Error at its original position.
func TestErrors(t *testing.T) {
	pkgs, err := Load(".", nil, "./testdata/rewriteerrors")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Rewrite(pkgs, nil)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("got %v, want one Error", err)
	}
	if e := errs[0]; !strings.HasSuffix(e.Pos.Filename, "rewriteerrors.go") || e.Pos.Line != 9 || !strings.Contains(e.Msg, "not exported") {
		t.Errorf("error %v, want rewriteerrors.go:9 about a type that is not exported", e)
	}
}
