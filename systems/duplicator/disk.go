package duplicator

import (
	"errors"

	"github.com/heddle-go/heddle/harness"
)

// ErrFenced is returned to a crashed incarnation of the primary that still
// writes (real mode: its goroutines run until they notice the crash) once a
// newer incarnation has opened the disk.
var ErrFenced = errors.New("duplicator: disk opened by a newer incarnation")

// Disk is what outlives a crash of the primary: each partition's private
// log, and the confirmed decree the meta server keeps for its duplication.
// Make it outside the primary's node and hand the same Disk to every
// incarnation. A Disk is safe for concurrent use.
type Disk struct {
	mu        harness.Mutex
	owner     int // the incarnation that opened it last
	logs      [][]Mutation
	confirmed []int64
}

// NewDisk returns empty storage for partitions partitions.
func NewDisk(partitions int) *Disk {
	return &Disk{logs: make([][]Mutation, partitions), confirmed: make([]int64, partitions)}
}

// Partitions returns the number of partitions.
func (d *Disk) Partitions() int { return len(d.logs) }

// open makes incarnation the disk's owner: writes of older ones fail.
func (d *Disk) open(incarnation int) {
	d.mu.Lock()
	d.owner = max(d.owner, incarnation)
	d.mu.Unlock()
}

// append writes m at the end of partition p's private log for incarnation.
// Mutations reach the log in decree order (the replica prepares and appends
// under its lock).
func (d *Disk) append(p, incarnation int, m Mutation) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if incarnation < d.owner {
		return ErrFenced
	}
	d.logs[p] = append(d.logs[p], m)
	return nil
}

// Log returns a copy of partition p's private log.
func (d *Disk) Log(p int) []Mutation {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Mutation(nil), d.logs[p]...)
}

// ReadFrom returns the mutations of partition p's private log with decree
// >= from, in decree order.
func (d *Disk) ReadFrom(p int, from int64) []Mutation {
	d.mu.Lock()
	defer d.mu.Unlock()
	log := d.logs[p]
	i := len(log)
	for i > 0 && log[i-1].Decree >= from {
		i--
	}
	return append([]Mutation(nil), log[i:]...)
}

// MaxDecreeOnDisk is the largest decree in partition p's private log.
func (d *Disk) MaxDecreeOnDisk(p int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.logs[p]); n > 0 {
		return d.logs[p][n-1].Decree
	}
	return 0
}

// MaxCommitOnDisk is the largest last_committed_decree that a mutation in
// partition p's private log carries: the last decree the log itself shows
// as committed.
func (d *Disk) MaxCommitOnDisk(p int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var c int64
	for _, m := range d.logs[p] {
		c = max(c, m.LastCommitted)
	}
	return c
}

// Confirmed returns the confirmed decree of partition p's duplication.
func (d *Disk) Confirmed(p int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.confirmed[p]
}

// setConfirmed persists c as partition p's confirmed decree for
// incarnation.
func (d *Disk) setConfirmed(p, incarnation int, c int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if incarnation < d.owner {
		return ErrFenced
	}
	d.confirmed[p] = c
	return nil
}
