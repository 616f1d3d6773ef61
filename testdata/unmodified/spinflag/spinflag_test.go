package spinflag

import "testing"

func check(t *testing.T, publish func(*Box, int)) {
	if got := Run(publish); got != 42 {
		t.Errorf("awaited %d, want 42", got)
	}
}

func TestBug(t *testing.T)   { check(t, (*Box).PublishBuggy) }
func TestFixed(t *testing.T) { check(t, (*Box).PublishFixed) }
