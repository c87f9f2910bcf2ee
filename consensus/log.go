package consensus

import "fmt"

// unstable holds entries and a snapshot the core has accepted but the driver
// has not yet persisted. Invariant: entries[i].Index == offset+i.
type unstable struct {
	snapshot *Snapshot
	entries  []Entry
	offset   uint64
	// inProgress is the first index not yet handed to the driver for
	// persisting: entries in [offset, inProgress) are being written.
	// Invariant: offset <= inProgress <= offset+len(entries).
	inProgress uint64
}

func (u *unstable) maybeFirstIndex() (uint64, bool) {
	if u.snapshot != nil {
		return u.snapshot.Meta.Index + 1, true
	}
	return 0, false
}

func (u *unstable) maybeLastIndex() (uint64, bool) {
	if l := len(u.entries); l != 0 {
		return u.offset + uint64(l) - 1, true
	}
	if u.snapshot != nil {
		return u.snapshot.Meta.Index, true
	}
	return 0, false
}

func (u *unstable) maybeTerm(i uint64) (uint64, bool) {
	if i < u.offset {
		if u.snapshot != nil && u.snapshot.Meta.Index == i {
			return u.snapshot.Meta.Term, true
		}
		return 0, false
	}
	last, ok := u.maybeLastIndex()
	if !ok || i > last {
		return 0, false
	}
	return u.entries[i-u.offset].Term, true
}

// stableTo marks entries up to (i, t) persisted. A term mismatch means the
// entry was replaced while it was being written; it stays unstable.
func (u *unstable) stableTo(i, t uint64) {
	gt, ok := u.maybeTerm(i)
	if !ok || gt != t || i < u.offset {
		return
	}
	u.entries = u.entries[i+1-u.offset:]
	u.offset = i + 1
	u.inProgress = max(u.inProgress, u.offset)
	if len(u.entries) == 0 {
		u.entries = nil
	}
}

// acceptInProgress marks every unstable entry as handed to the driver.
func (u *unstable) acceptInProgress() {
	u.inProgress = u.offset + uint64(len(u.entries))
}

// pending returns the unstable entries not yet handed to the driver.
func (u *unstable) pending() []Entry {
	if n := u.inProgress - u.offset; n < uint64(len(u.entries)) {
		return u.entries[n:]
	}
	return nil
}

func (u *unstable) stableSnapTo(i uint64) {
	if u.snapshot != nil && u.snapshot.Meta.Index == i {
		u.snapshot = nil
	}
}

func (u *unstable) restore(s Snapshot) {
	u.offset = s.Meta.Index + 1
	u.inProgress = u.offset
	u.entries = nil
	u.snapshot = &s
}

func (u *unstable) truncateAndAppend(ents []Entry) {
	after := ents[0].Index
	switch {
	case after == u.offset+uint64(len(u.entries)):
		u.entries = append(u.entries, ents...)
	case after <= u.offset:
		// Replace everything unstable; storage truncates on save.
		u.offset = after
		u.entries = append([]Entry(nil), ents...)
	default:
		kept := u.entries[:after-u.offset]
		u.entries = append(append([]Entry(nil), kept...), ents...)
	}
	// Replaced entries that were being written must be written again.
	u.inProgress = min(u.inProgress, after)
}

func (u *unstable) slice(lo, hi uint64) []Entry {
	return u.entries[lo-u.offset : hi-u.offset]
}

// raftLog is the core's view of the log: persisted entries in storage
// followed by unstable ones. Invariant: applied <= committed <= lastIndex().
type raftLog struct {
	storage   Storage
	unstable  unstable
	committed uint64
	applied   uint64
	// maxApplySize bounds the bytes of committed entries in one Ready.
	maxApplySize uint64
}

// newLog returns the log of storage with committed and applied at start,
// the index of the snapshot the application restored: storage may keep
// entries below it, which are not applied again. A start below
// FirstIndex()-1 is raised to it.
func newLog(storage Storage, start, maxApplySize uint64) (*raftLog, error) {
	first, err := storage.FirstIndex()
	if err != nil {
		return nil, err
	}
	last, err := storage.LastIndex()
	if err != nil {
		return nil, err
	}
	l := &raftLog{storage: storage, maxApplySize: maxApplySize}
	l.unstable.offset = last + 1
	l.unstable.inProgress = last + 1
	l.committed = max(start, first-1)
	l.applied = l.committed
	return l, nil
}

// maybeAppend appends ents after (index, logTerm) if that entry matches,
// and advances the commit index. It returns the last new index and the
// first index it wrote (0 when the log held every entry already): the log
// lost whatever it held from there on.
func (l *raftLog) maybeAppend(index, logTerm, committed uint64, ents []Entry) (lastNew, written uint64, ok bool) {
	if !l.matchTerm(index, logTerm) {
		return 0, 0, false
	}
	lastNew = index + uint64(len(ents))
	ci := l.findConflict(ents)
	switch {
	case ci == 0:
	case ci <= l.committed:
		panic(fmt.Sprintf("consensus: entry %d conflicts with committed entry (committed %d)", ci, l.committed))
	default:
		l.append(ents[ci-(index+1):]...)
	}
	l.commitTo(min(committed, lastNew))
	return lastNew, ci, true
}

func (l *raftLog) append(ents ...Entry) uint64 {
	if len(ents) == 0 {
		return l.lastIndex()
	}
	if after := ents[0].Index - 1; after < l.committed {
		panic(fmt.Sprintf("consensus: append after %d is below committed %d", after, l.committed))
	}
	l.unstable.truncateAndAppend(ents)
	return l.lastIndex()
}

// findConflict returns the index of the first entry of ents whose term
// differs from the log's, or the first new entry, or 0 if all exist.
func (l *raftLog) findConflict(ents []Entry) uint64 {
	for _, e := range ents {
		if !l.matchTerm(e.Index, e.Term) {
			return e.Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index <= index whose term is <=
// term: where a leader with the given term may look for a match.
func (l *raftLog) findConflictByTerm(index, term uint64) (uint64, uint64) {
	for ; index > 0; index-- {
		t, err := l.term(index)
		if err != nil {
			return index, 0
		}
		if t <= term {
			return index, t
		}
	}
	return 0, 0
}

// unstableEntries returns the entries the driver has yet to persist.
func (l *raftLog) unstableEntries() []Entry { return l.unstable.pending() }

// applyLimit is the highest index the application may apply: committed
// and persisted here, so a snapshot never covers entries this node's log
// does not hold.
func (l *raftLog) applyLimit() uint64 {
	stable := l.lastIndex()
	if len(l.unstable.entries) > 0 {
		stable = l.unstable.offset - 1
	}
	return min(l.committed, stable)
}

// nextCommitted returns committed entries not yet handed to the application.
func (l *raftLog) nextCommitted() []Entry {
	off := max(l.applied+1, l.firstIndex())
	if hi := l.applyLimit(); hi+1 > off {
		ents, err := l.slice(off, hi+1, l.maxApplySize)
		if err != nil {
			panic(fmt.Sprintf("consensus: unexpected error reading committed entries: %v", err))
		}
		return ents
	}
	return nil
}

func (l *raftLog) hasNextCommitted() bool {
	return l.applyLimit()+1 > max(l.applied+1, l.firstIndex())
}

// snapshotMeta returns the latest stored snapshot's metadata and data
// size. A received snapshot not yet stored is not offered: the driver
// reads the chunks it sends from storage.
func (l *raftLog) snapshotMeta() (SnapshotMeta, uint64, error) {
	if l.unstable.snapshot != nil {
		return SnapshotMeta{}, 0, ErrSnapshotTemporarilyUnavailable
	}
	return l.storage.SnapshotMeta()
}

func (l *raftLog) firstIndex() uint64 {
	if i, ok := l.unstable.maybeFirstIndex(); ok {
		return i
	}
	i, err := l.storage.FirstIndex()
	if err != nil {
		panic(err)
	}
	return i
}

func (l *raftLog) lastIndex() uint64 {
	if i, ok := l.unstable.maybeLastIndex(); ok {
		return i
	}
	i, err := l.storage.LastIndex()
	if err != nil {
		panic(err)
	}
	return i
}

func (l *raftLog) commitTo(tocommit uint64) {
	if l.committed < tocommit {
		if l.lastIndex() < tocommit {
			panic(fmt.Sprintf("consensus: commit %d is out of range [last %d]", tocommit, l.lastIndex()))
		}
		l.committed = tocommit
	}
}

func (l *raftLog) appliedTo(i uint64) {
	if i == 0 {
		return
	}
	if l.committed < i || i < l.applied {
		panic(fmt.Sprintf("consensus: applied %d out of range [prev %d, committed %d]", i, l.applied, l.committed))
	}
	l.applied = i
}

func (l *raftLog) stableTo(i, t uint64) { l.unstable.stableTo(i, t) }

func (l *raftLog) stableSnapTo(i uint64) { l.unstable.stableSnapTo(i) }

func (l *raftLog) lastTerm() uint64 {
	t, err := l.term(l.lastIndex())
	if err != nil {
		panic(fmt.Sprintf("consensus: unexpected error getting the last term: %v", err))
	}
	return t
}

func (l *raftLog) term(i uint64) (uint64, error) {
	dummy := l.firstIndex() - 1
	if i < dummy || i > l.lastIndex() {
		return 0, nil
	}
	if t, ok := l.unstable.maybeTerm(i); ok {
		return t, nil
	}
	t, err := l.storage.Term(i)
	if err == nil {
		return t, nil
	}
	if err == ErrCompacted || err == ErrUnavailable {
		return 0, err
	}
	panic(err)
}

func (l *raftLog) entries(i, maxSize uint64) ([]Entry, error) {
	if i > l.lastIndex() {
		return nil, nil
	}
	return l.slice(i, l.lastIndex()+1, maxSize)
}

// isUpToDate reports whether a log ending at (lasti, term) is at least as
// up to date as ours (§5.4.1).
func (l *raftLog) isUpToDate(lasti, term uint64) bool {
	return term > l.lastTerm() || (term == l.lastTerm() && lasti >= l.lastIndex())
}

func (l *raftLog) matchTerm(i, term uint64) bool {
	t, err := l.term(i)
	if err != nil {
		return false
	}
	return t == term
}

func (l *raftLog) maybeCommit(maxIndex, term uint64) bool {
	if maxIndex > l.committed && l.zeroTermOnErr(l.term(maxIndex)) == term {
		l.commitTo(maxIndex)
		return true
	}
	return false
}

func (l *raftLog) restore(s Snapshot) {
	l.committed = s.Meta.Index
	l.unstable.restore(s)
}

// slice returns entries in [lo, hi) from storage and unstable, limited by
// maxSize but at least one.
func (l *raftLog) slice(lo, hi, maxSize uint64) ([]Entry, error) {
	if lo == hi {
		return nil, nil
	}
	if lo < l.firstIndex() {
		return nil, ErrCompacted
	}
	if hi > l.lastIndex()+1 {
		panic(fmt.Sprintf("consensus: slice [%d,%d) out of bound [%d,%d]", lo, hi, l.firstIndex(), l.lastIndex()))
	}
	var ents []Entry
	if lo < l.unstable.offset {
		stored, err := l.storage.Entries(lo, min(hi, l.unstable.offset), maxSize)
		if err == ErrCompacted {
			return nil, err
		} else if err == ErrUnavailable {
			panic(fmt.Sprintf("consensus: entries[%d:%d) unavailable from storage", lo, min(hi, l.unstable.offset)))
		} else if err != nil {
			panic(err)
		}
		if uint64(len(stored)) < min(hi, l.unstable.offset)-lo {
			return stored, nil
		}
		ents = stored
	}
	if hi > l.unstable.offset {
		u := l.unstable.slice(max(lo, l.unstable.offset), hi)
		if len(ents) > 0 {
			combined := make([]Entry, 0, len(ents)+len(u))
			ents = append(append(combined, ents...), u...)
		} else {
			ents = u
		}
	}
	return limitSize(ents, maxSize), nil
}

func (l *raftLog) zeroTermOnErr(t uint64, err error) uint64 {
	if err == nil {
		return t
	}
	if err == ErrCompacted || err == ErrUnavailable {
		return 0
	}
	panic(err)
}
