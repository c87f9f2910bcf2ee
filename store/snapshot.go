package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"

	"github.com/tidwall/btree"
)

// Snapshot format (all integers little-endian or varint):
//
//	magic   "RKVSNAP1"
//	clock   int64     the store's clock
//	count   uint64    number of records
//	count × record:   uvarint keylen, key, uvarint vallen, value, varint deadline (0 = none)
//	crc     uint32    CRC-32C of every byte above
//
// Records are in tree order, so Restore loads them in one sorted pass.
const snapMagic = "RKVSNAP1"

// ErrCorrupt is returned by Restore for input that is not a whole, intact snapshot.
var ErrCorrupt = errors.New("store: corrupt snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot is a point-in-time copy of a Store. It shares the store's tree
// copy-on-write, so taking it is O(1) and writes go on while it is written.
type Snapshot struct {
	keys  *btree.BTreeG[item]
	clock int64
}

// Snapshot returns a point-in-time copy of the state.
func (s *Store) Snapshot() *Snapshot {
	s.mu.Lock() // Copy re-stamps the tree's ownership, a write
	defer s.mu.Unlock()
	return &Snapshot{keys: s.keys.Copy(), clock: s.clock}
}

// Len returns the number of keys in the snapshot.
func (sn *Snapshot) Len() int { return sn.keys.Len() }

// WriteTo serializes the snapshot to w. It may run on any goroutine, while
// the store it came from keeps applying commands.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(cw, crc), 64<<10)
	var hdr [24]byte
	copy(hdr[:], snapMagic)
	binary.LittleEndian.PutUint64(hdr[8:], uint64(sn.clock))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(sn.keys.Len()))
	bw.Write(hdr[:])
	var b [binary.MaxVarintLen64]byte
	sn.keys.Scan(func(it item) bool {
		bw.Write(binary.AppendUvarint(b[:0], uint64(it.keyLen())))
		bw.WriteString(it.key())
		bw.Write(binary.AppendUvarint(b[:0], uint64(it.vlen)))
		bw.WriteString(it.val())
		_, err := bw.Write(binary.AppendVarint(b[:0], it.deadline))
		return err == nil
	})
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	_, err := cw.Write(binary.LittleEndian.AppendUint32(b[:0], crc.Sum32()))
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Restore replaces the whole state with a snapshot read from r. The state is
// untouched when the input is corrupt (ErrCorrupt) or cannot be read.
func (s *Store) Restore(r io.Reader) error {
	sr := &snapReader{r: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}
	var hdr [24]byte
	if err := sr.read(hdr[:]); err != nil {
		return err
	}
	if string(hdr[:8]) != snapMagic {
		return fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	clock := int64(binary.LittleEndian.Uint64(hdr[8:]))
	count := binary.LittleEndian.Uint64(hdr[16:])
	fresh := New()
	fresh.clock = clock
	var prev item
	for i := uint64(0); i < count; i++ {
		klen, err := sr.uvarint()
		if err != nil {
			return err
		}
		if err := sr.bytes(klen, false); err != nil {
			return err
		}
		vlen, err := sr.uvarint()
		if err != nil {
			return err
		}
		if err := sr.bytes(vlen, true); err != nil {
			return err
		}
		deadline, err := sr.varint()
		if err != nil {
			return err
		}
		kv := sr.scratch
		key := b2s(kv[:klen])
		it := buildItem(ordOf(key), key, deadline, len(kv), len(kv), b2s(kv[klen:]))
		if i > 0 && !less(prev, it) {
			return fmt.Errorf("%w: records out of order", ErrCorrupt)
		}
		prev = it
		fresh.keys.Load(it)
		fresh.slots[it.ord>>50]++
		fresh.bytes += int64(it.bufCap())
		if it.deadline != 0 {
			fresh.ttls.Set(ttlEntry{it.deadline, it.ord})
		}
	}
	want := sr.crc.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(sr.r, tail[:]); err != nil {
		return fmt.Errorf("%w: missing checksum: %v", ErrCorrupt, err)
	}
	if binary.LittleEndian.Uint32(tail[:]) != want {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.ttls, s.clock, s.slots, s.bytes = fresh.keys, fresh.ttls, fresh.clock, fresh.slots, fresh.bytes
	return nil
}

// snapReader reads a snapshot, folding every byte into the checksum.
type snapReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	buf [binary.MaxVarintLen64]byte

	scratch []byte // the record being read: key then value
}

func (sr *snapReader) read(p []byte) error {
	if _, err := io.ReadFull(sr.r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		return err
	}
	sr.crc.Write(p)
	return nil
}

func (sr *snapReader) uvarint() (uint64, error) {
	for i := range sr.buf {
		c, err := sr.r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		sr.buf[i] = c
		if c < 0x80 {
			sr.crc.Write(sr.buf[:i+1])
			v, n := binary.Uvarint(sr.buf[:i+1])
			if n <= 0 {
				return 0, fmt.Errorf("%w: bad varint", ErrCorrupt)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: bad varint", ErrCorrupt)
}

func (sr *snapReader) varint() (int64, error) {
	u, err := sr.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

// bytes reads n bytes into the scratch buffer (appending when more is
// set), refusing lengths no valid snapshot has before allocating for them.
func (sr *snapReader) bytes(n uint64, more bool) error {
	if n > maxBulk {
		return fmt.Errorf("%w: length %d too large", ErrCorrupt, n)
	}
	if !more {
		sr.scratch = sr.scratch[:0]
	}
	l := len(sr.scratch)
	sr.scratch = slices.Grow(sr.scratch, int(n))[:l+int(n)]
	return sr.read(sr.scratch[l:])
}
