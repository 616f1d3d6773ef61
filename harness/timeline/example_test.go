package timeline_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/timeline"
)

// A failing seed of a test, written as a page: a pipeline whose consumer
// waits for a second value that is never sent.
func ExampleWriteFile() {
	res := harness.Run(harness.Options{Seed: 1, Trace: true}, func() {
		ch := harness.NewChan[int](0)
		harness.Go(func() { ch.Send(1) })
		ch.Recv()
		ch.Recv() // deadlock: nobody sends a second value
	})
	run := timeline.Run{
		Test:        "TestPipeline",
		Seed:        res.Seed,
		Strategy:    res.Strategy,
		Steps:       res.Steps,
		Preemptions: res.Preemptions,
		Replay:      "go test -run TestPipeline -heddle.seed 1",
		Violations:  checkers.FromResult(res),
		Events:      timeline.EventsOf(res.Trace),
	}
	dir, err := os.MkdirTemp("", "heddle-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "TestPipeline-seed1.html")
	if err := timeline.WriteFile(path, run, nil); err != nil {
		fmt.Println(err)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	page := string(data)
	title := page[strings.Index(page, "<title>")+len("<title>") : strings.Index(page, "</title>")]
	fmt.Println(title)
	fmt.Println(strings.Contains(page, `data-mark="Deadlock"`))
	// Output:
	// heddle: TestPipeline — Deadlock
	// true
}
