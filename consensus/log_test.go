package consensus

import (
	"errors"
	"slices"
	"testing"
)

// ents builds entries from index first on with the given terms.
func ents(first uint64, terms ...uint64) []Entry {
	out := make([]Entry, len(terms))
	for i, t := range terms {
		out[i] = Entry{Index: first + uint64(i), Term: t}
	}
	return out
}

// compactAt snapshots the log's storage at i and compacts it up to there.
func compactAt(t *testing.T, l *raftLog, i uint64) {
	t.Helper()
	st := l.storage.(*MemoryStorage)
	if err := st.CreateSnapshot(i, ConfState{Voters: []NodeID{1}}, SnapshotBytes([]byte("s"))); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(i); err != nil {
		t.Fatal(err)
	}
}

func termsOf(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Term
	}
	return out
}

// newTestLog returns a log whose storage holds stored (from index 1) and
// whose unstable tail holds unstable.
func newTestLog(t *testing.T, stored, unstable []Entry) *raftLog {
	t.Helper()
	st := NewMemoryStorage()
	if err := st.Save(HardState{}, stored, nil); err != nil {
		t.Fatal(err)
	}
	l, err := newLog(st, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(unstable) > 0 {
		l.append(unstable...)
	}
	return l
}

func TestFindConflict(t *testing.T) {
	for _, tt := range []struct {
		ents []Entry
		want uint64
	}{
		{nil, 0},
		{ents(1, 1, 2, 3), 0},
		{ents(2, 2, 3), 0},
		{ents(3, 3), 0},
		{ents(1, 1, 2, 3, 4, 4), 4}, // new entries
		{ents(2, 2, 3, 4, 4), 4},
		{ents(4, 4, 4), 4},
		{ents(1, 4, 4), 1}, // conflicts
		{ents(2, 1, 4, 4), 2},
		{ents(3, 1, 2, 4, 4), 3},
	} {
		l := newTestLog(t, ents(1, 1, 2, 3), nil)
		if got := l.findConflict(tt.ents); got != tt.want {
			t.Errorf("findConflict(%v) = %d, want %d", tt.ents, got, tt.want)
		}
	}
}

func TestFindConflictByTerm(t *testing.T) {
	fig := ents(1, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6)
	for _, tt := range []struct {
		name        string
		compactAt   uint64
		index, term uint64
		wi, wt      uint64
	}{
		{"same term", 0, 10, 6, 10, 6},
		{"skip a term", 0, 10, 5, 7, 5},
		{"skip two terms", 0, 10, 4, 5, 4},
		{"gap in terms", 0, 10, 3, 3, 1},
		{"lowest term", 0, 10, 1, 3, 1},
		{"term zero", 0, 10, 0, 0, 0},
		{"from the middle", 0, 6, 4, 5, 4},
		{"index 0", 0, 0, 5, 0, 0},
		{"stop at the snapshot", 3, 10, 2, 3, 1},
		{"above the snapshot", 3, 10, 4, 5, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, fig, nil)
			if tt.compactAt > 0 {
				compactAt(t, l, tt.compactAt)
			}
			if i, term := l.findConflictByTerm(tt.index, tt.term); i != tt.wi || term != tt.wt {
				t.Errorf("findConflictByTerm(%d, %d) = %d, %d; want %d, %d", tt.index, tt.term, i, term, tt.wi, tt.wt)
			}
		})
	}
}

func TestMaybeAppend(t *testing.T) {
	for _, tt := range []struct {
		name           string
		logTerm, index uint64
		committed      uint64
		ents           []Entry
		wlast          uint64
		wok            bool
		wcommit        uint64
		wterms         []uint64
		wpanic         bool
	}{
		{"term mismatch", 2, 3, 3, ents(4, 4), 0, false, 1, []uint64{1, 2, 3}, false},
		{"index beyond", 3, 4, 3, ents(5, 4), 0, false, 1, []uint64{1, 2, 3}, false},
		{"match, nothing new", 3, 3, 3, nil, 3, true, 3, []uint64{1, 2, 3}, false},
		{"commit capped by last new", 3, 3, 4, nil, 3, true, 3, []uint64{1, 2, 3}, false},
		{"commit below last", 3, 3, 2, nil, 3, true, 2, []uint64{1, 2, 3}, false},
		{"commit never decreases", 3, 3, 0, nil, 3, true, 1, []uint64{1, 2, 3}, false},
		{"append one", 3, 3, 4, ents(4, 4), 4, true, 4, []uint64{1, 2, 3, 4}, false},
		{"append two", 3, 3, 5, ents(4, 4, 4), 5, true, 5, []uint64{1, 2, 3, 4, 4}, false},
		{"append, commit capped", 3, 3, 9, ents(4, 4), 4, true, 4, []uint64{1, 2, 3, 4}, false},
		{"stale prefix kept", 1, 1, 3, ents(2, 2), 2, true, 2, []uint64{1, 2, 3}, false},
		{"conflict truncates", 1, 1, 3, ents(2, 4), 2, true, 2, []uint64{1, 4}, false},
		{"conflict at last", 2, 2, 3, ents(3, 4), 3, true, 3, []uint64{1, 2, 4}, false},
		{"conflict with committed", 0, 0, 3, ents(1, 4), 0, false, 0, nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, ents(1, 1, 2, 3), nil)
			l.committed = 1
			defer func() {
				if p := recover(); (p != nil) != tt.wpanic {
					t.Fatalf("panic %v, want panic %v", p, tt.wpanic)
				}
			}()
			last, _, ok := l.maybeAppend(tt.index, tt.logTerm, tt.committed, tt.ents)
			if last != tt.wlast || ok != tt.wok || l.committed != tt.wcommit {
				t.Fatalf("got last %d ok %v commit %d, want %d %v %d", last, ok, l.committed, tt.wlast, tt.wok, tt.wcommit)
			}
			got, err := l.slice(1, l.lastIndex()+1, 1<<30)
			if err != nil || !slices.Equal(termsOf(got), tt.wterms) {
				t.Fatalf("log %v (%v), want terms %v", termsOf(got), err, tt.wterms)
			}
		})
	}
}

func TestUnstableTruncateAndAppend(t *testing.T) {
	for _, tt := range []struct {
		name    string
		offset  uint64
		ents    []Entry
		toapp   []Entry
		woffset uint64
		wents   []Entry
	}{
		{"append at the end", 5, ents(5, 1), ents(6, 1, 1), 5, ents(5, 1, 1, 1)},
		{"replace all", 5, ents(5, 1), ents(5, 2, 2), 5, ents(5, 2, 2)},
		{"replace from before the offset", 5, ents(5, 1), ents(4, 2, 2, 2), 4, ents(4, 2, 2, 2)},
		{"truncate the tail", 5, ents(5, 1, 1, 1), ents(6, 2), 5, ents(5, 1, 2)},
		{"truncate the last", 5, ents(5, 1, 1, 1), ents(7, 2, 2), 5, ents(5, 1, 1, 2, 2)},
		{"empty unstable", 5, nil, ents(5, 3), 5, ents(5, 3)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := unstable{offset: tt.offset, entries: slices.Clone(tt.ents)}
			kept := slices.Clone(u.entries)
			orig := u.entries
			u.truncateAndAppend(tt.toapp)
			if u.offset != tt.woffset || !slices.EqualFunc(u.entries, tt.wents, entryEqual) {
				t.Fatalf("offset %d entries %v, want %d %v", u.offset, u.entries, tt.woffset, tt.wents)
			}
			// Entries handed out before (to a Ready) must not change under the driver.
			if !slices.EqualFunc(orig, kept, entryEqual) {
				t.Fatalf("earlier slice changed: %v, was %v", orig, kept)
			}
		})
	}
}

// TestUnstableStableTo: entries become stable only if the persisted entry
// is the one still in the log (same term).
func TestUnstableStableTo(t *testing.T) {
	for _, tt := range []struct {
		name      string
		i, term   uint64
		woffset   uint64
		wunstable int
	}{
		{"all", 6, 1, 7, 0},
		{"prefix", 5, 1, 6, 1},
		{"replaced while written", 6, 2, 5, 2},
		{"before the offset", 4, 1, 5, 2},
		{"beyond the last", 7, 1, 5, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := unstable{offset: 5, entries: ents(5, 1, 1)}
			u.stableTo(tt.i, tt.term)
			if u.offset != tt.woffset || len(u.entries) != tt.wunstable {
				t.Fatalf("offset %d, %d unstable; want %d, %d", u.offset, len(u.entries), tt.woffset, tt.wunstable)
			}
		})
	}
}

// TestLogTermAndSlice reads a log made of a snapshot (at 3, term 1), stored
// entries 4-5 (term 2) and unstable entries 6-7 (term 3).
func TestLogTermAndSlice(t *testing.T) {
	l := newTestLog(t, ents(1, 1, 1, 1, 2, 2), ents(6, 3, 3))
	compactAt(t, l, 3)
	if f, last := l.firstIndex(), l.lastIndex(); f != 4 || last != 7 {
		t.Fatalf("first %d last %d, want 4 7", f, last)
	}
	for _, tt := range []struct {
		i, want uint64
	}{
		{2, 0}, // compacted
		{3, 1}, // the snapshot's term
		{4, 2},
		{5, 2},
		{6, 3},
		{7, 3},
		{8, 0}, // beyond the last
	} {
		if got, _ := l.term(tt.i); got != tt.want {
			t.Errorf("term(%d) = %d, want %d", tt.i, got, tt.want)
		}
	}
	one := ents(4, 2)[0].Size()
	for _, tt := range []struct {
		lo, hi, maxSize uint64
		wterms          []uint64
		werr            error
	}{
		{4, 8, 1 << 30, []uint64{2, 2, 3, 3}, nil},
		{4, 6, 1 << 30, []uint64{2, 2}, nil}, // storage only
		{6, 8, 1 << 30, []uint64{3, 3}, nil}, // unstable only
		{5, 7, 1 << 30, []uint64{2, 3}, nil}, // across the boundary
		{4, 8, 0, []uint64{2}, nil},          // at least one
		{4, 8, 2 * one, []uint64{2, 2}, nil}, // size limit in storage
		{5, 8, 2 * one, []uint64{2, 3}, nil}, // size limit across
		{6, 6, 1 << 30, nil, nil},            // empty
		{3, 5, 1 << 30, nil, ErrCompacted},   // the snapshot's index
		{2, 5, 1 << 30, nil, ErrCompacted},
	} {
		got, err := l.slice(tt.lo, tt.hi, tt.maxSize)
		if !errors.Is(err, tt.werr) || !slices.Equal(termsOf(got), tt.wterms) {
			t.Errorf("slice(%d, %d, %d) = %v, %v; want %v, %v", tt.lo, tt.hi, tt.maxSize, termsOf(got), err, tt.wterms, tt.werr)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("slice beyond the last index did not panic")
			}
		}()
		_, _ = l.slice(6, 9, 1<<30)
	}()
}

// TestMemoryStorageCompaction: CreateSnapshot keeps every entry, Compact
// drops those up to its index (at most the snapshot's), whose term stays
// known, and compacting again lower does nothing.
func TestMemoryStorageCompaction(t *testing.T) {
	terms := []uint64{1, 1, 2, 2, 3}
	for _, tt := range []struct {
		at, compact uint64
		wremaining  int
	}{
		{2, 2, 3},
		{4, 4, 1},
		{5, 5, 0}, // everything: the log is empty, last stays
		{5, 3, 2}, // a margin behind the snapshot
		{4, 1, 4},
	} {
		st := NewMemoryStorage()
		if err := st.Save(HardState{Term: 3}, ents(1, terms...), nil); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateSnapshot(tt.at, ConfState{Voters: []NodeID{1}}, SnapshotBytes([]byte("d"))); err != nil {
			t.Fatalf("CreateSnapshot(%d) = %v", tt.at, err)
		}
		if snap, _ := st.Snapshot(); snap.Meta.Index != tt.at || snap.Meta.Term != terms[tt.at-1] {
			t.Errorf("at %d: snapshot %+v, want index %d term %d", tt.at, snap.Meta, tt.at, terms[tt.at-1])
		}
		if first, _ := st.FirstIndex(); first != 1 {
			t.Errorf("at %d: first %d after CreateSnapshot, want 1: it does not compact", tt.at, first)
		}
		if err := st.CreateSnapshot(tt.at, ConfState{}, SnapshotBytes(nil)); !errors.Is(err, ErrSnapOutOfDate) {
			t.Errorf("at %d: second snapshot at the same index: %v, want ErrSnapOutOfDate", tt.at, err)
		}
		if err := st.Compact(tt.at + 1); err == nil {
			t.Errorf("at %d: Compact beyond the snapshot succeeded", tt.at)
		}
		for _, c := range []uint64{tt.compact, tt.compact, tt.compact - 1} {
			if err := st.Compact(c); err != nil {
				t.Fatalf("at %d: Compact(%d) = %v", tt.at, c, err)
			}
		}
		first, _ := st.FirstIndex()
		last, _ := st.LastIndex()
		if first != tt.compact+1 || last != 5 {
			t.Errorf("at %d, compact %d: first %d last %d, want %d 5", tt.at, tt.compact, first, last, tt.compact+1)
		}
		if term, err := st.Term(first - 1); err != nil || term != terms[tt.compact-1] {
			t.Errorf("at %d, compact %d: Term(%d) = %d, %v; want %d", tt.at, tt.compact, first-1, term, err, terms[tt.compact-1])
		}
		if term, err := st.Term(tt.at); err != nil || term != terms[tt.at-1] {
			t.Errorf("at %d: the snapshot's Term = %d, %v", tt.at, term, err)
		}
		if _, err := st.Term(first - 2); !errors.Is(err, ErrCompacted) {
			t.Errorf("at %d, compact %d: Term(%d) err %v, want ErrCompacted", tt.at, tt.compact, first-2, err)
		}
		if _, err := st.Entries(first-1, last+1, 1<<30); !errors.Is(err, ErrCompacted) {
			t.Errorf("at %d, compact %d: Entries from the compaction's index: %v, want ErrCompacted", tt.at, tt.compact, err)
		}
		if got, err := st.Entries(first, last+1, 1<<30); err != nil || len(got) != tt.wremaining {
			t.Errorf("at %d, compact %d: %d entries remain (%v), want %d", tt.at, tt.compact, len(got), err, tt.wremaining)
		}
		// The log goes on after the compaction; entries the snapshot
		// covers are never replaced.
		if err := st.Save(HardState{Term: 4}, ents(tt.at, 4, 4), nil); err != nil {
			t.Fatal(err)
		}
		if term, _ := st.Term(tt.at); term != terms[tt.at-1] {
			t.Errorf("at %d: Save replaced the snapshot's entry (term %d)", tt.at, term)
		}
		if term, _ := st.Term(tt.at + 1); term != 4 {
			t.Errorf("at %d: entry after the snapshot has term %d, want 4", tt.at, term)
		}
	}
}

// TestLogRestore: a snapshot replaces the log; the next entry goes after it.
func TestLogRestore(t *testing.T) {
	l := newTestLog(t, ents(1, 1, 1), ents(3, 2))
	l.restore(Snapshot{Meta: SnapshotMeta{Index: 10, Term: 4}})
	if l.firstIndex() != 11 || l.lastIndex() != 10 || l.committed != 10 {
		t.Fatalf("first %d last %d commit %d, want 11 10 10", l.firstIndex(), l.lastIndex(), l.committed)
	}
	if term, _ := l.term(10); term != 4 {
		t.Fatalf("term(10) = %d, want 4", term)
	}
	if !l.matchTerm(10, 4) || l.matchTerm(3, 2) {
		t.Fatal("matchTerm does not reflect the snapshot")
	}
	l.append(ents(11, 4)...)
	if l.lastIndex() != 11 {
		t.Fatalf("last %d after an append, want 11", l.lastIndex())
	}
}

// TestIsUpToDate_5_4_1: the later last term wins; with equal terms the
// longer log.
func TestIsUpToDate_5_4_1(t *testing.T) {
	l := newTestLog(t, ents(1, 1, 2, 3), nil)
	for _, tt := range []struct {
		last, term uint64
		want       bool
	}{
		{2, 4, true},
		{3, 4, true},
		{4, 4, true},
		{2, 2, false},
		{3, 2, false},
		{4, 2, false},
		{2, 3, false},
		{3, 3, true},
		{4, 3, true},
	} {
		if got := l.isUpToDate(tt.last, tt.term); got != tt.want {
			t.Errorf("isUpToDate(%d, %d) = %v, want %v", tt.last, tt.term, got, tt.want)
		}
	}
}
