package replica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/replica"
)

// startNemesis runs the plan (faults.Run, with the case's actions) on a
// goroutine of its own; when the plan is over it sets when the callers stop:
// a window later, time for meta to react to the last fault and for the
// clients to recover and show it. A run without faults lasts Quiet rounds.
func (r *run) startNemesis() {
	ctx, cancel := harness.WithCancel(context.Background())
	actions := faults.Actions{
		actMove:         r.actMove,
		actCrashPrimary: r.aimed(harness.CrashReset, "crash"),
		actBlackHole:    r.aimed(harness.CrashBlackHole, "blackhole"),
		actRestart:      r.aimed(-1, "restart"),
		actStop:         r.aimed(stopMode, "restart"),
		actCut:          r.actCut,
		actIsolate:      r.actIsolate,
		actCutClients:   r.actCutClients,
		actSlow:         r.actSlow,
		actRejoin:       r.actRejoin,
		actRefreshCrash: r.actRefreshCrash,
		actCrashLearner: r.actCrashLearner,
	}
	r.nemesis.Go(func() {
		defer cancel()
		if err := faults.Run(ctx, r.plan, actions); err != nil {
			harness.Note("nemesis: %v", err)
		}
		r.stopAt = r.Since() + r.cfg.window()
		if len(r.plan) == 0 {
			r.stopAt = settle + time.Duration(r.cfg.Quiet)*r.cfg.Gap
		}
		r.planDone.Close()
	})
}

// record notes a fault carried out, for the checks: at once, and over at
// once (a fault that lasts is recorded from its start to its end).
func (r *run) record(f injected) { r.injected.Call(0, f).Return(nil) }

// actMove has the administrator move the primary of a partition to its
// first live secondary, or to the replica server that last rejoined it.
func (r *run) actMove(ctx context.Context, arg string) error {
	t, err := parseMove(arg, r.cfg.Partitions)
	if err != nil {
		return err
	}
	targets := r.addrs
	if t.joiner {
		if targets = r.waitJoin(ctx, t.part); len(targets) == 0 {
			return fmt.Errorf("no replica server rejoined p%d", t.part)
		}
	}
	var errs []error
	for _, to := range targets {
		if err := r.move(ctx, t.part, to); err != nil {
			errs = append(errs, err)
			continue
		}
		r.record(injected{What: fmt.Sprintf("move the primary of p%d to %s", t.part, to), Kind: "move"})
		return nil
	}
	return errors.Join(errs...)
}

// waitJoin waits, for at most a grace and two beacons, until a replica
// server rejoins partition part (meta adds it as a learner), and returns
// it; nothing if none does.
func (r *run) waitJoin(ctx context.Context, part int) []string {
	limit := harness.NewTimer(r.cfg.Grace + 2*r.cfg.Beacon)
	defer limit.Stop()
	harness.Select(r.joining.RecvCase(nil, nil), harness.Default()) // a join announced earlier
	for {
		var c sys.Change
		if harness.Select(r.joining.RecvCase(&c, nil), limit.C.RecvCase(nil, nil), harness.Done(ctx)) != 0 {
			return nil
		}
		if c.Partition == part {
			return []string{c.Joined}
		}
	}
}

// move asks meta, from the administrator's node, to make to the primary of
// part.
func (r *run) move(ctx context.Context, part int, to string) error {
	ctx, cancel := harness.WithTimeout(ctx, time.Second)
	defer cancel()
	done := harness.NewChan[error](1)
	host := r.host(r.admin, r.cfg.fault == "leak-conn")
	if err := r.admin.Go(func() { done.Send(sys.MovePrimary(ctx, host, r.meta, part, to)) }); err != nil {
		return err
	}
	err, _ := done.Recv()
	return err
}

// stopMode is the mode of aimed that stops a server gracefully and
// restarts it.
const stopMode harness.CrashMode = -2

// aimed returns the handler of an action that strikes the primary of a
// partition: crash it (mode), restart it (mode -1), or stop it gracefully
// and restart it (stopMode).
func (r *run) aimed(mode harness.CrashMode, kind string) func(context.Context, string) error {
	return func(ctx context.Context, arg string) error {
		t, err := parseTarget(arg, r.cfg.Partitions, true)
		if err != nil {
			return err
		}
		if t.inCall {
			r.waitCall(ctx, t.part)
			if t.delay > 0 {
				harness.Sleep(t.delay)
			}
		}
		addr := r.primaryOf(t.part)
		if addr == "" {
			return fmt.Errorf("p%d has no primary", t.part)
		}
		name, _, _ := harness.SplitAddr(addr)
		if mode == stopMode {
			return r.stopRestart(name, addr, t.part)
		}
		f := faults.Restart(name)
		switch {
		case mode == harness.CrashReset:
			f = faults.Crash(name)
		case mode == harness.CrashBlackHole:
			f = faults.BlackHole(name)
		}
		if err := faults.Apply(f); err != nil {
			return err
		}
		if mode >= 0 {
			r.downs = append(r.downs, name)
		}
		r.record(injected{What: fmt.Sprintf("%s (primary of p%d)", f, t.part), Node: addr, Kind: kind})
		return nil
	}
}

// stopRestart stops the replica server name gracefully, waits for it to
// return (within 10s), and restarts it.
func (r *run) stopRestart(name, addr string, part int) error {
	n := harness.LookupNode(name)
	r.Mu.Lock()
	s := r.servers[name]
	r.Mu.Unlock()
	if n == nil || !n.Alive() || s == nil {
		return fmt.Errorf("the primary of p%d, %s, is down", part, name)
	}
	r.record(injected{What: fmt.Sprintf("stop %s (primary of p%d)", name, part), Node: addr, Kind: "restart"})
	s.stop()
	t := harness.NewTimer(10 * time.Second)
	if harness.Select(s.done.RecvCase(nil, nil), t.C.RecvCase(nil, nil)) == 1 {
		r.Violate(harness.Leak, "graceful stop: %s (incarnation %d) did not return within 10s of being stopped", name, s.inc)
	}
	t.Stop()
	if err := n.Restart(); err != nil {
		return err
	}
	r.record(injected{What: "restart stopped " + name, Node: addr, Kind: "rejoin"})
	return nil
}

// waitCall waits until a caller is about to call partition part, for at
// most a call timeout and two rounds.
func (r *run) waitCall(ctx context.Context, part int) {
	limit := harness.NewTimer(r.cfg.OpTimeout + 2*r.cfg.Gap)
	defer limit.Stop()
	harness.Select(r.calling.RecvCase(nil, nil), harness.Default()) // a call announced earlier is over
	for {
		var p int
		if harness.Select(r.calling.RecvCase(&p, nil), limit.C.RecvCase(nil, nil), harness.Done(ctx)) != 0 || p == part {
			return
		}
	}
}

// actCut cuts the primary of a partition from meta, both ways.
func (r *run) actCut(_ context.Context, arg string) error {
	t, err := parseTarget(arg, r.cfg.Partitions, false)
	if err != nil {
		return err
	}
	addr, name, err := r.livePrimary(t.part)
	if err != nil {
		return err
	}
	f := faults.Partition(name, "meta")
	if err := faults.Apply(f); err != nil {
		return err
	}
	r.record(injected{What: fmt.Sprintf("%s (primary of p%d)", f, t.part), Node: addr, Kind: "cut"})
	return nil
}

// livePrimary returns the address and node name of the primary of part,
// or an error if it has none or it is down (meta has not noticed yet).
func (r *run) livePrimary(part int) (addr, name string, err error) {
	addr = r.primaryOf(part)
	if addr == "" {
		return "", "", fmt.Errorf("p%d has no primary", part)
	}
	name, _, _ = harness.SplitAddr(addr)
	if n := harness.LookupNode(name); n == nil || !n.Alive() {
		return "", "", fmt.Errorf("the primary of p%d, %s, is down", part, name)
	}
	return addr, name, nil
}

// actIsolate cuts the primary of a partition from every other node.
func (r *run) actIsolate(_ context.Context, arg string) error {
	t, err := parseTarget(arg, r.cfg.Partitions, false)
	if err != nil {
		return err
	}
	addr, name, err := r.livePrimary(t.part)
	if err != nil {
		return err
	}
	f := faults.Isolate(name)
	if err := faults.Apply(f); err != nil {
		return err
	}
	r.record(injected{What: fmt.Sprintf("%s (primary of p%d)", f, t.part), Node: addr, Kind: "isolate"})
	return nil
}

// actCutClients cuts every client from meta, both ways, for a while, and
// mends those links (and no other).
func (r *run) actCutClients(ctx context.Context, arg string) error {
	d, err := time.ParseDuration(arg)
	if err != nil {
		return err
	}
	p := r.injected.Call(0, injected{What: "cut the clients from meta for " + arg, Kind: "cut-clients", Lasts: r.cfg.MetaTimeout})
	defer p.Return(nil)
	for i := range r.cfg.Clients {
		if err := setLinks(fmt.Sprintf("client%d", i+1), "meta", true); err != nil {
			return err
		}
	}
	t := harness.NewTimer(d)
	harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx))
	t.Stop()
	for i := range r.cfg.Clients {
		if err := setLinks(fmt.Sprintf("client%d", i+1), "meta", false); err != nil {
			return err
		}
	}
	return nil
}

// actSlow makes the links between the clients and a partition's primary
// slow, both ways, for a while, then gives them back their latency. Calls
// made meanwhile may time out up to a call timeout after it is over.
func (r *run) actSlow(ctx context.Context, arg string) error {
	t, d, hold, err := parseSlow(arg, r.cfg.Partitions)
	if err != nil {
		return err
	}
	addr, name, err := r.livePrimary(t.part)
	if err != nil {
		return err
	}
	p := r.injected.Call(0, injected{What: fmt.Sprintf("slow the clients' links to %s (primary of p%d) to %v for %v", addr, t.part, d, hold),
		Node: addr, Kind: "slow", Lasts: r.cfg.OpTimeout})
	defer p.Return(nil)
	var before []harness.Link
	for i := range r.cfg.Clients {
		for _, dir := range [][2]string{{fmt.Sprintf("client%d", i+1), name}, {name, fmt.Sprintf("client%d", i+1)}} {
			l, err := harness.LinkOf(dir[0], dir[1])
			if err != nil {
				return err
			}
			before = append(before, l)
			l.Latency = d
			if err := harness.SetLink(dir[0], dir[1], l); err != nil {
				return err
			}
		}
	}
	timer := harness.NewTimer(hold)
	harness.Select(timer.C.RecvCase(nil, nil), harness.Done(ctx))
	timer.Stop()
	k := 0
	for i := range r.cfg.Clients {
		for _, dir := range [][2]string{{fmt.Sprintf("client%d", i+1), name}, {name, fmt.Sprintf("client%d", i+1)}} {
			l, err := harness.LinkOf(dir[0], dir[1])
			if err != nil {
				return err
			}
			l.Latency = before[k].Latency
			k++
			if err := harness.SetLink(dir[0], dir[1], l); err != nil {
				return err
			}
		}
	}
	return nil
}

// setLinks takes the links between a and b, both ways, down or up.
func setLinks(a, b string, down bool) error {
	for _, dir := range [][2]string{{a, b}, {b, a}} {
		l, err := harness.LinkOf(dir[0], dir[1])
		if err != nil {
			return err
		}
		l.Down = down
		if err := harness.SetLink(dir[0], dir[1], l); err != nil {
			return err
		}
	}
	return nil
}

// actRejoin restarts the first replica server the plan crashed that is
// still down.
func (r *run) actRejoin(_ context.Context, _ string) error {
	for i, name := range r.downs {
		n := harness.LookupNode(name)
		if n == nil || n.Alive() {
			continue
		}
		r.downs = append(r.downs[:i:i], r.downs[i+1:]...)
		if err := n.Restart(); err != nil {
			return err
		}
		r.record(injected{What: "restart crashed " + name, Node: n.Addr(sys.ReplicaPort), Kind: "rejoin"})
		return nil
	}
	return fmt.Errorf("no replica server is down")
}

// actCrashLearner waits until a replica server rejoins a partition as a
// learner and crashes it at once.
func (r *run) actCrashLearner(ctx context.Context, arg string) error {
	t, err := parseTarget(arg, r.cfg.Partitions, false)
	if err != nil {
		return err
	}
	joined := r.waitJoin(ctx, t.part)
	if len(joined) == 0 {
		return fmt.Errorf("no replica server rejoined p%d", t.part)
	}
	name, _, _ := harness.SplitAddr(joined[0])
	f := faults.Crash(name)
	if err := faults.Apply(f); err != nil {
		return err
	}
	r.downs = append(r.downs, name)
	r.record(injected{What: fmt.Sprintf("%s (learner of p%d)", f, t.part), Node: joined[0], Kind: "crash"})
	return nil
}

// actRefreshCrash waits until meta has moved a primary away from a crashed
// server and a client then starts a refresh, and crashes the primary that
// took over; it gives up after two graces and a recovery bound.
func (r *run) actRefreshCrash(ctx context.Context, _ string) error {
	limit := harness.NewTimer(2*r.cfg.Grace + r.cfg.recoveryBound())
	defer limit.Stop()
	harness.Select(r.refreshing.RecvCase(nil, nil), harness.Default()) // a refresh announced earlier
	for {
		if harness.Select(r.refreshing.RecvCase(nil, nil), limit.C.RecvCase(nil, nil), harness.Done(ctx)) != 0 {
			return fmt.Errorf("no refresh after a failover away from a crashed server")
		}
		if to := r.tookOver(); to != "" {
			name, _, _ := harness.SplitAddr(to)
			f := faults.Crash(name)
			if err := faults.Apply(f); err != nil {
				return err
			}
			r.downs = append(r.downs, name)
			r.record(injected{What: fmt.Sprintf("%s (took over from a crashed server; a client is refreshing)", f), Node: to, Kind: "crash"})
			return nil
		}
	}
}

// tookOver returns a live replica server that meta made primary in place
// of a crashed one, or "".
func (r *run) tookOver() string {
	for _, op := range r.changes.Operations() {
		c := op.Input.(sys.Change)
		if c.Reason != "dead" || c.From != c.Dead || c.To == "" {
			continue
		}
		name, _, _ := harness.SplitAddr(c.To)
		if n := harness.LookupNode(name); n != nil && n.Alive() {
			return c.To
		}
	}
	return ""
}
