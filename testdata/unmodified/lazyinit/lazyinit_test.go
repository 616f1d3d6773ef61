package lazyinit

import "testing"

func check(t *testing.T, lookup func(*Table, string) int) {
	if got := Both(lookup); got != 3 {
		t.Errorf("got %d, want 3", got)
	}
}

func TestBug(t *testing.T)   { check(t, (*Table).LookupBuggy) }
func TestFixed(t *testing.T) { check(t, (*Table).LookupFixed) }
