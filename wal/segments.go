package wal

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/rkv/rkv/consensus"
)

// segment is one tidwall/wal segment file, named after its first index.
type segment struct {
	index uint64
	path  string
}

// segmentName is tidwall/wal's name for the segment starting at index.
func segmentName(index uint64) string { return fmt.Sprintf("%020d", index) }

// listSegments returns the segments of a tidwall/wal directory in index
// order. Like tidwall/wal's own loader it first finishes a truncation a
// crash interrupted: a .START file (TruncateFront) replaces the segments
// before it, an .END file (TruncateBack) those after it. Both are written
// whole (temp file, fsync, rename) before anything is removed, so finishing
// the job is always safe. The changes are synced.
func listSegments(dir string) ([]segment, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segment
	start, end := -1, -1
	for _, de := range des {
		name := de.Name()
		if de.IsDir() || len(name) < 20 {
			continue
		}
		index, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil || index == 0 {
			continue
		}
		isStart := len(name) == 26 && strings.HasSuffix(name, ".START")
		isEnd := len(name) == 24 && strings.HasSuffix(name, ".END")
		if len(name) != 20 && !isStart && !isEnd {
			continue
		}
		if isStart {
			start = len(segs)
		} else if isEnd && end == -1 {
			end = len(segs)
		}
		segs = append(segs, segment{index: index, path: filepath.Join(dir, name)})
	}
	if start == -1 && end == -1 {
		return segs, nil
	}
	if start != -1 && end != -1 {
		return nil, fmt.Errorf("%w: %s holds both a .START and an .END segment", ErrCorrupt, dir)
	}
	if start != -1 {
		for _, s := range segs[:start] {
			if err := os.Remove(s.path); err != nil {
				return nil, err
			}
		}
		segs = segs[start:]
		final := strings.TrimSuffix(segs[0].path, ".START")
		if err := os.Rename(segs[0].path, final); err != nil {
			return nil, err
		}
		segs[0].path = final
	} else {
		for _, s := range segs[end+1:] {
			if err := os.Remove(s.path); err != nil {
				return nil, err
			}
		}
		segs = segs[:end+1]
		// The segment the .END file rewrites sorts just before it.
		if n := len(segs); n > 1 && segs[n-2].index == segs[n-1].index {
			segs = append(segs[:n-2], segs[n-1])
		}
		last := &segs[len(segs)-1]
		final := strings.TrimSuffix(last.path, ".END")
		if err := os.Rename(last.path, final); err != nil {
			return nil, err
		}
		last.path = final
	}
	return segs, syncDir(dir)
}

// recoverSegments checks every record of every segment and returns the
// first and last index held (last = first-1 when the segments hold no
// record). A torn or zero-filled tail of the last segment is cut off; any
// other damage is a *CorruptError.
func recoverSegments(segs []segment, logger *slog.Logger) (first, last uint64, err error) {
	first = segs[0].index
	last = first - 1
	for k, s := range segs {
		if s.index != last+1 {
			return 0, 0, &CorruptError{Path: s.path, Err: fmt.Errorf("%w: segment starts at index %d, the log before it ends at %d",
				ErrCorrupt, s.index, last)}
		}
		data, err := os.ReadFile(s.path)
		if err != nil {
			return 0, 0, err
		}
		end, n, err := scanSegment(s.path, data, s.index, k == len(segs)-1)
		if err != nil {
			return 0, 0, err
		}
		if end < len(data) {
			logger.Warn("wal: cutting off torn tail of last segment",
				"file", s.path, "offset", end, "bytes", len(data)-end)
			if err := cutFile(s.path, int64(end)); err != nil {
				return 0, 0, err
			}
		}
		last += n
	}
	return first, last, nil
}

// scanSegment checks the records of one segment, which must be numbered from
// index on, and returns the offset after the last good record and how many
// there are. In the last segment a bad record followed by no good record is
// a torn write, and end stops before it; anything else is an error.
func scanSegment(path string, data []byte, index uint64, last bool) (end int, n uint64, err error) {
	for end < len(data) {
		rec, size, ok := nextFrame(data[end:])
		var cause error
		if !ok {
			cause = fmt.Errorf("%w: record frame runs past the end of the file", ErrCorrupt)
		} else {
			e, err := decodeRecord(rec)
			switch {
			case err != nil:
				cause = err
			case e.Index != index+n:
				// A record that checks out but sits in the wrong place was
				// never a torn write.
				return 0, 0, &CorruptError{Path: path, Offset: int64(end),
					Err: fmt.Errorf("%w: record has index %d, want %d", ErrCorrupt, e.Index, index+n)}
			}
		}
		if cause != nil {
			if last && !goodRecordFrom(data[end+1:]) {
				return end, n, nil
			}
			return 0, 0, &CorruptError{Path: path, Offset: int64(end), Err: cause}
		}
		end += size
		n++
	}
	return end, n, nil
}

// goodRecordFrom reports whether any whole, checksummed record starts
// anywhere in b. It tells a torn tail (nothing good after the damage) from
// damage in the middle of the data.
func goodRecordFrom(b []byte) bool {
	for off := range b {
		rec, _, ok := nextFrame(b[off:])
		// Cheap checks before the checksum keep scanning garbage fast.
		if ok && len(rec) >= recordHeaderSize && rec[20] <= byte(consensus.EntryConfChange) {
			if _, err := decodeRecord(rec); err == nil {
				return true
			}
		}
	}
	return false
}

// cutFile truncates path to size bytes and syncs it.
func cutFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// resetSegments empties dir and leaves one empty segment starting at next,
// which tidwall/wal opens as an empty log whose next index is next. Files
// are removed from the highest index down, so a crash part way leaves a
// prefix of the old log, which Open either keeps (when it agrees with the
// snapshot) or resets again.
func resetSegments(dir string, next uint64) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(des))
	for _, de := range des {
		names = append(names, de.Name())
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, name := range names {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, segmentName(next)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

// rewindSegments cuts the segments in dir back to the entries up to last:
// a failed write may have left part of a batch after it (whole records or
// a torn one), and a failed rollover a segment that starts after it. The
// changes are synced.
func rewindSegments(dir string, last uint64) error {
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	k := len(segs) - 1
	for k >= 0 && segs[k].index > last+1 {
		k--
	}
	if k < 0 {
		return fmt.Errorf("wal: no segment in %s holds entry %d", dir, last+1)
	}
	for _, s := range segs[k+1:] {
		if err := os.Remove(s.path); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(segs[k].path)
	if err != nil {
		return err
	}
	if off := recordOffset(data, segs[k].index, last+1); off < int64(len(data)) {
		if err := cutFile(segs[k].path, off); err != nil {
			return err
		}
	}
	if k < len(segs)-1 {
		return syncDir(dir)
	}
	return nil
}

// tailSize returns the size of the last segment in dir, which tidwall/wal
// compares with the segment size to decide when to start a new segment.
func tailSize(dir string) (int, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	for i := len(des) - 1; i >= 0; i-- {
		if name := des[i].Name(); len(name) == 20 {
			fi, err := des[i].Info()
			if err != nil {
				return 0, err
			}
			return int(fi.Size()), nil
		}
	}
	return 0, nil
}

// recordOffset returns the byte offset of the record of index in a segment
// starting at start, or where its framing breaks before it. It only serves
// to name the place of damage found when reading.
func recordOffset(data []byte, start, index uint64) int64 {
	off := 0
	for i := start; i < index; i++ {
		size, k := binary.Uvarint(data[off:])
		if k <= 0 || size > uint64(len(data)-off-k) {
			break
		}
		off += k + int(size)
	}
	return int64(off)
}
