package wal

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// segmentsOf lists the segment files of the log in dir.
func segmentsOf(t *testing.T, dir string) []segment {
	t.Helper()
	segs, err := listSegments(filepath.Join(dir, logDirName))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// recordOffsets returns the byte offset of each record in a segment file.
func recordOffsets(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 0; off < len(data); {
		_, n, ok := nextFrame(data[off:])
		if !ok {
			t.Fatalf("%s: bad frame at %d", path, off)
		}
		offs = append(offs, off)
		off += n
	}
	return offs
}

// wantEntries checks that the log in dir holds exactly want.
func wantEntries(t *testing.T, l *Log, want []consensus.Entry) {
	t.Helper()
	last, err := l.LastIndex()
	if err != nil || last != want[len(want)-1].Index {
		t.Fatalf("LastIndex = %d, %v; want %d", last, err, want[len(want)-1].Index)
	}
	got, err := l.Entries(want[0].Index, last+1, ^uint64(0))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Entries = %v, %v\nwant %v", got, err, want)
	}
}

// capture returns a logger that records what it logs.
func capture() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// TestTornTailEveryOffset cuts the last segment at every byte offset of its
// last record: Open must drop that record, keep the rest and log a warning.
func TestTornTailEveryOffset(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	all := ents(1, 10, 1)
	for i := range all {
		if err := l.Save(consensus.HardState{Term: 1, Commit: uint64(i)}, all[i:i+1], nil); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	segs := segmentsOf(t, dir)
	path := segs[len(segs)-1].path
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(t, path)
	start := offs[len(offs)-1]
	for cut := start; cut < len(whole); cut++ {
		if err := os.WriteFile(path, whole[:cut], 0o640); err != nil {
			t.Fatal(err)
		}
		logger, logged := capture()
		l := openT(t, dir, Options{Logger: logger})
		wantEntries(t, l, all[:9])
		if torn := strings.Contains(logged.String(), "torn tail"); torn != (cut > start) {
			t.Fatalf("cut at %d: warning logged = %v:\n%s", cut, torn, logged)
		}
		if hs, _, _ := l.InitialState(); hs.Commit != 9 {
			t.Fatalf("cut at %d: hard state %v", cut, hs)
		}
		// The log goes on from the cut.
		if err := l.Save(consensus.HardState{}, all[9:], nil); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l = openT(t, dir, Options{})
		wantEntries(t, l, all)
		l.Close()
	}
}

// TestZeroFilledTail appends zeros to the last segment, as a file system
// that extended the file but did not write the data leaves it.
func TestZeroFilledTail(t *testing.T) {
	for _, n := range []int{1, 7, 4096} {
		dir := t.TempDir()
		l := openT(t, dir, Options{})
		all := ents(1, 20, 1)
		if err := l.Save(consensus.HardState{}, all, nil); err != nil {
			t.Fatal(err)
		}
		l.Close()
		segs := segmentsOf(t, dir)
		path := segs[len(segs)-1].path
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		if _, err := f.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		logger, logged := capture()
		l = openT(t, dir, Options{Logger: logger})
		wantEntries(t, l, all)
		if !strings.Contains(logged.String(), "torn tail") {
			t.Fatalf("%d zeros: no warning logged", n)
		}
		if after, _ := os.Stat(path); after.Size() != fi.Size() {
			t.Fatalf("%d zeros: segment is %d bytes, want %d", n, after.Size(), fi.Size())
		}
		l.Close()
	}
}

// flipEveryByte flips a bit in each byte of record k of the segment at path
// in turn and checks that Open fails naming that file and the record's
// offset.
func flipEveryByte(t *testing.T, dir, path string, k int) {
	t.Helper()
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(t, path)
	for b := offs[k]; b < offs[k+1]; b++ {
		bad := bytes.Clone(whole)
		bad[b] ^= 0x10
		if err := os.WriteFile(path, bad, 0o640); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{Logger: quiet})
		if err == nil {
			l.Close()
			t.Fatalf("Open succeeded with byte %d of %s flipped", b, path)
		}
		var ce *CorruptError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Path != path || ce.Offset != int64(offs[k]) {
			t.Fatalf("byte %d flipped: Open = %v; want a CorruptError for %s at %d", b, err, path, offs[k])
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q does not name %s", err, path)
		}
	}
	if err := os.WriteFile(path, whole, 0o640); err != nil {
		t.Fatal(err)
	}
}

// TestBitFlipInMiddleSegment damages a record of a segment that is not the
// last: that can never be a torn write.
func TestBitFlipInMiddleSegment(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 400})
	all := ents(1, 60, 1)
	if err := l.Save(consensus.HardState{}, all, nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	segs := segmentsOf(t, dir)
	if len(segs) < 3 {
		t.Fatalf("want at least 3 segments, have %d", len(segs))
	}
	mid := segs[len(segs)/2].path
	flipEveryByte(t, dir, mid, 2)
	l = openT(t, dir, Options{})
	wantEntries(t, l, all)
	l.Close()
}

// TestBitFlipInLastSegment damages a record in the middle of the last
// segment, followed by good records: not a torn write either.
func TestBitFlipInLastSegment(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	all := ents(1, 10, 1)
	if err := l.Save(consensus.HardState{}, all, nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	segs := segmentsOf(t, dir)
	flipEveryByte(t, dir, segs[len(segs)-1].path, 4)
}

// TestCorruptionFoundOnRead damages a record after Open and checks that the
// read reports the file and offset.
func TestCorruptionFoundOnRead(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 400, CacheSize: 1})
	defer l.Close()
	if err := l.Save(consensus.HardState{}, ents(1, 60, 1), nil); err != nil {
		t.Fatal(err)
	}
	seg := segmentsOf(t, dir)[1]
	data, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(t, seg.path)
	data[offs[1]+5] ^= 1
	if err := os.WriteFile(seg.path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = l.Term(seg.index + 1)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != seg.path || ce.Offset != int64(offs[1]) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Term of a damaged record = %v; want CorruptError at %s:%d", err, seg.path, offs[1])
	}
}

// TestCrashDuringRollover leaves the new segment of a rollover empty or
// with part of its first record.
func TestCrashDuringRollover(t *testing.T) {
	all := ents(1, 30, 1)
	next := consensus.Entry{Index: 31, Term: 1, Data: []byte("next")}
	rec := appendRecord(nil, &next)
	frame := append([]byte{byte(len(rec))}, rec...)
	for _, tail := range [][]byte{nil, frame[:1], frame[:len(frame)/2], frame[:len(frame)-1]} {
		dir := t.TempDir()
		l := openT(t, dir, Options{SegmentSize: 400})
		if err := l.Save(consensus.HardState{}, all, nil); err != nil {
			t.Fatal(err)
		}
		l.Close()
		// Remove a rollover that happened right after entry 30, then make
		// the crashed one.
		if segs := segmentsOf(t, dir); segs[len(segs)-1].index == 31 {
			os.Remove(segs[len(segs)-1].path)
		}
		if err := os.WriteFile(filepath.Join(dir, logDirName, segmentName(31)), tail, 0o640); err != nil {
			t.Fatal(err)
		}
		l = openT(t, dir, Options{SegmentSize: 400})
		wantEntries(t, l, all)
		if err := l.Save(consensus.HardState{}, []consensus.Entry{next}, nil); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l = openT(t, dir, Options{SegmentSize: 400})
		wantEntries(t, l, append(all, next))
		l.Close()
	}
}

// TestGapBetweenSegments removes a middle segment.
func TestGapBetweenSegments(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 400})
	if err := l.Save(consensus.HardState{}, ents(1, 60, 1), nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	segs := segmentsOf(t, dir)
	os.Remove(segs[1].path)
	_, err := Open(dir, Options{Logger: quiet})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != segs[2].path {
		t.Fatalf("Open with a missing segment = %v; want a CorruptError naming %s", err, segs[2].path)
	}
}

// TestCrashDuringHardStateWrite leaves a temporary hard state file, whole
// or torn: it was never renamed into place, so the old state stands.
func TestCrashDuringHardStateWrite(t *testing.T) {
	old := consensus.HardState{Term: 3, Vote: 2, Commit: 7}
	next := encodeHardState(consensus.HardState{Term: 4, Vote: 1, Commit: 9})
	for _, tmp := range [][]byte{nil, next[:10], next} {
		dir := t.TempDir()
		l := openT(t, dir, Options{})
		if err := l.Save(old, ents(1, 8, 3), nil); err != nil {
			t.Fatal(err)
		}
		l.Close()
		tmpPath := filepath.Join(dir, hardStateName+tmpSuffix)
		if err := os.WriteFile(tmpPath, tmp, 0o640); err != nil {
			t.Fatal(err)
		}
		l = openT(t, dir, Options{})
		if hs, _, _ := l.InitialState(); hs != old {
			t.Fatalf("hard state = %v, want %v", hs, old)
		}
		if _, err := os.Stat(tmpPath); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("temporary file left behind: %v", err)
		}
		l.Close()
	}
}

// TestCorruptHardState damages the hard state file itself.
func TestCorruptHardState(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	if err := l.Save(consensus.HardState{Term: 1, Vote: 1}, nil, nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	expectCorruptAfterFlip(t, dir, filepath.Join(dir, hardStateName), 6)
}

// expectCorruptAfterFlip flips a bit of byte at of the file at path (from
// the end when at is negative) and checks that Open refuses dir with a
// CorruptError naming that file.
func expectCorruptAfterFlip(t *testing.T, dir, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += len(b)
	}
	b[at] ^= 1
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{Logger: quiet})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path {
		t.Fatalf("Open with a damaged %s = %v; want a CorruptError naming it", path, err)
	}
}

// TestCorruptSnapshot damages the snapshot file.
func TestCorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	if err := l.Save(consensus.HardState{}, ents(1, 5, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateSnapshot(3, consensus.ConfState{Voters: []consensus.NodeID{1}}, consensus.SnapshotBytes([]byte("data"))); err != nil {
		t.Fatal(err)
	}
	l.Close()
	expectCorruptAfterFlip(t, dir, filepath.Join(dir, snapName(3)), -1)
}

// TestCrashAfterSnapshotStored covers the crash windows between storing a
// snapshot and changing the log: Open must finish an install, and keep the
// entries a local snapshot covers (entry 1 becomes the dummy).
func TestCrashAfterSnapshotStored(t *testing.T) {
	tests := []struct {
		name        string
		snap        *consensus.Snapshot
		first, last uint64
	}{
		{"entries behind the snapshot kept", snapAt(5, 1), 2, 10},
		{"entries behind a snapshot of the whole log kept", snapAt(10, 1), 2, 10},
		{"install ahead of the log not done", snapAt(20, 3), 21, 20},
		{"install over a conflicting log not done", snapAt(5, 2), 6, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Options{})
			all := ents(1, 10, 1)
			if err := l.Save(consensus.HardState{Term: 1}, all, nil); err != nil {
				t.Fatal(err)
			}
			l.Close()
			if err := writeSnapshot(dir, tt.snap, new(atomic.Uint64)); err != nil {
				t.Fatal(err)
			}
			l = openT(t, dir, Options{})
			defer l.Close()
			first, _ := l.FirstIndex()
			last, _ := l.LastIndex()
			if first != tt.first || last != tt.last {
				t.Fatalf("log is [%d, %d], want [%d, %d]", first, last, tt.first, tt.last)
			}
			if term, err := l.Term(tt.snap.Meta.Index); err != nil || term != tt.snap.Meta.Term {
				t.Fatalf("Term(%d) = %d, %v; want %d", tt.snap.Meta.Index, term, err, tt.snap.Meta.Term)
			}
			if _, err := l.Term(first - 1); err != nil {
				t.Fatalf("Term(%d) before the first entry: %v", first-1, err)
			}
			if last >= first {
				wantEntries(t, l, all[first-1:])
			}
			snap, err := l.Snapshot()
			if err != nil || !reflect.DeepEqual(snap, *tt.snap) {
				t.Fatalf("Snapshot = %+v, %v; want %+v", snap, err, tt.snap)
			}
		})
	}
}

// TestCrashWithEntriesBehindSnapshot copies the directory, as a crash
// would leave it, after each step of snapshotting with a margin of entries
// kept behind: each copy opens with the entries, terms and first index the
// log had at that point, and goes on from there.
func TestCrashWithEntriesBehindSnapshot(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 300, CacheSize: 4}
	l := openT(t, dir, opts)
	defer l.Close()
	all := ents(1, 46, 1)
	if err := l.Save(consensus.HardState{Term: 1, Commit: 40}, all[:40], nil); err != nil {
		t.Fatal(err)
	}
	crash := func(first, last uint64) {
		t.Helper()
		copied := t.TempDir()
		if err := os.CopyFS(copied, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		c := openT(t, copied, opts)
		defer c.Close()
		if got, err := c.FirstIndex(); err != nil || got != first {
			t.Fatalf("FirstIndex after a crash = %d, %v; want %d", got, err, first)
		}
		wantEntries(t, c, all[first-1:last])
		if term, err := c.Term(first - 1); err != nil || term != 1 {
			t.Fatalf("Term(%d) after a crash = %d, %v; want 1", first-1, term, err)
		}
		if _, err := c.Term(first - 2); !errors.Is(err, consensus.ErrCompacted) {
			t.Fatalf("Term(%d) after a crash = %v, want ErrCompacted", first-2, err)
		}
		snap, err := c.Snapshot()
		if err != nil || snap.Meta.Index != 30 || snap.Meta.Term != 1 {
			t.Fatalf("Snapshot after a crash = %+v, %v", snap.Meta, err)
		}
		// The log goes on: a later snapshot and compaction work.
		if err := c.Save(consensus.HardState{}, all[last:last+1], nil); err != nil {
			t.Fatal(err)
		}
		if err := c.CreateSnapshot(last, consensus.ConfState{}, consensus.SnapshotBytes(nil)); err != nil {
			t.Fatal(err)
		}
		if err := c.Compact(last - 5); err != nil {
			t.Fatal(err)
		}
		wantEntries(t, c, all[last-5:last+1])
	}
	if err := l.CreateSnapshot(30, consensus.ConfState{Voters: []consensus.NodeID{1}}, consensus.SnapshotBytes([]byte("s"))); err != nil {
		t.Fatal(err)
	}
	crash(2, 40) // between the snapshot and the compaction
	if err := l.Compact(25); err != nil {
		t.Fatal(err)
	}
	crash(26, 40)
	if err := l.Save(consensus.HardState{Term: 1, Commit: 45}, all[40:45], nil); err != nil {
		t.Fatal(err)
	}
	crash(26, 45)
}

// TestCrashDuringTruncation leaves tidwall/wal's .END and .START files of
// an interrupted truncation: Open finishes it as tidwall/wal would.
func TestCrashDuringTruncation(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 400})
	all := ents(1, 60, 1)
	if err := l.Save(consensus.HardState{}, all, nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	segs := segmentsOf(t, dir)
	// TruncateBack to the end of the second segment, stopped after writing
	// the .END file.
	offs := recordOffsets(t, segs[1].path)
	data, _ := os.ReadFile(segs[1].path)
	keep := segs[1].index + uint64(len(offs)) - 2
	end := offs[len(offs)-1]
	if err := os.WriteFile(segs[1].path+".END", data[:end], 0o640); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Options{SegmentSize: 400})
	wantEntries(t, l, all[:keep])
	l.Close()
	// TruncateFront from the second record of the first segment, stopped
	// after writing the .START file.
	segs = segmentsOf(t, dir)
	offs = recordOffsets(t, segs[0].path)
	data, _ = os.ReadFile(segs[0].path)
	if err := os.WriteFile(filepath.Join(dir, logDirName, segmentName(2)+".START"), data[offs[1]:], 0o640); err != nil {
		t.Fatal(err)
	}
	if err := writeSnapshot(dir, &consensus.Snapshot{Meta: consensus.SnapshotMeta{Index: 1, Term: 1}}, new(atomic.Uint64)); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Options{SegmentSize: 400})
	wantEntries(t, l, all[1:keep])
	l.Close()
}
