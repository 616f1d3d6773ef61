package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heddle-go/heddle/harness/cover"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/harness/mutate"
)

// heddle mutate CASE: mutation testing for concurrency.
//
// 1. Coverage: the command builds itself with coverage of the case's system
//    package (systems/<case>) and sweeps the fixed variant over
//    --cover-seeds seeds (200), as run --cover does. A fixed variant that
//    fails there stops the command: mutants are judged against a passing
//    variant.
// 2. Generation: package harness/mutate makes the mutants of the system
//    package, keeping only those whose code the sweep covered (with
//    --cover-seeds 0, no sweep: those outside the code only another variant
//    runs, cover.VariantOnly).
// 3. Each mutant is built as the worker binary with `go build -race
//    -overlay` (the mutated file replaces the original in the build only;
//    nothing in the tree is written) and the fixed variant is swept over
//    --seeds (500) in fresh workers of that binary, --parallel at a time,
//    stopping at the first failing seed. A violation of any kind kills the
//    mutant; a mutant every seed passes survives; one that does not compile
//    is reported and left out. Mutants marked in the equivalents file
//    (testdata/mutants/<case>.txt, see mutate.ParseEquivalents) are
//    reported with their reason and not run.
//
// The kill rate is killed / (killed + survived): over the mutants that
// compiled and are not marked equivalent. The survivors are the to-do list
// of the case's workload and checks.

// mutateFlags are the flags of mutate.
type mutateFlags struct {
	seeds       seedRange
	coverSeeds  int
	variant     string
	pkg         string
	equivalents string
	operators   string
	only        string
	list        bool
	json        bool
	parallel    int
	shard       string
	runTimeout  time.Duration
	minKill     float64
}

// defaultMutateSeeds is each mutant's seed budget unless --seeds says
// otherwise.
const defaultMutateSeeds = 500

// mutantResult is what became of one mutant: a line of the table, an object
// of --json with "type": "mutant".
type mutantResult struct {
	Type    string `json:"type"`
	Case    string `json:"case"`
	Variant string `json:"variant"`
	mutate.Mutant
	// File is the mutated file, relative to the module's root.
	File string `json:"file"`
	// Status is killed, survived, compile-error, equivalent or error.
	Status string `json:"status"`
	// Kind, FirstFailingSeed and Message (its first line) describe the
	// violation that killed the mutant.
	Kind             string `json:"kind,omitempty"`
	FirstFailingSeed *int64 `json:"first_failing_seed"`
	Message          string `json:"message,omitempty"`
	// SeedsTried counts the seeds run against the mutant.
	SeedsTried int     `json:"seeds_tried"`
	Seconds    float64 `json:"seconds"`
	// Reason is an equivalent mutant's reason; Error a compile error's or
	// an infrastructure failure's first lines.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Results of a mutant.
const (
	mutantKilled       = "killed"
	mutantSurvived     = "survived"
	mutantCompileError = "compile-error"
	mutantEquivalent   = "equivalent"
	mutantError        = "error"
)

// mutationSummary sums up a case's mutants: the last object of --json,
// with "type": "mutation".
type mutationSummary struct {
	Type    string `json:"type"`
	Case    string `json:"case"`
	Variant string `json:"variant"`
	Package string `json:"package"`
	// Seeds is each mutant's seed budget; Shard the shard run ("k/n").
	Seeds int    `json:"seeds"`
	Shard string `json:"shard,omitempty"`
	// CoverSeeds is the size of the coverage sweep; Coverage its percent
	// of the fixed path (null without one).
	CoverSeeds int      `json:"cover_seeds"`
	Coverage   *float64 `json:"coverage"`
	// OffPath counts the mutants left out because their code is not on
	// the covered fixed path.
	OffPath       int `json:"off_path"`
	Generated     int `json:"generated"`
	CompileErrors int `json:"compile_errors"`
	Equivalent    int `json:"equivalent"`
	Killed        int `json:"killed"`
	Survived      int `json:"survived"`
	Errors        int `json:"errors"`
	// KillRate is Killed / (Killed + Survived), null when both are 0.
	KillRate *float64 `json:"kill_rate"`
	// ByOperator counts killed and survived mutants per operator.
	ByOperator map[string]*opCount `json:"by_operator"`
	// Survivors lists the surviving mutants' ids: the to-do list.
	Survivors []string `json:"survivors"`
	// Stale lists the ids of the equivalents file that no mutant has.
	Stale       []string `json:"stale_equivalents,omitempty"`
	WallSeconds float64  `json:"wall_seconds"`
}

// opCount is one operator's line of the summary.
type opCount struct {
	Generated int `json:"generated"`
	Killed    int `json:"killed"`
	Survived  int `json:"survived"`
}

// register defines mutate's flags on fs, storing their values in f.
func (f *mutateFlags) register(fs *flag.FlagSet, defaultParallel int) {
	fs.Var(&f.seeds, "seeds", "seeds to run against each mutant: N (0..N-1) or A:B (A..B-1) (default 500)")
	fs.IntVar(&f.coverSeeds, "cover-seeds", defaultCoverSeeds, "seeds of the coverage sweep that decides which code is on the fixed path; 0: no coverage sweep, every statement outside other variants' code is mutated")
	fs.StringVar(&f.variant, "variant", "", "the variant run against the mutants (default: the case's variant that carries no bug)")
	fs.StringVar(&f.pkg, "pkg", "", "the package to mutate (default: systems/<case> of the module)")
	fs.StringVar(&f.equivalents, "equivalents", "", "the file of mutants marked equivalent (default: testdata/mutants/<case>.txt of the module)")
	fs.StringVar(&f.operators, "operators", "", "comma-separated operators to apply (default: all of "+strings.Join(mutate.OperatorNames(), ", ")+")")
	fs.StringVar(&f.only, "only", "", "comma-separated mutant ids: run only these")
	fs.BoolVar(&f.list, "list", false, "list the mutants (after the coverage sweep) without running them")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per mutant, then one for the summary, instead of the table")
	fs.IntVar(&f.parallel, "parallel", defaultParallel, "worker processes per mutant's sweep (default: one per CPU)")
	fs.StringVar(&f.shard, "shard", "1/1", "run shard k of n of the mutants (mutants k-1, k-1+n, ... in the listed order)")
	fs.DurationVar(&f.runTimeout, "run-timeout", 30*time.Second, "wall time one seed may take in a worker before it is killed as Stuck (a mutant that spins)")
	fs.Float64Var(&f.minKill, "min-kill-rate", 0, "exit with status 1 when the kill rate is below this fraction (e.g. 0.9)")
}

// check validates the numeric flags of mutate.
func (f *mutateFlags) check() error {
	if f.parallel < 1 || f.parallel > 256 {
		return badArgs("bad --parallel %d: want 1 to 256", f.parallel)
	}
	if f.coverSeeds < 0 {
		return badArgs("bad --cover-seeds %d: must not be negative", f.coverSeeds)
	}
	if f.runTimeout <= 0 {
		return badArgs("bad --run-timeout %v: must be positive", f.runTimeout)
	}
	if f.minKill < 0 || f.minKill > 1 {
		return badArgs("bad --min-kill-rate %v: want a fraction in [0, 1]", f.minKill)
	}
	return nil
}

// mutate is "heddle mutate": mutation testing of a case's system.
func (a *app) mutate(args []string) (int, error) {
	var f mutateFlags
	fs := a.newFlagSet("mutate", "case [flags]")
	f.register(fs, a.defaultParallel())
	pos, err := a.parse(fs, args)
	if err != nil {
		return 0, err
	}
	if len(pos) != 1 {
		return 0, badArgs("name one case (known cases: %s)", a.known())
	}
	c, err := a.lookup(pos[0])
	if err != nil {
		return 0, usageError{err.Error()}
	}
	v, err := mutationVariant(c, f.variant)
	if err != nil {
		return 0, err
	}
	k, n, err := parseShard(f.shard)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	if err := f.check(); err != nil {
		return 0, err
	}
	if !f.seeds.set {
		f.seeds = seedRange{count: defaultMutateSeeds, set: true}
	}
	var ops []string
	if f.operators != "" {
		ops = strings.Split(f.operators, ",")
		for _, o := range ops {
			if _, ok := mutate.LookupOperator(o); !ok {
				return 0, badArgs("unknown operator %q; known: %s", o, strings.Join(mutate.OperatorNames(), ", "))
			}
		}
	}
	mod, err := findModule()
	if err != nil {
		return 0, err
	}
	dir, err := a.systemDir(mod, c, f.pkg)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	eqPath := f.equivalents
	if eqPath == "" {
		eqPath = filepath.Join(mod.root, "testdata", "mutants", c.Name+".txt")
	}
	eq, err := mutate.LoadEquivalents(eqPath)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	m := &mutation{a: a, f: f, c: c, v: v, mod: mod, dir: dir, eq: eq, ops: ops, start: time.Now()}
	if n > 1 {
		m.shard = fmt.Sprintf("%d/%d", k, n)
	}
	return m.run(k, n)
}

// mutationVariant returns the variant to run against mutants: the named
// one, or the case's one variant that carries no bug.
func mutationVariant(c explore.Case, name string) (explore.Variant, error) {
	if name != "" {
		v, err := c.Variant(name)
		if err != nil {
			return v, usageError{err.Error()}
		}
		return v, nil
	}
	vs := passingVariants(c)
	if len(vs) != 1 {
		return explore.Variant{}, badArgs("case %s has %d variants that carry no bug: name one with --variant (it has %s)", c.Name, len(vs), variantNames(c))
	}
	return vs[0], nil
}

// mutation is one run of heddle mutate.
type mutation struct {
	a     *app
	f     mutateFlags
	c     explore.Case
	v     explore.Variant
	mod   module
	dir   string
	pkg   string
	main  string
	eq    mutate.Equivalents
	ops   []string
	tmp   string
	shard string
	start time.Time
	// coverage is the fixed path's coverage, when measured.
	coverage *coverage
}

func (m *mutation) logf(format string, args ...any) {
	fmt.Fprintf(m.a.stderr, "heddle mutate: %s: "+format+"\n", append([]any{m.c.Name}, args...)...)
}

// run generates the mutants on the path, runs each against the seeds and
// reports them; the status is exitFailed when one could not be run or the
// kill rate is below --min-kill-rate.
func (m *mutation) run(k, n int) (int, error) {
	var err error
	if m.pkg, err = m.mod.importPath(m.dir); err != nil {
		return 0, err
	}
	if m.main, err = m.a.workerPackage(m.mod); err != nil {
		return 0, err
	}
	if m.tmp, err = os.MkdirTemp("", "heddle-mutate-"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(m.tmp)
	stamps, err := stampSources(m.mod.root)
	if err != nil {
		return 0, err
	}

	keep, status, err := m.onPath()
	if err != nil || status != exitOK {
		return status, err
	}
	all, err := mutate.Generate(m.dir, mutate.Options{Operators: m.ops})
	if err != nil {
		return 0, err
	}
	ms, err := mutate.Generate(m.dir, mutate.Options{Operators: m.ops, Keep: keep})
	if err != nil {
		return 0, err
	}
	offPath := len(all) - len(ms)
	stale := m.eq.Stale(all)
	for _, id := range stale {
		m.logf("%s:%d: %s is marked equivalent but no mutant has that id any more (its code changed or went): remove the line",
			m.eq.Path, m.eq.Lines[id], id)
	}
	if ms, err = m.select_(ms, k, n); err != nil {
		return 0, err
	}
	if m.f.list {
		return exitOK, m.list(ms, offPath)
	}
	m.logf("%d mutants on the %s path (%d more off it), %d seeds each", len(ms), m.v.Name, offPath, m.f.seeds.count)
	seeds, err := explore.Seeds(m.f.seeds.first, m.f.seeds.count, 1, 1)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	var results []mutantResult
	for i, mu := range ms {
		path, err := stamps.changed(m.mod.root)
		if err != nil {
			return 0, err
		}
		if path != "" {
			return 0, fmt.Errorf("mutate %s: %s changed after the sweep began (%d of %d mutants run): the rest would be built from other code than the first; run again once the code is settled",
				m.c.Name, m.rel(path), i, len(ms))
		}
		r := m.runOne(mu, seeds)
		results = append(results, r)
		m.logf("[%d/%d] %s %s %s", i+1, len(ms), r.ID, r.Where(), describe(r))
		if m.f.json {
			if err := writeJSON(m.a.stdout, r); err != nil {
				return 0, err
			}
		}
	}
	sum := m.summary(results, offPath, stale)
	if m.f.json {
		if err := writeJSON(m.a.stdout, sum); err != nil {
			return 0, err
		}
	} else if err := writeMutants(m.a.stdout, results, sum); err != nil {
		return 0, err
	}
	status = exitOK
	if sum.Errors > 0 {
		status = exitFailed
		fmt.Fprintf(m.a.stderr, "heddle mutate: %s: %d mutant(s) could not be run\n", m.c.Name, sum.Errors)
	}
	if m.f.minKill > 0 && sum.KillRate != nil && *sum.KillRate < m.f.minKill {
		status = exitFailed
		fmt.Fprintf(m.a.stderr, "heddle mutate: %s: kill rate %.1f%% is below --min-kill-rate %.1f%%\n", m.c.Name, 100**sum.KillRate, 100*m.f.minKill)
	}
	return status, nil
}

// onPath returns which positions are on the variant's path: those the
// coverage sweep ran (with --cover-seeds), or else every one outside the
// code only other variants run. A status other than exitOK is the
// coverage sweep's failure.
func (m *mutation) onPath() (func(token.Position) bool, int, error) {
	regions, err := cover.VariantOnly(m.dir, variantIdent(m.v.Name))
	if err != nil {
		return nil, 0, err
	}
	keep := func(pos token.Position) bool {
		return !cover.InRegions(regions, filepath.Base(pos.Filename), pos.Line, pos.Column)
	}
	if m.f.coverSeeds > 0 {
		prof, status, err := m.measureCoverage()
		if err != nil || status != exitOK {
			return nil, status, err
		}
		// What the sweep ran is on the path, whatever the syntax says.
		keep = func(pos token.Position) bool {
			return prof.Covered(m.pkg+"/"+filepath.Base(pos.Filename), pos.Line, pos.Column)
		}
	}
	return keep, exitOK, nil
}

// select_ keeps the mutants --only names and the shard's share.
func (m *mutation) select_(ms []mutate.Mutant, k, n int) ([]mutate.Mutant, error) {
	if m.f.only != "" {
		want := map[string]bool{}
		for _, id := range strings.Split(m.f.only, ",") {
			want[strings.TrimSpace(id)] = true
		}
		var kept []mutate.Mutant
		for _, mu := range ms {
			if want[mu.ID] {
				kept = append(kept, mu)
				delete(want, mu.ID)
			}
		}
		for id := range want {
			return nil, badArgs("--only: no mutant on the %s path has the id %s (heddle mutate %s --list shows them)", m.v.Name, id, m.c.Name)
		}
		ms = kept
	}
	var out []mutate.Mutant
	for i, mu := range ms {
		if i%n == k-1 {
			out = append(out, mu)
		}
	}
	return out, nil
}

// measureCoverage sweeps the variant in workers built with coverage and
// returns the profile. A failing seed ends the command (status 1).
func (m *mutation) measureCoverage() (*cover.Profile, int, error) {
	bin := filepath.Join(m.tmp, "heddle-cover")
	covdir := filepath.Join(m.tmp, "cover")
	if err := os.MkdirAll(covdir, 0o755); err != nil {
		return nil, 0, err
	}
	m.logf("measuring the coverage of %s over %d seeds", m.v.Name, m.f.coverSeeds)
	if err := buildCoverWorker(context.Background(), m.mod, bin, m.main, []string{m.pkg}); err != nil {
		return nil, 0, fmt.Errorf("building the coverage worker: %w", err)
	}
	seeds, _ := explore.Seeds(0, m.f.coverSeeds, 1, 1)
	res := m.sweep(workerBinary{exe: bin, env: []string{"GOCOVERDIR=" + covdir}}, seeds)
	if res.Err != nil {
		return nil, 0, fmt.Errorf("the coverage sweep of %s/%s: %w", m.c.Name, m.v.Name, res.Err)
	}
	if res.First != nil {
		x := res.First.Violations[0]
		fmt.Fprintf(m.a.stderr, "heddle mutate: %s/%s fails without any mutant, at seed %d: %s: %s\nMutants are judged against a variant that passes; fix it first.\n",
			m.c.Name, m.v.Name, res.First.Seed, x.Kind, firstLine(x.Message))
		return nil, exitFailed, nil
	}
	cov, err := measureCoverage(m.mod, m.c, m.v, m.dir, covdir, res.Tried)
	if err != nil {
		return nil, 0, err
	}
	m.coverage = &cov
	m.logf("coverage of the %s path: %.1f%% of %d statements (%d lines never ran; %d statements of other variants left out)",
		m.v.Name, cov.Percent, cov.Statements, cov.UncoveredLines, cov.Excluded)
	prof, err := cover.ReadProfile(cov.Profile)
	return prof, exitOK, err
}

// sweep runs seeds in fresh workers of bin, stopping at the first failure.
func (m *mutation) sweep(bin workerBinary, seeds []int64) explore.SweepResult {
	var runners []explore.Runner
	for i := 0; i < m.f.parallel; i++ {
		r := m.a.runnerOf(bin, m.c, m.v, true)
		r.RunTimeout = m.f.runTimeout
		runners = append(runners, r)
	}
	defer func() {
		for _, r := range runners {
			r.Close()
		}
	}()
	return explore.Sweep(context.Background(), explore.SweepOptions{Seeds: seeds, Runners: runners})
}

// runOne builds one mutant and sweeps the variant against it.
func (m *mutation) runOne(mu mutate.Mutant, seeds []int64) (r mutantResult) {
	start := time.Now()
	r = mutantResult{Type: "mutant", Case: m.c.Name, Variant: m.v.Name, Mutant: mu, File: m.rel(mu.File)}
	defer func() { r.Seconds = time.Since(start).Seconds() }()
	if reason, ok := m.eq.Reason(mu.ID); ok {
		r.Status, r.Reason = mutantEquivalent, reason
		return r
	}
	d := filepath.Join(m.tmp, mu.ID)
	if err := os.MkdirAll(d, 0o755); err != nil {
		r.Status, r.Error = mutantError, err.Error()
		return r
	}
	defer os.RemoveAll(d)
	overlay, err := mu.Overlay(d)
	if err != nil {
		r.Status, r.Error = mutantError, err.Error()
		return r
	}
	bin := filepath.Join(d, "worker")
	if err := goBuild(context.Background(), m.mod, bin, m.main, "-overlay="+overlay); err != nil {
		var be *buildError
		if errors.As(err, &be) {
			r.Status = mutantCompileError
			// The go command prints the mutant's path, relative to the
			// module when that is shorter: name the original file instead.
			mutant := filepath.Join(d, filepath.Base(mu.File))
			out := strings.ReplaceAll(be.Output, mutant, r.File)
			if rel, err := filepath.Rel(m.mod.root, mutant); err == nil {
				out = strings.ReplaceAll(out, rel, r.File)
			}
			r.Error = firstLines(strings.TrimSpace(out), 4)
			return r
		}
		r.Status, r.Error = mutantError, err.Error()
		return r
	}
	res := m.sweep(workerBinary{exe: bin}, seeds)
	r.SeedsTried = res.Tried
	switch {
	case res.Err != nil:
		r.Status, r.Error = mutantError, firstLines(res.Err.Error(), 4)
	case res.First != nil:
		seed := res.First.Seed
		x := res.First.Violations[0]
		r.Status, r.Kind, r.FirstFailingSeed, r.Message = mutantKilled, string(x.Kind), &seed, firstLine(x.Message)
	default:
		r.Status = mutantSurvived
	}
	return r
}

// rel names a file relative to the module's root.
func (m *mutation) rel(path string) string {
	if r, err := filepath.Rel(m.mod.root, path); err == nil {
		return filepath.ToSlash(r)
	}
	return path
}

func (m *mutation) summary(results []mutantResult, offPath int, stale []string) mutationSummary {
	s := mutationSummary{Type: "mutation", Case: m.c.Name, Variant: m.v.Name, Package: m.pkg, Seeds: m.f.seeds.count,
		Shard: m.shard, CoverSeeds: m.f.coverSeeds, OffPath: offPath, Generated: len(results),
		ByOperator: map[string]*opCount{}, Survivors: []string{}, Stale: stale,
		WallSeconds: time.Since(m.start).Seconds()}
	if m.coverage != nil {
		p := m.coverage.Percent
		s.Coverage = &p
	}
	for _, r := range results {
		oc := s.ByOperator[r.Operator]
		if oc == nil {
			oc = &opCount{}
			s.ByOperator[r.Operator] = oc
		}
		oc.Generated++
		switch r.Status {
		case mutantKilled:
			s.Killed++
			oc.Killed++
		case mutantSurvived:
			s.Survived++
			oc.Survived++
			s.Survivors = append(s.Survivors, r.ID)
		case mutantCompileError:
			s.CompileErrors++
		case mutantEquivalent:
			s.Equivalent++
		default:
			s.Errors++
		}
	}
	if d := s.Killed + s.Survived; d > 0 {
		rate := float64(s.Killed) / float64(d)
		s.KillRate = &rate
	}
	return s
}

// list prints the mutants without running them.
func (m *mutation) list(ms []mutate.Mutant, offPath int) error {
	if m.f.json {
		for _, mu := range ms {
			r := mutantResult{Type: "mutant", Case: m.c.Name, Variant: m.v.Name, Mutant: mu, File: m.rel(mu.File), Status: "listed"}
			if reason, ok := m.eq.Reason(mu.ID); ok {
				r.Status, r.Reason = mutantEquivalent, reason
			}
			if err := writeJSON(m.a.stdout, r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(m.a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tOPERATOR\tWHERE\tFUNC\tMUTATION")
	for _, mu := range ms {
		change := mu.Desc
		if reason, ok := m.eq.Reason(mu.ID); ok {
			change += "  [equivalent: " + reason + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mu.ID, mu.Operator, mu.Where(), mu.Func, change)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(m.a.stdout, "\n%d mutants on the %s path of %s (%d more off it)\n", len(ms), m.v.Name, m.pkg, offPath)
	return nil
}

// describe renders a result for the progress line.
func describe(r mutantResult) string {
	switch r.Status {
	case mutantKilled:
		return fmt.Sprintf("killed: %s at seed %d (%.1fs)", r.Kind, *r.FirstFailingSeed, r.Seconds)
	case mutantSurvived:
		return fmt.Sprintf("SURVIVED %d seeds (%.1fs)", r.SeedsTried, r.Seconds)
	case mutantEquivalent:
		return "equivalent: " + r.Reason
	case mutantCompileError:
		return "does not compile: " + firstLine(r.Error)
	}
	return "error: " + firstLine(r.Error)
}

// writeMutants prints the table of mutants, the summary and the survivors.
func writeMutants(w io.Writer, results []mutantResult, s mutationSummary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tOPERATOR\tWHERE\tRESULT\tKIND\tSEED\tMUTATION")
	for _, r := range results {
		kind, seed := "-", "-"
		if r.Kind != "" {
			kind = r.Kind
		}
		if r.FirstFailingSeed != nil {
			seed = fmt.Sprint(*r.FirstFailingSeed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Operator, r.Where(), r.Status, kind, seed, r.Desc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	rate := "n/a"
	if s.KillRate != nil {
		rate = fmt.Sprintf("%.1f%% (%d/%d)", 100**s.KillRate, s.Killed, s.Killed+s.Survived)
	}
	cov := ""
	if s.Coverage != nil {
		cov = fmt.Sprintf("; coverage of the %s path %.1f%% over %d seeds", s.Variant, *s.Coverage, s.CoverSeeds)
	}
	fmt.Fprintf(w, "\n%s/%s: %d mutants (%d off the covered path): %d compile errors, %d equivalent, %d killed, %d survived",
		s.Case, s.Variant, s.Generated, s.OffPath, s.CompileErrors, s.Equivalent, s.Killed, s.Survived)
	if s.Errors > 0 {
		fmt.Fprintf(w, ", %d errors", s.Errors)
	}
	fmt.Fprintf(w, "; kill rate %s over %d seeds%s; %s\n", rate, s.Seeds, cov, time.Duration(s.WallSeconds*float64(time.Second)).Round(time.Second))
	var survivors []mutantResult
	for _, r := range results {
		if r.Status == mutantSurvived {
			survivors = append(survivors, r)
		}
	}
	if len(survivors) > 0 {
		fmt.Fprintf(w, "\nsurvivors (the to-do list: the checks miss a bug of this kind here):\n")
		for _, r := range survivors {
			fmt.Fprintf(w, "  %s  %s:%d  %s: %s\n", r.ID, r.File, r.Line, r.Func, r.Desc)
			for _, c := range r.Changes {
				fmt.Fprintf(w, "      %4d - %s\n", c.Line, c.Before)
				fmt.Fprintf(w, "      %4d + %s\n", c.Line, c.After)
			}
		}
	}
	for _, r := range results {
		if r.Status == mutantCompileError {
			fmt.Fprintf(w, "\ndoes not compile: %s (%s): %s\n", r.ID, r.Where(), r.Error)
		}
	}
	return nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
