package mq

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// ErrFenced is returned to a handle of the disk (a Log) that a newer
// incarnation has replaced, or that a power loss closed: the process that
// held it is gone, so its writes must not land.
var ErrFenced = errors.New("mq: the disk was reopened or lost power: this handle is stale")

// RecordOp says what a Record does.
type RecordOp uint8

// The records RocksMQ writes. Each is one RocksDB write batch: it reaches
// the log whole or not at all.
const (
	// RecTopic creates Topic (upstream: the topic_id/ and message_size/
	// keys of the meta kv).
	RecTopic RecordOp = iota + 1
	// RecAppend appends Msgs to Topic (upstream: one key per message,
	// "topic/id", in the store).
	RecAppend
	// RecCreateGroup creates Group on Topic, its cursor at the start.
	RecCreateGroup
	// RecDestroyGroup destroys Group on Topic.
	RecDestroyGroup
	// RecCursor moves Group's cursor on Topic to Pos (a Consume or a Seek:
	// RocksMQ's design kept it as "group/topic/current_id" in its meta kv).
	RecCursor
)

// String returns the record kind's name.
func (o RecordOp) String() string {
	switch o {
	case RecTopic:
		return "topic"
	case RecAppend:
		return "append"
	case RecCreateGroup:
		return "create-group"
	case RecDestroyGroup:
		return "destroy-group"
	case RecCursor:
		return "cursor"
	}
	return fmt.Sprintf("RecordOp(%d)", int(o))
}

// Record is one entry of the write-ahead log.
type Record struct {
	Op    RecordOp
	Topic string
	Group string    // RecCreateGroup, RecDestroyGroup, RecCursor
	Msgs  []Message // RecAppend
	Pos   int64     // RecCursor: the smallest id the group's next Consume may return
}

// String renders the record for reports: "append t0 [3 4]", "cursor t0/g1 5".
func (r Record) String() string {
	switch r.Op {
	case RecTopic:
		return fmt.Sprintf("%v %s", r.Op, r.Topic)
	case RecAppend:
		ids := make([]string, len(r.Msgs))
		for i, m := range r.Msgs {
			ids[i] = fmt.Sprint(m.ID)
		}
		return fmt.Sprintf("%v %s [%s]", r.Op, r.Topic, strings.Join(ids, " "))
	case RecCursor:
		return fmt.Sprintf("%v %s/%s %d", r.Op, r.Topic, r.Group, r.Pos)
	}
	return fmt.Sprintf("%v %s/%s", r.Op, r.Topic, r.Group)
}

// DiskConfig describes the disk.
type DiskConfig struct {
	// SyncDelay is how long an fsync takes (virtual time in a World). While
	// it runs, what it will make durable is not yet durable.
	SyncDelay time.Duration
	// LyingSync makes Commit's sync return without making anything durable, as some
	// consumer drives with a volatile write cache do: a power loss then
	// loses records that were acknowledged as synced. A correct RocksMQ
	// cannot keep its promises on such a disk; tests use it to show that
	// the checks notice.
	LyingSync bool
}

// Disk is what outlives a crash of the RocksMQ node: the write-ahead log of
// its RocksDB instances, as the operating system holds it. Records are
// written at the end of the log (Log.Write, Log.Commit) and become durable
// when a Commit written after them returns. A process crash loses
// nothing that was written (the operating system keeps it); a power loss
// (PowerLoss) may drop records that were written but not yet durable, only
// at the end of the log: what survives is always a prefix of what was
// written, as RocksDB's recovery of a WAL with a torn tail gives.
//
// Make the Disk outside the node and hand it to every incarnation: each
// opens it (Open) and gets a Log handle; opening fences the handles of every
// earlier incarnation, and so does a power loss, so that a goroutine of a
// crashed incarnation that still runs (real mode), or that escaped its
// node, cannot write. Such refused writes are remembered (Fenced). A Disk
// is safe for concurrent use.
type Disk struct {
	mu     harness.Mutex
	cfg    DiskConfig
	recs   []Record
	synced int // recs[:synced] are durable
	epoch  int // the epoch of the only handle allowed to write
	fenced []string
	armed  []*armed
}

// armed is a wait for a moment of the log's work (Arm).
type armed struct {
	op   RecordOp
	sync bool
	hit  *harness.Chan[struct{}]
}

// Log is one incarnation's handle on the Disk.
type Log struct {
	d     *Disk
	epoch int
	owner string // who opened it, for reports
}

// NewDisk returns an empty disk.
func NewDisk(cfg DiskConfig) *Disk {
	return &Disk{cfg: cfg}
}

// Open returns a new handle on the disk, for owner (a name for reports,
// "rmq incarnation 2"), and fences every earlier handle. What is on the
// disk when it is opened is durable from then on: recovery reads the log
// and flushes what it read, as RocksDB does by default.
func (d *Disk) Open(owner string) *Log {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epoch++
	d.synced = len(d.recs)
	return &Log{d: d, epoch: d.epoch, owner: owner}
}

// fence records a refused call of a stale handle. Under d.mu.
func (d *Disk) fence(l *Log, what string) error {
	d.fenced = append(d.fenced, fmt.Sprintf("%s: %s after the disk was reopened or lost power", l.owner, what))
	return fmt.Errorf("%s: %w", what, ErrFenced)
}

// Records returns what is on the disk: every record written and not lost,
// in order. It fails for a stale handle.
func (l *Log) Records() ([]Record, error) {
	d := l.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if l.epoch != d.epoch {
		return nil, d.fence(l, "read the log")
	}
	return cloneRecords(d.recs), nil
}

// Write appends r at the end of the log, not yet durable (a later Commit
// makes it durable). It fails, and writes nothing, for a stale handle.
func (l *Log) Write(r Record) error {
	d := l.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if l.epoch != d.epoch {
		return d.fence(l, "write "+r.String())
	}
	d.append(r)
	return nil
}

// append adds r at the end of the log. Under d.mu.
func (d *Disk) append(r Record) {
	r.Msgs = append([]Message(nil), r.Msgs...)
	d.recs = append(d.recs, r)
	d.fire(r.Op, false)
}

// fire signals, and disarms, the waits for a write (sync false) or for a
// Commit's sync to begin (sync true) of a record of kind op. Under d.mu.
func (d *Disk) fire(op RecordOp, sync bool) {
	keep := d.armed[:0]
	for _, a := range d.armed {
		if a.op == op && a.sync == sync {
			harness.Select(a.hit.SendCase(struct{}{}), harness.Default())
			continue
		}
		keep = append(keep, a)
	}
	clear(d.armed[len(keep):])
	d.armed = keep
}

// Commit writes r at the end of the log and syncs: once it returns nil
// (after DiskConfig.SyncDelay), r and every record written before it are
// durable. It fails for a stale handle, also when the disk lost power while
// it synced: then it made nothing durable.
func (l *Log) Commit(r Record) error {
	d := l.d
	d.mu.Lock()
	if l.epoch != d.epoch {
		err := d.fence(l, "write "+r.String())
		d.mu.Unlock()
		return err
	}
	d.append(r)
	upto := len(d.recs)
	d.fire(r.Op, true)
	d.mu.Unlock()
	if d.cfg.SyncDelay > 0 {
		harness.Sleep(d.cfg.SyncDelay)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if l.epoch != d.epoch {
		return d.fence(l, "finish a sync")
	}
	if !d.cfg.LyingSync {
		d.synced = max(d.synced, upto)
	}
	return nil
}

// PowerLoss is a power failure of the machine: every handle is fenced, and
// the last lose records that were written but are not durable are lost
// (all of them if fewer are not durable). It returns the records lost.
// Crash the node first: its goroutines must not write afterwards.
func (d *Disk) PowerLoss(lose int) []Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epoch++
	keep := max(d.synced, len(d.recs)-max(lose, 0))
	lost := cloneRecords(d.recs[keep:])
	clear(d.recs[keep:])
	d.recs = d.recs[:keep]
	return lost
}

// Records returns what is on the disk now, in order.
func (d *Disk) Records() []Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	return cloneRecords(d.recs)
}

// Fenced describes every call of a stale handle the disk refused, in order.
// On a deterministic World, where a crash stops every goroutine of the
// node, each is a goroutine that outlived its incarnation.
func (d *Disk) Fenced() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.fenced...)
}

// Arm returns a channel that receives once, at the next moment the log
// reaches, and a function that cancels the wait. The moment is the write of
// a record of kind op (sync false: it is in the log, not yet durable), or
// the start of the sync of a Commit of such a record (sync true: a
// Produce, Seek or Destroy waits for its record to become durable). A
// fault injector uses it to crash the node right there.
func (d *Disk) Arm(op RecordOp, sync bool) (hit *harness.Chan[struct{}], cancel func()) {
	a := &armed{op: op, sync: sync, hit: harness.NewChan[struct{}](1)}
	d.mu.Lock()
	d.armed = append(d.armed, a)
	d.mu.Unlock()
	return a.hit, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, b := range d.armed {
			if b == a {
				d.armed = append(d.armed[:i], d.armed[i+1:]...)
				return
			}
		}
	}
}

func cloneRecords(rs []Record) []Record {
	out := make([]Record, len(rs))
	for i, r := range rs {
		r.Msgs = append([]Message(nil), r.Msgs...)
		out[i] = r
	}
	return out
}
