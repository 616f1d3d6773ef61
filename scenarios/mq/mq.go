// Package mq is race case 4: Milvus RocksMQ, DestroyConsumerGroup against
// Notify (milvus-io/milvus #40481, fixed by #40482, then #39387), with the
// broker crashing and recovering from its disk.
//
// # The workload
//
// The broker (systems/mq.Broker) runs on node "rmq" over a Disk that
// survives its crashes. Clients outside the node call in (a call the
// broker refused had no effect; one a crash interrupted has an unknown
// outcome); consumers run on the node and die with it, and the application
// registers them again after each restart (OnStart). Everything a run does
// is drawn from its seed (ConfigFor): one or two topics, the second made
// while the clients already run; per topic a group g0 that is never sought
// (its consumption is checked as a FIFO queue) and a group g1 that is;
// producers that make a producer for a topic (CreateTopic, as RocksMQ's
// CreateProducer does, "exists" being fine) before their first message to
// it, and produce batches to random topics; churn groups c0, c1, ... each
// created, consumed and destroyed in rounds, c0 never sought (each life a
// FIFO queue), the last one shared by two owners in some seeds (so that
// creates, registrations and destroys of one group meet); seekers that
// list a topic's groups, probe one, read its position and the topic's last
// id, seek it and notify it. The consumer batch, the disk's fsync latency,
// the think time between calls and the clients' retry interval are drawn
// from ranges that hold upstream's defaults. Every exported operation meets
// every other on the same topic or group in some seeds
// (TestOperationsMeet counts them over 200 seeds).
//
// # Faults
//
// The fault plan (Faults) holds zero to two crashes of the broker, each
// aimed at a moment: "+3ms crash-rmq produce lose=1 down=5ms" waits, from
// 3ms on, for the next Produce to start syncing its batch, crashes the node
// there, drops up to one record that was written but not yet durable (a
// power loss; lose=0 is a process crash, which keeps what was written),
// and restarts the node 5ms later. The moments are produce, create,
// destroy, seek (a synced write of that kind begins), consume (a cursor
// move is written) and now. The workload injects no other fault.
//
// # Checks
//
// Buggy must show the data race (Destroy's in-place shift against the
// unlocked read of Notify, or of HasConsumer) or the panic (Notify sends on
// the channel Destroy just closed). Fixed must pass: the registry of groups
// is a linearizable set across crashes (a destroyed group stays destroyed,
// a created one stays created; every restart lists what it recovered); no
// acknowledged message is lost (on the disk at every restart, and at the
// end); each topic's log is the same before and after each restart; each
// never-sought group consumes as a FIFO queue within each incarnation,
// starting from what the disk held, and resumes after a restart from the
// position its disk kept, which lies between the last position a
// completed sync covered and the end of what it had been handed (plus the
// batch a crash interrupted); sought groups read consecutive messages;
// every payload read is the one the producer wrote; consumers deliver what
// they consumed; a consumer goroutine exits within a second of its group's
// Destroy and at the broker's Close, after which every call fails with
// ErrClosed; no goroutine of a crashed incarnation runs again or writes to
// the disk; no group is left without a consumer, and no consumer sleeps
// while messages wait for it.
package mq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/mq"
)

// Case is race case 4 (see the package doc).
func Case() explore.Case {
	return explore.Case{
		Name:    "mq",
		Bug:     "milvus-io/milvus #40481 (fix #40482, then #39387)",
		Summary: "RocksMQ DestroyConsumerGroup shifts the consumer slice in place while Notify reads it unlocked: data race, send on closed channel",
		Variants: []explore.Variant{
			{
				Name:   "buggy",
				Expect: []harness.Kind{harness.DataRace, harness.Panic},
				// The in-place shift raced by an unlocked reader of the
				// slice: Notify's, or HasConsumer's (get), which is
				// upstream's ExistConsumerGroup ranging over the same slice
				// without a lock before the fix; or Notify's send on the
				// channel Destroy closed: as a panic, or, as the race
				// detector sees a close racing a send, as a race between
				// remove's close and wake's send (only Notify calls wake
				// unordered with remove: notifyAll holds the topic lock).
				Match: checkers.AnyOf(
					checkers.RaceBetween("(*racyConsumers).remove", "(*racyConsumers).notify"),
					checkers.RaceBetween("(*racyConsumers).remove", "mq.wake"),
					checkers.RaceBetween("(*racyConsumers).remove", "(*racyConsumers).get"),
					checkers.MessageContains(harness.Panic, "send on closed channel")),
				Seeds:  500,
				Faults: Faults,
				Check:  Check(sys.Buggy, ConfigFor),
			},
			{
				Name:   "fixed",
				Seeds:  2000,
				Faults: Faults,
				Check:  Check(sys.Fixed, ConfigFor),
			},
		},
	}
}

// Config is one run's workload, drawn from its seed by ConfigFor.
type Config struct {
	// Topics is how many topics there are (t0, t1).
	Topics int
	// Producers each make Produces calls of 1 to MaxBatch messages.
	Producers, Produces, MaxBatch int
	// Churn groups are each created, consumed and destroyed Rounds times.
	Churn, Rounds int
	// Shared gives the last churn group (never c0) two owners.
	Shared bool
	// Seekers each make Seeks rounds of probing, seeking and notifying.
	Seekers, Seeks int
	// ConsumeBatch is how many messages a consumer asks for at once.
	ConsumeBatch int
	// SyncDelay is how long the disk takes to sync.
	SyncDelay time.Duration
	// Think bounds the pause between two calls of a client.
	Think time.Duration
	// Retry is how long a client waits after a call found the broker
	// unavailable; it doubles up to eight times that.
	Retry time.Duration

	// fault breaks the workload on purpose, or gives it a disk that lies,
	// for the tests that show the checks can fail (TestChecksHaveTeeth
	// says what each one does).
	fault string
}

// ConfigFor draws a run's workload from its seed. The ranges hold
// upstream's defaults: a consumer asks for 16 messages (RocksMQ's client:
// minimalConsumePendingBufferSize in
// pkg/mq/mqimpl/rocksmq/client/client_impl.go, with the default message
// channel of capacity one); a failed call is retried after 200ms
// (pkg/util/retry/options.go, newDefaultConfig); Milvus produces one
// message per call. The fsync latency spans no wait at all to a slow disk.
func ConfigFor(seed int64) Config {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x726f636b736d71)) // "rocksmq"
	pick := func(xs ...int) int { return xs[rng.IntN(len(xs))] }
	dur := func(ds ...time.Duration) time.Duration { return ds[rng.IntN(len(ds))] }
	c := Config{
		Topics:       1 + rng.IntN(2),
		Producers:    1 + rng.IntN(3),
		Produces:     2 + rng.IntN(4),
		MaxBatch:     pick(1, 1, 2, 3),
		Churn:        1 + rng.IntN(3),
		Rounds:       1 + rng.IntN(3),
		Seekers:      1 + rng.IntN(2),
		Seeks:        2 + rng.IntN(6),
		ConsumeBatch: pick(1, 2, 4, 16),
		SyncDelay:    dur(0, 50*time.Microsecond, 500*time.Microsecond, 2*time.Millisecond),
		Think:        dur(0, 0, 100*time.Microsecond, time.Millisecond),
		Retry:        dur(time.Millisecond, 10*time.Millisecond, 200*time.Millisecond),
	}
	c.Shared = c.Churn >= 2 && rng.IntN(2) == 0
	return c
}

const (
	node = "rmq"
	// exitBound is how long, in virtual time, a consumer goroutine may
	// take to exit after its group's Destroy returned.
	exitBound = time.Second
	// quiet is how long the workload waits for consumers to catch up
	// once everything else has stopped.
	quiet = time.Second
	// maxTries bounds the attempts of a call that finds the broker
	// unavailable: the plan restarts it within milliseconds.
	maxTries = 100
)

var (
	// registry builds the registry's operations, on elements "t0/g1":
	// create is add, destroy is remove, exist is contains.
	registry checkers.Set[string]
	// queues builds each topic's produce operations and the consumes of
	// its never-sought groups; each life of a group is a group of its own.
	queues checkers.Queue[int64]
)

// opInfo is an operation of the trace of every call (run.ops).
type opInfo struct {
	Name, Topic, Group string
}

// run is one run of the workload. Its fields are written by the World's
// goroutines and read by the checks after Run returned.
type run struct {
	scenarios.Run
	cfg     Config
	variant sys.Variant
	plan    faults.Plan
	name    string // the run's name in linearizability reports
	topics  []string

	disk *sys.Disk
	b    *sys.Broker

	reg harness.History             // the registry of groups, as a set
	q   map[string]*harness.History // per topic: produces, and consumes of never-sought groups
	ops harness.History             // every call, crash and restart (opInfo; output: whether it succeeded, or noEffect)

	workDone *harness.Chan[struct{}] // closed when the clients are done

	// Mu (of scenarios.Run) guards the fields below.
	groups   map[string]*group // by key "t0/g1"
	clients  []*client
	incs     []*incarnation
	server   *sys.Server             // the serving incarnation's, for the staleness check
	crashed  *harness.Chan[struct{}] // closed when the serving incarnation crashes
	produced map[string]string       // payload -> topic, of every Produce called
	acked    map[int64]string        // id -> payload, of every acknowledged message
	late     map[string]bool         // payloads produced while the broker closed
	reads    []read                  // every batch a consumer read
	exits    []exitWait              // consumers a Destroy had to stop
	final    map[string][]sys.Message
	stale    *harness.Chan[*sys.Server] // the "stale-server" fault's
}

// group is what the workload knows of one consumer group.
type group struct {
	key, topic, name string
	fifo             bool   // never sought: each life is checked as a FIFO queue
	owners           int    // goroutines that create and destroy it (0: main)
	life             int    // lives begun (churn groups)
	label            string // the current life's label in the queue history ("" if not fifo)
}

// client is one consumer loop: of one group, in one incarnation.
type client struct {
	g         *group
	label     string // its group's life, for a fifo group
	inc       int
	cid       int
	cl        *sys.Client
	delivered []int64       // written by the loop; read once it is over
	exited    time.Duration // when it was seen to have exited; -1: not seen
}

// incarnation is one start of the broker's node.
type incarnation struct {
	inc       int
	recs      []sys.Record      // what the disk held when it opened
	recovered []string          // the keys of the groups the server recovered
	labels    map[string]string // key -> label of the fifo lives it resumed
	crashed   *harness.Chan[struct{}]
}

// exitWait is a consumer that a Destroy, returned at destroyed, had to
// stop.
type exitWait struct {
	c         *client
	destroyed time.Duration
}

// read is one batch a consumer read.
type read struct {
	c    *client
	msgs []sys.Message
}

func key(topic, group string) string { return topic + "/" + group }

// Check returns the Check of a variant: it runs the workload that cfg
// draws for the run's seed, with the run's fault plan, and returns the
// run's result and every violation its checks found.
func Check(v sys.Variant, cfg func(seed int64) Config) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return scenarios.Check(func(opts harness.Options, plan faults.Plan) (scenarios.Workload, error) {
		return newRun(v, cfg(opts.Seed), plan, opts.Seed)
	})
}

// newRun makes the workload of one run.
func newRun(v sys.Variant, c Config, plan faults.Plan, seed int64) (*run, error) {
	if err := checkPlan(plan); err != nil {
		return nil, fmt.Errorf("fault plan: %w", err)
	}
	r := &run{cfg: c, variant: v, plan: plan, name: fmt.Sprintf("mq-%s-seed%d", v, seed),
		q: map[string]*harness.History{}, groups: map[string]*group{}, produced: map[string]string{},
		acked: map[int64]string{}, late: map[string]bool{}, final: map[string][]sys.Message{}}
	for i := 0; i < c.Topics; i++ {
		t := fmt.Sprintf("t%d", i)
		r.topics = append(r.topics, t)
		r.q[t] = &harness.History{}
	}
	return r, nil
}

// Main runs the workload.
func (r *run) Main() {
	r.workDone = harness.NewChan[struct{}](0)
	r.disk = sys.NewDisk(sys.DiskConfig{SyncDelay: r.cfg.SyncDelay, LyingSync: r.cfg.fault == "lying-disk"})
	r.b = sys.NewBroker(node, sys.BrokerConfig{Variant: r.variant, Disk: r.disk, OnStart: r.onStart})
	if err := r.b.Start(); err != nil {
		r.Violate(checkers.Invariant, "start the broker: %v", err)
		return
	}
	if !r.setup() {
		return
	}
	if r.cfg.fault == "stale-server" {
		r.stale = harness.NewChan[*sys.Server](1)
		harness.Go(r.useStale)
	}
	ctx, cancel := harness.WithCancel(context.Background())
	defer cancel()
	nemesis := harness.NewChan[struct{}](0)
	harness.Go(func() {
		defer nemesis.Close()
		if err := faults.Run(ctx, r.plan, faults.Actions{actCrash: r.crash}); err != nil {
			r.Violate(checkers.Invariant, "the fault plan failed: %v", err)
		}
	})

	var wg harness.WaitGroup
	for _, t := range r.topics[1:] {
		wg.Go(func() {
			r.think()
			r.openTopic(r.ClientID(), t)
		})
	}
	for p := 0; p < r.cfg.Producers; p++ {
		wg.Go(r.producer)
	}
	for c := 0; c < r.cfg.Churn; c++ {
		g := r.groupOf(r.topics[c%len(r.topics)], fmt.Sprintf("c%d", c), c == 0)
		g.owners = 1
		if r.cfg.Shared && c == r.cfg.Churn-1 {
			g.owners = 2
		}
		for o := 0; o < g.owners; o++ {
			wg.Go(func() { r.churn(g) })
		}
	}
	for s := 0; s < r.cfg.Seekers; s++ {
		wg.Go(r.seeker)
	}
	wg.Wait()
	r.workDone.Close()
	nemesis.Recv()
	if r.stale != nil {
		r.stale.Close()
	}

	if r.quiesce() && r.audit() {
		r.shutdown()
		r.Complete()
	}
}

// groupOf returns the workload's record of a group, making it if needed.
func (r *run) groupOf(topic, name string, fifo bool) *group {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	k := key(topic, name)
	g := r.groups[k]
	if g == nil {
		g = &group{key: k, topic: topic, name: name, fifo: fifo}
		if fifo && name == "g0" {
			g.label = k
		}
		r.groups[k] = g
	}
	return g
}

// setup creates the first topic and its stable groups, g0 and g1, with
// their consumers. A second topic is made later, while the clients run
// (openTopic): calls on it fail with ErrTopicNotFound until then.
func (r *run) setup() bool {
	return r.openTopic(r.ClientID(), r.topics[0])
}

// openTopic creates topic t (unless a producer did) and its stable groups,
// g0 and g1, with their consumers.
func (r *run) openTopic(cid int, t string) bool {
	if err := r.createTopic(cid, t); err != nil {
		r.Violate(checkers.Invariant, "CreateTopic(%s): %v", t, err)
		return false
	}
	for _, name := range []string{"g0", "g1"} {
		g := r.groupOf(t, name, name == "g0")
		if err := r.create(cid, g); err != nil {
			r.Violate(checkers.Invariant, "CreateConsumerGroup(%s): %v", g.key, err)
			return false
		}
		if err := r.startClient(cid, g); err != nil {
			r.Violate(checkers.Invariant, "StartClient(%s): %v", g.key, err)
			return false
		}
	}
	return true
}

// backoff waits before the next try of a call that found the broker
// unavailable, doubling *wait up to eight retry intervals.
func (r *run) backoff(wait *time.Duration) {
	if *wait == 0 {
		*wait = r.cfg.Retry
	}
	harness.Sleep(*wait)
	*wait = min(2**wait, 8*r.cfg.Retry)
}

// think pauses a client between two calls.
func (r *run) think() {
	if r.cfg.Think > 0 {
		harness.Sleep(time.Duration(1 + harness.IntN(int(r.cfg.Think))))
	}
}

// begin records the start of a call in the trace of every call.
func (r *run) begin(cid int, name, topic, group string) *harness.Pending {
	return r.ops.Call(cid, opInfo{Name: name, Topic: topic, Group: group})
}

// noEffect is the output recorded for a call that did not run: the broker
// was unavailable, or the server refused it before changing anything. The
// checks leave such calls out (effective).
type noEffect struct{}

// settle records how a call ended: out when it returned; unknown when the
// broker crashed during it; no effect when it did not run.
func settle(p *harness.Pending, err error, out any) {
	switch {
	case errors.Is(err, sys.ErrInterrupted):
		p.Unknown()
	case errors.Is(err, sys.ErrUnavailable), errors.Is(err, sys.ErrTopicNotFound), errors.Is(err, sys.ErrClosed):
		p.Return(noEffect{})
	default:
		p.Return(out)
	}
}

// end records how a call of the trace of every call ended: its output is
// whether it succeeded.
func end(p *harness.Pending, err error) { settle(p, err, err == nil) }

// effective returns the operations that ran, leaving out those that had no
// effect.
func effective(ops []harness.Operation) []harness.Operation {
	out := ops[:0:0]
	for _, op := range ops {
		if _, none := op.Output.(noEffect); !none {
			out = append(out, op)
		}
	}
	return out
}

// retryable reports whether a call's error asks for another try: once the
// broker is back, or once the topic is made.
func retryable(err error) bool {
	return errors.Is(err, sys.ErrUnavailable) || errors.Is(err, sys.ErrInterrupted) || errors.Is(err, sys.ErrTopicNotFound)
}

// retry calls f until it returns anything but a retryable error, backing
// off between tries, and returns its last error.
func (r *run) retry(what string, f func() error) error {
	var wait time.Duration
	for try := 1; ; try++ {
		err := f()
		if !retryable(err) {
			return err
		}
		if try == maxTries {
			return fmt.Errorf("%s: the broker stayed unavailable for %d tries: %w", what, try, err)
		}
		r.backoff(&wait)
	}
}

// createTopic creates topic, as RocksMQ's CreateProducer does: an existing
// topic is fine.
func (r *run) createTopic(cid int, topic string) error {
	return r.retry("CreateTopic", func() error {
		p := r.begin(cid, "CreateTopic", topic, "")
		err := r.b.CreateTopic(topic)
		end(p, err)
		if errors.Is(err, sys.ErrTopicExists) {
			return nil
		}
		return err
	})
}

// create creates g, retrying while the broker is unavailable; a group that
// exists already (a try whose outcome was unknown made it, or another
// owner) is fine.
func (r *run) create(cid int, g *group) error {
	return r.retry("CreateConsumerGroup", func() error {
		var rp *harness.Pending
		if r.cfg.fault != "forget-create" || g.name == "g0" {
			rp = r.reg.Call(cid, registry.Add(g.key))
		}
		p := r.begin(cid, "CreateConsumerGroup", g.topic, g.name)
		err := r.b.CreateConsumerGroup(g.topic, g.name)
		end(p, err)
		if rp != nil {
			settle(rp, err, registry.Changed(err == nil))
		}
		if errors.Is(err, sys.ErrGroupExists) {
			return nil
		}
		return err
	})
}

// startClient registers a consumer of g and starts its loop on the node.
// A group that has a consumer already (registered by OnStart after a
// restart, or by the other owner) is fine, and so is one that is gone
// (the other owner destroyed it).
func (r *run) startClient(cid int, g *group) error {
	return r.retry("StartClient", func() error {
		c := r.newClient(g)
		p := r.begin(cid, "RegisterConsumer", g.topic, g.name)
		cl, err := r.b.StartClient(g.topic, g.name, r.clientOptions(c))
		end(p, err)
		if err == nil {
			r.Mu.Lock()
			c.cl = cl
			r.clients = append(r.clients, c)
			r.Mu.Unlock()
		}
		if errors.Is(err, sys.ErrConsumerExists) || (g.owners > 1 && errors.Is(err, sys.ErrGroupNotFound)) {
			return nil
		}
		return err
	})
}

// newClient makes the record of a consumer of g, in its current life.
func (r *run) newClient(g *group) *client {
	cid := r.ClientID()
	r.Mu.Lock()
	defer r.Mu.Unlock()
	// A call that succeeds is served by the incarnation that serves when it
	// begins, which is the last one to have started by then (an
	// incarnation serves only once its OnStart has run).
	return &client{g: g, label: g.label, cid: cid, inc: r.incs[len(r.incs)-1].inc, exited: -1}
}

// clientOptions are the options of c's loop: it consumes through
// r.consume and records what it delivers.
func (r *run) clientOptions(c *client) sys.ClientOptions {
	batch := r.cfg.ConsumeBatch
	if batch == 16 {
		batch = 0 // the client's default, upstream's
	}
	return sys.ClientOptions{
		Batch: batch,
		Consume: func(s *sys.Server, topic, group string, n int) ([]sys.Message, error) {
			return r.consume(c, s, n)
		},
		Deliver: func(msgs []sys.Message) {
			ids := msgIDs(msgs)
			switch {
			case r.cfg.fault == "duplicate" && len(c.delivered)%5 == 1:
				c.delivered = append(c.delivered, ids...)
			case r.cfg.fault == "skip" && c.g.name == "g0" && len(c.delivered) == 3:
				ids = ids[1:]
			}
			c.delivered = append(c.delivered, ids...)
		},
	}
}

// consume is one Consume of c's loop, on the node, recorded.
func (r *run) consume(c *client, s *sys.Server, n int) ([]sys.Message, error) {
	g := c.g
	p := r.begin(c.cid, "Consume", g.topic, g.name)
	var qp *harness.Pending
	if c.label != "" {
		qp = r.q[g.topic].Call(c.cid, queues.Consume(c.label, n))
	}
	msgs, err := s.Consume(g.topic, g.name, n)
	end(p, err)
	if qp != nil {
		if err != nil {
			qp.Return(noEffect{}) // the group is gone, or the server closed: nothing was consumed
		} else {
			qp.Return(queues.Consumed(msgIDs(msgs)...))
		}
	}
	r.Mu.Lock()
	stale := s != r.server
	if err == nil && len(msgs) > 0 {
		r.reads = append(r.reads, read{c: c, msgs: msgs})
	}
	r.Mu.Unlock()
	if stale {
		r.Violate(harness.Leak, "the consumer goroutine of %s from incarnation %d of %s consumed after the node restarted: a goroutine of a crashed incarnation survived", g.key, c.inc, node)
	}
	return msgs, err
}

func msgIDs(msgs []sys.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// onStart runs on the node after each recovery: it records what the
// incarnation recovered and starts a consumer for every group it holds,
// as the application does after a restart.
func (r *run) onStart(s *sys.Server, inc int) {
	recs := r.disk.Records()
	ic := &incarnation{inc: inc, recs: recs, labels: map[string]string{}, crashed: harness.NewChan[struct{}](0)}
	for _, t := range s.Topics() {
		names, _ := s.Groups(t)
		for _, name := range names {
			ic.recovered = append(ic.recovered, key(t, name))
		}
	}
	var start []*client
	var unknown []string
	r.Mu.Lock()
	// No scheduling point from here to the Unlock: a crash finds the
	// incarnation either recorded with its marker, or not at all.
	r.begin(0, "restart", "", fmt.Sprint(inc)).Return(true)
	r.incs = append(r.incs, ic)
	prev := r.server
	r.server, r.crashed = s, ic.crashed
	for _, k := range ic.recovered {
		g := r.groups[k]
		if g == nil {
			unknown = append(unknown, k)
			continue
		}
		if g.fifo && g.label == "" {
			g.fifo = false // destroyed, yet recovered: the registry's check says so
		}
		ic.labels[k] = g.label
		start = append(start, &client{g: g, label: g.label, inc: inc, exited: -1})
	}
	known := slices.Sorted(maps.Keys(r.groups))
	r.Mu.Unlock()
	if len(unknown) > 0 {
		r.Violate(checkers.Invariant, "incarnation %d recovered groups %v, which no client ever created", inc, unknown)
	}
	for _, k := range known { // what the restart recovered, element by element
		r.reg.Call(0, registry.Contains(k)).Return(registry.Present(slices.Contains(ic.recovered, k)))
	}
	if r.stale != nil && prev != nil {
		harness.Select(r.stale.SendCase(prev), harness.Default())
	}
	if r.cfg.fault == "no-resubscribe" {
		return
	}
	for _, c := range start {
		c.cid = r.ClientID()
		cl, err := sys.StartClient(s, sys.NewConsumer(c.g.topic, c.g.name), r.clientOptions(c))
		if err != nil {
			r.Violate(checkers.Invariant, "incarnation %d: StartClient(%s): %v", inc, c.g.key, err)
			continue
		}
		r.Mu.Lock()
		c.cl = cl
		r.clients = append(r.clients, c)
		r.Mu.Unlock()
	}
}

// useStale is the "stale-server" fault: an application goroutine outside
// the node keeps the server of a crashed incarnation and creates a topic
// on it.
func (r *run) useStale() {
	for {
		s, ok := r.stale.Recv()
		if !ok {
			return
		}
		_ = s.CreateTopic("stale")
	}
}

// producer makes Produces calls of 1 to MaxBatch messages to random
// topics. It makes a producer for a topic (CreateTopic, which RocksMQ's
// CreateProducer calls, "exists" being fine) before its first message to
// it, and again after a call found the broker unavailable. A call whose
// outcome is unknown is not repeated: its messages may or may not be in
// the topic.
func (r *run) producer() {
	cid := r.ClientID()
	var wait time.Duration
	made := map[string]bool{} // the topics it has a producer for
	for i := 0; i < r.cfg.Produces; i++ {
		t := r.topics[harness.IntN(len(r.topics))]
		if !made[t] {
			if err := r.createTopic(cid, t); err != nil {
				r.Violate(checkers.Invariant, "CreateTopic(%s): %v", t, err)
				return
			}
			made[t] = true
		}
		n := 1 + harness.IntN(r.cfg.MaxBatch)
		payloads := make([]string, n)
		r.Mu.Lock()
		for j := range payloads {
			payloads[j] = fmt.Sprintf("p%d-%d-%d", cid, i, j)
			r.produced[payloads[j]] = t
		}
		r.Mu.Unlock()
		qp := r.q[t].Call(cid, queues.ProduceN(n))
		p := r.begin(cid, "Produce", t, "")
		ids, err := r.b.Produce(t, payloads...)
		end(p, err)
		settle(qp, err, queues.Produced(ids...))
		switch {
		case err == nil:
			r.Mu.Lock()
			for j, id := range ids {
				r.acked[id] = payloads[j]
			}
			r.Mu.Unlock()
			wait = 0
		case retryable(err):
			made = map[string]bool{} // its producers are made again, after a reconnection
			r.backoff(&wait)
		default:
			r.Violate(checkers.Invariant, "Produce(%s): %v", t, err)
			return
		}
		r.think()
	}
}

// churn creates g, lets its consumer run, and destroys it, Rounds times.
func (r *run) churn(g *group) {
	cid := r.ClientID()
	for round := 0; round < r.cfg.Rounds; round++ {
		if g.fifo {
			r.Mu.Lock()
			g.life++
			g.label = fmt.Sprintf("%s#%d", g.key, g.life)
			r.Mu.Unlock()
		}
		if err := r.create(cid, g); err != nil {
			r.Violate(checkers.Invariant, "CreateConsumerGroup(%s): %v", g.key, err)
			return
		}
		if err := r.startClient(cid, g); err != nil {
			r.Violate(checkers.Invariant, "StartClient(%s): %v", g.key, err)
			return
		}
		r.think()
		harness.Yield()
		if !r.destroy(cid, g) {
			return
		}
		r.Mu.Lock()
		g.label = ""
		r.Mu.Unlock()
	}
}

// destroy destroys g, retrying while the broker is unavailable, and, for a
// group with one owner, checks what must hold once Destroy has returned:
// the group is gone (the registry's contains, checked as a set), it has no
// consumer, Notify finds none, and its consumer goroutines exit (within
// exitBound, checked after the run).
func (r *run) destroy(cid int, g *group) bool {
	var destroyed bool
	err := r.retry("DestroyConsumerGroup", func() error {
		rp := r.reg.Call(cid, registry.Remove(g.key))
		p := r.begin(cid, "DestroyConsumerGroup", g.topic, g.name)
		err := r.b.DestroyConsumerGroup(g.topic, g.name)
		end(p, err)
		settle(rp, err, registry.Changed(err == nil))
		destroyed = err == nil
		if errors.Is(err, sys.ErrGroupNotFound) { // an unknown try did it, or the other owner
			return nil
		}
		return err
	})
	if err != nil {
		r.Violate(checkers.Invariant, "DestroyConsumerGroup(%s): %v", g.key, err)
		return false
	}
	at := r.Since()
	if !destroyed || g.owners > 1 {
		return true
	}
	r.Mu.Lock()
	var live []*client
	inc := r.incs[len(r.incs)-1]
	for _, c := range r.clients {
		if c.g == g && c.inc == inc.inc && c.exited < 0 {
			live = append(live, c)
		}
	}
	r.Mu.Unlock()
	rp := r.reg.Call(cid, registry.Contains(g.key))
	p := r.begin(cid, "ExistConsumerGroup", g.topic, g.name)
	ok, err := r.b.ExistConsumerGroup(g.topic, g.name)
	end(p, err)
	settle(rp, err, registry.Present(ok))
	p = r.begin(cid, "HasConsumer", g.topic, g.name)
	if has, err := r.b.HasConsumer(g.topic, g.name); err == nil && has {
		r.Violate(checkers.Invariant, "group %s still has a registered consumer after its Destroy returned", g.key)
	}
	end(p, nil)
	p = r.begin(cid, "Notify", g.topic, g.name)
	n, err := r.b.Notify(g.topic, g.name)
	end(p, err)
	if err == nil && n != 0 {
		r.Violate(checkers.Invariant, "Notify(%s) after its Destroy returned found %d consumer(s)", g.key, n)
	}
	// Wait well past the bound, so that a late exit is measured rather
	// than left behind as a leak; a crash ends the wait (the goroutines
	// are gone with their incarnation).
	for _, c := range live {
		timeout := harness.After(10 * exitBound)
		if harness.Select(c.cl.Done().RecvCase(nil, nil), inc.crashed.RecvCase(nil, nil), timeout.RecvCase(nil, nil)) == 0 {
			r.Mu.Lock()
			c.exited = r.Since()
			r.Mu.Unlock()
		}
	}
	r.Mu.Lock()
	for _, c := range live {
		r.exits = append(r.exits, exitWait{c: c, destroyed: at})
	}
	r.Mu.Unlock()
	return true
}

// seeker probes, seeks and notifies sought groups: it lists a topic's
// groups, asks whether one exists, reads its position and the topic's last
// id, moves its cursor to a random id and notifies it, as RocksMQ's client
// does after a Seek.
func (r *run) seeker() {
	cid := r.ClientID()
	var wait time.Duration
	for i := 0; i < r.cfg.Seeks; i++ {
		t := r.topics[harness.IntN(len(r.topics))]
		g := r.sought(t)
		err := r.probe(cid, g)
		if err == nil {
			var last int64
			p := r.begin(cid, "LastID", t, "")
			last, err = r.b.LastID(t)
			end(p, err)
			if err == nil {
				p = r.begin(cid, "Seek", t, g.name)
				err = r.b.Seek(t, g.name, 1+int64(harness.IntN(int(last)+1)))
				end(p, err)
				if err == nil && r.cfg.fault != "no-notify" {
					p = r.begin(cid, "Notify", t, g.name)
					_, err = r.b.Notify(t, g.name)
					end(p, err)
				}
			}
		}
		if retryable(err) {
			r.backoff(&wait)
		} else {
			wait = 0
		}
		r.think()
	}
}

// sought returns a random group of topic t that may be sought, or of the
// first topic if t has none yet.
func (r *run) sought(t string) *group {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	of := func(t string) []*group {
		var gs []*group
		for _, k := range slices.Sorted(maps.Keys(r.groups)) { // map order is not seeded
			if g := r.groups[k]; g.topic == t && (!g.fifo || r.cfg.fault == "seek-c0" && g.name == "c0") && g.name != "audit" {
				gs = append(gs, g)
			}
		}
		return gs
	}
	gs := of(t)
	if len(gs) == 0 {
		gs = of(r.topics[0])
	}
	return gs[harness.IntN(len(gs))]
}

// probe reads what a seeker may read of g before it seeks: sometimes the
// topics, sometimes the topic's groups, whether g exists (recorded in the
// registry's history), sometimes its position and whether it has a
// consumer.
func (r *run) probe(cid int, g *group) error {
	if harness.IntN(4) == 0 {
		p := r.begin(cid, "Topics", "", "")
		_, err := r.b.Topics()
		end(p, err)
		if err != nil {
			return err
		}
	}
	if harness.IntN(3) == 0 {
		p := r.begin(cid, "Groups", g.topic, "")
		_, err := r.b.Groups(g.topic)
		end(p, err)
		if err != nil {
			return err
		}
	}
	rp := r.reg.Call(cid, registry.Contains(g.key))
	p := r.begin(cid, "ExistConsumerGroup", g.topic, g.name)
	ok, err := r.b.ExistConsumerGroup(g.topic, g.name)
	end(p, err)
	settle(rp, err, registry.Present(ok))
	if err != nil {
		return err
	}
	if harness.IntN(2) == 0 {
		p = r.begin(cid, "Position", g.topic, g.name)
		_, err = r.b.Position(g.topic, g.name)
		end(p, err)
		if retryable(err) {
			return err
		}
	}
	if harness.IntN(2) == 0 {
		p = r.begin(cid, "HasConsumer", g.topic, g.name)
		_, err = r.b.HasConsumer(g.topic, g.name)
		end(p, err)
	}
	return err
}
