package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heddle-go/heddle/harness/rewrite"
)

// run is the whole of Test once the options are checked.
func (d *driver) run(ctx context.Context) (*Summary, error) {
	m, err := findModule(ctx, d.dir, d.env)
	if err != nil {
		return nil, err
	}
	d.mod = m
	d.relCommand = d.opts.Command
	if d.relCommand == "" {
		d.relCommand = "heddle"
		if m.tool || m.isHeddle {
			d.relCommand = "go tool heddle"
		}
		if m.isHeddle {
			d.relCommand = "go run ./cmd/heddle"
		}
	}
	pkgs, err := listPackages(ctx, d.dir, d.env, d.opts.Tags, d.opts.Patterns)
	if err != nil {
		return nil, err
	}
	tested, deps, byPath, err := d.classify(pkgs)
	if err != nil {
		return nil, err
	}
	sum := &Summary{}
	if len(tested) == 0 {
		d.notef("heddle test: no packages to test (none of %s has test files in the main module)", strings.Join(d.opts.Patterns, " "))
		return sum, nil
	}
	man, err := d.rewrite(ctx, pkgs, tested, deps, sum)
	if err != nil {
		return nil, err
	}
	overlay, cleanup, err := d.writeOverlay(man)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	results := make([]PackageResult, len(tested))
	sem := make(chan struct{}, d.opts.Parallel)
	var wg sync.WaitGroup
	for i, path := range tested {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := byPath[path]
			results[i] = d.testPackage(ctx, overlay.path, overlay.dir, p, man.Tests[path])
			d.printPackage(&results[i])
		}()
	}
	wg.Wait()
	sum.Packages = results
	d.printSummary(sum)
	return sum, ctx.Err()
}

// classify picks, from go list's output, the tested packages (those the
// patterns match, of the main module, with tests) and the main module's
// packages they need.
func (d *driver) classify(pkgs []listed) (tested, deps []string, byPath map[string]listed, err error) {
	byPath = map[string]listed{}
	var errs []string
	isTested := map[string]bool{}
	for _, p := range pkgs {
		if p.ForTest != "" || strings.HasSuffix(p.ImportPath, ".test") {
			continue
		}
		if p.Error != nil && !p.DepOnly {
			errs = append(errs, p.Error.Err)
			continue
		}
		byPath[p.ImportPath] = p
		if p.DepOnly {
			continue
		}
		if p.Module == nil || !p.Module.Main {
			if !p.Standard {
				errs = append(errs, fmt.Sprintf("%s is not in the main module (%s): heddle test rewrites and tests the main module's packages", p.ImportPath, d.mod.path))
			}
			continue
		}
		if len(p.TestGoFiles)+len(p.XTestGoFiles) > 0 && !isTested[p.ImportPath] {
			isTested[p.ImportPath] = true
			tested = append(tested, p.ImportPath)
		}
	}
	if len(errs) > 0 {
		return nil, nil, nil, usageErrorf("%s", strings.Join(errs, "\n"))
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		path := basePath(p.ImportPath)
		if p.Module == nil || !p.Module.Main || isTested[path] || seen[path] || strings.HasSuffix(path, ".test") ||
			strings.HasSuffix(path, "_test") {
			continue
		}
		seen[path] = true
		deps = append(deps, path)
	}
	sort.Strings(deps)
	return tested, deps, byPath, nil
}

// rewrite returns the rewrite of the module's packages: from the cache, or
// made now and kept there.
func (d *driver) rewrite(ctx context.Context, pkgs []listed, tested, deps []string, sum *Summary) (*manifest, error) {
	exeID, err := executableID()
	if err != nil {
		return nil, err
	}
	goEnv, err := goCmd(ctx, d.mod.root, d.env, "env", "GOVERSION", "GOOS", "GOARCH", "GOFLAGS", "CGO_ENABLED")
	if err != nil {
		return nil, err
	}
	key, err := cacheKey(d.mod, pkgs, tested, exeID, string(goEnv)+"tags="+d.opts.Tags)
	if err != nil {
		return nil, err
	}
	sum.Key = key
	if man := readManifest(d.opts.CacheDir, key); man != nil {
		sum.CacheHit, sum.Rewritten = true, len(man.Files)
		return man, nil
	}
	start := time.Now()
	man, err := rewriteModule(ctx, d.mod, d.env, d.opts.Tags, tested, deps, d.opts.CacheDir)
	var be *buildError
	if errors.As(err, &be) {
		return nil, fmt.Errorf("the packages do not build:\n%s", be.msg)
	}
	if err != nil {
		return nil, err
	}
	if err := writeManifest(d.opts.CacheDir, key, man); err != nil {
		return nil, err
	}
	sum.Rewritten = len(man.Files)
	if d.opts.Verbose {
		d.notef("heddle test: rewrote %d files of %d packages in %v (cache %s)", len(man.Files), len(tested)+len(deps),
			time.Since(start).Round(time.Millisecond), key)
	}
	return man, nil
}

// overlayFiles is the overlay file of a run and its directory.
type overlayFiles struct{ path, dir string }

// writeOverlay writes the overlay of a run (the cached rewritten files, and
// go.mod and go.sum when the module does not require heddle) into a
// temporary directory.
func (d *driver) writeOverlay(man *manifest) (overlayFiles, func(), error) {
	dir, err := os.MkdirTemp("", "heddle-test-")
	if err != nil {
		return overlayFiles{}, nil, fmt.Errorf("heddle test: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	ov := rewrite.Overlay{Replace: map[string]string{}}
	for orig, cached := range man.Files {
		ov.Replace[orig] = cached
	}
	if !d.mod.isHeddle && !d.mod.hasHeddle {
		hdir, err := heddleModule(d.opts.HeddleDir, d.mod.root)
		if err != nil {
			cleanup()
			return overlayFiles{}, nil, err
		}
		gomod, gosum, note, err := overlayModFiles(d.mod, hdir)
		if err != nil {
			cleanup()
			return overlayFiles{}, nil, err
		}
		if note != "" {
			d.notef("%s", note)
		}
		if err := ov.Add(dir, d.mod.gomod, gomod); err != nil {
			cleanup()
			return overlayFiles{}, nil, err
		}
		if err := ov.Add(dir, filepath.Join(d.mod.root, "go.sum"), gosum); err != nil {
			cleanup()
			return overlayFiles{}, nil, err
		}
	}
	path := filepath.Join(dir, "overlay.json")
	if err := ov.WriteFile(path); err != nil {
		cleanup()
		return overlayFiles{}, nil, err
	}
	return overlayFiles{path: path, dir: dir}, cleanup, nil
}
