package mq

import (
	"errors"
	"fmt"
	"slices"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/mq"
)

// quiesce waits, once the clients and the fault plan are done, for every
// group's consumer to reach the end of its topic, polling for up to quiet.
// In deterministic mode a Sleep returns only when every other goroutine is
// blocked, so a consumer still behind after the first one sleeps while
// messages wait for it: a lost wake-up. A group without a consumer is
// reported at once.
func (r *run) quiesce() bool {
	cid := r.ClientID()
	type watched struct {
		t, g string
		last int64
	}
	var ws []watched
	for _, t := range r.topics {
		var last int64
		var names []string
		err := r.retry("LastID", func() (err error) {
			last, err = r.b.LastID(t)
			return err
		})
		if err == nil {
			err = r.retry("Groups", func() (err error) {
				names, err = r.b.Groups(t)
				return err
			})
		}
		if err != nil {
			r.Violate(checkers.Invariant, "quiescence: topic %s: %v", t, err)
			return false
		}
		for _, g := range names {
			has, err := r.b.HasConsumer(t, g)
			if err == nil && !has {
				r.Violate(checkers.Invariant, "quiescence: group %s exists but no consumer is registered: its messages wait forever", key(t, g))
			}
			ws = append(ws, watched{t, g, last})
		}
	}
	const polls = 50
	behind := ""
	for i := 0; i < polls; i++ {
		behind = ""
		for _, w := range ws {
			p := r.begin(cid, "Position", w.t, w.g)
			pos, err := r.b.Position(w.t, w.g)
			end(p, err)
			if err != nil || (w.last > 0 && pos <= w.last) {
				behind += fmt.Sprintf(" %s at %d of %d (%v)", key(w.t, w.g), pos, w.last, err)
			}
		}
		if behind == "" {
			return true
		}
		harness.Sleep(quiet / polls)
	}
	r.Violate(checkers.Invariant, "lost wake-up: %v after every client stopped, consumers still sleep while messages wait:%s", quiet, behind)
	return true
}

// audit reads every topic whole through a fresh group, for the checks of
// what the topics hold at the end.
func (r *run) audit() bool {
	cid := r.ClientID()
	for _, t := range r.topics {
		g := r.groupOf(t, "audit", false)
		g.owners = 1
		if err := r.create(cid, g); err != nil {
			r.Violate(checkers.Invariant, "audit: CreateConsumerGroup(%s): %v", g.key, err)
			return false
		}
		var all []sys.Message
		for {
			var msgs []sys.Message
			err := r.retry("Consume", func() (err error) {
				msgs, err = r.b.Consume(t, "audit", 64)
				return err
			})
			if err != nil {
				r.Violate(checkers.Invariant, "audit: Consume(%s): %v", g.key, err)
				return false
			}
			if len(msgs) == 0 {
				break
			}
			all = append(all, msgs...)
		}
		r.Mu.Lock()
		r.final[t] = all
		r.Mu.Unlock()
		rp := r.reg.Call(cid, registry.Remove(g.key))
		err := r.b.DestroyConsumerGroup(t, "audit")
		rp.Return(registry.Changed(err == nil))
		if err != nil {
			r.Violate(checkers.Invariant, "audit: DestroyConsumerGroup(%s): %v", g.key, err)
			return false
		}
	}
	return true
}

// shutdown closes the broker while a few late calls run (lateCall), and
// checks that the serving incarnation's consumer goroutines all exit and
// that every later call fails with ErrClosed.
func (r *run) shutdown() {
	if err := r.b.CreateConsumerGroup(r.topics[0], "spare"); err != nil {
		r.Violate(checkers.Invariant, "CreateConsumerGroup(%s): %v", key(r.topics[0], "spare"), err)
		return
	}
	var storm harness.WaitGroup
	for range 1 + harness.IntN(3) {
		storm.Go(r.lateCall)
	}
	p := r.begin(r.ClientID(), "Close", "", "")
	err := r.b.Close()
	end(p, err)
	storm.Wait()
	if err != nil {
		r.Violate(checkers.Invariant, "Close: %v", err)
		return
	}
	r.afterClose()
	r.Mu.Lock()
	inc := r.incs[len(r.incs)-1].inc
	var live []*client
	for _, c := range r.clients {
		if c.inc == inc && c.exited < 0 {
			live = append(live, c)
		}
	}
	r.Mu.Unlock()
	for _, c := range live {
		if harness.Select(c.cl.Done().RecvCase(nil, nil), harness.After(exitBound).RecvCase(nil, nil)) != 0 {
			r.Violate(harness.Leak, "the consumer goroutine of %s (client %d, incarnation %d) still runs %v after the broker closed", c.g.key, c.cid, c.inc, exitBound)
			continue
		}
		r.Mu.Lock()
		c.exited = r.Since()
		r.Mu.Unlock()
	}
}

// afterClose checks that a closed server refuses calls (three of them,
// drawn: every kind is tried over the seeds), and can be closed again.
func (r *run) afterClose() {
	t, g := r.topics[0], "g1"
	calls := []struct {
		what string
		call func() error
	}{
		{"CreateTopic", func() error { return r.b.CreateTopic("late") }},
		{"Produce", func() error { _, err := r.b.Produce(t, "late"); return err }},
		{"CreateConsumerGroup", func() error { return r.b.CreateConsumerGroup(t, "late") }},
		{"DestroyConsumerGroup", func() error { return r.b.DestroyConsumerGroup(t, g) }},
		{"Seek", func() error { return r.b.Seek(t, g, 1) }},
		{"Position", func() error { _, err := r.b.Position(t, g); return err }},
		{"LastID", func() error { _, err := r.b.LastID(t); return err }},
		{"Groups", func() error { _, err := r.b.Groups(t); return err }},
		{"Consume", func() error { _, err := r.b.Consume(t, g, 1); return err }},
	}
	for range 3 {
		c := calls[harness.IntN(len(calls))]
		if err := c.call(); !errors.Is(err, sys.ErrClosed) {
			r.Violate(checkers.Invariant, "%s after Close returned %v, want %v", c.what, err, sys.ErrClosed)
		}
	}
	has, _ := r.b.HasConsumer(t, g)
	n, _ := r.b.Notify(t, g)
	if has || n != 0 {
		r.Violate(checkers.Invariant, "after Close, %s has a consumer (%v) or Notify found %d", key(t, g), has, n)
	}
	if err := r.b.Close(); err != nil {
		r.Violate(checkers.Invariant, "a second Close: %v", err)
	}
}

// lateCall is a call the workload makes while the broker closes, and the
// errors it may return besides ErrClosed.
type lateCall struct {
	name, group string
	call        func(r *run, cid int, t string) error
	may         []error
}

var lateCalls = []lateCall{
	{name: "Produce", call: func(r *run, cid int, t string) error {
		payload := fmt.Sprintf("late%d", cid)
		r.Mu.Lock()
		r.late[payload] = true
		r.Mu.Unlock()
		qp := r.q[t].Call(cid, queues.ProduceN(1))
		ids, err := r.b.Produce(t, payload)
		settle(qp, err, queues.Produced(ids...))
		return err
	}},
	{name: "Seek", group: "g1", call: func(r *run, _ int, t string) error { return r.b.Seek(t, "g1", 1) }, may: []error{sys.ErrGroupNotFound}},
	{name: "Notify", group: "g1", call: func(r *run, _ int, t string) error { _, err := r.b.Notify(t, "g1"); return err }},
	{name: "ExistConsumerGroup", group: "g1", call: func(r *run, _ int, t string) error { _, err := r.b.ExistConsumerGroup(t, "g1"); return err }},
	{name: "HasConsumer", group: "g1", call: func(r *run, _ int, t string) error { _, err := r.b.HasConsumer(t, "g1"); return err }},
	{name: "Position", group: "g1", call: func(r *run, _ int, t string) error { _, err := r.b.Position(t, "g1"); return err }, may: []error{sys.ErrGroupNotFound}},
	{name: "Consume", group: "g1", call: func(r *run, _ int, t string) error { _, err := r.b.Consume(t, "g1", 1); return err }, may: []error{sys.ErrGroupNotFound}},
	{name: "LastID", call: func(r *run, _ int, t string) error { _, err := r.b.LastID(t); return err }},
	{name: "Groups", call: func(r *run, _ int, t string) error { _, err := r.b.Groups(t); return err }},
	{name: "Topics", call: func(r *run, _ int, _ string) error { _, err := r.b.Topics(); return err }},
	{name: "CreateTopic", call: func(r *run, _ int, t string) error { return r.b.CreateTopic(t) }, may: []error{sys.ErrTopicExists}},
	{name: "CreateConsumerGroup", group: "late", call: func(r *run, _ int, t string) error { return r.b.CreateConsumerGroup(t, "late") }, may: []error{sys.ErrGroupExists}},
	{name: "RegisterConsumer", group: "spare", call: func(r *run, _ int, t string) error {
		// A consumer of the spare group (made before the Close, without a
		// consumer), registered while the broker closes: the Close must
		// stop it, or it runs on as a leak.
		_, err := r.b.StartClient(t, "spare", sys.ClientOptions{})
		return err
	}, may: []error{sys.ErrConsumerExists}},
	{name: "DestroyConsumerGroup", group: "g1", call: func(r *run, _ int, t string) error { return r.b.DestroyConsumerGroup(t, "g1") }, may: []error{sys.ErrGroupNotFound}},
	{name: "Close", call: func(r *run, _ int, _ string) error { return r.b.Close() }},
}

// lateCall makes one or two calls while the broker closes: each must
// succeed or fail with ErrClosed (or an error its state explains: g1
// destroyed by another late call, a group already there). A late Produce is
// in its topic's queue history (a consumer may read its message before the
// Close) but not among the acknowledged messages the audit, made before,
// must hold.
func (r *run) lateCall() {
	cid := r.ClientID()
	t := r.topics[0]
	for range 1 + harness.IntN(2) {
		c := lateCalls[harness.IntN(len(lateCalls))]
		topic := t
		if c.name == "Close" || c.name == "Topics" {
			topic = ""
		}
		p := r.begin(cid, c.name, topic, c.group)
		err := c.call(r, cid, t)
		end(p, err)
		if err != nil && !errors.Is(err, sys.ErrClosed) && !slices.ContainsFunc(c.may, func(e error) bool { return errors.Is(err, e) }) {
			r.Violate(checkers.Invariant, "%s while the broker closed: %v, want success or %v", c.name, err, sys.ErrClosed)
		}
	}
}
