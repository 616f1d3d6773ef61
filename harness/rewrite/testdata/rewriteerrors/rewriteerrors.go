// Package rewriteerrors has a construct the rewriter cannot rewrite: a nil
// channel whose element type it cannot name.
package rewriteerrors

import "github.com/heddle-go/heddle/harness/rewrite/testdata/foreign"

func Reset() bool {
	c := foreign.Secret()
	c = nil
	return c == nil
}
