package ctxleak

import (
	"context"
	"errors"
	"testing"
)

func check(t *testing.T, lookup func(context.Context, string) (string, error)) {
	v, err := lookup(context.Background(), "k")
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v", err)
	}
	if err == nil && v != "value of k" {
		t.Errorf("got %q", v)
	}
}

func TestBug(t *testing.T)   { check(t, LookupBuggy) }
func TestFixed(t *testing.T) { check(t, LookupFixed) }
