package main

import (
	"os"

	"github.com/heddle-go/heddle/harness/explore"
)

// merge combines the --json reports of several shards into one verdict per
// case and variant (see explore.MergeReports).
func (a *app) merge(args []string) (int, error) {
	var asJSON bool
	var junit string
	fs := a.newFlagSet("merge", "[report.json...] [--json] [--junit FILE]  (standard input when no file is named)")
	fs.BoolVar(&asJSON, "json", false, "print the merged reports as JSON lines instead of the table")
	fs.StringVar(&junit, "junit", "", "also write a JUnit XML report to this file")
	files, err := a.parse(fs, args)
	if err != nil {
		return 0, err
	}
	var all []explore.Report
	if len(files) == 0 {
		reps, err := explore.ReadJSONLines(a.stdin)
		if err != nil {
			return 0, badArgs("standard input: %v", err)
		}
		all = reps
	}
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			return 0, usageError{err.Error()}
		}
		reps, err := explore.ReadJSONLines(fh)
		fh.Close()
		if err != nil {
			return 0, badArgs("%s: %v", name, err)
		}
		all = append(all, reps...)
	}
	if len(all) == 0 {
		return 0, badArgs("no reports to merge")
	}
	merged := explore.MergeReports(all)
	if asJSON {
		if err := explore.WriteJSONLines(a.stdout, merged); err != nil {
			return 0, err
		}
	}
	return a.finish(merged, asJSON, junit)
}
