package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/harness/timeline"
)

// pageRun makes the failure page's Run of one outcome of c's variant v.
func pageRun(c explore.Case, v explore.Variant, out explore.Outcome, replay string) timeline.Run {
	r := timeline.Run{Case: c.Name, Variant: v.Name, Seed: out.Seed, Strategy: out.Strategy, Steps: out.Steps,
		Preemptions: out.Preemptions, TraceHash: out.TraceHash, Replay: replay, Violations: out.Violations}
	if out.Faults != nil {
		r.Faults = *out.Faults
	}
	r.Events = make([]timeline.Event, len(out.Trace))
	for i, e := range out.Trace {
		r.Events[i] = timeline.Event{Step: e.Step, Time: e.Time, G: e.G, Node: e.Node, Kind: e.Kind, Site: e.Site,
			File: e.File, Detail: e.Detail}
	}
	return r
}

// writePage writes the failure page of an outcome to path.
func (a *app) writePage(path string, c explore.Case, v explore.Variant, out explore.Outcome, replay string) error {
	if err := timeline.WriteFile(path, pageRun(c, v, out, replay), nil); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "heddle: wrote %s (%d events)\n", path, len(out.Trace))
	return nil
}

// writeReportPage replays the failure a report names, with its trace, and
// writes its page into dir: the saved schedule when the failure was saved
// (or a saved schedule regressed), the shrunk one when it was shrunk, else
// the failing seed with the sweep's strategy. It returns the page's path,
// or "" when the report has no failure to show.
func (a *app) writeReportPage(dir string, c explore.Case, v explore.Variant, rep explore.Report) (string, error) {
	if rep.FirstFailingSeed == nil || rep.Mode == "real" {
		return "", nil
	}
	seed := *rep.FirstFailingSeed
	spec := explore.RunSpec{Seed: seed, Strategy: rep.Strategy, Trace: true}
	if rep.Strategy == "default" {
		spec.Strategy = ""
	}
	saved := rep.SavedPath
	for _, s := range rep.Saved {
		if s.Problem != "" && s.Seed == seed && saved == "" {
			saved = s.Path
		}
	}
	switch {
	case saved != "":
		sf, err := explore.ReadSaved(saved)
		if err != nil {
			return "", err
		}
		spec = explore.RunSpec{Seed: sf.Seed, Replay: true, Schedule: sf.Schedule, Faults: sf.Faults, Trace: true}
	case rep.Shrunk != nil:
		spec = explore.RunSpec{Seed: seed, Replay: true, Schedule: rep.Shrunk.Schedule, Faults: rep.Shrunk.Faults, Trace: true}
	}
	w := a.newWorkerRunner(c, v, false)
	defer w.Close()
	out, err := w.Do(context.Background(), spec)
	if err != nil {
		return "", fmt.Errorf("replaying %s/%s seed %d for its page: %w", c.Name, v.Name, seed, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	kind := strings.ToLower(string(rep.Kind))
	if kind == "" {
		kind = "failure"
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s-seed%d.html", c.Name, v.Name, kind, seed))
	return path, a.writePage(path, c, v, out, rep.Replay)
}
