package consensus

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sync"
)

// SnapshotWriter writes an application snapshot's data to w.
type SnapshotWriter func(w io.Writer) error

// SnapshotBytes returns a SnapshotWriter of data held in memory.
func SnapshotBytes(data []byte) SnapshotWriter {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// Storage is the read side of the durable log the core consults. Entries
// the core has asked the driver to persist become visible here once the
// driver has written them. Implementations must be safe for use by the
// driver goroutine while another goroutine writes a snapshot.
type Storage interface {
	// InitialState returns the persisted HardState and the membership as of
	// the latest snapshot.
	InitialState() (HardState, ConfState, error)
	// Entries returns entries in [lo, hi), at least one if any exist,
	// stopping once their total Size passes maxSize.
	Entries(lo, hi, maxSize uint64) ([]Entry, error)
	// Term returns the term of entry i, which must be in
	// [FirstIndex()-1, LastIndex()]: the term of FirstIndex()-1 stays
	// known after its entry is compacted. The snapshot's index is always
	// in that range.
	Term(i uint64) (uint64, error)
	// LastIndex returns the index of the last entry in the log.
	LastIndex() (uint64, error)
	// FirstIndex returns the index of the first entry that may be read.
	// It is at most the latest snapshot's index plus one: entries the
	// snapshot covers stay readable until they are compacted (see
	// LogStore.Compact), so that a follower that installs the snapshot
	// can go on from the log.
	FirstIndex() (uint64, error)
	// Snapshot returns the most recent snapshot, data included, for tools
	// and tests that inspect it; the driver streams the data instead, at
	// start as for a follower (ReadSnapshotChunk).
	Snapshot() (Snapshot, error)
	// SnapshotMeta returns the most recent snapshot's metadata and the
	// size of its data in bytes, without reading the data: the core asks
	// for it on the run goroutine when a follower needs a snapshot.
	SnapshotMeta() (SnapshotMeta, uint64, error)
	// ReadSnapshotChunk fills buf with the data of the snapshot at index
	// from byte offset off; the range must lie within the size that
	// SnapshotMeta reported. The driver calls it on goroutines of its
	// own, concurrently with every other method, to send the chunks the
	// core asks for. It returns ErrSnapOutOfDate once it cannot read that
	// snapshot because a newer one replaced it: an implementation keeps a
	// replaced snapshot readable while a transfer may still need it, and
	// for as long as it can (wal: while its file stays open), so that a
	// snapshot taken during a long transfer does not restart it.
	ReadSnapshotChunk(index, off uint64, buf []byte) error
}

// LogStore is Storage plus the writes the driver makes. Save must make
// everything it is given durable with one write and one sync before it
// returns (group commit); Save truncates any persisted entries at or after
// the first index in ents before appending them.
type LogStore interface {
	Storage
	Save(hs HardState, ents []Entry, snap *Snapshot) error
	// CreateSnapshot records a snapshot of the application taken at index i,
	// whose data write streams out. It does not compact: the entries it
	// covers stay readable until Compact drops them, except that FirstIndex
	// may rise by one where the storage keeps the first entry as the dummy
	// that answers Term(FirstIndex()-1). The data is streamed so that a
	// large state is never held twice in memory.
	CreateSnapshot(i uint64, conf ConfState, write SnapshotWriter) error
	// Compact drops the entries up to and including i, which must be at
	// most the latest snapshot's index; afterwards FirstIndex is i+1 and
	// Term(i) still answers. Compacting at or below what is already
	// compacted does nothing. A snapshot received from the leader (through
	// Save) replaces the whole log instead.
	Compact(i uint64) error
	Close() error
}

// StorageCounter is implemented by a LogStore that counts its own work,
// which Node.Stats then reports.
type StorageCounter interface {
	StorageStats() StorageStats
}

// StorageStats is a LogStore's work since it was opened.
type StorageStats struct {
	// Syncs counts fsyncs of files and directories, BytesWritten the
	// bytes of the entries' records.
	Syncs, BytesWritten uint64
}

// MemoryStorage is a LogStore held in memory. The simulation uses it to
// model a node's disk: what was saved survives a simulated crash.
type MemoryStorage struct {
	mu   sync.Mutex
	hs   HardState
	snap Snapshot
	// reading are the snapshots chunks were last read from, newest last,
	// at most two: like wal's open files, a replaced snapshot stays
	// readable until chunks of two newer ones were read.
	reading []Snapshot
	// ents[0] is a dummy entry at the index and term of the last entry
	// compacted, at or below the snapshot's index.
	ents []Entry
}

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{ents: make([]Entry, 1)}
}

// InitialState implements Storage.
func (ms *MemoryStorage) InitialState() (HardState, ConfState, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.hs, ms.snap.Meta.Conf.Clone(), nil
}

// Entries implements Storage.
func (ms *MemoryStorage) Entries(lo, hi, maxSize uint64) ([]Entry, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	offset := ms.ents[0].Index
	if lo <= offset {
		return nil, ErrCompacted
	}
	if hi > ms.lastIndex()+1 {
		return nil, ErrUnavailable
	}
	ents := ms.ents[lo-offset : hi-offset]
	return limitSize(append([]Entry(nil), ents...), maxSize), nil
}

// Term implements Storage.
func (ms *MemoryStorage) Term(i uint64) (uint64, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	offset := ms.ents[0].Index
	if i < offset {
		return 0, ErrCompacted
	}
	if i-offset >= uint64(len(ms.ents)) {
		return 0, ErrUnavailable
	}
	return ms.ents[i-offset].Term, nil
}

// LastIndex implements Storage.
func (ms *MemoryStorage) LastIndex() (uint64, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.lastIndex(), nil
}

func (ms *MemoryStorage) lastIndex() uint64 {
	return ms.ents[0].Index + uint64(len(ms.ents)) - 1
}

// FirstIndex implements Storage.
func (ms *MemoryStorage) FirstIndex() (uint64, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.ents[0].Index + 1, nil
}

// Snapshot implements Storage.
func (ms *MemoryStorage) Snapshot() (Snapshot, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.snap, nil
}

// SnapshotMeta implements Storage.
func (ms *MemoryStorage) SnapshotMeta() (SnapshotMeta, uint64, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.snap.Meta, uint64(len(ms.snap.Data)), nil
}

// ReadSnapshotChunk implements Storage.
func (ms *MemoryStorage) ReadSnapshotChunk(index, off uint64, buf []byte) error {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	i := slices.IndexFunc(ms.reading, func(s Snapshot) bool { return s.Meta.Index == index })
	if i < 0 {
		if index == 0 || index != ms.snap.Meta.Index {
			return ErrSnapOutOfDate
		}
		ms.reading = append(ms.reading, ms.snap)
		if len(ms.reading) > 2 {
			ms.reading = slices.Delete(ms.reading, 0, 1)
		}
		i = len(ms.reading) - 1
	}
	data := ms.reading[i].Data
	if off > uint64(len(data)) || uint64(len(buf)) > uint64(len(data))-off {
		return fmt.Errorf("consensus: read of %d bytes at %d of snapshot %d, which holds %d", len(buf), off, index, len(data))
	}
	copy(buf, data[off:])
	return nil
}

// Save implements LogStore.
func (ms *MemoryStorage) Save(hs HardState, ents []Entry, snap *Snapshot) error {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if !snap.IsEmpty() && snap.Meta.Index > ms.snap.Meta.Index {
		ms.snap = *snap
		ms.snap.Meta.Conf = snap.Meta.Conf.Clone()
		ms.ents = []Entry{{Term: snap.Meta.Term, Index: snap.Meta.Index}}
	}
	if len(ents) > 0 {
		ms.append(ents)
	}
	if !hs.IsEmpty() {
		ms.hs = hs
	}
	return nil
}

func (ms *MemoryStorage) append(ents []Entry) {
	// Entries the snapshot covers are committed: they are never replaced,
	// even while they are kept.
	first := max(ms.ents[0].Index, ms.snap.Meta.Index) + 1
	last := ents[len(ents)-1].Index
	if last < first {
		return
	}
	if first > ents[0].Index {
		ents = ents[first-ents[0].Index:]
	}
	offset := ents[0].Index - ms.ents[0].Index
	switch {
	case uint64(len(ms.ents)) > offset:
		ms.ents = append(ms.ents[:offset:offset], ents...)
	case uint64(len(ms.ents)) == offset:
		ms.ents = append(ms.ents, ents...)
	default:
		panic("consensus: MemoryStorage append leaves a gap")
	}
}

// CreateSnapshot implements LogStore.
func (ms *MemoryStorage) CreateSnapshot(i uint64, conf ConfState, write SnapshotWriter) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	data := buf.Bytes()
	if len(data) == 0 {
		data = nil
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if i <= ms.snap.Meta.Index {
		return ErrSnapOutOfDate
	}
	offset := ms.ents[0].Index
	if i > ms.lastIndex() {
		panic("consensus: snapshot beyond the last index")
	}
	term := ms.ents[i-offset].Term
	ms.snap = Snapshot{Meta: SnapshotMeta{Index: i, Term: term, Conf: conf.Clone()}, Data: data}
	return nil
}

// Compact implements LogStore.
func (ms *MemoryStorage) Compact(i uint64) error {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	offset := ms.ents[0].Index
	if i <= offset {
		return nil
	}
	if i > ms.snap.Meta.Index {
		return fmt.Errorf("consensus: compact up to %d, beyond the snapshot at %d", i, ms.snap.Meta.Index)
	}
	ms.ents = append([]Entry{{Index: i, Term: ms.ents[i-offset].Term}}, ms.ents[i-offset+1:]...)
	return nil
}

// Close implements LogStore.
func (ms *MemoryStorage) Close() error { return nil }

// limitSize keeps at least one entry and stops once the total size passes
// maxSize.
func limitSize(ents []Entry, maxSize uint64) []Entry {
	if len(ents) == 0 {
		return ents
	}
	size := ents[0].Size()
	for i := 1; i < len(ents); i++ {
		size += ents[i].Size()
		if size > maxSize {
			return ents[:i]
		}
	}
	return ents
}
