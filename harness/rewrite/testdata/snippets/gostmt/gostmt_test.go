package gostmt

import "testing"

const want = "closure 1; generic int 1; generic string s; named true 2; pointer receiver 2; pointer receiver 2; pointer receiver 7; results; value receiver 1; variadic [1 2]; variadic [1 3]"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
