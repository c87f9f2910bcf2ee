package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// errFull is the error an injected failure returns, as a full disk's
// write would.
var errFull = &os.PathError{Op: "write", Path: "injected", Err: syscall.ENOSPC}

// failing returns options whose writes fail with errFull while *full is
// set.
func failing(full *atomic.Bool, opts Options) Options {
	opts.WriteFault = func() error {
		if full.Load() {
			return errFull
		}
		return nil
	}
	return opts
}

// saveAll saves ents one Save at a time into both l and the reference.
func saveAll(t *testing.T, l *Log, ms *consensus.MemoryStorage, hs consensus.HardState, ents []consensus.Entry) {
	t.Helper()
	if err := l.Save(hs, ents, nil); err != nil {
		t.Fatal(err)
	}
	ms.Save(hs, ents, nil)
}

// TestFailedWritesLeaveLogUsable: while every write fails, each call
// returns the disk's error and changes nothing; once writes succeed
// again the same calls go through, and the log reopens as saved.
func TestFailedWritesLeaveLogUsable(t *testing.T) {
	dir := t.TempDir()
	var full atomic.Bool
	l := openT(t, dir, failing(&full, Options{SegmentSize: 512}))
	ms := consensus.NewMemoryStorage()
	saveAll(t, l, ms, consensus.HardState{Term: 1, Vote: 1}, ents(1, 20, 1))
	full.Store(true)
	for _, err := range []error{
		l.Save(consensus.HardState{Term: 2, Vote: 1, Commit: 20}, ents(21, 30, 2), nil),
		l.Save(consensus.HardState{Term: 2, Vote: 1, Commit: 20}, nil, nil),
		l.Save(consensus.HardState{}, ents(15, 16, 2), nil),
		l.Save(consensus.HardState{Term: 3}, nil, snapAt(40, 3)),
		l.CreateSnapshot(10, consensus.ConfState{Voters: []consensus.NodeID{1}}, consensus.SnapshotBytes([]byte("s"))),
	} {
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("write to a full disk = %v, want ENOSPC", err)
		}
		sameState(t, l, ms)
	}
	full.Store(false)
	saveAll(t, l, ms, consensus.HardState{Term: 2, Vote: 1, Commit: 20}, ents(21, 30, 2))
	if err := l.CreateSnapshot(10, consensus.ConfState{Voters: []consensus.NodeID{1}}, consensus.SnapshotBytes([]byte("s"))); err != nil {
		t.Fatal(err)
	}
	ms.CreateSnapshot(10, consensus.ConfState{Voters: []consensus.NodeID{1}}, consensus.SnapshotBytes([]byte("s")))
	full.Store(true)
	if err := l.Compact(8); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Compact on a full disk = %v, want ENOSPC", err)
	}
	full.Store(false)
	if err := l.Compact(8); err != nil {
		t.Fatal(err)
	}
	ms.Compact(8)
	sameState(t, l, ms)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Options{SegmentSize: 512})
	defer l.Close()
	sameState(t, l, ms)
}

// TestFailedWriteCutsPartialBatch: a write that fails after part of its
// batch reached the segment (a whole record, a torn one, a segment a
// rollover started) is cut back to the last entry the log published, and
// a retry with other entries at those indexes is what the log holds.
func TestFailedWriteCutsPartialBatch(t *testing.T) {
	dir := t.TempDir()
	var torn atomic.Bool
	opts := Options{SegmentSize: 1 << 20}
	opts.WriteFault = func() error {
		if !torn.Swap(false) {
			return nil
		}
		segs, err := listSegments(filepath.Join(dir, logDirName))
		if err != nil {
			return err
		}
		tail := segs[len(segs)-1]
		f, err := os.OpenFile(tail.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		e := ents(11, 11, 2)[0]
		rec := appendRecord(nil, &e)
		frame := append(binary.AppendUvarint(nil, uint64(len(rec))), rec...)
		if _, err := f.Write(append(frame, frame[:len(frame)/2]...)); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, logDirName, segmentName(13)), frame, 0o640); err != nil {
			return err
		}
		return errFull
	}
	l := openT(t, dir, opts)
	ms := consensus.NewMemoryStorage()
	saveAll(t, l, ms, consensus.HardState{Term: 2}, ents(1, 10, 1))
	torn.Store(true)
	if err := l.Save(consensus.HardState{}, ents(11, 14, 2), nil); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Save = %v, want ENOSPC", err)
	}
	sameState(t, l, ms)
	saveAll(t, l, ms, consensus.HardState{Term: 3}, ents(11, 12, 3))
	sameState(t, l, ms)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Options{})
	defer l.Close()
	sameState(t, l, ms)
}

// TestRetrySkipsWrittenEntries: a Save whose entries were written but
// whose hard state failed is retried whole; the entries found written are
// not written again, and a retry that ends before the log's last entry
// still cuts what follows, as Save promises.
func TestRetrySkipsWrittenEntries(t *testing.T) {
	dir := t.TempDir()
	var failHardState atomic.Bool
	opts := Options{}
	calls := 0
	opts.WriteFault = func() error {
		calls++
		if failHardState.Load() && calls%2 == 0 { // entries first, then the hard state
			return errFull
		}
		return nil
	}
	l := openT(t, dir, opts)
	defer l.Close()
	ms := consensus.NewMemoryStorage()
	saveAll(t, l, ms, consensus.HardState{Term: 1}, ents(1, 5, 1))
	calls = 0
	failHardState.Store(true)
	if err := l.Save(consensus.HardState{Term: 2}, ents(6, 8, 2), nil); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Save = %v, want ENOSPC from its hard state", err)
	}
	failHardState.Store(false)
	calls = 0
	saveAll(t, l, ms, consensus.HardState{Term: 2}, ents(6, 8, 2))
	if calls != 1 {
		t.Fatalf("the retry wrote %d times, want once (the hard state)", calls)
	}
	saveAll(t, l, ms, consensus.HardState{}, ents(4, 6, 2)[2:])
	sameState(t, l, ms)
	if last, _ := l.LastIndex(); last != 6 {
		t.Fatalf("LastIndex = %d after a Save ending at 6, want 6", last)
	}
}

// TestFailedEntryWriteRepairs breaks tidwall/wal itself (its segment file
// closed under it): the failed Save repairs the log, and the next one goes
// through.
func TestFailedEntryWriteRepairs(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	ms := consensus.NewMemoryStorage()
	saveAll(t, l, ms, consensus.HardState{Term: 1}, ents(1, 3, 1))
	l.tw.Close()
	if err := l.Save(consensus.HardState{}, ents(4, 4, 1), nil); err == nil {
		t.Fatal("Save to a closed segment succeeded")
	}
	sameState(t, l, ms)
	saveAll(t, l, ms, consensus.HardState{}, ents(4, 6, 1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Options{})
	defer l.Close()
	sameState(t, l, ms)
}

// TestFullTmpfs fills a real filesystem: a small tmpfs, which a test run
// as root mounts (elsewhere the failure is injected, as the tests above
// do). Writes fail with ENOSPC part way through tidwall/wal's batches;
// after the filler is removed the same writes succeed, and the log
// reopens with every entry saved.
func TestFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	var full atomic.Bool
	opts := Options{SegmentSize: 64 << 10}
	filler := ""
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).Run(); err == nil {
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
		filler = filepath.Join(dir, "filler")
	} else {
		t.Logf("cannot mount a tmpfs (%v); injecting the failures", err)
		opts = failing(&full, opts)
	}
	logDir := filepath.Join(dir, "log")
	l := openT(t, logDir, opts)
	ms := consensus.NewMemoryStorage()
	data := bytes.Repeat([]byte("x"), 900)
	batch := func(lo uint64) []consensus.Entry {
		var es []consensus.Entry
		for i := lo; i < lo+8; i++ {
			es = append(es, consensus.Entry{Index: i, Term: 1, Data: fmt.Appendf(bytes.Clone(data), "%d", i)})
		}
		return es
	}
	next := uint64(1)
	for range 20 {
		saveAll(t, l, ms, consensus.HardState{Term: 1, Commit: next - 1}, batch(next))
		next += 8
	}
	if filler != "" {
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = f.Write(make([]byte, 4096))
		}
		f.Close()
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("filling the tmpfs: %v", err)
		}
	} else {
		full.Store(true)
	}
	var failed error
	for range 50 {
		hs := consensus.HardState{Term: 1, Commit: next - 1}
		if failed = l.Save(hs, batch(next), nil); failed != nil {
			break
		}
		ms.Save(hs, batch(next), nil)
		next += 8
	}
	if !errors.Is(failed, syscall.ENOSPC) {
		t.Fatalf("Save on a full disk = %v, want ENOSPC", failed)
	}
	for range 3 {
		if err := l.Save(consensus.HardState{Term: 1, Commit: next - 1}, batch(next), nil); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Save again on a full disk = %v, want ENOSPC", err)
		}
		sameState(t, l, ms)
	}
	if filler != "" {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	} else {
		full.Store(false)
	}
	for range 20 {
		saveAll(t, l, ms, consensus.HardState{Term: 1, Commit: next - 1}, batch(next))
		next += 8
	}
	sameState(t, l, ms)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, logDir, Options{SegmentSize: 64 << 10})
	defer l.Close()
	sameState(t, l, ms)
	got, err := l.Entries(1, next, 1<<30)
	if err != nil || uint64(len(got)) != next-1 {
		t.Fatalf("Entries after reopening = %d entries, %v; want %d", len(got), err, next-1)
	}
}
