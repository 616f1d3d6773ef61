package context_test

import (
	"context"
	"errors"
	"testing"
	"time"

	hcontext "github.com/heddle-go/heddle/harness/std/context"
	"github.com/heddle-go/heddle/harness/std/internal/dettest"
	"github.com/heddle-go/heddle/harness/std/lang"
	htime "github.com/heddle-go/heddle/harness/std/time"
)

// key is the test's context value key.
type key struct{}

var (
	errA = errors.New("a")
	errB = errors.New("b")
)

// wait blocks until ctx is done, as a rewritten <-ctx.Done() does.
func wait(ctx context.Context) { lang.On(lang.Done(ctx)).Recv() }

func TestCauses(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		bg := context.Background()
		c, cancel := hcontext.WithCancelCause(bg)
		if hcontext.Cause(c) != nil {
			t.Error("a live context has a cause")
		}
		child, cancelChild := hcontext.WithCancel(c)
		defer cancelChild()
		grandchild, cancelGrand := hcontext.WithTimeout(child, time.Hour)
		defer cancelGrand()
		value := context.WithValue(grandchild, key{}, "v")
		cancel(errA)
		cancel(errB) // too late: the first cause stays
		wait(value)
		for name, ctx := range map[string]context.Context{"parent": c, "child": child, "grandchild": grandchild, "value": value} {
			if ctx.Err() != context.Canceled || hcontext.Cause(ctx) != errA {
				t.Errorf("%s: err %v cause %v, want canceled and a", name, ctx.Err(), hcontext.Cause(ctx))
			}
		}

		// A deadline's cause; a cancel after it changes nothing.
		d, cancelD := hcontext.WithTimeoutCause(bg, time.Millisecond, errB)
		wait(d)
		cancelD()
		if d.Err() != context.DeadlineExceeded || hcontext.Cause(d) != errB {
			t.Errorf("deadline: err %v cause %v", d.Err(), hcontext.Cause(d))
		}
		// Without a cause, the error is the cause; a child of a deadline
		// has its parent's.
		p, cancelP := hcontext.WithDeadline(bg, htime.Now().Add(time.Millisecond))
		defer cancelP()
		k, cancelK := hcontext.WithDeadlineCause(p, htime.Now().Add(time.Hour), errA)
		defer cancelK()
		wait(k)
		if hcontext.Cause(p) != context.DeadlineExceeded || hcontext.Cause(k) != context.DeadlineExceeded || k.Err() != context.DeadlineExceeded {
			t.Errorf("parent's deadline: causes %v %v", hcontext.Cause(p), hcontext.Cause(k))
		}
		// A cancel without a cause.
		e, cancelE := hcontext.WithCancelCause(bg)
		cancelE(nil)
		if hcontext.Cause(e) != context.Canceled {
			t.Errorf("cancel(nil): cause %v", hcontext.Cause(e))
		}
		// A child made of a parent already cancelled.
		late, cancelLate := hcontext.WithTimeout(c, time.Hour)
		defer cancelLate()
		if hcontext.Cause(late) != errA {
			t.Errorf("child of a cancelled parent: cause %v", hcontext.Cause(late))
		}
	})
}

func TestAfterFuncAndWithoutCancel(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		ctx, cancel := hcontext.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		ran := lang.Make[lang.Chan[string]](2)
		hcontext.AfterFunc(ctx, func() { lang.On(ran).Send("first") })
		stopped := hcontext.AfterFunc(ctx, func() { lang.On(ran).Send("stopped") })
		stopLate := hcontext.AfterFunc(ctx, func() { lang.On(ran).Send("second") })
		if !stopped() || stopped() {
			t.Error("stop before the cancel: want true, then false")
		}
		wc := hcontext.WithoutCancel(ctx)
		cancel()
		if stopLate() {
			t.Error("stop after the cancel: want false")
		}
		got := map[string]bool{lang.On(ran).Recv(): true, lang.On(ran).Recv(): true}
		if !got["first"] || !got["second"] {
			t.Errorf("ran %v", got)
		}
		if wc.Done() != nil || wc.Err() != nil || wc.Value(key{}) != "v" || hcontext.Cause(wc) != nil {
			t.Error("WithoutCancel is cancelled or lost the values")
		}
		done := context.Background()
		never := hcontext.AfterFunc(done, func() { t.Error("ran for Background") })
		if !never() {
			t.Error("stop for Background: want true")
		}
	})
}

// Inside a World deadlines are on the virtual clock, and a standard context
// derived from a drop-in one is cancelled with it, inside the World.
func TestWorldDeadlines(t *testing.T) {
	res := dettest.World(t, 2, func() {
		ctx, cancel := hcontext.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		std, stdCancel := context.WithCancel(ctx)
		defer stdCancel()
		wait(ctx)
		if std.Err() != context.DeadlineExceeded {
			t.Errorf("a standard child: %v", std.Err())
		}
		if dl, ok := ctx.Deadline(); !ok || dl.Year() != 2030 {
			t.Errorf("deadline %v %v", dl, ok)
		}
	})
	if res.Elapsed != time.Hour {
		t.Errorf("elapsed %v, want 1h", res.Elapsed)
	}
}
