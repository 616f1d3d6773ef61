// Package metaclient is a reference implementation of the meta-server side
// of the Apache Pegasus Go client, the part where
// apache/incubator-pegasus #2256 lived: the meta query fan-out raced with
// its caller (fixed by #2257).
//
// Meta servers are nodes of heddle's simulated network (MetaMain): one of
// them is the leader and answers a table's configuration query with ERR_OK;
// the others answer ERR_FORWARD_TO_OTHERS naming the leader they believe
// in. An administrator (Admin, the stand-in for the meta servers' own
// election and their ZooKeeper) moves leadership and writes configurations.
//
// The client side is MetaManager: it knows a list of meta addresses and
// which one it believes leads. QueryConfig runs a metaCall: ask the
// believed leader; if it failed, or has not answered after the backup
// delay (one second), ask every other meta in parallel; the first ERR_OK
// wins. A forward to an address not in the list appends it to the call's
// lists (metas and metaIPAddrs) and queries it. The manager then records
// the new leader index and the possibly longer lists.
//
// The Buggy variant is the code as reported: the backup fan-out starts one
// goroutine per backup and returns at once, so Run's WaitGroup does not
// cover them, and the caller reads newLead, metas and metaIPAddrs without
// the lock while a late backup goroutine appends to them. The Fixed variant
// is #2257 plus what a careful engineer adds (each marked FIX): the fan-out
// waits for its goroutines, every access to the lists is under a lock, the
// manager hands each call its own copy of the lists, a forward address is
// checked and appended in one critical section, and callFunc runs outside
// every lock. The Merged variant is the client as upstream has it after
// #2257: Fixed's meta call, but the manager as upstream's
// (go-client/session/meta_session.go, MetaManager.call): it reads its
// lists without the lock and hands the call its own slices, so two calls
// on one manager race (the one's read against the other's setNewMetas, and
// their appends to one array), although QueryConfig is documented
// thread-safe.
//
// All concurrency goes through package harness, so the package runs under
// heddle's deterministic scheduler and, in real mode, with real goroutines.
package metaclient

import (
	"encoding/json"
	"fmt"
	"time"
)

// Variant selects the implementation of the meta call.
type Variant int

const (
	// Buggy is the Go client as reported in apache/incubator-pegasus #2256.
	Buggy Variant = iota
	// Fixed is the client with #2257 and the further care described in the
	// package documentation.
	Fixed
	// Merged is the client as merged upstream with #2257: Fixed's meta
	// call under upstream's manager, which still races between calls.
	Merged
)

// String names the variant as the explorer does: buggy, fixed, merged.
func (v Variant) String() string {
	switch v {
	case Fixed:
		return "fixed"
	case Merged:
		return "merged"
	}
	return "buggy"
}

// MetaPort is the port every meta server listens on.
const MetaPort = 34601

// DefaultBackupDelay is how long a meta call waits for the believed leader
// before it asks every other meta (upstream: one second, hard-coded).
const DefaultBackupDelay = time.Second

// ErrorCode is a meta server's answer code, spelled as in Pegasus.
type ErrorCode string

// The codes a meta server answers with.
const (
	ErrOK             ErrorCode = "ERR_OK"
	ErrForward        ErrorCode = "ERR_FORWARD_TO_OTHERS"
	ErrObjectNotFound ErrorCode = "ERR_OBJECT_NOT_FOUND"
	ErrInvalidState   ErrorCode = "ERR_INVALID_STATE"
)

// TableConfig is a table's configuration as the meta servers hold it: a
// version that only moves forward, and the primary replica's address
// (standing in for the partition configurations).
type TableConfig struct {
	Version int64  `json:"version"`
	Primary string `json:"primary"`
}

// QueryConfigResponse is a meta server's answer to a configuration query.
type QueryConfigResponse struct {
	// Err is ErrOK (Config holds the table's configuration), ErrForward
	// (Forward names the leader this meta believes in, "" if it knows
	// none) or ErrObjectNotFound.
	Err     ErrorCode   `json:"err"`
	Forward string      `json:"forward,omitempty"`
	Table   string      `json:"table"`
	Config  TableConfig `json:"config"`
	// From is the address of the meta that answered. Upstream's response
	// does not carry it; heddle's checks use it to tell who said ERR_OK.
	From string `json:"from"`
	// Open answers an administrator's stats request (Admin.OpenConns):
	// the connections the meta has open.
	Open int `json:"open,omitempty"`
}

// request is every message a meta server receives.
type request struct {
	Op     string                 `json:"op"`
	Table  string                 `json:"table,omitempty"`
	Config TableConfig            `json:"config"`
	Leader string                 `json:"leader,omitempty"`
	Tables map[string]TableConfig `json:"tables,omitempty"`
}

// Request operations.
const (
	opQueryConfig = "query_config"
	opPromote     = "promote"
	opDemote      = "demote"
	opSetLeader   = "set_leader"
	opWrite       = "write_config"
	opStats       = "stats"
)

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("metaclient: encode %T: %v", v, err))
	}
	return b
}
