package routingtable

import (
	"encoding/binary"
	"errors"
)

// The wire format of requests, responses and table payloads: fields in a
// fixed order, integers as varints, strings and byte slices prefixed with
// their length. (Olric speaks RESP and encodes its table with msgpack; any
// deterministic encoding serves here, and this one costs far less than
// JSON's reflection, which matters when every step of a run is
// instrumented by the race detector.)

// errMalformed: a message or payload that does not decode.
var errMalformed = errors.New("routingtable: malformed message")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMember(b []byte, m Member) []byte {
	b = appendString(b, m.Name)
	b = appendString(b, m.Addr)
	b = binary.AppendVarint(b, m.Birthdate)
	return binary.AppendUvarint(b, m.ID)
}

func appendMembers(b []byte, ms []Member) []byte {
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		b = appendMember(b, m)
	}
	return b
}

// reader reads what the append functions wrote; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errMalformed
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
		r.err = errMalformed
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errMalformed
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) member() Member {
	return Member{Name: r.string(), Addr: r.string(), Birthdate: r.varint(), ID: r.uvarint()}
}

// count reads a length that must leave at least min bytes per element.
func (r *reader) count(min int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.err = errMalformed
		return 0
	}
	return int(n)
}

func (r *reader) members() []Member {
	n := r.count(4)
	if n == 0 {
		return nil
	}
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = r.member()
	}
	return ms
}

// end reports the reader's error, or one if bytes are left over.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errMalformed
	}
	return r.err
}

func (req request) encode() []byte {
	b := appendString(nil, req.Cmd)
	b = appendMember(b, req.From)
	b = appendMember(b, req.Subject)
	b = binary.AppendUvarint(b, req.Coordinator)
	b = binary.AppendVarint(b, req.Version.Epoch)
	b = binary.AppendVarint(b, req.Version.Seq)
	b = binary.AppendUvarint(b, uint64(len(req.Payload)))
	b = append(b, req.Payload...)
	return binary.AppendVarint(b, int64(req.Part))
}

func decodeRequest(b []byte) (request, error) {
	r := &reader{b: b}
	req := request{Cmd: r.string(), From: r.member(), Subject: r.member(), Coordinator: r.uvarint()}
	req.Version = Version{Epoch: r.varint(), Seq: r.varint()}
	if p := r.bytes(); len(p) > 0 {
		req.Payload = p
	}
	req.Part = int(r.varint())
	return req, r.end()
}

func (resp response) encode() []byte {
	b := appendString(nil, resp.Err)
	b = appendMembers(b, resp.Members)
	if resp.Lookup == nil {
		return append(b, 0)
	}
	l := resp.Lookup
	b = append(b, 1)
	b = appendString(b, l.Member)
	b = binary.AppendUvarint(b, l.MemberID)
	b = binary.AppendVarint(b, l.Version.Epoch)
	b = binary.AppendVarint(b, l.Version.Seq)
	b = binary.AppendUvarint(b, l.Coordinator)
	return appendMember(b, l.Owner)
}

func decodeResponse(b []byte) (response, error) {
	r := &reader{b: b}
	resp := response{Err: r.string(), Members: r.members()}
	if r.err == nil && len(r.b) > 0 && r.b[0] == 1 {
		r.b = r.b[1:]
		l := &LookupResult{Member: r.string(), MemberID: r.uvarint()}
		l.Version = Version{Epoch: r.varint(), Seq: r.varint()}
		l.Coordinator, l.Owner = r.uvarint(), r.member()
		resp.Lookup = l
	} else if r.err == nil && len(r.b) > 0 && r.b[0] == 0 {
		r.b = r.b[1:]
	} else if r.err == nil {
		r.err = errMalformed
	}
	return resp, r.end()
}
