package routingtable

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCodecRoundTrip: requests, responses and tables decode to what was
// encoded; every strict prefix of an encoding, and a byte more, is refused.
func TestCodecRoundTrip(t *testing.T) {
	m := Member{Name: "m1", Addr: "m1:3320", Birthdate: 1893456000000000123, ID: 0xfeedface}
	reqs := []request{
		{Cmd: cmdPing, From: m},
		{Cmd: cmdLeave, From: m, Subject: m},
		{Cmd: cmdUpdateRouting, From: m, Coordinator: m.ID, Version: Version{Epoch: m.Birthdate, Seq: 7}, Payload: []byte{1, 2, 3}},
		{Cmd: cmdLookup, Part: 270},
	}
	for _, req := range reqs {
		b := req.encode()
		got, err := decodeRequest(b)
		require.NoError(t, err)
		require.Equal(t, req, got)
		for n := range len(b) {
			_, err := decodeRequest(b[:n])
			require.Error(t, err, "%s: prefix of %d bytes", req.Cmd, n)
		}
		_, err = decodeRequest(append(b, 0))
		require.Error(t, err)
	}
	resps := []response{
		{},
		{Err: "routingtable: not joined yet"},
		{Members: []Member{m, {Name: "m2", ID: 2}}},
		{Lookup: &LookupResult{Member: "m1", MemberID: m.ID, Version: Version{Epoch: 1, Seq: 2}, Coordinator: 3, Owner: m}},
	}
	for _, resp := range resps {
		b := resp.encode()
		got, err := decodeResponse(b)
		require.NoError(t, err)
		require.Equal(t, resp, got)
		for n := range len(b) {
			_, err := decodeResponse(b[:n])
			require.Error(t, err, "prefix of %d bytes", n)
		}
		_, err = decodeResponse(append(b, 0))
		require.Error(t, err)
	}
	b, _, err := distribute([]Member{m, {Name: "m2", ID: 2}}, nil, 7, 2).encode()
	require.NoError(t, err)
	for n := range len(b) {
		_, err := decodeTable(b[:n])
		require.Error(t, err, "table prefix of %d bytes", n)
	}
}

// FuzzDecode: no input makes a decoder panic, and what a decoder accepts
// encodes to bytes that decode to the same value (not always the same
// bytes: a varint may be written longer than it needs).
func FuzzDecode(f *testing.F) {
	m := Member{Name: "m1", Addr: "m1:3320", Birthdate: 5, ID: 9}
	f.Add(request{Cmd: cmdUpdateRouting, From: m, Payload: []byte{1}}.encode())
	f.Add(response{Members: []Member{m}}.encode())
	tb, _, _ := distribute([]Member{m}, nil, 3, 1).encode()
	f.Add(tb)
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := decodeRequest(b); err == nil {
			again, err := decodeRequest(req.encode())
			require.NoError(t, err)
			require.Equal(t, req, again)
		}
		if resp, err := decodeResponse(b); err == nil {
			again, err := decodeResponse(resp.encode())
			require.NoError(t, err)
			require.Equal(t, resp, again)
		}
		if tbl, err := decodeTable(b); err == nil {
			_, _, err := tbl.encode()
			require.NoError(t, err)
		}
	})
}
