package routingtable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
)

// Version orders the tables a cluster pushes: Epoch is the pushing
// coordinator's birth date (a new coordinator is always younger than the one
// it replaces), Seq counts its pushes. It travels beside the signed payload.
type Version struct {
	Epoch int64
	Seq   int64
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Epoch != w.Epoch {
		return v.Epoch < w.Epoch
	}
	return v.Seq < w.Seq
}

// IsZero reports whether v is the version of no table.
func (v Version) IsZero() bool { return v == Version{} }

// String returns "epoch.seq".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Epoch, v.Seq) }

// Table is a partition table: for each partition, its owners (the last one
// is the primary owner) and its backups, as indexes into Members.
type Table struct {
	Members []Member
	Owners  [][]int
	Backups [][]int
}

// Owner returns the primary owner of partition part (zero if none).
func (t *Table) Owner(part int) Member {
	if part < 0 || part >= len(t.Owners) || len(t.Owners[part]) == 0 {
		return Member{}
	}
	return t.Members[t.Owners[part][len(t.Owners[part])-1]]
}

// encode returns the table's payload and its signature. The payload is the
// members (see codec.go) and then, per partition, the count and indexes of
// its owners and of its backups, one byte each (a member index fits: the
// encoding refuses more than 255 members).
func (t *Table) encode() ([]byte, uint64, error) {
	if len(t.Members) > 255 {
		return nil, 0, fmt.Errorf("routingtable: %d members do not fit the table encoding", len(t.Members))
	}
	ms := appendMembers(nil, t.Members)
	b := binary.AppendUvarint(nil, uint64(len(ms)))
	b = append(b, ms...)
	b = binary.AppendUvarint(b, uint64(len(t.Owners)))
	for part := range t.Owners {
		for _, list := range [][]int{t.Owners[part], t.Backups[part]} {
			b = append(b, byte(len(list)))
			for _, i := range list {
				b = append(b, byte(i))
			}
		}
	}
	return b, signatureOf(b), nil
}

// decodeTable reads a payload made by encode.
func decodeTable(b []byte) (*Table, error) {
	bad := errors.New("routingtable: malformed table payload")
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, bad
	}
	t := &Table{}
	mr := &reader{b: b[k : k+int(n)]}
	t.Members = mr.members()
	if err := mr.end(); err != nil {
		return nil, err
	}
	b = b[k+int(n):]
	parts, k := binary.Uvarint(b)
	if k <= 0 || parts > uint64(len(b)) {
		return nil, bad
	}
	b = b[k:]
	t.Owners, t.Backups = make([][]int, parts), make([][]int, parts)
	for part := range t.Owners {
		for _, list := range []*[]int{&t.Owners[part], &t.Backups[part]} {
			if len(b) == 0 || len(b) < 1+int(b[0]) {
				return nil, bad
			}
			l := make([]int, b[0])
			for i := range l {
				if int(b[1+i]) >= len(t.Members) {
					return nil, bad
				}
				l[i] = int(b[1+i])
			}
			*list, b = l, b[1+len(l):]
		}
	}
	if len(b) != 0 {
		return nil, bad
	}
	return t, nil
}

// signatureOf is the hash of a payload (Olric uses xxhash).
func signatureOf(payload []byte) uint64 {
	h := fnv.New64a()
	h.Write(payload)
	return h.Sum64()
}

// weight is a member's rendezvous-hash weight for a partition, given the
// hash of its name: the member with the highest weight owns the partition.
// (Olric uses a consistent hash ring with bounded loads; any balanced
// deterministic placement will do here.)
func weight(nameHash uint64, part int) uint64 {
	x := nameHash ^ (uint64(part+1) * 0x9e3779b97f4a7c15)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// distribute computes the table for members (sorted by name), given the
// previous one: a partition's primary owner is the member of highest weight;
// the previous primary, if still a member and not the new one, is kept
// before it; the backups are the next replicas-1 members by weight.
func distribute(members []Member, prev *Table, partitions, replicas int) *Table {
	members = append([]Member(nil), members...)
	sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })
	index := map[uint64]int{}
	for i, m := range members {
		index[m.ID] = i
	}
	t := &Table{Members: members, Owners: make([][]int, partitions), Backups: make([][]int, partitions)}
	if len(members) == 0 {
		return t
	}
	hashes := make([]uint64, len(members))
	for i, m := range members {
		hashes[i] = nameHash(m.Name)
	}
	ranked := make([]int, len(members))
	weights := make([]uint64, len(members))
	for part := 0; part < partitions; part++ {
		for i := range ranked {
			ranked[i] = i
			weights[i] = weight(hashes[i], part)
		}
		sort.Slice(ranked, func(i, j int) bool {
			wi, wj := weights[ranked[i]], weights[ranked[j]]
			if wi != wj {
				return wi > wj
			}
			return ranked[i] < ranked[j]
		})
		owner := ranked[0]
		var owners []int
		if prev != nil {
			if p := prev.Owner(part); p.ID != 0 {
				if i, ok := index[p.ID]; ok && i != owner {
					owners = append(owners, i)
				}
			}
		}
		t.Owners[part] = append(owners, owner)
		for _, i := range ranked[1:] {
			if len(t.Backups[part]) >= replicas-1 {
				break
			}
			t.Backups[part] = append(t.Backups[part], i)
		}
	}
	return t
}
