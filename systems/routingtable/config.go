package routingtable

import (
	"errors"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Variant selects the code of Start and of the handlers.
type Variant int

const (
	// Buggy is Olric v0.5.5: the handlers are live before Start sets this
	// (buraksezer/olric #247).
	Buggy Variant = iota
	// Fixed is #248's Join/Start split with the joined barrier, plus a
	// failed Join releasing the handlers that wait for it.
	Fixed
)

func (v Variant) String() string {
	if v == Fixed {
		return "fixed"
	}
	return "buggy"
}

// Errors of the package (Olric's names).
var (
	// ErrNotJoinedYet: RoutingTable.Start before Join, or a request that
	// waited for a Join that failed.
	ErrNotJoinedYet = errors.New("routingtable: not joined yet")
	// ErrClusterJoin: no peer answered any join attempt; the member forms a
	// new cluster.
	ErrClusterJoin = errors.New("routingtable: cannot join the cluster")
	// ErrServerGone: the member is shutting down.
	ErrServerGone = errors.New("routingtable: server is gone")
	// ErrOperationTimeout: the member was not bootstrapped in time.
	ErrOperationTimeout = errors.New("routingtable: operation timeout")
	// ErrNotBootstrapped: a lookup on a member that has no table yet.
	ErrNotBootstrapped = errors.New("routingtable: not bootstrapped yet")
	// ErrStaleTable: a push older than the table applied, from the same
	// coordinator (it arrived late).
	ErrStaleTable = errors.New("routingtable: stale table")
)

// Observer learns of the coordinator's pushes, for checks: PushBegin before
// a table is sent to any member, PushEnd once every member answered (err is
// nil if all applied it). It is called on the coordinator's goroutine.
type Observer interface {
	PushBegin(coordinator Member, v Version, t *Table)
	PushEnd(coordinator Member, v Version, err error)
}

// Config configures an Instance. Zero durations and counts take Olric's
// defaults (see withDefaults).
type Config struct {
	// Variant is Buggy or Fixed.
	Variant Variant
	// Name identifies the member in the cluster.
	Name string
	// Host is the network: a *harness.Node, or harness.TCP().
	Host harness.Host
	// Port is the port to serve on (0: any).
	Port int
	// Peers are the addresses to join (this member's own may be in it).
	Peers []string

	// PartitionCount is the number of partitions (271).
	PartitionCount int
	// ReplicaCount is how many copies of a partition exist: the owner and
	// ReplicaCount-1 backups (2).
	ReplicaCount int
	// PushPeriod is how often the coordinator pushes the table even without
	// a membership change (1 minute).
	PushPeriod time.Duration
	// BootstrapTimeout bounds how long Start waits to be bootstrapped (10 s).
	BootstrapTimeout time.Duration
	// JoinRetryInterval and MaxJoinAttempts: a join that reached no peer is
	// retried (1 s, 10 times) before the member forms a new cluster.
	JoinRetryInterval time.Duration
	MaxJoinAttempts   int
	// ProbeInterval and ProbeTimeout: the failure detector pings one member
	// every ProbeInterval (1 s) and declares it dead if it has not answered
	// within ProbeTimeout (500 ms); gossip messages use ProbeTimeout too.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// RequestTimeout bounds joins and pushes (3 s).
	RequestTimeout time.Duration

	// Observer, if set, learns of the pushes this member makes as
	// coordinator.
	Observer Observer
}

func (c Config) withDefaults() Config {
	if c.PartitionCount <= 0 {
		c.PartitionCount = 271
	}
	if c.ReplicaCount <= 0 {
		c.ReplicaCount = 2
	}
	if c.PushPeriod <= 0 {
		c.PushPeriod = time.Minute
	}
	if c.BootstrapTimeout <= 0 {
		c.BootstrapTimeout = 10 * time.Second
	}
	if c.JoinRetryInterval <= 0 {
		c.JoinRetryInterval = time.Second
	}
	if c.MaxJoinAttempts <= 0 {
		c.MaxJoinAttempts = 10
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = time.Second
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = 500 * time.Millisecond
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 3 * time.Second
	}
	return c
}
