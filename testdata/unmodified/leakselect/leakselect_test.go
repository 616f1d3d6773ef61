package leakselect

import (
	"testing"
	"time"
)

func check(t *testing.T, first func(func() int, time.Duration) (int, bool)) {
	if v, ok := first(Slow, 10*time.Millisecond); ok && v != 42 {
		t.Errorf("got %d, want 42", v)
	}
}

func TestBug(t *testing.T)   { check(t, FirstBuggy) }
func TestFixed(t *testing.T) { check(t, FirstFixed) }
