package wal

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/rkv/rkv/consensus"
)

// quiet discards the warnings tests provoke on purpose.
var quiet = slog.New(slog.DiscardHandler)

func openT(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// ents returns entries lo..hi of term with distinct data; every fifth is a
// no-op with no data and every seventh a conf change, to cover the types.
func ents(lo, hi, term uint64) []consensus.Entry {
	var es []consensus.Entry
	for i := lo; i <= hi; i++ {
		e := consensus.Entry{Index: i, Term: term, Data: fmt.Appendf(nil, "entry %d of term %d", i, term)}
		switch {
		case i%5 == 0:
			e.Data = nil
		case i%7 == 0:
			e.Type = consensus.EntryConfChange
		}
		es = append(es, e)
	}
	return es
}

// step is one write applied to both the Log and the reference model.
type step struct {
	hs      consensus.HardState
	ents    []consensus.Entry
	snap    *consensus.Snapshot
	create  uint64 // CreateSnapshot at this index when non-zero
	compact uint64 // then Compact up to this index when non-zero
}

func snapAt(i, term uint64) *consensus.Snapshot {
	return &consensus.Snapshot{
		Meta: consensus.SnapshotMeta{Index: i, Term: term, Conf: consensus.ConfState{Voters: []consensus.NodeID{1, 2, 3}, Learners: []consensus.NodeID{4}}},
		Data: fmt.Appendf(nil, "state at %d", i),
	}
}

func (s step) apply(t *testing.T, l *Log, ms *consensus.MemoryStorage) {
	t.Helper()
	if s.create != 0 {
		conf := consensus.ConfState{Voters: []consensus.NodeID{1, 2}}
		data := fmt.Appendf(nil, "state at %d", s.create)
		if err := ms.CreateSnapshot(s.create, conf, consensus.SnapshotBytes(data)); err != nil {
			t.Fatalf("model CreateSnapshot(%d): %v", s.create, err)
		}
		if err := l.CreateSnapshot(s.create, conf, consensus.SnapshotBytes(data)); err != nil {
			t.Fatalf("CreateSnapshot(%d): %v", s.create, err)
		}
	}
	if s.compact != 0 {
		if err := ms.Compact(s.compact); err != nil {
			t.Fatalf("model Compact(%d): %v", s.compact, err)
		}
		if err := l.Compact(s.compact); err != nil {
			t.Fatalf("Compact(%d): %v", s.compact, err)
		}
	}
	if s.create != 0 || s.compact != 0 {
		return
	}
	if err := ms.Save(s.hs, s.ents, s.snap); err != nil {
		t.Fatalf("model Save: %v", err)
	}
	if err := l.Save(s.hs, s.ents, s.snap); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// sameState checks every read of l against the model.
func sameState(t *testing.T, l *Log, ms *consensus.MemoryStorage) {
	t.Helper()
	first, err := l.FirstIndex()
	wfirst, _ := ms.FirstIndex()
	if err != nil || first != wfirst {
		t.Fatalf("FirstIndex = %d, %v; want %d", first, err, wfirst)
	}
	last, err := l.LastIndex()
	wlast, _ := ms.LastIndex()
	if err != nil || last != wlast {
		t.Fatalf("LastIndex = %d, %v; want %d", last, err, wlast)
	}
	for i := first - 1; i <= last+1; i++ {
		got, err := l.Term(i)
		want, werr := ms.Term(i)
		if got != want || !errors.Is(err, werr) {
			t.Fatalf("Term(%d) = %d, %v; want %d, %v", i, got, err, want, werr)
		}
	}
	if first > 1 {
		if _, err := l.Term(first - 2); !errors.Is(err, consensus.ErrCompacted) {
			t.Fatalf("Term(%d) = %v, want ErrCompacted", first-2, err)
		}
	}
	for _, r := range []struct{ lo, hi, max uint64 }{
		{first, last + 1, ^uint64(0)},
		{first, last + 1, 0},
		{first, last + 1, 100},
		{first - 1, last + 1, ^uint64(0)},
		{first, last + 2, ^uint64(0)},
		{max(first, last) - 1, last + 1, ^uint64(0)},
	} {
		got, err := l.Entries(r.lo, r.hi, r.max)
		want, werr := ms.Entries(r.lo, r.hi, r.max)
		if !errors.Is(err, werr) || len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("Entries(%d, %d, %d) =\n%v, %v\nwant\n%v, %v", r.lo, r.hi, r.max, got, err, want, werr)
		}
	}
	hs, cs, err := l.InitialState()
	whs, wcs, _ := ms.InitialState()
	if err != nil || hs != whs || !reflect.DeepEqual(cs, wcs) {
		t.Fatalf("InitialState = %v, %v, %v; want %v, %v", hs, cs, err, whs, wcs)
	}
	snap, err := l.Snapshot()
	wsnap, _ := ms.Snapshot()
	if err != nil || !reflect.DeepEqual(snap, wsnap) {
		t.Fatalf("Snapshot = %+v, %v; want %+v", snap, err, wsnap)
	}
	meta, size, err := l.SnapshotMeta()
	if err != nil || !reflect.DeepEqual(meta, wsnap.Meta) || size != uint64(len(wsnap.Data)) {
		t.Fatalf("SnapshotMeta = %+v, %d, %v; want %+v, %d", meta, size, err, wsnap.Meta, len(wsnap.Data))
	}
	if meta.Index > 0 {
		buf := make([]byte, size)
		if err := l.ReadSnapshotChunk(meta.Index, 0, buf); err != nil || !bytes.Equal(buf, wsnap.Data) {
			t.Fatalf("ReadSnapshotChunk(%d) = %q, %v; want %q", meta.Index, buf, err, wsnap.Data)
		}
	}
}

// TestMatchesMemoryStorage runs sequences of writes against a Log and
// against consensus.MemoryStorage, checking that every read agrees after
// each write and after the Log is closed and reopened. A snapshot of a log
// not yet compacted is always followed by a compaction: there the Log
// keeps its first entry as the dummy where the model keeps one apart
// (TestSnapshotKeepsEntries covers that case).
func TestMatchesMemoryStorage(t *testing.T) {
	hs := func(term, commit uint64) consensus.HardState {
		return consensus.HardState{Term: term, Vote: 1, Commit: commit}
	}
	tests := []struct {
		name  string
		opts  Options
		steps []step
	}{
		{"empty", Options{}, nil},
		{"append", Options{}, []step{
			{hs: hs(1, 0), ents: ents(1, 5, 1)},
			{hs: hs(1, 3), ents: ents(6, 6, 1)},
			{hs: hs(2, 6)},
		}},
		{"truncate conflicting suffix", Options{}, []step{
			{ents: ents(1, 5, 1)},
			{hs: hs(2, 2), ents: ents(3, 4, 2)},
		}},
		{"truncate the whole log", Options{}, []step{
			{ents: ents(1, 5, 1)},
			{ents: ents(1, 2, 2)},
		}},
		{"re-append entries already held", Options{}, []step{
			{ents: ents(1, 5, 1)},
			{ents: ents(5, 8, 1)},
		}},
		{"compaction", Options{}, []step{
			{hs: hs(1, 10), ents: ents(1, 10, 1)},
			{create: 5, compact: 5},
			{ents: ents(11, 12, 1)},
			{create: 12, compact: 12},
			{ents: ents(13, 13, 2)},
		}},
		{"compaction behind the snapshot", Options{}, []step{
			{hs: hs(1, 20), ents: ents(1, 20, 1)},
			{create: 10, compact: 6},
			{ents: ents(21, 22, 1)},
			{create: 20}, // entry 6 is already the dummy: nothing changes
			{compact: 4}, // below what is compacted: nothing changes
			{compact: 6},
			{compact: 15},
			{ents: ents(23, 23, 2)},
			{compact: 20}, // every entry the snapshot covers
		}},
		{"entries before the snapshot are skipped", Options{}, []step{
			{ents: ents(1, 10, 1)},
			{create: 5, compact: 2},
			{ents: ents(3, 12, 2)},
			{ents: ents(1, 4, 3)},
		}},
		{"install snapshot ahead of the log", Options{}, []step{
			{hs: hs(1, 3), ents: ents(1, 5, 1)},
			{hs: hs(3, 20), snap: snapAt(20, 3)},
			{ents: ents(21, 22, 3)},
		}},
		{"install snapshot inside the log", Options{}, []step{
			{ents: ents(1, 10, 1)},
			{snap: snapAt(4, 1), ents: ents(5, 6, 2)},
		}},
		{"older snapshot is ignored", Options{}, []step{
			{ents: ents(1, 10, 1)},
			{create: 6, compact: 3},
			{snap: snapAt(3, 1)},
		}},
		{"install snapshot over entries kept behind one", Options{}, []step{
			{ents: ents(1, 10, 1)},
			{create: 8, compact: 2},
			{snap: snapAt(9, 1)},
			{ents: ents(10, 11, 2)},
			{compact: 9}, // the log starts after the snapshot: nothing to do
		}},
		{"small cache and segments", Options{SegmentSize: 300, CacheSize: 3}, []step{
			{hs: hs(1, 0), ents: ents(1, 40, 1)},
			{ents: ents(25, 60, 2)},
			{create: 30, compact: 20},
			{ents: ents(61, 61, 2)},
			{ents: ents(45, 50, 3)},
			{create: 50},
			{compact: 49},
			{snap: snapAt(80, 4)},
			{ents: ents(81, 100, 4)},
		}},
		{"cache of one entry", Options{CacheSize: 1}, []step{
			{ents: ents(1, 8, 1)},
			{ents: ents(4, 4, 2)},
			{create: 2, compact: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, tt.opts)
			ms := consensus.NewMemoryStorage()
			for k, s := range tt.steps {
				s.apply(t, l, ms)
				t.Logf("after step %d", k)
				sameState(t, l, ms)
				// The rollover rule is mirrored to know when to sync the
				// directory; the mirror must match the files.
				if size, err := tailSize(l.logDir); err != nil || size != l.tail {
					t.Fatalf("last segment is %d bytes (%v), mirrored as %d", size, err, l.tail)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openT(t, dir, tt.opts)
			defer l.Close()
			sameState(t, l, ms)
		})
	}
}

// TestSnapshotKeepsEntries: CreateSnapshot leaves the entries it covers
// readable (the first one on disk turns into the dummy), Compact drops
// them up to its index, whose term stays known, and a reopen sees the same.
func TestSnapshotKeepsEntries(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 300, CacheSize: 4}
	l := openT(t, dir, opts)
	all := ents(1, 40, 1)
	if err := l.Save(consensus.HardState{Term: 1, Commit: 40}, all, nil); err != nil {
		t.Fatal(err)
	}
	check := func(what string, first uint64) {
		t.Helper()
		if got, err := l.FirstIndex(); err != nil || got != first {
			t.Fatalf("%s: FirstIndex = %d, %v; want %d", what, got, err, first)
		}
		wantEntries(t, l, all[first-1:])
		// Below the cache: the dummy's term is read from disk.
		if term, err := l.Term(first - 1); err != nil || term != 1 {
			t.Fatalf("%s: Term(%d) = %d, %v; want 1", what, first-1, term, err)
		}
		if _, err := l.Term(first - 2); first > 1 && !errors.Is(err, consensus.ErrCompacted) {
			t.Fatalf("%s: Term(%d) = %v, want ErrCompacted", what, first-2, err)
		}
		if _, err := l.Entries(first-1, 41, 1<<20); !errors.Is(err, consensus.ErrCompacted) {
			t.Fatalf("%s: Entries from the dummy = %v, want ErrCompacted", what, err)
		}
		if term, err := l.Term(30); err != nil || term != 1 {
			t.Fatalf("%s: Term of the snapshot = %d, %v", what, term, err)
		}
	}
	if err := l.CreateSnapshot(30, consensus.ConfState{Voters: []consensus.NodeID{1}}, consensus.SnapshotBytes([]byte("s"))); err != nil {
		t.Fatal(err)
	}
	check("after CreateSnapshot", 2)
	if err := l.Compact(22); err != nil {
		t.Fatal(err)
	}
	check("after Compact", 23)
	for _, i := range []uint64{10, 22} {
		if err := l.Compact(i); err != nil {
			t.Fatalf("Compact(%d) at or below what is compacted = %v", i, err)
		}
	}
	check("after compacting again below", 23)
	if err := l.Compact(31); err == nil {
		t.Fatal("Compact beyond the snapshot succeeded")
	}
	l.Close()
	l = openT(t, dir, opts)
	defer l.Close()
	check("after reopening", 23)
	if err := l.Compact(30); err != nil {
		t.Fatal(err)
	}
	check("after compacting to the snapshot", 31)
}

func TestSaveErrors(t *testing.T) {
	l := openT(t, t.TempDir(), Options{})
	defer l.Close()
	if err := l.Save(consensus.HardState{}, ents(1, 3, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Save(consensus.HardState{}, ents(5, 6, 1), nil); !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("Save leaving a gap = %v, want ErrNotContiguous", err)
	}
	bad := append(ents(4, 4, 1), ents(6, 6, 1)...)
	if err := l.Save(consensus.HardState{}, bad, nil); !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("Save of unnumbered entries = %v, want ErrNotContiguous", err)
	}
	// A refused batch is the caller's mistake, not a failed disk.
	if err := l.Save(consensus.HardState{}, ents(4, 4, 1), nil); err != nil {
		t.Fatalf("Save after a refused batch: %v", err)
	}
	if err := l.CreateSnapshot(9, consensus.ConfState{}, consensus.SnapshotBytes(nil)); !errors.Is(err, consensus.ErrUnavailable) {
		t.Fatalf("CreateSnapshot beyond the log = %v, want ErrUnavailable", err)
	}
	if err := l.CreateSnapshot(2, consensus.ConfState{}, consensus.SnapshotBytes(nil)); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateSnapshot(2, consensus.ConfState{}, consensus.SnapshotBytes(nil)); !errors.Is(err, consensus.ErrSnapOutOfDate) {
		t.Fatalf("CreateSnapshot at the snapshot = %v, want ErrSnapOutOfDate", err)
	}
}

func TestOpenEmptyDirCreatesIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	l := openT(t, dir, Options{})
	defer l.Close()
	if _, err := os.Stat(filepath.Join(dir, logDirName)); err != nil {
		t.Fatal(err)
	}
	sameState(t, l, consensus.NewMemoryStorage())
}

func TestClose(t *testing.T) {
	l := openT(t, t.TempDir(), Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if err := l.Save(consensus.HardState{}, ents(1, 1, 1), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Entries(1, 2, 100); !errors.Is(err, ErrClosed) {
		t.Fatalf("Entries after Close = %v, want ErrClosed", err)
	}
}

// TestConcurrent has the driver append while another goroutine snapshots,
// compacts and reads, as rkv does; run with -race.
func TestConcurrent(t *testing.T) {
	l := openT(t, t.TempDir(), Options{SegmentSize: 2048, CacheSize: 16})
	defer l.Close()
	const n = 300
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := uint64(1); i <= n; i++ {
			if err := l.Save(consensus.HardState{Term: 1, Commit: i - 1}, ents(i, i, 1), nil); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for k := 0; k < 2000; k++ {
			first, _ := l.FirstIndex()
			last, _ := l.LastIndex()
			if last >= first+20 && k%50 == 0 {
				if err := l.CreateSnapshot(last-10, consensus.ConfState{Voters: []consensus.NodeID{1}}, consensus.SnapshotBytes([]byte("s"))); err != nil && !errors.Is(err, consensus.ErrSnapOutOfDate) {
					t.Error(err)
					return
				}
				if err := l.Compact(last - 15); err != nil {
					t.Error(err)
					return
				}
			}
			es, err := l.Entries(first, last+1, 1<<20)
			if err != nil && !errors.Is(err, consensus.ErrCompacted) {
				t.Error(err)
				return
			}
			for j, e := range es {
				if e.Index != first+uint64(j) || !bytes.Equal(e.Data, ents(e.Index, e.Index, 1)[0].Data) {
					t.Errorf("entry %d = %+v", first+uint64(j), e)
					return
				}
			}
		}
	})
	wg.Wait()
	if last, err := l.LastIndex(); err != nil || last != n {
		t.Fatalf("LastIndex = %d, %v; want %d", last, err, n)
	}
}

// TestReadsDuringSync: the core reads the log while Save syncs, and sees
// the new entries only once they are durable.
func TestReadsDuringSync(t *testing.T) {
	l := openT(t, t.TempDir(), Options{})
	defer l.Close()
	if err := l.Save(consensus.HardState{}, ents(1, 10, 1), nil); err != nil {
		t.Fatal(err)
	}
	l.beforeSync = func() {
		read := make(chan error, 1)
		go func() {
			got, err := l.Entries(1, 11, 1<<20)
			last, _ := l.LastIndex()
			if err == nil && (len(got) != 10 || last != 10) {
				err = fmt.Errorf("read %d entries, last index %d, want 10 and 10", len(got), last)
			}
			read <- err
		}()
		select {
		case err := <-read:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("a reader waited for Save's sync")
		}
	}
	if err := l.Save(consensus.HardState{}, ents(11, 20, 1), nil); err != nil {
		t.Fatal(err)
	}
	l.beforeSync = nil
	if last, _ := l.LastIndex(); last != 20 {
		t.Fatalf("last index %d after the sync, want 20", last)
	}
}

// TestObserveSync: each Save of entries is one sync, and ObserveSync is
// told of each; a Save of the hard state alone syncs no entries.
func TestObserveSync(t *testing.T) {
	var syncs []time.Duration
	l := openT(t, t.TempDir(), Options{ObserveSync: func(d time.Duration) { syncs = append(syncs, d) }})
	defer l.Close()
	for i := uint64(1); i <= 3; i++ {
		if err := l.Save(consensus.HardState{Term: 1, Commit: i - 1}, ents(2*i-1, 2*i, 1), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Save(consensus.HardState{Term: 1, Commit: 6}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(syncs) != 3 {
		t.Fatalf("%d syncs observed, want 3", len(syncs))
	}
	for _, d := range syncs {
		if d <= 0 {
			t.Fatalf("a sync observed as taking %v", d)
		}
	}
}

// TestStorageStats counts the fsyncs a Save makes: one for a batch of
// entries, one for the hard state file and one more for its directory
// when the term or vote changed; and the bytes of the entries' records.
func TestStorageStats(t *testing.T) {
	l := openT(t, t.TempDir(), Options{})
	defer l.Close()
	before := l.StorageStats()
	step := func(hs consensus.HardState, es []consensus.Entry, syncs uint64) {
		t.Helper()
		if err := l.Save(hs, es, nil); err != nil {
			t.Fatal(err)
		}
		after := l.StorageStats()
		if got := after.Syncs - before.Syncs; got != syncs {
			t.Fatalf("Save of %d entries and %+v: %d syncs, want %d", len(es), hs, got, syncs)
		}
		want := uint64(0)
		for _, e := range es {
			want += uint64(recordHeaderSize + len(e.Data))
		}
		if got := after.BytesWritten - before.BytesWritten; got != want {
			t.Fatalf("Save of %d entries: %d bytes counted, want %d", len(es), got, want)
		}
		before = after
	}
	step(consensus.HardState{Term: 1, Vote: 1}, ents(1, 4, 1), 3)
	step(consensus.HardState{}, ents(5, 9, 1), 1)
	step(consensus.HardState{Term: 1, Vote: 1, Commit: 9}, nil, 1)
	step(consensus.HardState{}, nil, 0)
}
