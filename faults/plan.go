package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Step is one fault of a plan and when it strikes: At is the time since the
// plan started (virtual time in deterministic mode).
type Step struct {
	At    time.Duration
	Fault Fault
}

// String renders the step as it appears in a plan: "+1.5s crash a".
func (s Step) String() string { return "+" + s.At.String() + " " + s.Fault.String() }

// Plan is a nemesis: a schedule of faults, in order of time. Steps at the
// same time strike in the plan's order.
type Plan []Step

// NoFaults is how String writes a plan without steps. It is a word rather
// than "" so that a saved empty plan (a failure shrunk to need no fault) is
// not mistaken for a missing one; ParsePlan reads both as the empty plan.
const NoFaults = "none"

// Validate checks every step: times not negative and in order, and every
// fault valid on its own (Fault.Validate). Unknown nodes are found when the
// plan runs, actions without a handler when Run starts. Steps are counted
// from 1 in errors.
func (p Plan) Validate() error {
	for i, s := range p {
		if s.At < 0 {
			return fmt.Errorf("faults: plan step %d (%s): negative time %v", i+1, s.Fault, s.At)
		}
		if i > 0 && s.At < p[i-1].At {
			return fmt.Errorf("faults: plan step %d (%s) at %v comes before step %d at %v", i+1, s.Fault, s.At, i, p[i-1].At)
		}
		if err := s.Fault.Validate(); err != nil {
			return fmt.Errorf("faults: plan step %d: %w", i+1, err)
		}
	}
	return nil
}

// String renders the plan on one line, the notation ParsePlan reads: steps
// "+TIME FAULT" separated by "; ", as in
// "+1.5s crash a; +2s restart a; +3s partition a<->b", or NoFaults for a plan
// without steps.
func (p Plan) String() string {
	if len(p) == 0 {
		return NoFaults
	}
	var b strings.Builder
	for i, s := range p {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s.String())
	}
	return b.String()
}

// Actions are a case's handlers for its actions (KindAction faults), by
// action name: Run calls Actions["move"](ctx, "p2") for the step
// "+293ms move p2", on the plan's goroutine, with the plan's context. A
// handler's error is noted in the trace and returned by Run, like a fault
// that could not apply; the plan goes on.
type Actions map[string]func(ctx context.Context, arg string) error

// check reports a handler under a name that no plan can hold, a nil
// handler, or a step of p whose action has no handler.
func (a Actions) check(p Plan) error {
	names := make([]string, 0, len(a))
	for name, h := range a {
		if err := ValidActionName(name); err != nil {
			return fmt.Errorf("faults: Actions: %w", err)
		}
		if h == nil {
			return fmt.Errorf("faults: Actions: the handler of %q is nil", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for i, s := range p {
		if s.Fault.Kind == KindAction && a[s.Fault.Action] == nil {
			have := "none"
			if len(names) > 0 {
				have = strings.Join(names, ", ")
			}
			return fmt.Errorf("faults: plan step %d (%s): no handler for action %q (handlers: %s)", i+1, s, s.Fault.Action, have)
		}
	}
	return nil
}

// Run runs the plan on the calling goroutine of a World: it sleeps until each
// step's time (measured from the call) and applies the step's fault, an
// action by calling its handler in actions, recording a harness.Note
// "nemesis: <fault>" (and "nemesis: <fault>: <error>" when it could not
// apply). It returns when the plan is over, with the errors of the steps that
// failed, or early with ctx.Err() when ctx is done. An invalid plan, or one
// naming an action that actions has no handler for, returns an error at once
// and injects nothing. actions may be nil for a plan without actions.
func Run(ctx context.Context, p Plan, actions Actions) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := actions.check(p); err != nil {
		return err
	}
	start := harness.Now()
	var errs []error
	for _, s := range p {
		if d := s.At - harness.Since(start); d > 0 {
			t := harness.NewTimer(d)
			if harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
				t.Stop()
				return ctx.Err()
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		harness.Note("nemesis: %s", s.Fault)
		var err error
		if s.Fault.Kind == KindAction {
			if err = actions[s.Fault.Action](ctx, s.Fault.Arg); err != nil {
				err = fmt.Errorf("faults: %s: %w", s.Fault, err)
			}
		} else {
			err = Apply(s.Fault)
		}
		if err != nil {
			harness.Note("nemesis: %s: %v", s.Fault, err)
			errs = append(errs, fmt.Errorf("step at %v: %w", s.At, err))
		}
	}
	return errors.Join(errs...)
}

// Go checks the plan and its actions as Run does and runs it (Run) on a new
// goroutine of the World, belonging to no node. Errors of single steps are
// only noted in the trace. Cancel ctx to stop the plan early (so that it does
// not outlive the test's main and show up as a leak).
func Go(ctx context.Context, p Plan, actions Actions) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := actions.check(p); err != nil {
		return err
	}
	p, actions = slices.Clone(p), maps.Clone(actions) // the caller may change its own afterwards
	harness.Go(func() { _ = Run(ctx, p, actions) })
	return nil
}
