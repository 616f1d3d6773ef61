package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/gotest"
	"github.com/heddle-go/heddle/harness/timeline"
)

// savedDir is where a package keeps its failing schedules, relative to its
// directory.
var savedDir = filepath.Join("testdata", "heddle")

// loadSaved reads the failing schedules a package keeps.
func loadSaved(pkgDir string) ([]gotest.Saved, error) {
	paths, err := filepath.Glob(filepath.Join(pkgDir, savedDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing saved schedules: %w", err)
	}
	sort.Strings(paths)
	var out []gotest.Saved
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading a saved schedule: %w", err)
		}
		var s gotest.Saved
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("reading the saved schedule %s: %w", path, err)
		}
		if s.Test == "" {
			continue
		}
		s.File = filepath.ToSlash(filepath.Join(savedDir, filepath.Base(path)))
		out = append(out, s)
	}
	return out, nil
}

// finishFailure fills in a failure's replay command, and saves its
// schedule and writes its page as the options ask.
func (d *driver) finishFailure(p listed, f *Failure, first bool) {
	if f.Seed >= 0 && f.Run != "" {
		f.Replay = d.replayCommand(p, f)
	}
	if d.opts.Save && first && len(f.Schedule) > 0 && f.FromSaved == "" {
		if path, err := saveSchedule(p.Dir, f); err != nil {
			d.notef("heddle test: %v", err)
		} else {
			f.Saved = path
		}
	}
	if d.opts.HTML != "" && first && len(f.Trace) > 0 {
		if path, err := d.writePage(p, f); err != nil {
			d.notef("heddle test: %v", err)
		} else {
			f.Page = path
		}
	}
}

// replayCommand is the command that runs a failing run again.
func (d *driver) replayCommand(p listed, f *Failure) string {
	var b strings.Builder
	b.WriteString(d.relCommand + " test")
	if d.opts.Race {
		b.WriteString(" -race")
	}
	if d.opts.Tags != "" {
		b.WriteString(" -tags " + shellQuote(d.opts.Tags))
	}
	run := "^" + regexp.QuoteMeta(f.Test) + "$"
	if len(d.runElems) > 1 {
		run += "/" + strings.Join(d.runElems[1:], "/")
	}
	fmt.Fprintf(&b, " -run %s -seeds %d:%d -strategy %s %s", shellQuote(run), f.Seed, f.Seed+1, f.Strategy, d.packageArg(p))
	return b.String()
}

// packageArg names a package for a command run where heddle test was.
func (d *driver) packageArg(p listed) string {
	rel, err := filepath.Rel(d.dir, p.Dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p.ImportPath
	}
	if rel == "." {
		return "."
	}
	return "./" + filepath.ToSlash(rel)
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// saveSchedule keeps a failing run's schedule under its package's
// testdata/heddle/.
func saveSchedule(pkgDir string, f *Failure) (string, error) {
	s := gotest.Saved{Test: f.Test, Seed: f.Seed, Strategy: f.Strategy, Schedule: f.Schedule, Kinds: f.Kinds}
	if len(f.Failures) > 0 {
		s.Message = f.Failures[0].Message
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return "", fmt.Errorf("saving a schedule: %w", err)
	}
	dir := filepath.Join(pkgDir, savedDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("saving a schedule: %w", err)
	}
	name := fmt.Sprintf("%s.seed%d.%s.json", fileSafe(f.Test), f.Seed, fileSafe(f.Strategy))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("saving a schedule: %w", err)
	}
	return path, nil
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// writePage writes a failing run's HTML page.
func (d *driver) writePage(p listed, f *Failure) (string, error) {
	r := timeline.Run{Test: p.ImportPath + "." + f.Test, Title: f.Test + " " + f.Run, Seed: f.Seed, Strategy: f.Strategy,
		Steps: f.Steps, Preemptions: f.Preemptions, TraceHash: f.TraceHash, Replay: f.Replay}
	for _, x := range f.Failures {
		msg := x.Text
		if msg == "" {
			msg = x.Message
		}
		r.Violations = append(r.Violations, checkers.Violation{Kind: harness.Kind(x.Kind), Message: msg})
	}
	r.Violations = append(r.Violations, checkers.ParseRaceReports(f.Output)...)
	r.Events = make([]timeline.Event, len(f.Trace))
	for i, e := range f.Trace {
		r.Events[i] = timeline.Event{Step: e.Step, Time: e.Time, G: e.G, Node: e.Node, Kind: e.Kind, Site: e.Site,
			File: e.File, Detail: e.Detail}
	}
	if err := os.MkdirAll(d.opts.HTML, 0o755); err != nil {
		return "", fmt.Errorf("writing a page: %w", err)
	}
	name := fmt.Sprintf("%s.%s.%s.html", fileSafe(p.ImportPath), fileSafe(f.Test), fileSafe(f.Run))
	path := filepath.Join(d.opts.HTML, name)
	if err := timeline.WriteFile(path, r, nil); err != nil {
		return "", fmt.Errorf("writing a page: %w", err)
	}
	return path, nil
}

// printPackage reports one package, as soon as it is done.
func (d *driver) printPackage(p *PackageResult) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	if d.opts.JSON {
		d.printPackageJSON(p)
		return
	}
	w := d.out
	if p.BuildError != "" {
		fmt.Fprintf(w, "FAIL\t%s [build failed]\n%s\n", p.ImportPath, indent(p.BuildError, "    "))
		return
	}
	runs := 0
	for _, t := range p.Tests {
		runs += t.Runs
		if t.Failed == 0 {
			if d.opts.Verbose {
				fmt.Fprintf(w, "--- PASS: %s (%d runs, strategy %s, %.2fs)\n", t.Test, t.Runs, t.Strategy, t.Elapsed.Seconds())
			}
			continue
		}
		var more []string
		swept := false
		for i := range t.Failures {
			f := &t.Failures[i]
			if f.FromSaved == "" && swept {
				more = append(more, fmt.Sprint(f.Seed))
				continue
			}
			swept = swept || f.FromSaved == ""
			d.printFailure(f)
		}
		if len(more) > 0 {
			if len(more) > 30 {
				more = append(more[:30], "...")
			}
			fmt.Fprintf(w, "    %d more failing seeds: %s\n", t.FailedSeeds-1, strings.Join(more, " "))
		}
		if d.opts.KeepGoing {
			fmt.Fprintf(w, "    %s: %d of %d seeds failed (%.1f%%)\n", t.Test, t.FailedSeeds, t.Seeds,
				100*float64(t.FailedSeeds)/float64(max(t.Seeds, 1)))
		}
	}
	status := "ok"
	if p.Failed() {
		status = "FAIL"
	}
	if len(p.Tests) == 0 {
		fmt.Fprintf(w, "%s\t%s\t[no tests to run]\n", status, p.ImportPath)
		return
	}
	fmt.Fprintf(w, "%s\t%s\t%.3fs\t%d tests, %d runs\n", status, p.ImportPath, p.Elapsed.Seconds(), len(p.Tests), runs)
}

// printFailure reports one failing run.
func (d *driver) printFailure(f *Failure) {
	w := d.out
	head := f.Run
	if f.Seed >= 0 && f.Run != "" {
		head = fmt.Sprintf("seed %d, strategy %s", f.Seed, f.Strategy)
		if f.FromSaved != "" {
			head = fmt.Sprintf("saved schedule %s, seed %d, strategy %s", f.FromSaved, f.Seed, f.Strategy)
		}
	}
	fmt.Fprintf(w, "--- FAIL: %s (%s): %s\n", f.Test, head, strings.Join(f.Kinds, ", "))
	for _, x := range f.Failures {
		text := x.Text
		if text == "" {
			text = x.Kind + ": " + x.Message
		}
		if x.Kind == gotest.KindTestFailed {
			continue // the test's own output says how
		}
		fmt.Fprintln(w, indent(text, "    "))
	}
	if f.Output != "" {
		fmt.Fprintln(w, indent(f.Output, "    "))
	}
	if f.Replay != "" {
		fmt.Fprintf(w, "    replay: %s\n", f.Replay)
	}
	if f.Saved != "" {
		fmt.Fprintf(w, "    schedule saved: %s\n", d.relPath(f.Saved))
	}
	if f.Page != "" {
		fmt.Fprintf(w, "    page: %s\n", d.relPath(f.Page))
	}
}

// relPath names a file relative to where heddle test runs, when it is
// below it.
func (d *driver) relPath(path string) string {
	if rel, err := filepath.Rel(d.dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// The JSON report: one object per line, by "type".

type jsonRun struct {
	Type        string           `json:"type"` // "run"
	Package     string           `json:"package"`
	Test        string           `json:"test"`
	Run         string           `json:"run"`
	Seed        int64            `json:"seed"`
	Strategy    string           `json:"strategy"`
	Kind        string           `json:"kind"`
	Kinds       []string         `json:"kinds"`
	Failures    []gotest.Failure `json:"failures"`
	Output      string           `json:"output,omitempty"`
	Crashed     bool             `json:"crashed,omitempty"`
	FromSaved   string           `json:"from_saved,omitempty"`
	Replay      string           `json:"replay,omitempty"`
	Saved       string           `json:"saved,omitempty"`
	Page        string           `json:"page,omitempty"`
	Steps       int              `json:"steps,omitempty"`
	Preemptions int              `json:"preemptions,omitempty"`
}

type jsonTest struct {
	Type             string   `json:"type"` // "test"
	Package          string   `json:"package"`
	Test             string   `json:"test"`
	Passed           bool     `json:"passed"`
	Skipped          bool     `json:"skipped,omitempty"`
	Runs             int      `json:"runs"`
	Failed           int      `json:"failed"`
	Seeds            int      `json:"seeds"`
	FailedSeeds      int      `json:"failed_seeds"`
	FailingFraction  float64  `json:"failing_fraction"`
	FirstFailingSeed *int64   `json:"first_failing_seed"`
	Kind             string   `json:"kind,omitempty"`
	Strategy         string   `json:"strategy"`
	Seconds          float64  `json:"seconds"`
	Kinds            []string `json:"kinds,omitempty"`
}

type jsonPackage struct {
	Type       string  `json:"type"` // "package"
	Package    string  `json:"package"`
	Passed     bool    `json:"passed"`
	BuildError string  `json:"build_error,omitempty"`
	Tests      int     `json:"tests"`
	Seconds    float64 `json:"seconds"`
}

type jsonSummary struct {
	Type      string `json:"type"` // "summary"
	Passed    bool   `json:"passed"`
	Packages  int    `json:"packages"`
	CacheHit  bool   `json:"cache_hit"`
	Rewritten int    `json:"rewritten_files"`
}

func (d *driver) printPackageJSON(p *PackageResult) {
	enc := json.NewEncoder(d.out)
	for _, t := range p.Tests {
		for _, f := range t.Failures {
			enc.Encode(jsonRun{Type: "run", Package: f.Package, Test: f.Test, Run: f.Run, Seed: f.Seed, Strategy: f.Strategy,
				Kind: f.Kind(), Kinds: f.Kinds, Failures: f.Failures, Output: f.Output, Crashed: f.Crashed,
				FromSaved: f.FromSaved, Replay: f.Replay, Saved: f.Saved, Page: f.Page, Steps: f.Steps, Preemptions: f.Preemptions})
		}
		jt := jsonTest{Type: "test", Package: t.Package, Test: t.Test, Passed: t.Failed == 0, Skipped: t.Skipped, Runs: t.Runs,
			Failed: t.Failed, Seeds: t.Seeds, FailedSeeds: t.FailedSeeds, Strategy: t.Strategy, Seconds: t.Elapsed.Seconds()}
		if t.Seeds > 0 {
			jt.FailingFraction = float64(t.FailedSeeds) / float64(t.Seeds)
		}
		if first := t.FirstFailure(); first != nil {
			seed := first.Seed
			jt.FirstFailingSeed, jt.Kind, jt.Kinds = &seed, first.Kind(), first.Kinds
		}
		enc.Encode(jt)
	}
	enc.Encode(jsonPackage{Type: "package", Package: p.ImportPath, Passed: !p.Failed(), BuildError: p.BuildError,
		Tests: len(p.Tests), Seconds: p.Elapsed.Seconds()})
}

// FirstFailure returns the test's first failing run of its sweep (not a
// saved schedule's re-run), or its first failure of any run, or nil.
func (t *TestResult) FirstFailure() *Failure {
	for i := range t.Failures {
		if t.Failures[i].FromSaved == "" {
			return &t.Failures[i]
		}
	}
	if len(t.Failures) > 0 {
		return &t.Failures[0]
	}
	return nil
}

func (d *driver) printSummary(s *Summary) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	if d.opts.JSON {
		json.NewEncoder(d.out).Encode(jsonSummary{Type: "summary", Passed: !s.Failed(), Packages: len(s.Packages),
			CacheHit: s.CacheHit, Rewritten: s.Rewritten})
		return
	}
	if s.Failed() {
		fmt.Fprintln(d.out, "FAIL")
	}
}

// ErrFailed is what the heddle command reports when a test failed.
var ErrFailed = errors.New("heddle test: a test failed")
