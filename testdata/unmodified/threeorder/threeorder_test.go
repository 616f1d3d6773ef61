package threeorder

import "testing"

func check(t *testing.T, cancel func(*Order)) {
	if Run(cancel) {
		t.Error("the order was shipped and refunded")
	}
}

func TestBug(t *testing.T)   { check(t, (*Order).CancelBuggy) }
func TestFixed(t *testing.T) { check(t, (*Order).CancelFixed) }
