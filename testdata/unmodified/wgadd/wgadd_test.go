package wgadd

import "testing"

func check(t *testing.T, sum func([]int) int) {
	if got := sum([]int{1, 2, 3}); got != 6 {
		t.Errorf("sum %d, want 6", got)
	}
}

func TestBug(t *testing.T)   { check(t, SumBuggy) }
func TestFixed(t *testing.T) { check(t, SumFixed) }
