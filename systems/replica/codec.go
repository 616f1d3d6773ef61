package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// The wire format of msg: every field in a fixed order, integers as
// varints, strings and lists with their length first, a map as its entries
// in key order. It is a compact stand-in for Pegasus's thrift encoding,
// and cheap to run under the race detector (encoding/json's reflection
// was a quarter of a run's time there).

func encode(m *msg) []byte {
	b := make([]byte, 0, 64)
	b = appendString(b, m.Type)
	b = binary.AppendUvarint(b, m.Seq)
	for _, v := range []int64{int64(m.Part), m.Ballot, m.Decree, m.Delta, m.N, m.Sent, m.Boot, m.Version} {
		b = binary.AppendVarint(b, v)
	}
	for _, s := range []string{m.Op, m.Key, m.Value, m.Err, m.From, m.To} {
		b = appendString(b, s)
	}
	b = append(b, boolByte(m.Found)|boolByte(m.OK)<<1)
	b = binary.AppendUvarint(b, uint64(len(m.Config)))
	for _, pc := range m.Config {
		b = binary.AppendVarint(b, int64(pc.Index))
		b = binary.AppendVarint(b, pc.Ballot)
		b = appendString(b, pc.Primary)
		b = appendStrings(b, pc.Secondaries)
		b = appendStrings(b, pc.Learners)
		b = binary.AppendUvarint(b, uint64(len(pc.LearnerBoots)))
		for _, v := range pc.LearnerBoots {
			b = binary.AppendVarint(b, v)
		}
	}
	keys := make([]string, 0, len(m.Data))
	for k := range m.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, m.Data[k])
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// reader reads the wire format; the first error sticks.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("message cut short")

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length, at most what the rest of the message can hold.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errShort
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) strings() []string {
	n := r.count()
	var out []string
	for range n {
		out = append(out, r.string())
	}
	return out
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func decode(b []byte) (*msg, error) {
	r := &reader{b: b}
	m := &msg{Type: r.string(), Seq: r.uvarint()}
	part := r.varint()
	m.Part = int(part)
	for _, p := range []*int64{&m.Ballot, &m.Decree, &m.Delta, &m.N, &m.Sent, &m.Boot, &m.Version} {
		*p = r.varint()
	}
	for _, p := range []*string{&m.Op, &m.Key, &m.Value, &m.Err, &m.From, &m.To} {
		*p = r.string()
	}
	flags := r.byte()
	m.Found, m.OK = flags&1 != 0, flags&2 != 0
	for range r.count() {
		pc := PartitionConfig{Index: int(r.varint()), Ballot: r.varint(), Primary: r.string()}
		pc.Secondaries, pc.Learners = r.strings(), r.strings()
		for range r.count() {
			pc.LearnerBoots = append(pc.LearnerBoots, r.varint())
		}
		m.Config = append(m.Config, pc)
	}
	if n := r.count(); n > 0 {
		m.Data = make(map[string]string, n)
		for range n {
			k := r.string()
			m.Data[k] = r.string()
		}
	}
	switch {
	case r.err != nil:
		return nil, fmt.Errorf("replica: bad message: %w", r.err)
	case len(r.b) > 0:
		return nil, fmt.Errorf("replica: bad message: %d bytes left over", len(r.b))
	}
	return m, nil
}
