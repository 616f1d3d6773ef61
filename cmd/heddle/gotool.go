package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unicode"

	"github.com/heddle-go/heddle/harness/explore"
)

// The go tool: heddle run --cover and heddle mutate build their own worker
// binaries from the module's source (with -cover, or with a mutated file
// through -overlay), so they must run inside the module, as
// `go run -race ./cmd/heddle ...` does.

// module is the Go module the command builds workers from.
type module struct {
	// root is the directory of go.mod; path the module's path.
	root, path string
}

// findModule returns the module of the current directory.
func findModule() (module, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return module{}, fmt.Errorf("finding the module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return module{}, errors.New("not inside a Go module: run heddle from the module that holds the systems (go run -race ./cmd/heddle ...)")
	}
	path, err := modulePath(gomod)
	if err != nil {
		return module{}, err
	}
	return module{root: filepath.Dir(gomod), path: path}, nil
}

// modulePath reads the module directive of a go.mod file.
func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", gomod, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && unicode.IsSpace(rune(rest[0])) {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading %s: %w", gomod, err)
	}
	return "", fmt.Errorf("%s has no module directive", gomod)
}

// importPath returns the import path of the package in dir (inside the
// module).
func (m module) importPath(dir string) (string, error) {
	rel, err := filepath.Rel(m.root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is not inside the module %s (%s)", dir, m.path, m.root)
	}
	if rel == "." {
		return m.path, nil
	}
	return m.path + "/" + filepath.ToSlash(rel), nil
}

// workerPackage returns the main package whose binary serves as worker:
// the app's own (this command) unless a test set another.
func (a *app) workerPackage(m module) (string, error) {
	if a.workerMain != "" {
		return a.workerMain, nil
	}
	if bi, ok := debug.ReadBuildInfo(); ok && (bi.Path == m.path || strings.HasPrefix(bi.Path, m.path+"/")) {
		return bi.Path, nil
	}
	if st, err := os.Stat(filepath.Join(m.root, "cmd", "heddle")); err == nil && st.IsDir() {
		return m.path + "/cmd/heddle", nil
	}
	return "", fmt.Errorf("cannot tell which package builds heddle's worker in module %s: run heddle from its own module (go run -race ./cmd/heddle ...)", m.path)
}

// systemDir returns the directory of a case's system package: the --pkg
// flag's, or <module>/systems/<case>.
func (a *app) systemDir(m module, c explore.Case, flag string) (string, error) {
	dir := flag
	if dir == "" {
		sys := a.systems
		if sys == "" {
			sys = "systems"
		}
		dir = filepath.Join(m.root, filepath.FromSlash(sys), c.Name)
	} else if !filepath.IsAbs(dir) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(wd, dir)
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return "", fmt.Errorf("case %s: no system package at %s (name it with --pkg)", c.Name, dir)
	}
	return dir, nil
}

// buildError is a build that failed: Output holds what the go tool said.
type buildError struct {
	Output string
	err    error
}

func (e *buildError) Error() string {
	return fmt.Sprintf("go build: %v\n%s", e.err, strings.TrimSpace(e.Output))
}

// goBuild runs `go build` in the module's root with the race detector and
// the given flags, writing the binary to out.
func goBuild(ctx context.Context, m module, out string, pkg string, flags ...string) error {
	args := append([]string{"build", "-race", "-o", out}, flags...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = m.root
	output, err := cmd.CombinedOutput()
	if err != nil {
		return &buildError{Output: string(output), err: err}
	}
	return nil
}

// buildCoverWorker builds the worker with statement coverage of pkgs. The
// main package is instrumented too: with -race, a binary whose main
// package is not instrumented writes no coverage data (checked with
// go1.26).
func buildCoverWorker(ctx context.Context, m module, out, main string, pkgs []string) error {
	list := append([]string{main}, pkgs...)
	return goBuild(ctx, m, out, main, "-cover", "-covermode=atomic", "-coverpkg="+strings.Join(list, ","))
}

// coverProfile merges the counters the workers wrote in covdir into a text
// profile of pkg, written to covdir/profile.txt, and returns its path.
func coverProfile(ctx context.Context, m module, covdir, pkg string) (string, error) {
	path := filepath.Join(covdir, "profile.txt")
	cmd := exec.CommandContext(ctx, "go", "tool", "covdata", "textfmt", "-i="+covdir, "-o="+path, "-pkg="+pkg)
	cmd.Dir = m.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go tool covdata textfmt: %v\n%s", err, strings.TrimSpace(string(out)))
	}
	return path, nil
}

// variantIdent is the constant that names a variant in its system's code:
// "fixed" is Fixed.
func variantIdent(name string) string {
	if name == "" {
		return ""
	}
	r := []rune(name)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
