// Package replica is a reference implementation of the part of Apache
// Pegasus where apache/incubator-pegasus #1856 lived: the Go client kept
// routing to a replica server that had crashed (fixed by #1916).
//
// A table is split into partitions. Each partition has a primary replica
// and secondaries on replica servers; the meta server assigns them, detects
// dead replica servers by their beacons (silent for Grace) and moves
// primaries away from them (ServeMeta). A replica server (ServeReplica)
// serves reads from its committed data and replicates every write to the
// partition's secondaries before it applies and acknowledges it; a primary
// newly assigned first pushes its data to its secondaries, which also makes
// the old primary step down. A replica server serves only while it holds
// meta's lease (renewed by the answers to its beacons, and shorter than
// meta's grace), so that one cut off from meta stops before meta gives its
// partitions to others. A replica server that meta declared dead, or that
// restarted with its memory lost, rejoins as a learner of the partitions
// short of replicas: the primary syncs it, then asks meta to make it a
// secondary, and only secondaries are ever made primary.
//
// The client (Open) caches, per partition, the primary's address from the
// meta server. Each address has a node session with a dialing loop, a
// request loop and a response loop; calls wait in pendingResp, by sequence
// id, for their response or their context's deadline (CallWithGpid). The
// table connector maps errors to actions: most errors ask for a
// configuration refresh (coalesced, at most one per RefreshInterval) and a
// retry with backoff. Get is retried after any failure; Set, Del and Incr
// only after failures that prove they were not applied. (A Set retried
// after a failure that left it unknown may take effect twice, once on
// each side of another client's write: a reader then sees its value, the
// other write, and its value again, which no order of the calls explains.
// The upstream client retries every operation; this one does not.)
//
// The Buggy variant is the client as reported: when the replica server
// dies, the response loop reads EOF (or a reset) and returns without
// failing the pending calls, and the session is not torn down, because its
// dialing loop lives on; every call then waits for its deadline, and the
// connector treats context.DeadlineExceeded as "no configuration change".
// The client keeps routing to the dead node after meta has moved the
// primary. The Fixed variant goes beyond the upstream fix (which made
// DeadlineExceeded trigger a refresh): on EOF or reset the response loop
// fails every pending call at once with ErrSessionReset and the session is
// torn down and replaced, a failed dial tears it down too, and the connector
// refreshes the configuration and retries on the new primary. Servers, and
// which operations are retried, are the same in both variants.
//
// All concurrency goes through package harness, so the package runs under
// heddle's deterministic scheduler (on simulated nodes) and, outside a
// World, as ordinary Go.
package replica

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Variant selects the client's implementation.
type Variant int

const (
	// Buggy is the Pegasus Go client as reported in #1856.
	Buggy Variant = iota
	// Fixed fails pending calls at once when a session breaks, replaces the
	// session, and refreshes the configuration on timeouts and resets.
	Fixed
)

// String returns "buggy" or "fixed".
func (v Variant) String() string {
	if v == Fixed {
		return "fixed"
	}
	return "buggy"
}

// Default ports and timings.
const (
	// MetaPort is the meta server's port.
	MetaPort = 34601
	// ReplicaPort is a replica server's port.
	ReplicaPort = 34801
)

// Errors of the client. A call fails with one of them, wrapped, with a
// *ReplicaError, or with its context's error.
var (
	// ErrSessionReset: the connection to the server broke while the request
	// was in flight. The request may or may not have been applied.
	ErrSessionReset = errors.New("replica: session reset with the request in flight")
	// ErrSessionClosed: the session was closed (or could not connect) before
	// the request was sent. It was not applied.
	ErrSessionClosed = errors.New("replica: session closed before the request was sent")
	// ErrSendFailed: writing the request to the connection failed. It was
	// not applied.
	ErrSendFailed = errors.New("replica: failed to send the request")
	// ErrClientClosed: the client was closed.
	ErrClientClosed = errors.New("replica: client closed")
	// ErrNotApplied wraps the error of a call that gave up (its context
	// done, the client closed) when none of its attempts can have been
	// applied: none reached a server, or each was refused. The error still
	// matches the cause (errors.Is(err, context.DeadlineExceeded)).
	ErrNotApplied = errors.New("replica: not applied")
)

// Error codes servers reply with.
const (
	// CodeInvalidState: this replica is not the partition's ready primary.
	// Nothing was done.
	CodeInvalidState = "ERR_INVALID_STATE"
	// CodeObjectNotFound: this replica holds no such partition. Nothing was
	// done.
	CodeObjectNotFound = "ERR_OBJECT_NOT_FOUND"
	// CodeNoPrimary: the partition has no primary (the client's routing
	// table says so). Nothing was done.
	CodeNoPrimary = "ERR_NO_PRIMARY"
	// CodeAborted: the primary gave up on a write (it lost its role, or the
	// secondaries did not acknowledge in time). It may have reached some
	// secondaries, so it may still take effect.
	CodeAborted = "ERR_ABORTED"
	// CodeInvalidData: Incr on a value that is not an integer. Nothing was
	// done.
	CodeInvalidData = "ERR_INVALID_DATA"
	// CodeInvalidParameters: a bad request to the meta server.
	CodeInvalidParameters = "ERR_INVALID_PARAMETERS"
)

// ReplicaError is an error code a server replied with.
type ReplicaError struct {
	Code string
	Addr string // the server that replied ("" for CodeNoPrimary)
	Part int    // the partition
}

// Error says which server replied which code, for which partition.
func (e *ReplicaError) Error() string {
	if e.Addr == "" {
		return fmt.Sprintf("replica: %s (partition %d)", e.Code, e.Part)
	}
	return fmt.Sprintf("replica: %s from %s (partition %d)", e.Code, e.Addr, e.Part)
}

// Ambiguous reports whether a failed call may still have been applied: its
// outcome is unknown. Calls that fail for other reasons were not applied.
func Ambiguous(err error) bool {
	var re *ReplicaError
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrNotApplied):
		return false
	case errors.As(err, &re):
		return re.Code == CodeAborted
	case errors.Is(err, ErrSessionClosed), errors.Is(err, ErrSendFailed):
		return false
	}
	return true // ErrSessionReset, context errors, anything unexpected
}

// PartitionConfig is one partition's replicas, as the meta server assigns
// them. A higher Ballot replaces a lower one.
type PartitionConfig struct {
	Index       int      `json:"index"`
	Ballot      int64    `json:"ballot"`
	Primary     string   `json:"primary,omitempty"`
	Secondaries []string `json:"secondaries,omitempty"`
	// Learners are replicas that (re)joined the partition: the primary
	// syncs each one, replicates to it from then on and asks meta to make
	// it a secondary. Until then a learner may lack data, so meta never
	// makes it the primary.
	Learners []string `json:"learners,omitempty"`
	// LearnerBoots are the learners' incarnations, in Learners' order: the
	// primary counts a learner as synced only in the incarnation it synced.
	LearnerBoots []int64 `json:"learner_boots,omitempty"`
}

func (pc PartitionConfig) clone() PartitionConfig {
	pc.Secondaries = slices.Clone(pc.Secondaries)
	pc.Learners = slices.Clone(pc.Learners)
	pc.LearnerBoots = slices.Clone(pc.LearnerBoots)
	return pc
}

// PartitionOf returns the partition of key in a table of n partitions.
func PartitionOf(key string, n int) int {
	if n <= 0 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// Message types.
const (
	tReq      = "req"      // client -> replica: an operation
	tResp     = "resp"     // reply to req, query, move
	tQuery    = "query"    // client -> meta: the table's configuration
	tMove     = "move"     // admin -> meta: move a primary
	tUpgrade  = "upgrade"  // primary -> meta: a learner is synced, make it a secondary
	tBeacon   = "beacon"   // replica -> meta: I am alive
	tConfig   = "config"   // meta -> replica: the configuration
	tPrepare  = "prepare"  // primary -> secondary: a write
	tPrepared = "prepared" // reply to prepare
	tSync     = "sync"     // new primary -> secondary: its whole data
	tSynced   = "synced"   // reply to sync
)

// Operations.
const (
	opGet  = "get"
	opSet  = "set"
	opDel  = "del"
	opIncr = "incr"
)

// msg is every message on the wire (see encode for the format).
type msg struct {
	Type   string
	Seq    uint64
	Part   int
	Ballot int64
	Decree int64
	Op     string
	Key    string
	Value  string
	Found  bool
	Delta  int64
	N      int64
	OK     bool
	Err    string
	From   string
	// Sent is when a beacon was sent (Unix nanoseconds); meta's answer
	// carries it back, and the replica server's lease runs from it.
	Sent int64
	// Boot identifies the incarnation of the replica server that beacons:
	// a new one has lost its memory.
	Boot int64
	// Version is meta's configuration version: a config message carries
	// the one it holds, a beacon the one its sender last applied (meta
	// answers with the configuration only when they differ).
	Version int64
	To      string
	Config  []PartitionConfig
	Data    map[string]string
}

// sleepCtx sleeps for d or until ctx is done; it reports whether ctx is
// still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := harness.NewTimer(d)
	defer t.Stop()
	return harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 0
}
