package lostupdate

import "testing"

func check(t *testing.T, inc func(*Counter)) {
	if got := Run(3, inc); got != 3 {
		t.Errorf("3 increments made %d", got)
	}
}

func TestBug(t *testing.T)   { check(t, (*Counter).IncBuggy) }
func TestFixed(t *testing.T) { check(t, (*Counter).IncFixed) }
