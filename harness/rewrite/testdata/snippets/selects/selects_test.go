package selects

import "testing"

const want = "1a 0b closed sent0 gotm0true sent2 default sum13 nil true"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
