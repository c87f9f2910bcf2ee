package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// sampleMessages covers every field of consensus.Message, alone and
// together. Empty slices are nil, as DecodeMessage returns them.
func sampleMessages() []struct {
	name string
	m    consensus.Message
} {
	return []struct {
		name string
		m    consensus.Message
	}{
		{"zero", consensus.Message{}},
		{"heartbeat", consensus.Message{Group: 1, Type: consensus.MsgHeartbeat, From: 1, To: 2, Term: 7, Commit: 42, Context: []byte("read-17")}},
		{"app", consensus.Message{
			Group: 1, Type: consensus.MsgApp, From: 1, To: 3, Term: 9, LogTerm: 8, Index: 100, Commit: 99,
			Entries: []consensus.Entry{
				{Term: 9, Index: 101},
				{Term: 9, Index: 102, Type: consensus.EntryNormal, Data: []byte("SET k v")},
				{Term: 9, Index: 103, Type: consensus.EntryConfChange, Data: consensus.ConfChange{Type: consensus.ConfAddLearner, Node: 4, Context: []byte("127.0.0.1:7004")}.Marshal()},
			},
		}},
		{"app resp reject", consensus.Message{Group: 1, Type: consensus.MsgAppResp, From: 3, To: 1, Term: 9, Index: 100, Reject: true, RejectHint: 57, HintTerm: 6}},
		{"vote", consensus.Message{Group: 1, Type: consensus.MsgPreVote, From: 2, To: 1, Term: 10, LogTerm: 9, Index: 103, Context: []byte{1}}},
		{"snap", consensus.Message{
			Group: 1, Type: consensus.MsgSnap, From: 1, To: 4, Term: 9,
			Snapshot:   &consensus.SnapshotMeta{Index: 5000, Term: 8, Conf: consensus.ConfState{Voters: []consensus.NodeID{1, 2, 3}, Learners: []consensus.NodeID{4}}},
			SnapOffset: 1 << 20, SnapData: bytes.Repeat([]byte{0xAB}, 300), SnapDone: true,
		}},
		{"snap empty conf", consensus.Message{Group: 1, Type: consensus.MsgSnap, From: 1, To: 4, Snapshot: &consensus.SnapshotMeta{Index: 1, Term: 1}}},
		{"snap resp", consensus.Message{Group: 1, Type: consensus.MsgSnapResp, From: 4, To: 1, Term: 9, Index: 1 << 21}},
		{"max values", consensus.Message{
			Group: ^consensus.GroupID(0), Type: consensus.MsgReadIndexResp, From: ^consensus.NodeID(0), To: ^consensus.NodeID(0),
			Term: ^uint64(0), LogTerm: ^uint64(0), Index: ^uint64(0), Commit: ^uint64(0), Reject: true,
			RejectHint: ^uint64(0), HintTerm: ^uint64(0), Context: []byte{0}, SnapOffset: ^uint64(0), SnapData: []byte{0}, SnapDone: true,
			Entries:  []consensus.Entry{{Term: ^uint64(0), Index: ^uint64(0), Type: consensus.EntryConfChange, Data: []byte{0xff}}},
			Snapshot: &consensus.SnapshotMeta{Index: ^uint64(0), Term: ^uint64(0), Conf: consensus.ConfState{Voters: []consensus.NodeID{^consensus.NodeID(0)}, Learners: []consensus.NodeID{^consensus.NodeID(0)}}},
		}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, tt := range sampleMessages() {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeMessage(nil, &tt.m)
			got, err := DecodeMessage(b)
			if err != nil {
				t.Fatalf("DecodeMessage: %v", err)
			}
			if !reflect.DeepEqual(got, tt.m) {
				t.Fatalf("round trip:\n got  %#v\n want %#v", got, tt.m)
			}
			// Appending must not disturb what b already holds.
			prefix := []byte("xyz")
			if b2 := EncodeMessage(prefix, &tt.m); !bytes.Equal(b2[:3], prefix) || !bytes.Equal(b2[3:], b) {
				t.Fatalf("EncodeMessage with a prefix wrote %x, want xyz+%x", b2, b)
			}
		})
	}
}

// TestDecodeTruncated cuts every sample at every length short of its end.
func TestDecodeTruncated(t *testing.T) {
	for _, tt := range sampleMessages() {
		b := EncodeMessage(nil, &tt.m)
		for n := range len(b) {
			if _, err := DecodeMessage(b[:n]); !errors.Is(err, ErrTruncated) {
				t.Errorf("%s: DecodeMessage(first %d of %d bytes) = %v, want ErrTruncated", tt.name, n, len(b), err)
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := EncodeMessage(nil, &consensus.Message{Type: consensus.MsgApp, Entries: []consensus.Entry{{Data: []byte("x")}}})
	// header is type, flags and the ten integer fields, all zero here.
	header := append([]byte{byte(consensus.MsgApp), 0}, make([]byte, 10)...)
	withTail := func(tail ...byte) []byte { return append(append([]byte(nil), header...), tail...) }
	hugeVarint := binary.AppendUvarint(nil, 1<<62)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"unknown type", append([]byte{200, 0}, valid[2:]...), ErrUnknownType},
		{"first unknown type", append([]byte{byte(consensus.MsgReadIndexResp) + 1, 0}, valid[2:]...), ErrUnknownType},
		{"unknown flag", append([]byte{valid[0], 0x80}, valid[2:]...), ErrCorrupt},
		{"trailing byte", append(append([]byte(nil), valid...), 0), ErrTrailingBytes},
		{"varint overflow", append([]byte{byte(consensus.MsgApp), 0}, append(bytes.Repeat([]byte{0xff}, 9), 0x7f)...), ErrCorrupt},
		{"huge context length", withTail(append(hugeVarint, 1, 2, 3)...), ErrTruncated},
		{"context longer than input", withTail(5, 1, 2, 3), ErrTruncated},
		{"huge entry count", withTail(append([]byte{0}, hugeVarint...)...), ErrTruncated},
		{"entry count beyond input", withTail(0, 3, 1, 1, 0, 0, 1, 1, 0, 0), ErrTruncated},
		{"unknown entry type", withTail(0, 1, 1, 1, 9, 0, 0), ErrCorrupt},
		{"huge voter count", append(append([]byte{byte(consensus.MsgSnap), flagSnapshot}, make([]byte, 14)...), append(hugeVarint, 0, 0)...), ErrTruncated},
		{"huge snap data length", withTail(append([]byte{0, 0}, hugeVarint...)...), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeMessage(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("DecodeMessage(%x) = %v, want %v", tt.b, err, tt.want)
			}
		})
	}
}

// TestDecodeDoesNotOverAllocate checks that a forged entry count cannot
// make the decoder allocate beyond what the input's size justifies.
func TestDecodeDoesNotOverAllocate(t *testing.T) {
	b := append([]byte{byte(consensus.MsgApp), 0}, make([]byte, 11)...) // header, empty context
	b = binary.AppendUvarint(b, 1<<20)                                  // a million entries...
	b = append(b, make([]byte, 64)...)                                  // ...in 64 bytes
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := DecodeMessage(b); !errors.Is(err, ErrTruncated) {
			t.Fatalf("DecodeMessage = %v, want ErrTruncated", err)
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
		t.Fatalf("DecodeMessage of a forged count allocated %d bytes per call", perRun)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, tt := range sampleMessages() {
		f.Add(EncodeMessage(nil, &tt.m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		b2 := EncodeMessage(nil, &m)
		m2, err := DecodeMessage(b2)
		if err != nil {
			t.Fatalf("re-decoding %x: %v", b2, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoding changed the message:\n first  %#v\n second %#v", m, m2)
		}
	})
}

func BenchmarkEncodeDecodeMsgApp(b *testing.B) {
	m := consensus.Message{Group: 1, Type: consensus.MsgApp, From: 1, To: 2, Term: 5, LogTerm: 5, Index: 1000, Commit: 990}
	for i := range 64 {
		m.Entries = append(m.Entries, consensus.Entry{Term: 5, Index: uint64(1001 + i), Data: bytes.Repeat([]byte{'v'}, 100)})
	}
	buf := EncodeMessage(nil, &m)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeMessage(buf[:0], &m)
		if _, err := DecodeMessage(buf); err != nil {
			b.Fatal(err)
		}
	}
}
