package syncatomic

import "testing"

const want = "3 4 8 hellotrue true 1 1 true 1 true 42 42 2 7"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
