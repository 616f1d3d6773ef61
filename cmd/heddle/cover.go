package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/heddle-go/heddle/harness/cover"
	"github.com/heddle-go/heddle/harness/explore"
)

// Coverage as a measured figure: heddle run --cover DIR.
//
// The command builds a second copy of itself with statement coverage of
// each selected case's system package (go build -race -cover
// -coverpkg=...; the build cache keeps that quick), and sweeps each variant
// in workers of that binary, each variant's workers writing their counters
// under DIR/<case>-<variant> (GOCOVERDIR). After the sweep, `go tool covdata
// textfmt` merges them into DIR/<case>-<variant>/profile.txt, and the
// report gives the system package's statement coverage, leaving out the
// statements that only another variant runs (cover.VariantOnly: for the
// fixed variant, the Buggy branches and what only they use), and lists the
// lines that never ran, with their source.

// defaultCoverSeeds is how many seeds a coverage sweep runs unless --seeds
// says otherwise.
const defaultCoverSeeds = 200

// passingVariants returns the variants of c that carry no bug: the ones
// whose coverage --cover measures by default.
func passingVariants(c explore.Case) []explore.Variant {
	var out []explore.Variant
	for _, v := range c.Variants {
		if !v.ExpectsBug() {
			out = append(out, v)
		}
	}
	return out
}

// coverage is the coverage of one variant's sweep: an object of run
// --cover --json, with "type": "coverage".
type coverage struct {
	Type    string `json:"type"`
	Case    string `json:"case"`
	Variant string `json:"variant"`
	// Seeds is the number of seeds the sweep ran.
	Seeds int `json:"seeds"`
	// Profile is the merged text profile.
	Profile string `json:"profile"`
	cover.Summary
	// ExcludedRegions are the regions left out, and why.
	ExcludedRegions []cover.Region `json:"excluded_regions"`
	// Note says why the figure may undercount (a sweep that failed).
	Note string `json:"note,omitempty"`
}

// coverRun is the state of run --cover: the module, the instrumented
// binary and the directory of the data.
type coverRun struct {
	a    *app
	mod  module
	dir  string
	bin  string
	pkgs map[string]string // case name -> system package directory
}

// prepareCover finds the system package of every job's case and builds
// the instrumented worker.
func (a *app) prepareCover(jobs []job, dir string) (*coverRun, error) {
	mod, err := findModule()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &coverRun{a: a, mod: mod, dir: abs, pkgs: map[string]string{}}
	var paths []string
	for _, j := range jobs {
		if _, ok := r.pkgs[j.c.Name]; ok {
			continue
		}
		d, err := a.systemDir(mod, j.c, "")
		if err != nil {
			return nil, usageError{err.Error()}
		}
		p, err := mod.importPath(d)
		if err != nil {
			return nil, err
		}
		r.pkgs[j.c.Name] = d
		paths = append(paths, p)
	}
	main, err := a.workerPackage(mod)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("--cover: %w", err)
	}
	r.bin = filepath.Join(abs, "heddle-cover")
	fmt.Fprintf(a.stderr, "heddle: building %s with coverage of %s\n", main, strings.Join(paths, ", "))
	if err := buildCoverWorker(context.Background(), mod, r.bin, main, paths); err != nil {
		return nil, fmt.Errorf("building the coverage worker: %w", err)
	}
	return r, nil
}

// covdir is where a job's workers write their counters.
func (r *coverRun) covdir(j job) string { return filepath.Join(r.dir, j.c.Name+"-"+j.v.Name) }

// binaryFor empties the job's data directory and returns the workers'
// binary and environment.
func (r *coverRun) binaryFor(j job) (workerBinary, error) {
	d := r.covdir(j)
	if err := os.RemoveAll(d); err != nil {
		return workerBinary{}, err
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return workerBinary{}, err
	}
	return workerBinary{exe: r.bin, env: []string{"GOCOVERDIR=" + d}}, nil
}

// measure summarises what the job's workers covered in the sweep that
// made rep.
func (r *coverRun) measure(j job, rep explore.Report) (coverage, error) {
	dir := r.pkgs[j.c.Name]
	c, err := measureCoverage(r.mod, j.c, j.v, dir, r.covdir(j), rep.SeedsTried)
	if err == nil && rep.FirstFailingSeed != nil {
		c.Note = fmt.Sprintf("the sweep stopped at seed %d (%s); a worker that the race detector or a crash ends writes no counters, so the seeds it ran are missing from the figure",
			*rep.FirstFailingSeed, rep.Kind)
	}
	return c, err
}

// measureCoverage merges the counters in covdir and summarises the system
// package in dir for variant v, leaving out what only other variants run.
func measureCoverage(mod module, c explore.Case, v explore.Variant, dir, covdir string, seeds int) (coverage, error) {
	pkg, err := mod.importPath(dir)
	if err != nil {
		return coverage{}, err
	}
	path, err := coverProfile(context.Background(), mod, covdir, pkg)
	if err != nil {
		return coverage{}, fmt.Errorf("%s/%s: %w", c.Name, v.Name, err)
	}
	prof, err := cover.ReadProfile(path)
	if err != nil {
		return coverage{}, err
	}
	regions, err := cover.VariantOnly(dir, variantIdent(v.Name))
	if err != nil {
		return coverage{}, err
	}
	sum, err := cover.Summarize(prof, pkg, dir, regions)
	if err != nil {
		return coverage{}, fmt.Errorf("%s/%s: %w", c.Name, v.Name, err)
	}
	return coverage{Type: "coverage", Case: c.Name, Variant: v.Name, Seeds: seeds, Profile: path, Summary: sum, ExcludedRegions: regions}, nil
}

// writeCoverage prints the coverage table, then each variant's uncovered
// lines with their first line of source.
func writeCoverage(w io.Writer, cs []coverage) error {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COVERAGE\tVARIANT\tPACKAGE\tSEEDS\tSTATEMENTS\tCOVERED\tPERCENT\tUNCOVERED LINES\tLEFT OUT (OTHER VARIANTS)")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.1f%%\t%d\t%d statements\n", c.Case, c.Variant, c.Package, c.Seeds,
			c.Statements, c.Covered, c.Percent, c.UncoveredLines, c.Excluded)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range cs {
		if c.Note != "" {
			fmt.Fprintf(w, "\nnote: %s/%s: %s\n", c.Case, c.Variant, c.Note)
		}
		if len(c.Uncovered) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nnot covered in %s/%s (%s):\n", c.Case, c.Variant, c.Dir)
		for _, l := range c.Uncovered {
			first, _, _ := strings.Cut(l.Source, "\n")
			more := ""
			if l.End > l.Start {
				more = fmt.Sprintf("  (+%d lines)", l.End-l.Start)
			}
			fmt.Fprintf(w, "  %-24s %s%s\n", l.String(), strings.TrimSpace(first), more)
		}
	}
	return nil
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
