package lines_test

import (
	"testing"

	"github.com/heddle-go/heddle/harness/rewrite/testdata/snippets/lines"
)

// A test file (of the external test package) is rewritten too: its goroutine
// and channel, and the line t.Log reports from them.
func TestFromGoroutine(t *testing.T) {
	results := make(chan string)
	go func() {
		t.Log("from a goroutine")
		results <- lines.Program()
	}()
	select {
	case r := <-results:
		t.Log(len(r) > 0)
	}
}
