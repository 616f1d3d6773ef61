package chantypes

import "testing"

const want = "2 4 false xtrue false true true 5 true true hellotrueagain 9 true 4 true false truetrue truetrue 0 0"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
