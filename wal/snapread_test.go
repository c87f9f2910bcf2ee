package wal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// snapData returns size bytes that differ from one seed to another.
func snapData(size int, seed uint64) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// createSnapshot takes a snapshot of data at index i of l.
func createSnapshot(t *testing.T, l *Log, i uint64, data []byte) {
	t.Helper()
	if err := l.CreateSnapshot(i, consensus.ConfState{Voters: []consensus.NodeID{1}}, consensus.SnapshotBytes(data)); err != nil {
		t.Fatalf("CreateSnapshot(%d): %v", i, err)
	}
}

// readAll reads snapshot index of l in chunks of chunk bytes.
func readAll(l *Log, index, size uint64, chunk int) ([]byte, error) {
	var out []byte
	for off := uint64(0); off < size; {
		buf := make([]byte, min(uint64(chunk), size-off))
		if err := l.ReadSnapshotChunk(index, off, buf); err != nil {
			return nil, err
		}
		out = append(out, buf...)
		off += uint64(len(buf))
	}
	return out, nil
}

// TestReadSnapshotChunk reads a snapshot of a few MiB in chunks, after it
// was taken and after a restart, and refuses reads past its end.
func TestReadSnapshotChunk(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	if err := l.Save(consensus.HardState{}, ents(1, 10, 1), nil); err != nil {
		t.Fatal(err)
	}
	data := snapData(3<<20+17, 1)
	createSnapshot(t, l, 8, data)
	for _, reopen := range []bool{false, true} {
		if reopen {
			l.Close()
			l = openT(t, dir, Options{})
		}
		meta, size, err := l.SnapshotMeta()
		if err != nil || meta.Index != 8 || meta.Term != 1 || size != uint64(len(data)) {
			t.Fatalf("reopened %v: SnapshotMeta = %+v, %d, %v; want index 8 term 1 and %d bytes", reopen, meta, size, err, len(data))
		}
		got, err := readAll(l, 8, size, 1<<20)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("reopened %v: read %d bytes, %v; want the %d written", reopen, len(got), err, len(data))
		}
		if err := l.ReadSnapshotChunk(8, size-4, make([]byte, 5)); err == nil {
			t.Fatalf("reopened %v: a read past the end succeeded", reopen)
		}
	}
	l.Close()
	if err := l.ReadSnapshotChunk(8, 0, make([]byte, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadSnapshotChunk after Close = %v, want ErrClosed", err)
	}
}

// TestReadSnapshotChunkReplaced: a snapshot whose chunks are being read
// stays readable once a newer one replaces it (and removes its file),
// until chunks of two newer snapshots have been read; one never read
// before it was replaced is out of date at once, as is one a leader's
// snapshot replaced.
func TestReadSnapshotChunkReplaced(t *testing.T) {
	l := openT(t, t.TempDir(), Options{})
	defer l.Close()
	if err := l.Save(consensus.HardState{}, ents(1, 10, 1), nil); err != nil {
		t.Fatal(err)
	}
	old := snapData(100, 1)
	createSnapshot(t, l, 4, old)
	buf := make([]byte, 50)
	if err := l.ReadSnapshotChunk(4, 0, buf); err != nil || !bytes.Equal(buf, old[:50]) {
		t.Fatalf("first chunk of 4: %v", err)
	}
	createSnapshot(t, l, 5, snapData(100, 2))
	if _, err := os.Stat(filepath.Join(l.dir, snapName(4))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("snapshot 4's file is still there (%v): the test does not cover a removed file", err)
	}
	if err := l.ReadSnapshotChunk(4, 50, buf); err != nil || !bytes.Equal(buf, old[50:]) {
		t.Fatalf("second chunk of 4 after snapshot 5 replaced it: %v", err)
	}
	createSnapshot(t, l, 6, snapData(100, 3))
	if err := l.ReadSnapshotChunk(5, 0, buf); !errors.Is(err, consensus.ErrSnapOutOfDate) {
		t.Fatalf("snapshot 5, replaced before it was read: %v, want ErrSnapOutOfDate", err)
	}
	if err := l.ReadSnapshotChunk(6, 0, buf); err != nil {
		t.Fatalf("snapshot 6: %v", err)
	}
	if err := l.ReadSnapshotChunk(4, 0, buf); err != nil {
		t.Fatalf("snapshot 4, open with 6: %v", err)
	}
	createSnapshot(t, l, 7, snapData(100, 4))
	if err := l.ReadSnapshotChunk(7, 0, buf); err != nil {
		t.Fatalf("snapshot 7: %v", err)
	}
	if err := l.ReadSnapshotChunk(4, 0, buf); !errors.Is(err, consensus.ErrSnapOutOfDate) {
		t.Fatalf("snapshot 4 with 6 and 7 read since: %v, want ErrSnapOutOfDate", err)
	}
	if err := l.ReadSnapshotChunk(6, 0, buf); err != nil {
		t.Fatalf("snapshot 6, open with 7: %v", err)
	}
	leader := snapAt(20, 2)
	if err := l.Save(consensus.HardState{Term: 2, Commit: 20}, nil, leader); err != nil {
		t.Fatal(err)
	}
	if err := l.ReadSnapshotChunk(19, 0, buf); !errors.Is(err, consensus.ErrSnapOutOfDate) {
		t.Fatalf("snapshot 19, which never existed: %v, want ErrSnapOutOfDate", err)
	}
	got := make([]byte, len(leader.Data))
	if err := l.ReadSnapshotChunk(20, 0, got); err != nil || !bytes.Equal(got, leader.Data) {
		t.Fatalf("the leader's snapshot: %q, %v; want %q", got, err, leader.Data)
	}
}

// TestReadSnapshotChunkCorrupt: the first read of a snapshot checks its
// whole file, so damage anywhere in it, data or header, is a CorruptError
// naming the file, even where the chunk asked for is intact.
func TestReadSnapshotChunkCorrupt(t *testing.T) {
	data := snapData(2<<20, 5)
	for _, tt := range []struct {
		name string
		at   int // from the end of the file when negative
	}{
		{"magic", 0},
		{"checksum", len(snapMagic)},
		{"meta length", len(snapMagic) + 4},
		{"index", snapHeaderSize},
		{"first data byte", -len(data)},
		{"last data byte", -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := openT(t, t.TempDir(), Options{})
			defer l.Close()
			if err := l.Save(consensus.HardState{}, ents(1, 5, 1), nil); err != nil {
				t.Fatal(err)
			}
			createSnapshot(t, l, 3, data)
			path := filepath.Join(l.dir, snapName(3))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			at := tt.at
			if at < 0 {
				at += len(b)
			}
			b[at] ^= 1
			if err := os.WriteFile(path, b, 0o640); err != nil {
				t.Fatal(err)
			}
			// The chunk read is at the other end of the data from the
			// damage where the damage is in the data.
			off := uint64(0)
			if tt.at == -len(data) {
				off = uint64(len(data)) - 10
			}
			err = l.ReadSnapshotChunk(3, off, make([]byte, 10))
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != path || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadSnapshotChunk of a damaged file = %v; want a CorruptError naming %s", err, path)
			}
		})
	}
}
