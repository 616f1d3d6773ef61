package mq

import (
	"fmt"
	"slices"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/mq"
)

// Case is race case 4: Milvus RocksMQ, DestroyConsumerGroup against Notify
// (milvus-io/milvus #40481, fixed by #40482, then #39387). Consumer groups
// are destroyed and recreated while a seeker moves groups' cursors and
// notifies them, and producers storm the topic. Buggy must show the data
// race (Destroy's in-place shift against Notify's unlocked read) or the
// panic (Notify sends on the channel Destroy just closed); Fixed must pass
// every check.
func Case() explore.Case {
	return explore.Case{
		Name:    "mq",
		Bug:     "milvus-io/milvus #40481 (fix #40482, then #39387)",
		Summary: "RocksMQ DestroyConsumerGroup shifts the consumer slice in place while Notify reads it unlocked: data race, send on closed channel",
		Variants: []explore.Variant{
			{
				Name:   "buggy",
				Expect: []harness.Kind{harness.DataRace, harness.Panic},
				Match: checkers.AnyOf(
					checkers.RaceBetween("(*racyConsumers).remove", "(*racyConsumers).notify"),
					checkers.MessageContains(harness.Panic, "send on closed channel")),
				Seeds: 500,
				Check: Check(sys.Buggy, DefaultConfig),
			},
			{
				Name:  "fixed",
				Seeds: 2000,
				Check: Check(sys.Fixed, DefaultConfig),
			},
		},
	}
}

// Config sizes the mq workload. Groups g0 and g1 live through the whole
// run; churn groups c0, c1, ... are destroyed and recreated. The seeker
// seeks and notifies g1 and every churn group but c0; g0 and c0 are never
// sought, so that each of their lives is checked as a FIFO queue.
type Config struct {
	// Producers each make Produces calls of 1 to 3 messages.
	Producers, Produces int
	// Churn groups are each created and destroyed Rounds times.
	Churn, Rounds int
	// Seeks is how many Seek+Notify calls the seeker makes.
	Seeks int

	// fault breaks the workload's own client code on purpose, for the
	// tests that show the checks can fail: "no-notify" (Seek without
	// Notify), "duplicate" (a client delivers a batch twice),
	// "forget-create" (a create is missing from the registry's history),
	// "skip" (a client drops a message of g0's consumption), "seek-c0"
	// (the seeker seeks c0 too, which the FIFO check of c0 must reject).
	fault string
}

// DefaultConfig is the workload the case runs.
var DefaultConfig = Config{Producers: 2, Produces: 4, Churn: 2, Rounds: 2, Seeks: 6}

const (
	topic = "t"
	// exitBound is how long, in virtual time, a consumer goroutine may
	// take to exit after its group's Destroy returned.
	exitBound = time.Second
	// quiet is how long the workload waits for consumers to catch up
	// once everything else has stopped.
	quiet = time.Second
)

var (
	// registry builds the registry's operations: create is add, destroy is
	// remove, ExistConsumerGroup is contains.
	registry checkers.Set[string]
	// queues builds the produce and consume operations of the groups that
	// are never sought; each life of a group is a group of its own.
	queues checkers.Queue[int64]
)

// run is one run of the workload. Its fields are written by the World's
// goroutines and read by the checks after Run returned.
type run struct {
	scenarios.Run
	cfg     Config
	variant sys.Variant
	name    string // the run's name in linearizability reports
	s       *sys.Server

	reg harness.History // the registry of groups, as a set
	q   harness.History // produces, and consumes of g0 and c0 (a FIFO queue each life)

	// Mu (of scenarios.Run) guards the fields below.
	lives   []*groupLife
	batches map[string][][]int64 // consumes of sought groups, by group

	g0     *groupLife // the group never sought nor destroyed before the end
	lastID int64      // the topic's last id, at quiescence
}

// groupLife is one life of a consumer group: created, consumed, destroyed.
type groupLife struct {
	group, label string // label names the life in the queue check: "c0#2"
	client       *sys.Client
	delivered    []int64       // written by the client's goroutine; read after it exited
	destroyed    time.Duration // when Destroy returned (virtual time of the run)
	exited       time.Duration // when the consumer goroutine was seen to have exited; -1: never
}

func msgIDs(msgs []sys.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// Check returns the Check of a variant: it runs the workload with the
// run's options and returns the run's result and every violation its checks
// found. The mq case injects no faults.
func Check(v sys.Variant, cfg Config) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return scenarios.Check(func(opts harness.Options, _ faults.Plan) (scenarios.Workload, error) {
		return &run{cfg: cfg, variant: v, name: fmt.Sprintf("mq-%s-seed%d", v, opts.Seed),
			batches: map[string][][]int64{}}, nil
	})
}

// Main runs the workload.
func (r *run) Main() {
	r.s = sys.New(r.variant, sys.NewMemStorage())
	if err := r.s.CreateTopic(topic); err != nil {
		r.Violate(checkers.Invariant, "CreateTopic: %v", err)
		return
	}
	g0 := r.subscribe(r.ClientID(), "g0", "g0")
	g1 := r.subscribe(r.ClientID(), "g1", "")
	if g0 == nil || g1 == nil {
		return
	}
	r.g0 = g0

	var wg harness.WaitGroup
	for p := 0; p < r.cfg.Producers; p++ {
		wg.Go(r.producer)
	}
	for c := 0; c < r.cfg.Churn; c++ {
		wg.Go(func() { r.churn(c) })
	}
	wg.Go(r.seeker)
	wg.Wait()

	r.quiesce(g0, g1)
	r.destroy(r.ClientID(), g0)
	r.destroy(r.ClientID(), g1)
	r.Complete()
}

// subscribe creates group and starts a consumer client for it, recording
// the creation and the client's consumes: in the queue history under label
// if label is set, else as batches of a sought group.
func (r *run) subscribe(cid int, group, label string) *groupLife {
	var p *harness.Pending
	if r.cfg.fault != "forget-create" || group == "g0" {
		p = r.reg.Call(cid, registry.Add(group))
	}
	err := r.s.CreateConsumerGroup(topic, group)
	if p != nil {
		p.Return(registry.Changed(err == nil))
	}
	if err != nil {
		r.Violate(checkers.Invariant, "CreateConsumerGroup(%s): %v", group, err)
		return nil
	}
	life := &groupLife{group: group, label: label, exited: -1}
	consumerID := r.ClientID()
	consume := func(topic, group string, n int) ([]sys.Message, error) {
		if label == "" {
			msgs, err := r.s.Consume(topic, group, n)
			if len(msgs) > 0 {
				r.Mu.Lock()
				r.batches[group] = append(r.batches[group], msgIDs(msgs))
				r.Mu.Unlock()
			}
			return msgs, err
		}
		p := r.q.Call(consumerID, queues.Consume(label, n))
		msgs, err := r.s.Consume(topic, group, n)
		if err != nil {
			p.Unknown() // the group is gone: nothing was consumed
		} else {
			p.Return(queues.Consumed(msgIDs(msgs)...))
		}
		return msgs, err
	}
	cl, err := sys.StartClient(r.s, sys.NewConsumer(topic, group), sys.ClientOptions{
		Batch:   2,
		Consume: consume,
		Deliver: func(msgs []sys.Message) {
			ids := msgIDs(msgs)
			switch {
			case r.cfg.fault == "duplicate" && len(life.delivered)%5 == 1:
				life.delivered = append(life.delivered, ids...)
			case r.cfg.fault == "skip" && group == "g0" && len(life.delivered) == 3:
				ids = ids[1:]
			}
			life.delivered = append(life.delivered, ids...)
		},
	})
	if err != nil {
		r.Violate(checkers.Invariant, "RegisterConsumer(%s): %v", group, err)
		return nil
	}
	life.client = cl
	r.Mu.Lock()
	r.lives = append(r.lives, life)
	r.Mu.Unlock()
	return life
}

// destroy destroys a life's group and checks what must hold once Destroy
// has returned: the group is gone (the registry's contains, checked as a
// set), it has no consumer, Notify finds none, and the consumer goroutine
// exits (within exitBound, checked after the run).
func (r *run) destroy(cid int, life *groupLife) {
	g := life.group
	p := r.reg.Call(cid, registry.Remove(g))
	err := r.s.DestroyConsumerGroup(topic, g)
	p.Return(registry.Changed(err == nil))
	life.destroyed = r.Since()
	if err != nil {
		r.Violate(checkers.Invariant, "DestroyConsumerGroup(%s): %v", g, err)
	}
	p = r.reg.Call(cid, registry.Contains(g))
	p.Return(registry.Present(r.s.ExistConsumerGroup(topic, g)))
	if r.s.HasConsumer(topic, g) {
		r.Violate(checkers.Invariant, "group %s still has a registered consumer after its Destroy returned", g)
	}
	if n := r.s.Notify(topic, g); n != 0 {
		r.Violate(checkers.Invariant, "Notify(%s) after its Destroy returned found %d consumer(s)", g, n)
	}
	// Wait well past the bound, so that a late exit is measured rather
	// than left behind as a leak.
	timeout := harness.After(10 * exitBound)
	if harness.Select(life.client.Done().RecvCase(nil, nil), timeout.RecvCase(nil, nil)) == 0 {
		life.exited = r.Since()
	}
}

// producer makes Produces calls of 1 to 3 messages each.
func (r *run) producer() {
	cid := r.ClientID()
	for i := 0; i < r.cfg.Produces; i++ {
		n := 1 + harness.IntN(3)
		payloads := make([]string, n)
		for j := range payloads {
			payloads[j] = fmt.Sprintf("p%d-%d-%d", cid, i, j)
		}
		p := r.q.Call(cid, queues.ProduceN(n))
		ids, err := r.s.Produce(topic, payloads...)
		if err != nil {
			p.Unknown()
			r.Violate(checkers.Invariant, "Produce: %v", err)
			return
		}
		p.Return(queues.Produced(ids...))
	}
}

// churn creates churn group c, lets its consumer run a little, and
// destroys it, Rounds times.
func (r *run) churn(c int) {
	cid := r.ClientID()
	group := fmt.Sprintf("c%d", c)
	for round := 0; round < r.cfg.Rounds; round++ {
		label := ""
		if c == 0 {
			label = fmt.Sprintf("%s#%d", group, round+1)
		}
		life := r.subscribe(cid, group, label)
		if life == nil {
			return
		}
		harness.Yield()
		r.destroy(cid, life)
	}
}

// seeker moves the cursor of g1 and of the churn groups but c0 to a random
// id and notifies the group, as RocksMQ's client does after a Seek.
func (r *run) seeker() {
	cid := r.ClientID()
	groups := []string{"g1"}
	first := 1
	if r.cfg.fault == "seek-c0" {
		first = 0
	}
	for c := first; c < r.cfg.Churn; c++ {
		groups = append(groups, fmt.Sprintf("c%d", c))
	}
	for i := 0; i < r.cfg.Seeks; i++ {
		g := groups[harness.IntN(len(groups))]
		p := r.reg.Call(cid, registry.Contains(g))
		p.Return(registry.Present(r.s.ExistConsumerGroup(topic, g)))
		last, _ := r.s.LastID(topic)
		id := 1 + int64(harness.IntN(int(last)+1))
		if r.s.Seek(topic, g, id) == nil && r.cfg.fault != "no-notify" {
			r.s.Notify(topic, g)
		}
	}
}

// quiesce waits, once everything else has stopped, for the live consumers
// to reach the end of the topic, polling for up to quiet. In
// deterministic mode a Sleep returns only when every other goroutine is
// blocked, so a consumer still behind after the first one sleeps while
// messages wait for it: a lost wake-up.
func (r *run) quiesce(live ...*groupLife) {
	last, err := r.s.LastID(topic)
	if err != nil {
		r.Violate(checkers.Invariant, "LastID: %v", err)
		return
	}
	r.lastID = last
	const polls = 50
	behind := ""
	for i := 0; i < polls; i++ {
		behind = ""
		for _, life := range live {
			pos, err := r.s.Position(topic, life.group)
			if err != nil || pos <= last {
				behind += fmt.Sprintf(" %s at %d (%v)", life.group, pos, err)
			}
		}
		if behind == "" {
			return
		}
		harness.Sleep(quiet / polls)
	}
	r.Violate(checkers.Invariant, "lost wake-up: %v after every producer and seeker stopped, consumers still sleep while messages up to id %d wait:%s",
		quiet, last, behind)
}

// Check runs the checks over the finished run's histories.
func (r *run) Check() []checkers.Violation {
	name := r.name
	qops := r.q.Operations()
	vs := registry.Check(r.reg.Operations(), checkers.LinOptions{Name: name + "-registry"})
	vs = append(vs, queues.Check(qops, checkers.LinOptions{Name: name + "-queue"})...)

	var log []int64 // every id produced, in id order: the topic's log
	for _, op := range qops {
		if in := op.Input.(checkers.QueueInput[int64]); in.Op == checkers.QProduce && !op.Unknown {
			log = append(log, op.Output.(checkers.QueueOutput[int64]).Msgs...)
		}
	}
	slices.Sort(log)
	if n := len(log); n > 0 && log[n-1] != r.lastID {
		vs = append(vs, checkers.Violationf(checkers.Invariant, "the topic's last id is %d; the producers got ids up to %d", r.lastID, log[n-1]))
	}
	// What the consumer of g0 delivered is every message, once, in order:
	// the queue check sees the server's answers, this sees the client's.
	if !slices.Equal(r.g0.delivered, log) {
		vs = append(vs, checkers.Violationf(checkers.NotLinearizable, "the consumer of g0 delivered %v; the topic holds %v: each message once, in order", r.g0.delivered, log))
	}
	// A sought group's batches are each a run of consecutive messages.
	index := map[int64]int{}
	for i, id := range log {
		index[id] = i
	}
	for _, g := range slices.Sorted(func(yield func(string) bool) {
		for g := range r.batches {
			if !yield(g) {
				return
			}
		}
	}) {
		for _, b := range r.batches[g] {
			for i, id := range b {
				if j, ok := index[id]; !ok || (i > 0 && j != index[b[i-1]]+1) {
					vs = append(vs, checkers.Violationf(checkers.NotLinearizable, "group %s consumed the batch %v: not consecutive messages of the topic %v", g, b, log))
					break
				}
			}
		}
	}
	// Every consumer goroutine exited within exitBound of its Destroy.
	for _, life := range r.lives {
		var exits []time.Duration
		if life.exited >= 0 {
			exits = append(exits, life.exited)
		}
		vs = append(vs, checkers.Within(fmt.Sprintf("Destroy(%s) returned", life.group), []time.Duration{life.destroyed},
			fmt.Sprintf("the consumer goroutine of %s exited", life.group), exits, exitBound)...)
	}
	return vs
}
