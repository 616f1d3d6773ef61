package metaclient

import (
	"testing"

	"github.com/heddle-go/heddle/harness/explore"
)

func TestZZCover(t *testing.T) {
	v := mustVariant(t, "fixed")
	for s := int64(0); s < 200; s++ {
		if o := explore.RunOnce(v, explore.RunSpec{Seed: s}); o.Failed() {
			t.Fatal(o.Violations)
		}
	}
}
