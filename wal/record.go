package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/rkv/rkv/consensus"
)

// Errors of the wal package.
var (
	// ErrCorrupt is wrapped by every error that reports damaged data on disk.
	ErrCorrupt = errors.New("wal: corrupt data")
	// ErrFailed is wrapped by every write while the log cannot be repaired
	// after a failed write (see Durability in the package doc).
	ErrFailed = errors.New("wal: log failed earlier and is not repaired")
	// ErrClosed is returned by calls on a closed Log.
	ErrClosed = errors.New("wal: log closed")
	// ErrNotContiguous is returned by Save when entries would leave a gap
	// in the log or are not numbered one after another.
	ErrNotContiguous = errors.New("wal: entries are not contiguous with the log")
)

// CorruptError says where damaged data was found. It wraps ErrCorrupt.
type CorruptError struct {
	Path   string // the file holding the damaged data
	Offset int64  // byte offset of the damaged record or field in Path
	Err    error  // what is wrong; wraps ErrCorrupt
}

// Error names the file, the offset and the damage.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s at offset %d: %v", e.Path, e.Offset, e.Err)
}

// Unwrap returns the cause, which wraps ErrCorrupt.
func (e *CorruptError) Unwrap() error { return e.Err }

// A record is the payload of one tidwall/wal entry:
//
//	crc32c uint32 | index uint64 | term uint64 | type uint8 | data
//
// little endian, the checksum covering everything after itself.
const recordHeaderSize = 4 + 8 + 8 + 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends the record of e to dst.
func appendRecord(dst []byte, e *consensus.Entry) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, e.Index)
	dst = binary.LittleEndian.AppendUint64(dst, e.Term)
	dst = append(dst, byte(e.Type))
	dst = append(dst, e.Data...)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst
}

// decodeRecord checks and decodes one record. The entry's Data aliases rec;
// empty data decodes as nil.
func decodeRecord(rec []byte) (consensus.Entry, error) {
	if len(rec) < recordHeaderSize {
		return consensus.Entry{}, fmt.Errorf("%w: record of %d bytes is shorter than its %d-byte header",
			ErrCorrupt, len(rec), recordHeaderSize)
	}
	if sum, want := crc32.Checksum(rec[4:], castagnoli), binary.LittleEndian.Uint32(rec); sum != want {
		return consensus.Entry{}, fmt.Errorf("%w: checksum %08x, record says %08x", ErrCorrupt, sum, want)
	}
	typ := consensus.EntryType(rec[20])
	if typ > consensus.EntryConfChange {
		return consensus.Entry{}, fmt.Errorf("%w: unknown entry type %d", ErrCorrupt, typ)
	}
	e := consensus.Entry{
		Index: binary.LittleEndian.Uint64(rec[4:]),
		Term:  binary.LittleEndian.Uint64(rec[12:]),
		Type:  typ,
	}
	if len(rec) > recordHeaderSize {
		e.Data = rec[recordHeaderSize:]
	}
	return e, nil
}

// nextFrame splits the first tidwall/wal binary frame (uvarint length, then
// that many bytes) off b. ok is false when b does not start with a whole frame.
func nextFrame(b []byte) (rec []byte, n int, ok bool) {
	size, k := binary.Uvarint(b)
	if k <= 0 || size > uint64(len(b)-k) {
		return nil, 0, false
	}
	return b[k : k+int(size)], k + int(size), true
}

// frameSize is the number of bytes tidwall/wal spends on a record of n bytes.
func frameSize(n int) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], uint64(n)) + n
}
