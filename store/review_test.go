package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
)

// A record that claims a length far beyond the bytes that follow must fail
// without allocating what it claims: a corrupt or hostile snapshot of a few
// bytes must not cost hundreds of megabytes.
func TestRestoreCorruptLengthDoesNotAllocate(t *testing.T) {
	snap := []byte(snapMagic)
	snap = binary.LittleEndian.AppendUint64(snap, 1) // clock
	snap = binary.LittleEndian.AppendUint64(snap, 1) // seq
	snap = binary.LittleEndian.AppendUint64(snap, 1) // one record
	snap = append(snap, make([]byte, deletedBuckets)...)
	for _, k := range []kind{kindString, kindList} {
		rec := append(bytes.Clone(snap), byte(k), 1, 'k', 0, 0)
		if k != kindString {
			rec = append(rec, 1) // one element
		}
		rec = binary.AppendUvarint(rec, maxBulk-1)
		rec = append(rec, "only a few bytes"...)

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := New().Restore(bytes.NewReader(rec))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: err = %v, want ErrCorrupt", k, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Fatalf("%s: restoring %d bytes allocated %d MB", k, len(rec), grew>>20)
		}
	}
}
