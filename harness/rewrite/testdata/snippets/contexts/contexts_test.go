package contexts

import "testing"

const want = "9 false context canceled stop context deadline exceeded stop true context canceled parent gone timeout afterfuncfalse <nil> true true no stale ticks3 has done"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
