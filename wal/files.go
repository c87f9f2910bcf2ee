package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/rkv/rkv/consensus"
)

const (
	hardStateName = "hardstate"
	logDirName    = "log"
	snapPrefix    = "snap-"
	snapSuffix    = ".snap"
	tmpSuffix     = ".tmp"
	// hardStateSize is crc32c | term | vote | commit.
	hardStateSize = 4 + 8 + 8 + 8
	snapMagic     = "rkvsnap1"
	// snapHeaderSize is magic | crc32c | meta length.
	snapHeaderSize = len(snapMagic) + 4 + 4
)

// syncDir makes the creation, removal and renaming of dir's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: sync directory %s: %w", dir, err)
	}
	return nil
}

// mkdir creates dir if it does not exist and makes its creation durable.
func mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// writeFileAtomic replaces dir/name with parts: it writes and fsyncs a
// temporary file and renames it over name, so a crash leaves either the old
// or the new file whole. The rename is durable once dir is synced, which is
// left to the caller so that it can be shared with other changes.
func writeFileAtomic(dir, name string, parts ...[]byte) error {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err = f.Write(p); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("wal: write %s: %w", name, err)
	}
	return nil
}

// removeTemps removes temporary files a crash left behind in dir: they were
// never renamed into place, so they hold nothing that was promised.
func removeTemps(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range des {
		if !de.IsDir() && (strings.HasSuffix(de.Name(), tmpSuffix) || strings.HasSuffix(de.Name(), ".TEMP")) {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func encodeHardState(hs consensus.HardState) []byte {
	b := make([]byte, 4, hardStateSize)
	b = binary.LittleEndian.AppendUint64(b, hs.Term)
	b = binary.LittleEndian.AppendUint64(b, uint64(hs.Vote))
	b = binary.LittleEndian.AppendUint64(b, hs.Commit)
	binary.LittleEndian.PutUint32(b, crc32.Checksum(b[4:], castagnoli))
	return b
}

// readHardState reads the hard state file; a missing file is an empty state.
func readHardState(path string) (consensus.HardState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return consensus.HardState{}, nil
	}
	if err != nil {
		return consensus.HardState{}, err
	}
	if len(b) != hardStateSize {
		return consensus.HardState{}, &CorruptError{Path: path, Err: fmt.Errorf("%w: hard state of %d bytes, want %d",
			ErrCorrupt, len(b), hardStateSize)}
	}
	if sum, want := crc32.Checksum(b[4:], castagnoli), binary.LittleEndian.Uint32(b); sum != want {
		return consensus.HardState{}, &CorruptError{Path: path, Err: fmt.Errorf("%w: hard state checksum %08x, file says %08x",
			ErrCorrupt, sum, want)}
	}
	return consensus.HardState{
		Term:   binary.LittleEndian.Uint64(b[4:]),
		Vote:   consensus.NodeID(binary.LittleEndian.Uint64(b[12:])),
		Commit: binary.LittleEndian.Uint64(b[20:]),
	}, nil
}

// snapName names the snapshot file of index i; the fixed width keeps the
// names in index order.
func snapName(i uint64) string { return fmt.Sprintf("%s%020d%s", snapPrefix, i, snapSuffix) }

// parseSnapName returns the index of a snapshot file name.
func parseSnapName(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, snapPrefix)
	if !ok {
		return 0, false
	}
	if s, ok = strings.CutSuffix(s, snapSuffix); !ok || len(s) != 20 {
		return 0, false
	}
	i, err := strconv.ParseUint(s, 10, 64)
	return i, err == nil && i > 0
}

// encodeSnapHeader returns the bytes that precede a snapshot's data:
//
//	magic "rkvsnap1" | crc32c uint32 | meta length uint32 | meta
//
// where meta is index uint64 | term uint64 | voters | learners, each list a
// uvarint count then uvarint ids, and the checksum covers everything after
// itself including the data.
func encodeSnapHeader(meta consensus.SnapshotMeta) []byte {
	m := binary.LittleEndian.AppendUint64(nil, meta.Index)
	m = binary.LittleEndian.AppendUint64(m, meta.Term)
	for _, ids := range [][]consensus.NodeID{meta.Conf.Voters, meta.Conf.Learners} {
		m = binary.AppendUvarint(m, uint64(len(ids)))
		for _, id := range ids {
			m = binary.AppendUvarint(m, uint64(id))
		}
	}
	h := make([]byte, 0, snapHeaderSize+len(m))
	h = append(h, snapMagic...)
	h = append(h, 0, 0, 0, 0)
	h = binary.LittleEndian.AppendUint32(h, uint32(len(m)))
	return append(h, m...)
}

// decodeSnapshot checks and decodes a snapshot file's contents; Data aliases b.
func decodeSnapshot(b []byte) (consensus.Snapshot, error) {
	if len(b) < snapHeaderSize || string(b[:len(snapMagic)]) != snapMagic {
		return consensus.Snapshot{}, fmt.Errorf("%w: not a snapshot file", ErrCorrupt)
	}
	if sum, want := crc32.Checksum(b[len(snapMagic)+4:], castagnoli), binary.LittleEndian.Uint32(b[len(snapMagic):]); sum != want {
		return consensus.Snapshot{}, fmt.Errorf("%w: snapshot checksum %08x, file says %08x", ErrCorrupt, sum, want)
	}
	n := binary.LittleEndian.Uint32(b[len(snapMagic)+4:])
	if uint64(n) > uint64(len(b)-snapHeaderSize) || n < 16 {
		return consensus.Snapshot{}, fmt.Errorf("%w: snapshot metadata length %d", ErrCorrupt, n)
	}
	meta, err := decodeSnapMeta(b[snapHeaderSize : snapHeaderSize+int(n)])
	if err != nil {
		return consensus.Snapshot{}, err
	}
	s := consensus.Snapshot{Meta: meta}
	if data := b[snapHeaderSize+int(n):]; len(data) > 0 {
		s.Data = data
	}
	return s, nil
}

// decodeSnapMeta decodes a snapshot file's metadata (at least 16 bytes).
func decodeSnapMeta(m []byte) (consensus.SnapshotMeta, error) {
	meta := consensus.SnapshotMeta{Index: binary.LittleEndian.Uint64(m), Term: binary.LittleEndian.Uint64(m[8:])}
	m = m[16:]
	for _, ids := range []*[]consensus.NodeID{&meta.Conf.Voters, &meta.Conf.Learners} {
		count, k := binary.Uvarint(m)
		if k <= 0 || count > uint64(len(m)) {
			return consensus.SnapshotMeta{}, fmt.Errorf("%w: snapshot membership", ErrCorrupt)
		}
		m = m[k:]
		for range count {
			id, k := binary.Uvarint(m)
			if k <= 0 {
				return consensus.SnapshotMeta{}, fmt.Errorf("%w: snapshot membership", ErrCorrupt)
			}
			*ids = append(*ids, consensus.NodeID(id))
			m = m[k:]
		}
	}
	return meta, nil
}

// readSnapshotFile reads and checks the open snapshot file f, found at path.
func readSnapshotFile(f *os.File, path string) (consensus.Snapshot, error) {
	// One buffer of the file's size: growing one as io.ReadAll does costs
	// seconds of copying and clearing for a snapshot of a million keys.
	info, err := f.Stat()
	if err != nil {
		return consensus.Snapshot{}, err
	}
	b := make([]byte, info.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return consensus.Snapshot{}, err
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		return consensus.Snapshot{}, &CorruptError{Path: path, Err: err}
	}
	return s, nil
}

// checkSnapshotFile checks the snapshot file f of index, found at path,
// as readSnapshotFile does but without holding it in memory: its magic,
// index and checksum. It returns the offset of the data and its size.
func checkSnapshotFile(f *os.File, path string, index uint64) (int64, uint64, error) {
	corrupt := func(format string, args ...any) error {
		return &CorruptError{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)}
	}
	info, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("wal: check snapshot: %w", err)
	}
	size := info.Size()
	h := make([]byte, snapHeaderSize+8)
	if size < int64(len(h)) {
		return 0, 0, corrupt("not a snapshot file")
	}
	if _, err := f.ReadAt(h, 0); err != nil {
		return 0, 0, fmt.Errorf("wal: check snapshot %s: %w", path, err)
	}
	if string(h[:len(snapMagic)]) != snapMagic {
		return 0, 0, corrupt("not a snapshot file")
	}
	n := binary.LittleEndian.Uint32(h[len(snapMagic)+4:])
	if int64(n) > size-int64(snapHeaderSize) || n < 16 {
		return 0, 0, corrupt("snapshot metadata length %d", n)
	}
	if i := binary.LittleEndian.Uint64(h[snapHeaderSize:]); i != index {
		return 0, 0, corrupt("snapshot file holds index %d", i)
	}
	crc := crc32.New(castagnoli)
	covered := io.NewSectionReader(f, int64(len(snapMagic)+4), size-int64(len(snapMagic)+4))
	if _, err := io.CopyBuffer(crc, covered, make([]byte, 1<<20)); err != nil {
		return 0, 0, fmt.Errorf("wal: check snapshot %s: %w", path, err)
	}
	if sum, want := crc.Sum32(), binary.LittleEndian.Uint32(h[len(snapMagic):]); sum != want {
		return 0, 0, corrupt("snapshot checksum %08x, file says %08x", sum, want)
	}
	off := int64(snapHeaderSize) + int64(n)
	return off, uint64(size - off), nil
}

// writeSnapshot stores s atomically in dir and removes older snapshot files,
// which the new one supersedes.
// syncs counts the fsyncs.
func writeSnapshot(dir string, s *consensus.Snapshot, syncs *atomic.Uint64) error {
	tmp, _, err := writeSnapshotTemp(dir, s.Meta, consensus.SnapshotBytes(s.Data), syncs)
	if err != nil {
		return err
	}
	if _, err := commitSnapshot(dir, tmp, s.Meta.Index); err != nil {
		return err
	}
	syncs.Add(1)
	return nil
}

// crcWriter passes writes through and keeps their CRC-32C and length.
type crcWriter struct {
	w   io.Writer
	crc uint32
	n   uint64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, castagnoli, p)
	c.n += uint64(len(p))
	return c.w.Write(p)
}

// snapSyncEvery is how many bytes of a snapshot are written between syncs.
const snapSyncEvery = 16 << 20

// syncingWriter syncs the file every snapSyncEvery bytes. One sync of a
// whole large snapshot would hold the disk for long enough to stall the
// log's own syncs behind it, and with them heartbeats and elections.
type syncingWriter struct {
	f       *os.File
	pending int
	syncs   *atomic.Uint64
}

func (s *syncingWriter) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.pending += n
	if err == nil && s.pending >= snapSyncEvery {
		s.pending = 0
		err = s.f.Sync()
		s.syncs.Add(1)
	}
	return n, err
}

// writeSnapshotTemp streams a snapshot into a synced temporary file in dir
// and returns its path and the size of the data. The data goes straight
// to the file, so a snapshot is never held in memory whole; the checksum,
// which precedes the data, is filled in once the data is written. syncs
// counts the fsyncs.
func writeSnapshotTemp(dir string, meta consensus.SnapshotMeta, write consensus.SnapshotWriter, syncs *atomic.Uint64) (string, uint64, error) {
	tmp := filepath.Join(dir, snapName(meta.Index)+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return "", 0, fmt.Errorf("wal: write snapshot: %w", err)
	}
	var size uint64
	err = func() error {
		h := encodeSnapHeader(meta)
		bw := bufio.NewWriterSize(&syncingWriter{f: f, syncs: syncs}, 1<<20)
		cw := &crcWriter{w: bw, crc: crc32.Checksum(h[len(snapMagic)+4:], castagnoli)}
		if _, err := bw.Write(h); err != nil {
			return err
		}
		if err := write(cw); err != nil {
			return err
		}
		size = cw.n
		if err := bw.Flush(); err != nil {
			return err
		}
		if _, err := f.WriteAt(binary.LittleEndian.AppendUint32(nil, cw.crc), int64(len(snapMagic))); err != nil {
			return err
		}
		syncs.Add(1)
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("wal: write snapshot %s: %w", snapName(meta.Index), err)
	}
	return tmp, size, nil
}

// commitSnapshot renames a written temporary snapshot into place, removes
// the older snapshot files it supersedes and syncs the directory. placed
// tells whether the rename was done: then the older files may be gone,
// even when err says that what followed failed.
func commitSnapshot(dir, tmp string, index uint64) (placed bool, err error) {
	if err := os.Rename(tmp, filepath.Join(dir, snapName(index))); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("wal: write snapshot %s: %w", snapName(index), err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return true, err
	}
	for _, de := range des {
		if i, ok := parseSnapName(de.Name()); ok && i < index {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
				return true, err
			}
		}
	}
	return true, syncDir(dir)
}
