package mutate_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/heddle-go/heddle/harness/mutate"
)

// A counter whose lock pair is dropped, and whose critical section is
// split after its read, by two of the operators.
func ExampleGenerate() {
	dir, _ := os.MkdirTemp("", "mutate-example")
	defer os.RemoveAll(dir)
	src := `package counter

import "github.com/heddle-go/heddle/harness"

type Counter struct {
	mu harness.Mutex
	n  int
}

func (c *Counter) Add(d int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n + d
	c.n = n
	return n
}
`
	_ = os.WriteFile(filepath.Join(dir, "counter.go"), []byte(src), 0o644)
	ms, err := mutate.Generate(dir, mutate.Options{Operators: []string{"lock-pair", "split-section"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range ms {
		fmt.Printf("%s %s: %s\n", m.Where(), m.Operator, m.Desc)
	}
	// Output:
	// counter.go:11 lock-pair: drop `c.mu.Lock()` and `defer c.mu.Unlock()`
	// counter.go:13 split-section: release and retake c.mu after `n := c.n + d`
}
