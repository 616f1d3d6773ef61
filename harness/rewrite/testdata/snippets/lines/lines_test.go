package lines

import "testing"

const want = "lines.go:40 lines.go:51 lines.go:47 lines.go:51 lines.go:26,lines.go:62,lines.go:29,lines.go:57 lines.go:26,lines.go:68,lines.go:29,lines.go:67"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
