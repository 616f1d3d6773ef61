package condwait

import "testing"

func check(t *testing.T, get func(*Queue) int) {
	if got := Run(get); got != 3 {
		t.Errorf("sum %d, want 3", got)
	}
}

func TestBug(t *testing.T)   { check(t, (*Queue).GetBuggy) }
func TestFixed(t *testing.T) { check(t, (*Queue).GetFixed) }
