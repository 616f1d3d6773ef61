package race

import "testing"

const want = "counted"

func TestProgram(t *testing.T) {
	got := Program()
	t.Log(got)
}
