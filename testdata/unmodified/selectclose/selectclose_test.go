package selectclose

import "testing"

func check(t *testing.T, stream func() []int) {
	if got := stream(); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("got %v, want [0 1]", got)
	}
}

func TestBug(t *testing.T)   { check(t, StreamBuggy) }
func TestFixed(t *testing.T) { check(t, StreamFixed) }
