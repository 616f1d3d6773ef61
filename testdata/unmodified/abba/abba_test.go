package abba

import "testing"

func check(t *testing.T, transfer func(from, to *Account, amount int)) {
	a, b := Both(transfer)
	if a != 110 || b != 90 {
		t.Errorf("balances %d and %d, want 110 and 90", a, b)
	}
}

func TestBug(t *testing.T)   { check(t, TransferBuggy) }
func TestFixed(t *testing.T) { check(t, TransferFixed) }
