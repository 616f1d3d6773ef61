// Package duplicator is a small reference implementation of Apache Pegasus
// duplication, the component of race case 5: the last mutation written to a
// partition reaches the remote cluster minutes late
// (apache/incubator-pegasus #2050, fixed by #2048).
//
// A primary replica (a node) runs two-phase commit for each partition it
// serves: a write gets the next decree N and is prepared carrying the
// replica's last_committed_decree (N-1 when writes come one at a time),
// appended to the partition's private log, acknowledged, committed and
// applied. When no write has come for a group-check interval (100 s), a
// group check writes an empty mutation; a primary also writes one when it
// starts. Duplication ships every committed write to a remote cluster (another
// node) in a pipeline per partition:
//
//	load (poll the private log every 100 ms, up to a bound)
//	  -> batch (a prepare list that commits by last_committed_decree and
//	     drops empty writes)
//	  -> ship (an RPC to the remote cluster, retried until acknowledged)
//	  -> progress {last_decree, confirmed_decree}
//
// The bug is in the bound and in the batch. Buggy loads only up to
// max_commit_on_disk, the largest last_committed_decree any logged mutation
// carries: after the last write N nothing on disk says N is committed until
// the next mutation, in practice the empty write of the next group check 100
// to 200 s later. Fixed loads up to min(max_decree_on_disk,
// last_applied_decree) and lets the batch commit a mutation itself once the
// replica has applied it; the last write then ships within one poll.
//
// The Disk (private logs and the confirmed decrees the meta server keeps)
// outlives a crash of the primary; everything else is the memory of one
// incarnation. All blocking goes through package harness, so the same code
// runs deterministically inside harness.Run and with real goroutines.
package duplicator

import (
	"fmt"
	"time"
)

// Variant selects the implementation.
type Variant int

const (
	// Buggy bounds loading by max_commit_on_disk (before #2048).
	Buggy Variant = iota
	// Fixed bounds loading by min(max_decree_on_disk, last_applied_decree)
	// and commits in the batch every loaded mutation the replica has applied
	// (#2048, completed: see Merged).
	Fixed
	// Merged is #2048 exactly as merged: the batch commits a mutation by
	// last_applied_decree only when the mutation is first added. A mutation
	// loaded after it reached the log but before it was applied stays
	// uncommitted in the batch until a later mutation arrives. It is not a
	// variant of the race case; tests use it to show that window.
	Merged
)

// String returns "buggy", "fixed" or "merged".
func (v Variant) String() string {
	switch v {
	case Buggy:
		return "buggy"
	case Fixed:
		return "fixed"
	case Merged:
		return "merged"
	}
	return fmt.Sprintf("Variant(%d)", int(v))
}

// Config sizes and times the system. The zero value is not usable: start
// from DefaultConfig.
type Config struct {
	// Partitions is the number of partitions the primary serves.
	Partitions int
	// Port is where both the primary and the remote cluster listen.
	Port int
	// RemoteAddr is the remote cluster's address ("remote:34801").
	RemoteAddr string
	// GroupCheckInterval is the group-check period: a group check writes an
	// empty mutation when no mutation was prepared for this long (Pegasus
	// group_check_interval_ms, 100 s).
	GroupCheckInterval time.Duration
	// GroupCheckPhase is when the first group check comes after the primary
	// starts; a negative value draws it from [0, GroupCheckInterval) with
	// harness.IntN (the seed, in deterministic mode).
	GroupCheckPhase time.Duration
	// LoadDelay is how long loading waits when there is nothing to load
	// (Pegasus dup_no_mutation_load_delay_ms, 100 ms).
	LoadDelay time.Duration
	// AckDelay bounds the time between a mutation reaching the private log
	// and its acknowledgement (secondaries logging it); each write draws a
	// delay in [AckDelay/2, AckDelay].
	AckDelay time.Duration
	// ShipTimeout bounds one ship attempt (dial, send, wait for the ack);
	// ShipRetry is the pause before the next attempt.
	ShipTimeout, ShipRetry time.Duration
	// ConfirmInterval is how often the duplication's last_decree is
	// persisted as confirmed_decree (the sync with the meta server).
	ConfirmInterval time.Duration
}

// DefaultConfig returns Pegasus' defaults: 4 partitions (the shell's create
// command, src/shell/commands/table_management.cpp), 100 s group checks
// (group_check_interval_ms, src/replica/replica_check.cpp), 100 ms load
// polls (dup_no_mutation_load_delay_ms,
// src/replica/duplication/duplication_pipeline.cpp), a failed ship retried
// after 1 s with a 100 s RPC timeout
// (src/server/pegasus_mutation_duplicator.cpp), progress synced every 10 s
// (duplication_sync_period_second,
// src/replica/duplication/duplication_sync_timer.cpp). AckDelay, the
// secondaries' answer, is the model's own: a couple of milliseconds.
func DefaultConfig() Config {
	return Config{
		Partitions:         4,
		Port:               34801,
		RemoteAddr:         "remote:34801",
		GroupCheckInterval: 100 * time.Second,
		GroupCheckPhase:    -1,
		LoadDelay:          100 * time.Millisecond,
		AckDelay:           2 * time.Millisecond,
		ShipTimeout:        100 * time.Second,
		ShipRetry:          time.Second,
		ConfirmInterval:    10 * time.Second,
	}
}

// Mutation is one entry of a partition's private log.
type Mutation struct {
	// Decree is the mutation's position in the partition's history.
	Decree int64 `json:"d"`
	// LastCommitted is the primary's last_committed_decree when it prepared
	// the mutation: what the log on disk knows to be committed.
	LastCommitted int64 `json:"lc"`
	// Empty marks an empty write (group check, new primary): it is never
	// shipped.
	Empty bool   `json:"e,omitempty"`
	Key   string `json:"k,omitempty"`
	Value string `json:"v,omitempty"`
}

// String renders the mutation for messages.
func (m Mutation) String() string {
	if m.Empty {
		return fmt.Sprintf("#%d(empty, lc=%d)", m.Decree, m.LastCommitted)
	}
	return fmt.Sprintf("#%d(%s=%s, lc=%d)", m.Decree, m.Key, m.Value, m.LastCommitted)
}

// Progress is a partition's duplication progress.
type Progress struct {
	// LastDecree is the last decree shipped and acknowledged (or skipped as
	// empty): loading starts after it.
	LastDecree int64
	// ConfirmedDecree is the last decree persisted at the meta server: a new
	// incarnation of the primary starts duplicating after it.
	ConfirmedDecree int64
}

// Role names a node of the system, for the observer: the primary or the
// remote cluster.
type Role string

// The roles.
const (
	RolePrimary Role = "primary"
	RoleRemote  Role = "remote"
)

// Resource names a kind of resource a node holds for as long as it lives or
// for the length of a call; the observer hears of each one opened (+1) and
// released (-1), so that a test can account for them.
type Resource string

// The resources the system reports.
const (
	// ResListener: the node's listener (primary: clients; remote: ship
	// connections).
	ResListener Resource = "listener"
	// ResClientConn: a client connection the primary accepted, until it
	// closes its end.
	ResClientConn Resource = "client connection"
	// ResShipConn: a duplication's connection to the remote cluster, held by
	// the primary between ships, from the start of its dial until the
	// primary closes it.
	ResShipConn Resource = "ship connection"
	// ResServedShip: a ship connection the remote cluster accepted, until it
	// closes its end.
	ResServedShip Resource = "served ship connection"
	// ResGroupCheck, ResDuplication and ResConfirm: the goroutines a primary
	// runs per partition for its whole life.
	ResGroupCheck  Resource = "group-check goroutine"
	ResDuplication Resource = "duplication goroutine"
	ResConfirm     Resource = "confirm goroutine"
)

// Observer receives the events a test checks. Every field may be nil. The
// system calls them from its own goroutines, some under its locks: they must
// not call back into the system. RemoteApplied is called inside the remote
// cluster's critical section (RemoteStore), whose lock outlives a crash of
// the remote's node: it must not block nor reach a scheduling point of the
// World (no harness primitive), or a crash striking there would leave the
// store locked for every later incarnation.
type Observer struct {
	// Logged: the primary appended m to partition's private log; the
	// secondaries have not acknowledged it yet, so it is neither committed
	// nor applied.
	Logged func(partition, incarnation int, m Mutation)
	// Committed: the primary committed and applied m (again, with the same
	// contents, when a restarted primary replays its private log).
	Committed func(partition int, m Mutation)
	// Shipped: the duplication of partition is about to ship muts for the
	// first time (retries are not reported), covering decrees up to
	// lastDecree, while the replica's last_applied_decree is lastApplied.
	Shipped func(partition, incarnation int, muts []Mutation, lastDecree, lastApplied int64)
	// Progressed: the duplication's progress changed; the calls of one
	// partition and incarnation come in the order of the changes.
	Progressed func(partition, incarnation int, p Progress)
	// RemoteApplied: the remote cluster applied m.
	RemoteApplied func(partition int, m Mutation)
	// Resource: incarnation of the node of role opened (delta +1) or
	// released (delta -1) one resource of kind r. A crashed incarnation
	// releases nothing in deterministic mode: its goroutines stop where they
	// stand.
	Resource func(role Role, incarnation int, r Resource, delta int)
}

func (o *Observer) logged(p, inc int, m Mutation) {
	if o != nil && o.Logged != nil {
		o.Logged(p, inc, m)
	}
}

func (o *Observer) resource(role Role, inc int, r Resource, delta int) {
	if o != nil && o.Resource != nil {
		o.Resource(role, inc, r, delta)
	}
}

func (o *Observer) committed(p int, m Mutation) {
	if o != nil && o.Committed != nil {
		o.Committed(p, m)
	}
}

func (o *Observer) shipped(p, inc int, muts []Mutation, last, applied int64) {
	if o != nil && o.Shipped != nil {
		o.Shipped(p, inc, muts, last, applied)
	}
}

func (o *Observer) progressed(p, inc int, pr Progress) {
	if o != nil && o.Progressed != nil {
		o.Progressed(p, inc, pr)
	}
}

func (o *Observer) remoteApplied(p int, m Mutation) {
	if o != nil && o.RemoteApplied != nil {
		o.RemoteApplied(p, m)
	}
}
