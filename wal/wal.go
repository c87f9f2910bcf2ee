package wal

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	twal "github.com/tidwall/wal"

	"github.com/rkv/rkv/consensus"
)

// Options configures a Log. The zero value is usable.
type Options struct {
	// Logger receives warnings about repaired damage; nil means slog.Default().
	Logger *slog.Logger
	// SegmentSize is the size in bytes at which a new segment file is
	// started; 0 means 4 MiB. tidwall/wal keeps the open segment's bytes
	// in memory, so this bounds that buffer too.
	SegmentSize int
	// CacheSize is how many of the most recent entries are kept in memory
	// so that replication and Term do not read the disk; 0 means 4096.
	CacheSize int
	// NoSync skips the fsync of entries. Only for benchmarks: a crash may
	// lose entries that were acknowledged.
	NoSync bool
	// ObserveSync, when set, is told how long each fsync of a batch of
	// entries took (for a latency histogram); it must not block.
	ObserveSync func(time.Duration)
	// WriteFault is for tests: when set, it is called before each write
	// of entries, hard state, snapshot or compaction, and an error it
	// returns fails that write as the disk's own error would.
	WriteFault func() error
}

// Log is a durable consensus.LogStore kept in a directory. All methods are
// safe for concurrent use.
type Log struct {
	dir    string
	logDir string
	opts   Options

	// wmu serializes the writers: Save, CreateSnapshot's commit and Close.
	// mu guards what readers see and is not held across a log write or
	// sync, so that a slow disk does not stall the core's reads: a
	// follower must go on answering heartbeats while its disk syncs. Only
	// a holder of wmu changes tw, snap, first, last, tail, batch and hs, so
	// a writer may read them without mu.
	wmu   sync.Mutex
	mu    sync.Mutex
	tw    *twal.Log // the entries; nil once closed or after a failed reset
	batch twal.Batch
	hs    consensus.HardState
	snap  consensus.SnapshotMeta // the latest snapshot; Index 0 when none
	// snapSize is the size of the latest snapshot's data in bytes.
	snapSize uint64
	// first is the first entry that may be read. Entry first-1 is the
	// dummy whose term Term still answers: the snapshot, right after a
	// reset, or else the entry tidwall/wal holds first (it cannot hold
	// anything before its first entry). first <= snap.Index+1.
	first uint64
	last  uint64 // index of the last entry; first-1 when the log is empty
	tail  int    // size of the last segment file, mirroring tidwall/wal's rollover rule
	// failed is a failed write the entries could not be repaired after
	// (see failWrite); every write tries the repair again first.
	failed error
	// resetPending is set when an installed snapshot's log reset failed:
	// the repair resets the log instead of rewinding it.
	resetPending bool
	closed       bool
	// beforeSync, when set by a test, runs while Save is about to sync.
	beforeSync func()
	// cache holds the entries from cache[0].Index to last, with no gap,
	// at most opts.CacheSize of them.
	cache []consensus.Entry

	// smu guards the snapshot files open for chunk reads, newest last, at
	// most maxSnapFiles of them, and snapClosed. It is held for reading
	// across a chunk's read, never across a check, and is taken after mu
	// when both are.
	smu        sync.RWMutex
	snapFiles  []*snapFile
	snapClosed bool

	// syncs counts the fsyncs since Open of files and directories, those
	// tidwall/wal does itself included; written counts the bytes of the
	// entries' records.
	syncs, written atomic.Uint64
}

// maxSnapFiles is how many snapshot files stay open for chunk reads: a
// transfer under way survives a newer snapshot replacing its file, and a
// follower that installs it can go on from the log, which the driver by
// default keeps back to the previous snapshot. Past that it would need
// the newer snapshot anyway.
const maxSnapFiles = 2

// snapFile is a snapshot file open for chunk reads, checked when opened.
type snapFile struct {
	index   uint64
	f       *os.File
	path    string
	dataOff int64  // where the data starts in the file
	size    uint64 // bytes of data
}

var (
	_ consensus.LogStore       = (*Log)(nil)
	_ consensus.StorageCounter = (*Log)(nil)
)

// StorageStats implements consensus.StorageCounter.
func (l *Log) StorageStats() consensus.StorageStats {
	return consensus.StorageStats{Syncs: l.syncs.Load(), BytesWritten: l.written.Load()}
}

// Open opens the log in dir, creating it if needed, and repairs a torn
// tail left by a crash. Damage anywhere else is returned as a *CorruptError.
func Open(dir string, opts Options) (*Log, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 4 << 20
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 4096
	}
	l := &Log{dir: dir, logDir: filepath.Join(dir, logDirName), opts: opts}
	if err := l.open(); err != nil {
		if l.tw != nil {
			l.tw.Close()
		}
		l.closeSnapFiles()
		return nil, err
	}
	return l, nil
}

// open recovers the directory: files first, then the log reconciled with
// the snapshot, then the cache.
func (l *Log) open() error {
	if err := mkdir(l.dir); err != nil {
		return err
	}
	if err := mkdir(l.logDir); err != nil {
		return err
	}
	for _, d := range []string{l.dir, l.logDir} {
		if err := removeTemps(d); err != nil {
			return err
		}
	}
	var err error
	if l.hs, err = readHardState(filepath.Join(l.dir, hardStateName)); err != nil {
		return err
	}
	if err := l.loadSnapshot(); err != nil {
		return err
	}
	segs, err := listSegments(l.logDir)
	if err != nil {
		return err
	}
	s := l.snap.Index
	reset := len(segs) == 0
	if !reset {
		first, last, err := recoverSegments(segs, l.opts.Logger)
		if err != nil {
			return err
		}
		if first > s+1 {
			return &CorruptError{Path: segs[0].path, Err: fmt.Errorf("%w: log starts at index %d but the snapshot ends at %d",
				ErrCorrupt, first, s)}
		}
		// The log is behind the snapshot: a crash interrupted the install
		// of a snapshot from the leader after the snapshot was stored.
		reset = last < s
	}
	if reset {
		if err := resetSegments(l.logDir, s+1); err != nil {
			return err
		}
	}
	if err := l.openEntries(); err != nil {
		return err
	}
	// Entries up to S that agree with it stay, for followers catching up;
	// the application restores S and replays only the entries after it.
	if first, _ := l.tw.FirstIndex(); first <= s {
		t, err := l.readTerm(s)
		if err != nil {
			return err
		}
		if t != l.snap.Term {
			// The log disagrees with an installed snapshot whose log reset
			// a crash interrupted: the snapshot wins, as Save promised.
			l.tw.Close()
			l.tw = nil
			if err := resetSegments(l.logDir, s+1); err != nil {
				return err
			}
			if err := l.openEntries(); err != nil {
				return err
			}
		}
	}
	from := max(l.first, l.last-min(l.last, uint64(l.opts.CacheSize))+1)
	for i := from; i <= l.last; i++ {
		e, err := l.read(i)
		if err != nil {
			return err
		}
		l.cache = append(l.cache, e)
	}
	return nil
}

// loadSnapshot finds the latest snapshot file and removes older ones a
// crash left behind.
func (l *Log) loadSnapshot() error {
	des, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var names []string // in index order: the names are zero-padded
	for _, de := range des {
		if _, ok := parseSnapName(de.Name()); ok {
			names = append(names, de.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	path := filepath.Join(l.dir, names[len(names)-1])
	i, _ := parseSnapName(names[len(names)-1])
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	sf, err := checkedSnapFile(f, path, i)
	if err != nil {
		return err
	}
	meta, err := sf.meta()
	if err != nil {
		sf.f.Close()
		return err
	}
	// The file stays open for chunk reads: the restore at start reads it
	// right away, and need not check it again.
	l.snap, l.snapSize, l.snapFiles = meta, sf.size, []*snapFile{sf}
	if len(names) == 1 {
		return nil
	}
	for _, name := range names[:len(names)-1] {
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
			return err
		}
	}
	return syncDir(l.dir)
}

// openEntries opens the segments with tidwall/wal.
func (l *Log) openEntries() error {
	tw, err := twal.Open(l.logDir, &twal.Options{
		NoSync:      true, // Save syncs once per batch itself
		SegmentSize: l.opts.SegmentSize,
		AllowEmpty:  true,
	})
	if err != nil {
		return fmt.Errorf("wal: open %s: %w", l.logDir, err)
	}
	l.tw = tw
	if l.last, err = tw.LastIndex(); err != nil {
		return err
	}
	if err := l.setFirst(); err != nil {
		return err
	}
	l.cache = nil
	l.tail, err = tailSize(l.logDir)
	return err
}

// setFirst derives first from tidwall/wal's first index: the entry there
// is the dummy once the snapshot covers it, and readable otherwise (a new
// log, or one reset to start after the snapshot).
func (l *Log) setFirst() error {
	f, err := l.tw.FirstIndex()
	if err != nil {
		return err
	}
	if f <= l.snap.Index {
		f++
	}
	l.first = f
	return nil
}

// compact drops the entries before i from disk, keeping entry i as the
// dummy.
func (l *Log) compact(i uint64) error {
	if err := l.tw.TruncateFront(i); err != nil {
		return err
	}
	if err := syncDir(l.logDir); err != nil {
		return err
	}
	l.syncs.Add(2) // tidwall/wal's of the new first segment, then the directory's
	var err error
	l.tail, err = tailSize(l.logDir)
	return err
}

// read returns entry i from disk, checked.
func (l *Log) read(i uint64) (consensus.Entry, error) {
	if l.tw == nil {
		return consensus.Entry{}, l.unusable()
	}
	b, err := l.tw.Read(i)
	if err != nil {
		return consensus.Entry{}, fmt.Errorf("wal: read entry %d: %w", i, err)
	}
	e, err := decodeRecord(b)
	if err == nil && e.Index != i {
		err = fmt.Errorf("%w: record has index %d, want %d", ErrCorrupt, e.Index, i)
	}
	if err != nil {
		return consensus.Entry{}, l.locate(i, err)
	}
	return e, nil
}

// locate names the segment file and offset of entry i for a read error.
func (l *Log) locate(i uint64, cause error) error {
	segs, err := listSegments(l.logDir)
	if err != nil || len(segs) == 0 {
		return &CorruptError{Path: l.logDir, Err: cause}
	}
	s := segs[0]
	for _, t := range segs[1:] {
		if t.index <= i {
			s = t
		}
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return &CorruptError{Path: s.path, Err: cause}
	}
	return &CorruptError{Path: s.path, Offset: recordOffset(data, s.index, i), Err: cause}
}

// readTerm returns the term of entry i from disk.
func (l *Log) readTerm(i uint64) (uint64, error) {
	e, err := l.read(i)
	return e.Term, err
}

// unusable returns why the log can no longer be used.
func (l *Log) unusable() error {
	if l.closed {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrFailed, l.failed)
}

// failWrite handles a failed write of the entries (or of their
// truncation, compaction or reset), with wmu and mu held. What reached
// the files is unknown, and tidwall/wal's memory no longer matches them
// (it appends a batch to its buffers before writing it), so the entries
// are brought back at once to what the log published; should that fail
// too, every later write tries again first. It returns err.
func (l *Log) failWrite(err error) error {
	l.failed = err
	if rerr := l.repair(); rerr != nil {
		l.opts.Logger.Error("wal: cannot repair the log after a failed write; retrying at the next write", "dir", l.dir, "err", rerr)
	}
	return err
}

// usable returns ErrClosed on a closed log and repairs one whose repair
// after a failed write failed, with wmu held.
func (l *Log) usable() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.failed == nil {
		return nil
	}
	return l.repair()
}

// repair reopens the entries after a failed write, with wmu and mu held.
func (l *Log) repair() error {
	if err := l.reopenEntries(); err != nil {
		return fmt.Errorf("%w: %w; repairing the log: %w", ErrFailed, l.failed, err)
	}
	if l.failed != nil {
		l.opts.Logger.Info("wal: log repaired after a failed write", "dir", l.dir, "last", l.last)
	}
	l.failed = nil
	return nil
}

// reopenEntries brings the segment files back to the entries up to l.last,
// the last the log published, and reopens them with tidwall/wal: it
// finishes a truncation tidwall/wal had begun, cuts off what a failed write
// left after entry l.last (part of a batch, or a segment a failed rollover
// started), or after a failed install resets the log to start after the
// snapshot. Entries up to l.last were synced, so what remains is durable.
func (l *Log) reopenEntries() error {
	if l.tw != nil {
		// Its buffers are what failed; the files are reopened below, and
		// what a failing sync here might not flush is cut off anyway.
		l.tw.Close()
		l.tw = nil
	}
	if l.resetPending {
		if err := resetSegments(l.logDir, l.snap.Index+1); err != nil {
			return err
		}
		l.syncs.Add(2)
	} else if err := rewindSegments(l.logDir, l.last); err != nil {
		return err
	}
	cache := l.cache
	if err := l.openEntries(); err != nil {
		return err
	}
	l.resetPending = false
	// A truncation finished above may have left fewer entries.
	if len(cache) > 0 && l.last >= cache[0].Index {
		l.cache = cache[:min(uint64(len(cache)), l.last-cache[0].Index+1)]
	}
	return nil
}

// fault returns the error Options.WriteFault injects before a write, if
// any.
func (l *Log) fault() error {
	if l.opts.WriteFault == nil {
		return nil
	}
	return l.opts.WriteFault()
}

// InitialState implements consensus.Storage.
func (l *Log) InitialState() (consensus.HardState, consensus.ConfState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return consensus.HardState{}, consensus.ConfState{}, ErrClosed
	}
	return l.hs, l.snap.Conf.Clone(), nil
}

// Entries implements consensus.Storage. The entries' Data must not be
// modified: it is shared with the cache.
func (l *Log) Entries(lo, hi, maxSize uint64) ([]consensus.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if lo < l.first {
		return nil, consensus.ErrCompacted
	}
	if hi > l.last+1 {
		return nil, consensus.ErrUnavailable
	}
	if lo >= hi {
		return nil, nil
	}
	var ents []consensus.Entry
	var size uint64
	for i := lo; i < hi; i++ {
		var e consensus.Entry
		if c := l.cached(i); c != nil {
			e = *c
		} else {
			var err error
			if e, err = l.read(i); err != nil {
				return nil, err
			}
		}
		size += e.Size()
		if len(ents) > 0 && size > maxSize {
			break
		}
		ents = append(ents, e)
	}
	return ents, nil
}

// cached returns entry i from the cache, or nil.
func (l *Log) cached(i uint64) *consensus.Entry {
	if len(l.cache) == 0 || i < l.cache[0].Index || i > l.last {
		return nil
	}
	return &l.cache[i-l.cache[0].Index]
}

// Term implements consensus.Storage.
func (l *Log) Term(i uint64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term(i)
}

func (l *Log) term(i uint64) (uint64, error) {
	switch {
	case l.closed:
		return 0, ErrClosed
	case i < l.first-1:
		return 0, consensus.ErrCompacted
	case i == l.snap.Index:
		return l.snap.Term, nil
	case i > l.last:
		return 0, consensus.ErrUnavailable
	}
	if c := l.cached(i); c != nil {
		return c.Term, nil
	}
	return l.readTerm(i)
}

// LastIndex implements consensus.Storage.
func (l *Log) LastIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.last, nil
}

// FirstIndex implements consensus.Storage.
func (l *Log) FirstIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.first, nil
}

// Snapshot implements consensus.Storage. The data is read from its file on
// each call rather than held in memory, since it can be as large as the
// whole data set and is needed only to restore the application at start
// (followers are sent it through ReadSnapshotChunk). The file is read
// without holding the lock, so a large snapshot does not hold up Save; the
// open file stays readable if a newer snapshot removes it.
func (l *Log) Snapshot() (consensus.Snapshot, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return consensus.Snapshot{}, ErrClosed
	}
	if l.snap.Index == 0 {
		l.mu.Unlock()
		return consensus.Snapshot{}, nil
	}
	path := filepath.Join(l.dir, snapName(l.snap.Index))
	f, err := os.Open(path)
	l.mu.Unlock()
	if err != nil {
		return consensus.Snapshot{}, err
	}
	defer f.Close()
	return readSnapshotFile(f, path)
}

// SnapshotMeta implements consensus.Storage from memory: the metadata and
// data size of the latest snapshot.
func (l *Log) SnapshotMeta() (consensus.SnapshotMeta, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return consensus.SnapshotMeta{}, 0, ErrClosed
	}
	meta := l.snap
	meta.Conf = l.snap.Conf.Clone()
	return meta, l.snapSize, nil
}

// ReadSnapshotChunk implements consensus.Storage. The snapshot Open found
// is open already; the first read of a later one opens its file and checks it whole (magic, index, checksum) on
// the caller's goroutine, holding no lock, so the driver's reader pays for
// the check once per snapshot and nothing else waits for it; later reads
// use the open file. A damaged file is a *CorruptError. The file stays
// open after a newer snapshot removes it, so a transfer under way goes
// on, until chunks of maxSnapFiles newer snapshots were read; then reads
// of it return consensus.ErrSnapOutOfDate.
func (l *Log) ReadSnapshotChunk(index, off uint64, buf []byte) error {
	for {
		l.smu.RLock()
		if i := slices.IndexFunc(l.snapFiles, func(sf *snapFile) bool { return sf.index == index }); i >= 0 {
			err := l.snapFiles[i].read(off, buf)
			l.smu.RUnlock()
			return err
		}
		l.smu.RUnlock()
		if err := l.openSnapFile(index); err != nil {
			return err
		}
	}
}

// checkedSnapFile checks the open snapshot file f of index, found at path,
// for chunk reads; it closes f when the check fails.
func checkedSnapFile(f *os.File, path string, index uint64) (*snapFile, error) {
	sf := &snapFile{index: index, f: f, path: path}
	var err error
	if sf.dataOff, sf.size, err = checkSnapshotFile(f, path, index); err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

// meta reads and decodes the file's metadata, which lies between the
// header and the data.
func (sf *snapFile) meta() (consensus.SnapshotMeta, error) {
	m := make([]byte, sf.dataOff-int64(snapHeaderSize))
	if _, err := sf.f.ReadAt(m, int64(snapHeaderSize)); err != nil {
		return consensus.SnapshotMeta{}, fmt.Errorf("wal: read snapshot %s: %w", sf.path, err)
	}
	meta, err := decodeSnapMeta(m)
	if err != nil {
		return consensus.SnapshotMeta{}, &CorruptError{Path: sf.path, Err: err}
	}
	return meta, nil
}

// read reads buf from the data at off.
func (sf *snapFile) read(off uint64, buf []byte) error {
	if off > sf.size || uint64(len(buf)) > sf.size-off {
		return fmt.Errorf("wal: read of %d bytes at %d of snapshot %s, which holds %d", len(buf), off, sf.path, sf.size)
	}
	if _, err := sf.f.ReadAt(buf, sf.dataOff+int64(off)); err != nil {
		return fmt.Errorf("wal: read snapshot %s: %w", sf.path, err)
	}
	return nil
}

// openSnapFile opens and checks the file of snapshot index, which must be
// the latest, for chunk reads, closing the oldest file open beyond
// maxSnapFiles.
func (l *Log) openSnapFile(index uint64) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if index == 0 || index != l.snap.Index {
		l.mu.Unlock()
		return consensus.ErrSnapOutOfDate
	}
	// Opened under mu, which a newer snapshot's publication holds while
	// it removes this file.
	path := filepath.Join(l.dir, snapName(index))
	f, err := os.Open(path)
	want := l.snapSize
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("wal: open snapshot: %w", err)
	}
	sf, err := checkedSnapFile(f, path, index)
	if err != nil {
		return err
	}
	if sf.size != want {
		f.Close()
		return &CorruptError{Path: path, Err: fmt.Errorf("%w: snapshot holds %d bytes of data, %d were written", ErrCorrupt, sf.size, want)}
	}
	l.smu.Lock()
	defer l.smu.Unlock()
	if l.snapClosed {
		f.Close()
		return ErrClosed
	}
	if slices.ContainsFunc(l.snapFiles, func(o *snapFile) bool { return o.index == index }) {
		f.Close() // another reader opened it meanwhile
		return nil
	}
	l.snapFiles = append(l.snapFiles, sf)
	if len(l.snapFiles) > maxSnapFiles {
		l.snapFiles[0].f.Close()
		l.snapFiles = slices.Delete(l.snapFiles, 0, 1)
	}
	return nil
}

// closeSnapFiles closes the snapshot files open for chunk reads, once no
// read is under way, and opens no more.
func (l *Log) closeSnapFiles() {
	l.smu.Lock()
	defer l.smu.Unlock()
	for _, sf := range l.snapFiles {
		sf.f.Close()
	}
	l.snapFiles = nil
	l.snapClosed = true
}

// Save implements consensus.LogStore. It installs snap when it is newer
// than the stored snapshot (replacing the whole log), then writes ents with
// one write and one fsync (truncating any stored entries from the first of
// them on, but skipping those the snapshot covers, which are committed),
// then hs when it changed. A failed write or sync leaves the log to be
// repaired by the next Save, which the caller retries.
func (l *Log) Save(hs consensus.HardState, ents []consensus.Entry, snap *consensus.Snapshot) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.installIfNewer(snap); err != nil {
		return err
	}
	if len(ents) > 0 {
		first := l.snap.Index + 1
		if ents[len(ents)-1].Index >= first {
			if ents[0].Index < first {
				ents = ents[first-ents[0].Index:]
			}
			if err := l.append(ents); err != nil {
				return err
			}
		}
	}
	if !hs.IsEmpty() && hs != l.hs {
		// A failed write leaves the old file whole: nothing to repair.
		if err := l.saveHardState(hs); err != nil {
			return err
		}
		l.mu.Lock()
		l.hs = hs
		l.mu.Unlock()
	}
	return nil
}

// installIfNewer installs snap when it is newer than the stored snapshot.
// A snapshot from the leader replaces the whole log, so readers wait for
// it.
func (l *Log) installIfNewer(snap *consensus.Snapshot) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !snap.IsEmpty() && snap.Meta.Index > l.snap.Index {
		return l.install(snap)
	}
	return nil
}

// install stores a snapshot from the leader and replaces the log with an
// empty one that continues after it. A failed write of the snapshot
// changes nothing; once it is stored, the log is empty after it in memory
// at once, and a failed reset of the files is finished by the repair.
func (l *Log) install(snap *consensus.Snapshot) error {
	if err := l.fault(); err != nil {
		return fmt.Errorf("wal: write snapshot %s: %w", snapName(snap.Meta.Index), err)
	}
	if err := writeSnapshot(l.dir, snap, &l.syncs); err != nil {
		return err
	}
	l.snap, l.snapSize = snap.Meta, uint64(len(snap.Data))
	l.snap.Conf = snap.Meta.Conf.Clone()
	l.first, l.last, l.cache = l.snap.Index+1, l.snap.Index, nil
	l.resetPending = true
	if err := l.reopenEntries(); err != nil {
		l.failed = err // the next write repairs
		return err
	}
	return nil
}

// append writes ents, whose first index is at most one past the last.
func (l *Log) append(ents []consensus.Entry) error {
	if ents[0].Index > l.last+1 {
		return fmt.Errorf("%w: first new entry %d after last index %d", ErrNotContiguous, ents[0].Index, l.last)
	}
	for k := range ents {
		if ents[k].Index != ents[0].Index+uint64(k) {
			return fmt.Errorf("%w: entry %d follows entry %d", ErrNotContiguous, ents[k].Index, ents[0].Index+uint64(k)-1)
		}
	}
	// Entries the log holds with the same term are the same entries: a
	// write retried after its hard state failed finds them written, and
	// need not truncate (which copies a segment) to write them again.
	from := ents[0].Index
	for len(ents) > 0 && ents[0].Index <= l.last {
		if t, err := l.term(ents[0].Index); err != nil || t != ents[0].Term {
			break
		}
		ents = ents[1:]
		from++
	}
	if from <= l.last {
		l.mu.Lock()
		err := l.truncateBack(from - 1)
		if err != nil {
			err = l.failWrite(err)
		}
		l.mu.Unlock()
		if err != nil {
			return err
		}
	}
	if len(ents) == 0 {
		return nil
	}
	size := 0
	for k := range ents {
		size += recordHeaderSize + len(ents[k].Data)
	}
	// One buffer per batch: the cached entries' Data point into it.
	buf := make([]byte, 0, size)
	l.batch.Clear()
	rolled := l.tail > l.opts.SegmentSize
	if rolled {
		l.tail = 0
	}
	for k := range ents {
		off := len(buf)
		buf = appendRecord(buf, &ents[k])
		l.batch.Write(ents[k].Index, buf[off:])
		// tidwall/wal starts a new segment once the last one reaches
		// SegmentSize; the new file must be made durable in the directory.
		if l.tail += frameSize(len(buf) - off); l.tail >= l.opts.SegmentSize {
			l.tail = 0
			rolled = true
		}
	}
	err := l.writeBatch(rolled)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return l.failWrite(fmt.Errorf("wal: entries %d-%d: %w", ents[0].Index, ents[len(ents)-1].Index, err))
	}
	l.written.Add(uint64(len(buf)))
	l.last = ents[len(ents)-1].Index
	off := 0
	for k := range ents {
		e := ents[k]
		e.Data = nil
		if n := len(ents[k].Data); n > 0 {
			e.Data = buf[off+recordHeaderSize : off+recordHeaderSize+n : off+recordHeaderSize+n]
		}
		off += recordHeaderSize + len(ents[k].Data)
		l.cache = append(l.cache, e)
	}
	if n := len(l.cache) - l.opts.CacheSize; n > 0 {
		clear(l.cache[:n]) // let the dropped entries' data be collected
		l.cache = l.cache[n:]
	}
	return nil
}

// writeBatch writes and syncs l.batch, without mu: readers meanwhile see
// the log as it was, and the new entries once append publishes them.
func (l *Log) writeBatch(rolled bool) error {
	if err := l.fault(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := l.tw.WriteBatch(&l.batch); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !l.opts.NoSync {
		if l.beforeSync != nil {
			l.beforeSync()
		}
		start := time.Now()
		if err := l.tw.Sync(); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		l.syncs.Add(1)
		if l.opts.ObserveSync != nil {
			l.opts.ObserveSync(time.Since(start))
		}
	}
	if rolled {
		// tidwall/wal synced the segment it finished; this is the new one's
		// directory entry.
		l.syncs.Add(1)
		if err := syncDir(l.logDir); err != nil {
			return err
		}
		l.syncs.Add(1)
	}
	return nil
}

// truncateBack removes the entries after i.
func (l *Log) truncateBack(i uint64) error {
	if err := l.fault(); err != nil {
		return fmt.Errorf("wal: truncate entries after %d: %w", i, err)
	}
	if err := l.tw.TruncateBack(i); err != nil {
		return fmt.Errorf("wal: truncate entries after %d: %w", i, err)
	}
	if err := syncDir(l.logDir); err != nil {
		return err
	}
	l.syncs.Add(2) // tidwall/wal's of the cut segment, then the directory's
	l.last = i
	if len(l.cache) > 0 {
		if first := l.cache[0].Index; i < first {
			l.cache = l.cache[:0]
		} else {
			clear(l.cache[i+1-first:])
			l.cache = l.cache[:i+1-first]
		}
	}
	var err error
	l.tail, err = tailSize(l.logDir)
	return err
}

// saveHardState replaces the hard state file. The directory is synced only
// when the term or vote changed: losing a rename that only advanced Commit
// leaves the previous file, which is whole and safe (the commit index is
// learned again from the leader), and saves a sync on every commit.
func (l *Log) saveHardState(hs consensus.HardState) error {
	if err := l.fault(); err != nil {
		return fmt.Errorf("wal: write %s: %w", hardStateName, err)
	}
	if err := writeFileAtomic(l.dir, hardStateName, encodeHardState(hs)); err != nil {
		return err
	}
	l.syncs.Add(1)
	if hs.Term != l.hs.Term || hs.Vote != l.hs.Vote {
		if err := syncDir(l.dir); err != nil {
			return err
		}
		l.syncs.Add(1)
	}
	return nil
}

// CreateSnapshot implements consensus.LogStore: it stores a snapshot of the
// application taken at index i. The entries it covers stay until Compact,
// but for the first one on disk when nothing before it is kept (a new log,
// or one a leader's snapshot reset): that entry becomes the dummy, since
// the term before it is no longer the snapshot's.
func (l *Log) CreateSnapshot(i uint64, conf consensus.ConfState, write consensus.SnapshotWriter) error {
	meta, err := l.snapshotMeta(i, conf)
	if err != nil {
		return err
	}
	// The data is written without the lock, so appends go on meanwhile.
	werr := l.fault()
	var tmp string
	var size uint64
	if werr == nil {
		tmp, size, werr = writeSnapshotTemp(l.dir, meta, write, &l.syncs)
	} else {
		werr = fmt.Errorf("wal: write snapshot %s: %w", snapName(i), werr)
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.publishSnapshot(meta, tmp, size, werr)
}

// Compact implements consensus.LogStore: it drops the entries up to and
// including i, keeping entry i on disk as the dummy that answers Term(i).
func (l *Log) Compact(i uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if drop, err := l.raiseFirst(i); !drop || err != nil {
		return err
	}
	err := l.fault()
	if err == nil {
		err = l.compact(i)
	}
	if err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.failWrite(fmt.Errorf("wal: compact entries up to %d: %w", i, err))
	}
	return nil
}

// raiseFirst makes the entries up to i unreadable, so that readers stop
// asking for them before their files go, and reports whether any were
// readable.
func (l *Log) raiseFirst(i uint64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case i < l.first:
		return false, nil
	case i > l.snap.Index:
		return false, fmt.Errorf("wal: compact up to %d, beyond the snapshot at %d", i, l.snap.Index)
	}
	l.first = i + 1
	if len(l.cache) > 0 && l.cache[0].Index < i {
		n := min(i-l.cache[0].Index, uint64(len(l.cache)))
		clear(l.cache[:n])
		l.cache = l.cache[n:]
	}
	return true, nil
}

// publishSnapshot makes the snapshot written to tmp, with size bytes of
// data, the log's snapshot, unless writing it failed or a newer one was
// installed meanwhile. A failed snapshot leaves the log as it was: the
// previous snapshot stays, and the next one may succeed.
func (l *Log) publishSnapshot(meta consensus.SnapshotMeta, tmp string, size uint64, werr error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if werr != nil {
		return werr
	}
	i := meta.Index
	if l.closed || l.failed != nil || i <= l.snap.Index {
		// Closed, failed, or overtaken by a snapshot installed meanwhile.
		os.Remove(tmp)
		if i <= l.snap.Index {
			return consensus.ErrSnapOutOfDate
		}
		return l.unusable()
	}
	placed, err := commitSnapshot(l.dir, tmp, i)
	if placed {
		// Chunk reads must find the file in place, the older ones being
		// perhaps removed. The error still fails the snapshot, so the
		// log is not compacted before a later snapshot syncs the
		// directory that makes the rename durable.
		l.snap, l.snapSize = meta, size
		if ferr := l.setFirst(); err == nil {
			err = ferr
		}
	}
	if err != nil {
		return err
	}
	l.syncs.Add(1)
	return nil
}

// snapshotMeta checks that a snapshot may be taken at i and returns its
// metadata.
func (l *Log) snapshotMeta(i uint64, conf consensus.ConfState) (consensus.SnapshotMeta, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.failed != nil {
		return consensus.SnapshotMeta{}, l.unusable()
	}
	if i <= l.snap.Index {
		return consensus.SnapshotMeta{}, consensus.ErrSnapOutOfDate
	}
	if i > l.last {
		return consensus.SnapshotMeta{}, fmt.Errorf("wal: snapshot at %d beyond last index %d: %w", i, l.last, consensus.ErrUnavailable)
	}
	term, err := l.term(i)
	if err != nil {
		return consensus.SnapshotMeta{}, err
	}
	return consensus.SnapshotMeta{Index: i, Term: term, Conf: conf.Clone()}, nil
}

// Close implements consensus.LogStore. It releases the files; the Log
// cannot be used afterwards.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	l.cache = nil
	l.closeSnapFiles()
	if l.tw == nil {
		return nil
	}
	err := l.tw.Close()
	l.tw = nil
	if err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}
