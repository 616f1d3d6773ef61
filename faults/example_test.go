package faults_test

import (
	"context"
	"fmt"

	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
)

// A plan written by hand, with a case-defined action ("write KEY": a client
// writes KEY to the server), is parsed, run in a World with the action's
// handler, and shrunk to the steps that lose a write.
func Example() {
	plan, err := faults.ParsePlan(`
		+10ms  crash server
		+20ms  write x
		+30ms  restart server
		+40ms  write y
		+50ms  heal`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(plan)

	// lost runs a plan and returns the writes made while the server was down.
	lost := func(p faults.Plan) []string {
		var keys []string
		res := harness.Run(harness.Options{Seed: 1}, func() {
			srv := harness.NewNode("server", nil)
			if err := srv.Start(); err != nil {
				panic(err)
			}
			actions := faults.Actions{"write": func(_ context.Context, key string) error {
				if !srv.Alive() {
					keys = append(keys, key)
				}
				return nil
			}}
			_ = faults.Run(context.Background(), p, actions) // a crash of a crashed server may fail: fine
		})
		if err := res.Err(); err != nil {
			panic(err)
		}
		return keys
	}
	fmt.Println("lost:", lost(plan))

	small := faults.Shrink(plan, func(p faults.Plan) bool { return len(lost(p)) > 0 })
	fmt.Println("shrunk:", small)
	fmt.Println("lost:", lost(small))
	// Output:
	// +10ms crash server; +20ms write x; +30ms restart server; +40ms write y; +50ms heal
	// lost: [x]
	// shrunk: +0s crash server; +0s write x
	// lost: [x]
}
