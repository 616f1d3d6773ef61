// Package routingtable is a reference implementation of the part of Olric
// (buraksezer/olric v0.5.5) where issue #247 lived: a cluster member's
// routing table, its Start, and the handler that applies the partition table
// the coordinator pushes (fixed by #248, released in v0.5.6).
//
// A cluster is a set of Instances (one Olric process each). An instance
// serves requests on one address, discovers its peers and joins them (a
// small stand-in for memberlist: join by contacting every configured peer,
// alive/leave/dead gossip, a round-robin prober), and keeps a RoutingTable.
// The oldest member is the coordinator: it computes the partition table
// (PartitionCount partitions, each with its owners, the last being the
// primary, and its backups) and pushes it to every member with an
// UPDATEROUTING request whose payload's FNV-64 hash is the table's
// signature, on every membership change and every PushPeriod. A member that
// applies a push records the owners of each partition, the signature, the
// number of partitions it owns itself (ownedPartitionCount, compared by
// member id against its own identity `this`), and that it is bootstrapped.
//
// An instance starts as Olric's does: register the handlers, start serving,
// discover and join, set `this`, then wait until it is bootstrapped.
//
// The Buggy variant is v0.5.5: RoutingTable.Start joins and assigns `this`
// while the handlers are already live, so a push that arrives between the
// join and the assignment runs setOwnedPartitionCount, which reads `this`
// while Start writes it (a data race), and counts the partitions of a zero
// member: ownedPartitionCount is 0 until the next push. The Fixed variant is
// #248's: Join (discover, join, set `this`, close joined) and Start (which
// fails with ErrNotJoinedYet before Join) are separate, and every handler
// first waits until joined. Unlike upstream, a Join that fails releases the
// waiting handlers with ErrNotJoinedYet instead of leaving them blocked.
//
// Not modelled: storage, rebalancing and the left-over data reports, the
// quorum check, memberlist's indirect probes and suspicion. Owners keep the
// previous primary (if still a member) before the new one, instead of
// Olric's data-length pruning. Each pushed table carries a Version (the
// coordinator's birth date and a sequence number) outside the signed
// payload, so that checks can relate owner lookups to the table they came
// from; Olric has no such number. A member refuses a table older than the
// one it applied from the same coordinator: pushes held by the Fixed
// variant's barrier are released together and would otherwise apply in any
// order. Messages use a compact binary encoding (codec.go) where Olric
// speaks RESP and msgpack.
//
// Beyond upstream as well, in both variants: a Shutdown called while
// another runs waits for it, and the connection pool retries a request
// that failed on a stale connection over a new one.
//
// All concurrency goes through package harness, so the package runs under
// heddle's deterministic scheduler on simulated nodes and, outside a World
// or in real mode, as ordinary Go (over harness.TCP() or nodes).
package routingtable
