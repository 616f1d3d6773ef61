package sendclosed

import (
	"testing"
	"time"
)

func check(t *testing.T, gather func(int, func(int) int, time.Duration) []int) {
	got := gather(3, Work, 2*time.Millisecond)
	if len(got) > 3 {
		t.Errorf("got %d results from 3 workers", len(got))
	}
}

func TestBug(t *testing.T)   { check(t, GatherBuggy) }
func TestFixed(t *testing.T) { check(t, GatherFixed) }
