package rewrite

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// LoadMode is what Load asks go/packages for: enough for Package.
const LoadMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
	packages.NeedImports | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo |
	packages.NeedModule

// Load loads the packages that patterns match in dir, with their test
// variants (the package with its _test.go files, and the external _test
// package), type-checked and ready for Rewrite. env, if not nil, is the go
// command's environment (GOFLAGS, GOOS ...).
func Load(dir string, env []string, patterns ...string) ([]*packages.Package, error) {
	cfg := &packages.Config{Mode: LoadMode, Dir: dir, Env: env, Tests: true}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("rewrite: loading %s: %w", strings.Join(patterns, " "), err)
	}
	var errs []error
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, fmt.Errorf("%s: %s", p.ID, e))
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("rewrite: loading %s: %w", strings.Join(patterns, " "), errors.Join(errs...))
	}
	return pkgs, nil
}

// Rewrite rewrites the loaded packages: every variant (a package and its
// test variant share files; each file is rewritten once, from the variant
// that sees the most of the package) except the generated test mains.
// rewritten tells which import paths are rewritten in the same build (their
// channels are heddle's); nil means exactly the packages given. It returns
// the changed files sorted by path.
func Rewrite(pkgs []*packages.Package, rewritten func(importPath string) bool) ([]File, error) {
	return RewriteConfig(pkgs, Config{Rewritten: rewritten})
}

// RewriteConfig is Rewrite with a Config: cfg.Rewritten as Rewrite's
// rewritten, and cfg.Tests to make the packages' tests run under heddle
// test. cfg.Source is ignored: the files are read as they are now, and must
// not have changed since they were loaded.
func RewriteConfig(pkgs []*packages.Package, cfg Config) ([]File, error) {
	rewritten := cfg.Rewritten
	if rewritten == nil {
		paths := map[string]bool{}
		for _, p := range pkgs {
			paths[p.PkgPath] = true
		}
		rewritten = func(path string) bool { return paths[path] }
	}
	// Test variants ("p [p.test]") first: they hold the package's files and
	// its _test.go files together.
	ordered := append([]*packages.Package(nil), pkgs...)
	sort.SliceStable(ordered, func(i, j int) bool {
		return strings.Contains(ordered[i].ID, " [") && !strings.Contains(ordered[j].ID, " [")
	})
	done := map[string]bool{}
	var out []File
	var errs Errors
	for _, p := range ordered {
		if p.Name == "main" && strings.HasSuffix(p.ID, ".test") || p.Types == nil {
			continue
		}
		all := true
		for _, f := range p.CompiledGoFiles {
			all = all && done[f]
		}
		if all {
			continue
		}
		files, err := Package(Config{Rewritten: rewritten, Tests: cfg.Tests}, p.Fset, p.Types, p.TypesInfo, p.Syntax)
		var rerrs Errors
		switch {
		case errors.As(err, &rerrs):
			errs = append(errs, rerrs...)
			continue
		case err != nil:
			return nil, err
		}
		source := map[string]bool{}
		for _, f := range p.GoFiles {
			source[f] = true
		}
		for _, f := range files {
			// A file the go command generated (cgo's) is not a source file
			// of the package: the overlay cannot replace it.
			if !done[f.Path] && source[f.Path] {
				out = append(out, f)
			}
		}
		for _, f := range p.CompiledGoFiles {
			done[f] = true
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
