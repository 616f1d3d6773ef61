package det_test

import (
	"context"
	"testing"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/det"
)

func TestActive(t *testing.T) {
	if det.Active() {
		t.Error("Active outside any World")
	}
	var in bool
	harness.Run(harness.Options{}, func() { in = det.Active() })
	if !in {
		t.Error("not Active inside a deterministic World")
	}
	var real bool
	harness.Run(harness.Options{Mode: harness.Real}, func() { real = det.Active() })
	if real {
		t.Error("Active inside a Real World")
	}
}

type selfCtx struct{ context.Context }

func (c selfCtx) Value(key any) any {
	if key == (det.Key{}) {
		return c
	}
	return c.Context.Value(key)
}

func TestSelectable(t *testing.T) {
	if det.Selectable(context.Background()) {
		t.Error("Background is selectable")
	}
	inner, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := selfCtx{inner}
	if !det.Selectable(c) {
		t.Error("a context that answers det.Key with itself is not selectable")
	}
	if !det.Selectable(context.WithValue(c, struct{ k int }{1}, "v")) {
		t.Error("WithValue of a selectable context is not selectable")
	}
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	if det.Selectable(child) {
		t.Error("a standard child, with a Done channel of its own, is selectable")
	}
}
