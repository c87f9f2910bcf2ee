package wal

import (
	"bytes"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record decoder, which reads
// whatever is on disk: it must never panic, and whatever it accepts must
// encode back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, &consensus.Entry{Index: 1, Term: 1, Data: []byte("set k v")}))
	f.Add(appendRecord(nil, &consensus.Entry{Index: 7, Term: 2, Type: consensus.EntryConfChange}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		e, err := decodeRecord(rec)
		if err != nil {
			return
		}
		if again := appendRecord(nil, &e); !bytes.Equal(again, rec) {
			t.Fatalf("decoded %+v re-encodes as %x, was %x", e, again, rec)
		}
	})
}
