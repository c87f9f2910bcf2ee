package wal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record decoder, which reads
// whatever is on disk: it must never panic, and whatever it accepts must
// encode back to the same bytes. The bytes are also tried with their
// checksum made right, so that the fuzzer reaches the checks behind it, and
// scanned as the last segment of a log, as recovery reads one.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, &consensus.Entry{Index: 1, Term: 1, Data: []byte("set k v")}))
	f.Add(appendRecord(nil, &consensus.Entry{Index: 7, Term: 2, Type: consensus.EntryConfChange}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		checkRecord(t, rec)
		if len(rec) >= 4 {
			fixed := bytes.Clone(rec)
			binary.LittleEndian.PutUint32(fixed, crc32.Checksum(fixed[4:], castagnoli))
			checkRecord(t, fixed)
		}
		for _, last := range []bool{false, true} {
			end, n, err := scanSegment("fuzz", rec, 1, last)
			if err != nil {
				continue
			}
			if end < 0 || end > len(rec) || (!last && end != len(rec)) {
				t.Fatalf("scanSegment(last=%v) = end %d of %d bytes", last, end, len(rec))
			}
			// What recovery keeps scans again as whole.
			if end2, n2, err := scanSegment("fuzz", rec[:end], 1, false); err != nil || end2 != end || n2 != n {
				t.Fatalf("rescanning the kept %d bytes: end %d, n %d, %v; want %d, %d", end, end2, n2, err, end, n)
			}
		}
	})
}

func checkRecord(t *testing.T, rec []byte) {
	t.Helper()
	e, err := decodeRecord(rec)
	if err != nil {
		return
	}
	if again := appendRecord(nil, &e); !bytes.Equal(again, rec) {
		t.Fatalf("decoded %+v re-encodes as %x, was %x", e, again, rec)
	}
}
