package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/heddle-go/heddle/harness/rewrite"
)

// module is the main module of the packages under test.
type module struct {
	root, path string
	gomod      string // go.mod's path
	mod        []byte // go.mod's content
	sum        []byte // go.sum's content (nil: none)
	isHeddle   bool   // the module is heddle itself
	hasHeddle  bool   // its go.mod requires or replaces heddle
	tool       bool   // its go.mod has heddle's command as a tool
	goVersion  string // its go directive
}

// goCmd runs the go command in dir and returns its standard output; the
// error carries its standard error.
func goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return out, fmt.Errorf("go %s: %s", strings.Join(args, " "), msg)
	}
	return out, nil
}

// findModule returns the main module of dir.
func findModule(ctx context.Context, dir string, env []string) (*module, error) {
	out, err := goCmd(ctx, dir, env, "env", "GOMOD", "GOWORK")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	gomod := strings.TrimSpace(lines[0])
	if gomod == "" || gomod == os.DevNull {
		return nil, usageErrorf("%s is not inside a Go module (no go.mod): heddle test runs the tests of a module's packages", dir)
	}
	if len(lines) > 1 && strings.TrimSpace(lines[1]) != "" && strings.TrimSpace(lines[1]) != "off" {
		return nil, usageErrorf("a Go workspace is in use (%s): heddle test overlays the module's go.mod, which a workspace "+
			"ignores; run it with GOWORK=off", strings.TrimSpace(lines[1]))
	}
	m := &module{gomod: gomod, root: filepath.Dir(gomod)}
	if m.mod, err = os.ReadFile(gomod); err != nil {
		return nil, fmt.Errorf("reading go.mod: %w", err)
	}
	if sum, err := os.ReadFile(filepath.Join(m.root, "go.sum")); err == nil {
		m.sum = sum
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading go.sum: %w", err)
	}
	// Parse, not ParseLax, which drops the tool directives (heddle as a
	// tool changes the replay commands); a go.mod that only the lax parser
	// reads (a directive newer than this program) has no tool heddle knows.
	f, err := modfile.Parse(gomod, m.mod, nil)
	if err != nil {
		if f, err = modfile.ParseLax(gomod, m.mod, nil); err != nil {
			return nil, fmt.Errorf("reading %s: %w", gomod, err)
		}
	}
	if f.Module == nil {
		return nil, usageErrorf("%s has no module directive", gomod)
	}
	m.path = f.Module.Mod.Path
	m.isHeddle = m.path == rewrite.Module
	if f.Go != nil {
		m.goVersion = f.Go.Version
	}
	for _, r := range f.Require {
		m.hasHeddle = m.hasHeddle || r.Mod.Path == rewrite.Module
	}
	for _, r := range f.Replace {
		m.hasHeddle = m.hasHeddle || r.Old.Path == rewrite.Module
	}
	for _, t := range f.Tool {
		m.tool = m.tool || t.Path == rewrite.Module+"/cmd/heddle"
	}
	return m, nil
}

// heddleModule finds the directory of heddle's own module, for a module
// that does not require it: dir if given, an enclosing directory of the
// module (heddle's own testdata), or the source this program was built from.
func heddleModule(given, from string) (string, error) {
	if given != "" {
		if isHeddleRoot(given) {
			return filepath.Abs(given)
		}
		return "", usageErrorf("%s is not the root of heddle's module (%s)", given, rewrite.Module)
	}
	for d := from; ; {
		if isHeddleRoot(d) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		// harness/gotest/driver/module.go in heddle's source.
		d := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(file))))
		if isHeddleRoot(d) {
			return d, nil
		}
	}
	return "", usageErrorf("the module does not require %s, whose packages the rewritten tests import: add it with\n"+
		"    go get -tool %s/cmd/heddle\nand run heddle test as go tool heddle test", rewrite.Module, rewrite.Module)
}

// isHeddleRoot reports whether dir holds heddle's go.mod.
func isHeddleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	return modfile.ModulePath(b) == rewrite.Module
}

// overlayModFiles returns the go.mod and go.sum that let the rewritten code
// import heddle's packages from a module that does not require heddle: a
// require and a replace to heddle's directory, and heddle's go.sum lines
// (its go.mod's requirements are part of the build's module graph). The go
// directive is raised to heddle's when it is lower.
func overlayModFiles(m *module, heddleDir string) (gomod, gosum []byte, note string, err error) {
	f, err := modfile.Parse(m.gomod, m.mod, nil)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading %s: %w", m.gomod, err)
	}
	hmod, err := os.ReadFile(filepath.Join(heddleDir, "go.mod"))
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading heddle's go.mod: %w", err)
	}
	hf, err := modfile.ParseLax("go.mod", hmod, nil)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading heddle's go.mod: %w", err)
	}
	const version = "v0.0.0-00010101000000-000000000000"
	if err := f.AddRequire(rewrite.Module, version); err != nil {
		return nil, nil, "", fmt.Errorf("overlaying go.mod: %w", err)
	}
	if err := f.AddReplace(rewrite.Module, "", heddleDir, ""); err != nil {
		return nil, nil, "", fmt.Errorf("overlaying go.mod: %w", err)
	}
	if hf.Go != nil && (f.Go == nil || versionLess(f.Go.Version, hf.Go.Version)) {
		from := "none"
		if f.Go != nil {
			from = f.Go.Version
		}
		if err := f.AddGoStmt(hf.Go.Version); err != nil {
			return nil, nil, "", fmt.Errorf("overlaying go.mod: %w", err)
		}
		note = fmt.Sprintf("heddle test: the module's go directive (%s) is raised to heddle's (%s) for the test build", from, hf.Go.Version)
	}
	f.Cleanup()
	if gomod, err = f.Format(); err != nil {
		return nil, nil, "", fmt.Errorf("overlaying go.mod: %w", err)
	}
	hsum, err := os.ReadFile(filepath.Join(heddleDir, "go.sum"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, "", fmt.Errorf("reading heddle's go.sum: %w", err)
	}
	return gomod, mergeSums(m.sum, hsum), note, nil
}

// mergeSums joins two go.sum files, each line once.
func mergeSums(a, b []byte) []byte {
	seen := map[string]bool{}
	var lines []string
	for _, s := range [][]byte{a, b} {
		for _, l := range strings.Split(string(s), "\n") {
			if l = strings.TrimSpace(l); l != "" && !seen[l] {
				seen[l] = true
				lines = append(lines, l)
			}
		}
	}
	sort.Strings(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// versionLess compares two go directive versions ("1.25", "1.25.0").
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// listed is one package of go list -deps -test -json.
type listed struct {
	ImportPath   string
	Name         string
	Dir          string
	ForTest      string
	DepOnly      bool
	Standard     bool
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	EmbedFiles   []string
	Module       *struct {
		Path string
		Main bool
	}
	Error *struct{ Err string }
}

// listPackages lists the packages patterns match with their dependencies
// and test variants.
func listPackages(ctx context.Context, dir string, env []string, tags string, patterns []string) ([]listed, error) {
	args := []string{"list", "-e", "-deps", "-test", "-json=ImportPath,Name,Dir,ForTest,DepOnly,Standard,GoFiles,CgoFiles," +
		"TestGoFiles,XTestGoFiles,EmbedFiles,Module,Error"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	out, err := goCmd(ctx, dir, env, append(args, patterns...)...)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list's output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// basePath is an import path without its test variant's suffix
// ("p [p.test]" -> "p").
func basePath(importPath string) string {
	if i := strings.Index(importPath, " ["); i >= 0 {
		return importPath[:i]
	}
	return importPath
}
