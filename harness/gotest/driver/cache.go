package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/heddle-go/heddle/harness/rewrite"
)

// The rewrite cache. Rewriting type-checks every package of the main
// module that the tested packages need, which takes seconds; its result
// depends only on the source of those packages, the rest of the build
// (go.mod, go.sum, the Go version, GOOS, GOARCH, tags) and heddle itself.
// A run hashes all of that (the key) and keeps, under the cache directory,
// the rewritten files (named by their content's hash, shared between keys)
// and, per key, a manifest: which original file each replaces, and the Test
// functions of each tested package. A second run of unchanged code finds the
// manifest and rewrites nothing.

// cacheFormat changes when the manifest or what is rewritten changes.
const cacheFormat = "heddle-test-cache-1"

// manifest is what a key's rewrite produced.
type manifest struct {
	// Files maps an original file's path to its rewritten copy's.
	Files map[string]string `json:"files"`
	// Tests lists, per tested import path, the Test functions wrapped.
	Tests map[string][]string `json:"tests"`
}

// cacheKey hashes everything a rewrite depends on.
func cacheKey(m *module, pkgs []listed, tested []string, buildID, goEnv string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", cacheFormat, buildID, goEnv)
	fmt.Fprintf(h, "go.mod %d\n", len(m.mod))
	h.Write(m.mod)
	fmt.Fprintf(h, "go.sum %d\n", len(m.sum))
	h.Write(m.sum)
	for _, t := range tested {
		fmt.Fprintf(h, "tested %s\n", t)
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		if p.Module == nil || !p.Module.Main {
			continue
		}
		for _, names := range [][]string{p.GoFiles, p.CgoFiles, p.TestGoFiles, p.XTestGoFiles} {
			for _, name := range names {
				path := name
				if !filepath.IsAbs(path) {
					path = filepath.Join(p.Dir, name)
				}
				if seen[path] {
					continue
				}
				seen[path] = true
				sum, err := fileHash(path)
				if err != nil {
					return "", err
				}
				fmt.Fprintf(h, "file %s %s\n", path, sum)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// executableID identifies this program (its rewriter) for the cache: the
// hash of its executable.
func executableID() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding this program's executable: %w", err)
	}
	return fileHash(exe)
}

// readManifest returns the manifest of key, or nil when there is none or a
// file it names is gone.
func readManifest(dir, key string) *manifest {
	b, err := os.ReadFile(filepath.Join(dir, "keys", key+".json"))
	if err != nil {
		return nil
	}
	var m manifest
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	for _, cached := range m.Files {
		if _, err := os.Stat(cached); err != nil {
			return nil
		}
	}
	return &m
}

func writeManifest(dir, key string, m *manifest) error {
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return fmt.Errorf("writing the cache manifest: %w", err)
	}
	d := filepath.Join(dir, "keys")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("writing the cache manifest: %w", err)
	}
	tmp, err := os.CreateTemp(d, key+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing the cache manifest: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the cache manifest: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the cache manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(d, key+".json")); err != nil {
		return fmt.Errorf("writing the cache manifest: %w", err)
	}
	return nil
}

// rewriteModule loads the tested packages (with their tests) and the main
// module's packages they need, rewrites them all, writes the rewritten
// files into the cache and returns the manifest.
func rewriteModule(ctx context.Context, m *module, env []string, tags string, tested, deps []string, cacheDir string) (*manifest, error) {
	mode := rewrite.LoadMode
	var buildFlags []string
	if tags != "" {
		buildFlags = []string{"-tags", tags}
	}
	load := func(patterns []string, tests bool) ([]*packages.Package, error) {
		if len(patterns) == 0 {
			return nil, nil
		}
		cfg := &packages.Config{Context: ctx, Mode: mode, Dir: m.root, Env: env, Tests: tests, BuildFlags: buildFlags}
		pkgs, err := packages.Load(cfg, patterns...)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", strings.Join(patterns, " "), err)
		}
		var errs []error
		packages.Visit(pkgs, nil, func(p *packages.Package) {
			for _, e := range p.Errors {
				errs = append(errs, fmt.Errorf("%s", e))
			}
		})
		if len(errs) > 0 {
			return nil, &buildError{msg: errors.Join(errs...).Error()}
		}
		return pkgs, nil
	}
	withTests, err := load(tested, true)
	if err != nil {
		return nil, err
	}
	plain, err := load(deps, false)
	if err != nil {
		return nil, err
	}
	all := append(withTests, plain...)
	rewritten := map[string]bool{}
	for _, p := range all {
		rewritten[p.PkgPath] = true
	}
	files, err := rewrite.RewriteConfig(all, rewrite.Config{Rewritten: func(path string) bool { return rewritten[path] }, Tests: true})
	var rerrs rewrite.Errors
	if errors.As(err, &rerrs) {
		return nil, &rewriteError{errs: rerrs}
	} else if err != nil {
		return nil, err
	}
	man := &manifest{Files: map[string]string{}, Tests: map[string][]string{}}
	var ov rewrite.Overlay
	if err := ov.AddFiles(filepath.Join(cacheDir, "files"), files); err != nil {
		return nil, err
	}
	man.Files = ov.Replace
	if man.Files == nil {
		man.Files = map[string]string{}
	}
	isTested := map[string]bool{}
	for _, t := range tested {
		isTested[t] = true
	}
	seen := map[string]bool{}
	for _, p := range withTests {
		base := strings.TrimSuffix(p.PkgPath, "_test")
		if !isTested[base] || !strings.Contains(p.ID, " [") {
			continue
		}
		for _, f := range p.Syntax {
			if !strings.HasSuffix(p.Fset.File(f.Pos()).Name(), "_test.go") {
				continue
			}
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && rewrite.IsTestFunc(fd, p.TypesInfo) && !seen[base+"."+fd.Name.Name] {
					seen[base+"."+fd.Name.Name] = true
					man.Tests[base] = append(man.Tests[base], fd.Name.Name)
				}
			}
		}
	}
	return man, nil
}

// buildError is a package that does not compile (before the rewrite).
type buildError struct{ msg string }

func (e *buildError) Error() string { return e.msg }

// rewriteError is code the rewriter cannot rewrite.
type rewriteError struct{ errs rewrite.Errors }

func (e *rewriteError) Error() string {
	return "heddle cannot rewrite this code (see \"What v1 does not rewrite\" in go doc " + rewrite.Module + "/harness/rewrite):\n" + e.errs.Error()
}
