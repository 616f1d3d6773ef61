package basic

import "testing"

const want = "103 5 true 0 3"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
