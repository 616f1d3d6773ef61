// Package unmodified holds plain Go programs with concurrency bugs, one
// package each, for heddle test: nothing here imports heddle. Each package
// has a buggy function (tested by TestBug) and its fixed twin (TestFixed).
// heddle's own tests run heddle test on this module and check that it finds
// each bug with the right kind and that every fixed twin passes.
package unmodified
