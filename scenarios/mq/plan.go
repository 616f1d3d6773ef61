package mq

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/mq"
)

// The mq case's fault plan is a faults.Plan of one action of its own:
//
//	+3ms crash-rmq produce lose=1 down=5ms; +7ms crash-rmq now lose=0 down=0s
//
// "crash-rmq MOMENT lose=N down=D": from the step's time on, wait for
// MOMENT, crash the broker's node there (its peers see resets), drop up to
// N of the records its disk holds but has not made durable (a power loss;
// 0 is a process crash, which loses nothing the operating system was
// given), and start the node again D later. The moments:
//
//	now      at once
//	produce  a Produce begins to sync its batch
//	create   a CreateConsumerGroup begins to sync its record
//	destroy  a DestroyConsumerGroup begins to sync its record
//	seek     a Seek begins to sync its cursor move
//	consume  a Consume writes its cursor move (not synced)
//
// A moment that does not come before the clients are done is skipped: the
// step crashes nothing. Steps run one after the other, each with its
// restart, so the node is up again when a plan ends.
const actCrash = "crash-rmq"

// moment is a point of the broker's work a crash can wait for: the next
// write of a record of kind op, or the start of a sync whose last record is
// of that kind.
type moment struct {
	name string
	op   sys.RecordOp
	sync bool
}

var moments = []moment{
	{name: "now"},
	{name: "produce", op: sys.RecAppend, sync: true},
	{name: "create", op: sys.RecCreateGroup, sync: true},
	{name: "destroy", op: sys.RecDestroyGroup, sync: true},
	{name: "seek", op: sys.RecCursor, sync: true},
	{name: "consume", op: sys.RecCursor},
}

// crashStep is a parsed "crash-rmq" argument.
type crashStep struct {
	at   moment
	lose int
	down time.Duration
}

func (c crashStep) String() string {
	return fmt.Sprintf("%s lose=%d down=%v", c.at.name, c.lose, c.down)
}

// parseCrash reads a "crash-rmq" argument.
func parseCrash(arg string) (crashStep, error) {
	var c crashStep
	bad := func(why string) (crashStep, error) {
		return crashStep{}, fmt.Errorf("%s %q: %s: want MOMENT lose=N down=DURATION", actCrash, arg, why)
	}
	f := strings.Fields(arg)
	if len(f) != 3 {
		return bad("three words")
	}
	found := false
	for _, m := range moments {
		if m.name == f[0] {
			c.at, found = m, true
		}
	}
	if !found {
		return bad("unknown moment " + f[0])
	}
	n, ok := strings.CutPrefix(f[1], "lose=")
	lose, err := strconv.Atoi(n)
	if !ok || err != nil || lose < 0 {
		return bad("lose")
	}
	d, ok := strings.CutPrefix(f[2], "down=")
	down, err := time.ParseDuration(d)
	if !ok || err != nil || down < 0 {
		return bad("down")
	}
	c.lose, c.down = lose, down
	return c, nil
}

// horizon bounds the steps' times: a run's clients are busy for a few
// milliseconds of virtual time.
const horizon = 12 * time.Millisecond

// planGen makes the plans: zero to two crashes, each aimed at a moment,
// with a power loss of zero to three records and a downtime of up to 20ms.
var planGen = faults.Gen{
	Horizon:  horizon,
	MaxSteps: 2,
	Actions: []faults.ActionGen{{Name: actCrash, Draw: func(t *rapid.T, _ faults.Plan) (string, bool) {
		c := crashStep{
			at:   rapid.SampledFrom(moments).Draw(t, "moment"),
			lose: rapid.IntRange(0, 3).Draw(t, "lose"),
			down: rapid.SampledFrom([]time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond}).Draw(t, "down"),
		}
		return c.String(), true
	}}},
}

// Faults returns the fault plan of a seed (see actCrash).
func Faults(seed int64) faults.Plan {
	p, err := planGen.Example(seed)
	if err != nil {
		panic(fmt.Sprintf("mq: the plan generator failed on seed %d: %v", seed, err)) // a bug of planGen
	}
	return p
}

// checkPlan reports what in p this workload cannot carry out: a step that
// is not a well-formed crash-rmq.
func checkPlan(p faults.Plan) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for i, s := range p {
		if s.Fault.Kind != faults.KindAction || s.Fault.Action != actCrash {
			return fmt.Errorf("step %d (%s): want %s MOMENT lose=N down=DURATION", i+1, s, actCrash)
		}
		if _, err := parseCrash(s.Fault.Arg); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	return nil
}

// crash carries out a "crash-rmq" step (the plan's handler).
func (r *run) crash(ctx context.Context, arg string) error {
	c, err := parseCrash(arg)
	if err != nil {
		return err
	}
	if c.at.name != "now" {
		hit, cancel := r.disk.Arm(c.at.op, c.at.sync)
		defer cancel()
		if harness.Select(hit.RecvCase(nil, nil), r.workDone.RecvCase(nil, nil), harness.Done(ctx)) != 0 {
			harness.Note("nemesis: no %s came: nothing crashed", c.at.name)
			return nil
		}
	}
	r.misplace()
	n := r.b.Node()
	if err := n.Crash(harness.CrashReset); err != nil {
		return err
	}
	p := r.begin(0, "crash", "", c.String())
	p.Return(true)
	r.Mu.Lock()
	if r.crashed != nil { // nil: the incarnation crashed before its OnStart ran
		r.crashed.Close()
		r.crashed = nil
	}
	r.Mu.Unlock()
	if lost := r.disk.PowerLoss(c.lose); len(lost) > 0 {
		harness.Note("nemesis: the power loss took %v", lost)
	}
	if c.down > 0 {
		harness.Sleep(c.down)
	}
	return n.Start()
}

// misplace carries out the faults "lose-position" and "skip-position": an
// application that seeks t0's never-sought group g0 right before the crash,
// back to the start or far past the end, so that the position its disk
// keeps is not one the group had reached.
func (r *run) misplace() {
	var to int64
	switch r.cfg.fault {
	case "lose-position":
	case "skip-position":
		last, err := r.b.LastID(r.topics[0])
		if err != nil {
			return
		}
		to = last + 1000
	default:
		return
	}
	_ = r.b.Seek(r.topics[0], "g0", to)
}
