package foreign

import "testing"

const want = "create write 6 10 1 true 5 2"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if e := Export(); e != 6 {
		t.Fatalf("Export: %d", e)
	}
}
