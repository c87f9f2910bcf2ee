package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"unsafe"

	"github.com/tidwall/btree"

	"github.com/rkv/rkv/internal/countio"
)

// Snapshot format (all integers little-endian or varint):
//
//	magic   "RKVSNAP4"
//	clock   int64     the store's clock
//	seq     uint64    the store's command count
//	count   uint64    number of records, in all databases
//	deleted 4096 × uvarint: Store.deleted
//	enc     uvarint count, then per encoding setting that differs from its
//	        default its uvarint name length, name and varint value
//	dbs     uvarint count of databases with keys, then per database in
//	        increasing order its uvarint number, uvarint record count and
//	        records:
//	record: kind byte (rawKind set for a string stored raw), uvarint keylen,
//	        key, varint deadline (0 = none), uvarint ver,
//	        then a string's uvarint vallen and value, or a container's
//	        uvarint n and n × (uvarint len, bytes) as its encode lists them
//	crc     uint32    CRC-32C of every byte above
//
// Records are in tree order, so Restore loads them in one sorted pass.
// Restore also reads "RKVSNAP3", the same with the records of database 0
// only and no database list; "RKVSNAP2", that without enc; and
// "RKVSNAP1", the strings-only format before it: after the clock, count
// and records of key, value and deadline.
const (
	snapMagic   = "RKVSNAP4"
	snapMagicV3 = "RKVSNAP3"
	snapMagicV2 = "RKVSNAP2"
	snapMagicV1 = "RKVSNAP1"
)

// rawKind marks, in a record's kind byte, a string whose buffer has spare
// room (spareFlag), which OBJECT ENCODING reports raw: a replica restoring
// the snapshot must report the same.
const rawKind = 0x80

// recordKind is it's kind byte in snapshots and the digest.
func recordKind(it *item) byte {
	if !it.isObj() && it.klen&spareFlag != 0 {
		return byte(kindString) | rawKind
	}
	return byte(it.kind())
}

// ErrCorrupt is returned by Restore for input that is not a whole, intact snapshot.
var ErrCorrupt = errors.New("store: corrupt snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot is a point-in-time copy of a Store. It shares the store's tree
// copy-on-write, so taking it is O(1) and writes go on while it is written.
type Snapshot struct {
	dbs     []snapDB
	clock   int64
	seq     uint64
	deleted [deletedBuckets]uint64
	enc     encodings
}

// snapDB is a database with keys in a snapshot.
type snapDB struct {
	db   int
	keys *btree.BTreeG[item]
}

// Snapshot returns a point-in-time copy of the state. Containers are not
// copied: the next write to each clones it first (Store.writable).
func (s *Store) Snapshot() *Snapshot {
	s.mu.Lock() // Copy re-stamps the tree's ownership, a write
	defer s.mu.Unlock()
	return s.snapshot()
}

// snapshot is Snapshot; the caller holds the write lock.
func (s *Store) snapshot() *Snapshot {
	s.snapGen++
	sn := &Snapshot{clock: s.clock, seq: s.seq, deleted: *s.deleted, enc: s.enc}
	s.eachDB(func(db int, ks *keyspace) {
		if ks.keys.Len() > 0 {
			sn.dbs = append(sn.dbs, snapDB{db, ks.keys.Copy()})
		}
	})
	return sn
}

// Len returns the number of keys in the snapshot.
func (sn *Snapshot) Len() int {
	n := 0
	for _, d := range sn.dbs {
		n += d.keys.Len()
	}
	return n
}

// WriteTo serializes the snapshot to w. It may run on any goroutine, while
// the store it came from keeps applying commands.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countio.Writer{W: w}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(cw, crc), 64<<10)
	var hdr [32]byte
	copy(hdr[:], snapMagic)
	binary.LittleEndian.PutUint64(hdr[8:], uint64(sn.clock))
	binary.LittleEndian.PutUint64(hdr[16:], sn.seq)
	binary.LittleEndian.PutUint64(hdr[24:], uint64(sn.Len()))
	bw.Write(hdr[:])
	var b [binary.MaxVarintLen64 * 3]byte
	for _, v := range sn.deleted {
		bw.Write(binary.AppendUvarint(b[:0], v))
	}
	bw.Write(sn.enc.appendChanged(nil))
	bw.Write(binary.AppendUvarint(b[:0], uint64(len(sn.dbs))))
	for _, d := range sn.dbs {
		bw.Write(binary.AppendUvarint(b[:0], uint64(d.db)))
		bw.Write(binary.AppendUvarint(b[:0], uint64(d.keys.Len())))
		writeRecords(bw, d.keys)
	}
	if err := bw.Flush(); err != nil {
		return cw.N, err
	}
	_, err := cw.Write(binary.LittleEndian.AppendUint32(b[:0], crc.Sum32()))
	return cw.N, err
}

// writeRecords writes the records of keys in tree order.
func writeRecords(bw *bufio.Writer, keys *btree.BTreeG[item]) {
	var b [binary.MaxVarintLen64 * 3]byte
	keys.Scan(func(it item) bool {
		h := append(b[:0], recordKind(&it))
		h = binary.AppendUvarint(h, uint64(it.keyLen()))
		bw.Write(h)
		bw.WriteString(it.key())
		h = binary.AppendVarint(b[:0], it.deadline)
		h = binary.AppendUvarint(h, it.ver)
		bw.Write(h)
		if !it.isObj() {
			bw.Write(binary.AppendUvarint(b[:0], uint64(it.vlen)))
			_, err := bw.WriteString(it.val())
			return err == nil
		}
		c := it.obj().val
		n := 0
		c.encode(func([]byte) { n++ })
		bw.Write(binary.AppendUvarint(b[:0], uint64(n)))
		c.encode(func(e []byte) {
			bw.Write(binary.AppendUvarint(b[:0], uint64(len(e))))
			bw.Write(e)
		})
		_, err := bw.Write(nil)
		return err == nil
	})
}

// Restore replaces the whole state with a snapshot read from r. The state is
// untouched when the input is corrupt (ErrCorrupt) or cannot be read.
func (s *Store) Restore(r io.Reader) error {
	fresh, err := readSnapshot(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.install(fresh)
	return nil
}

// readSnapshot reads a whole snapshot into a new store.
func readSnapshot(r io.Reader) (*Store, error) {
	sr := &snapReader{r: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}
	var magic [8]byte
	if err := sr.read(magic[:]); err != nil {
		return nil, err
	}
	version := slices.Index([]string{snapMagicV1, snapMagicV2, snapMagicV3, snapMagic}, string(magic[:])) + 1
	if version == 0 {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	fresh := New()
	var err error
	if version == 1 {
		err = fresh.loadV1(sr)
	} else {
		err = fresh.load(sr, version)
	}
	if err != nil {
		return nil, err
	}
	want := sr.crc.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(sr.r, tail[:]); err != nil {
		return nil, fmt.Errorf("%w: missing checksum: %v", ErrCorrupt, err)
	}
	if binary.LittleEndian.Uint32(tail[:]) != want {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return fresh, nil
}

// install makes fresh's state the store's. The caller holds the write
// lock.
func (s *Store) install(fresh *Store) {
	s.keyspace, s.dbs, s.clock = fresh.keyspace, fresh.dbs, fresh.clock
	s.seq, s.deleted, s.enc = fresh.seq, fresh.deleted, fresh.enc
	s.changedAll = s.recordChanges.Load()
	// The log's history of the keys starts again at the snapshot: what
	// the marks and any access history said was about the old keyspace.
	s.marks, s.markStep = []clockMark{{s.seq, s.clock}}, markEveryMs
	if t := s.access.Load(); t != nil {
		s.access.Store(newAccessTable(t.lfu, s.clock, s.keysLen()))
	}
	s.idleSet = nil
	s.used.Store(s.memoryBytes())
	// Restored objects were made in fresh's generation 0; none is shared
	// with a snapshot, and a later one must find them older.
	s.snapGen = 0
}

// load reads the body of a snapshot of a version from 2 to 4 into the
// empty store s.
func (s *Store) load(sr *snapReader, version int) error {
	var hdr [24]byte
	if err := sr.read(hdr[:]); err != nil {
		return err
	}
	s.clock = int64(binary.LittleEndian.Uint64(hdr[0:]))
	s.seq = binary.LittleEndian.Uint64(hdr[8:])
	count := binary.LittleEndian.Uint64(hdr[16:])
	for i := range s.deleted {
		v, err := sr.uvarint()
		if err != nil {
			return err
		}
		s.deleted[i] = v
	}
	if version > 2 {
		if err := s.loadEncodings(sr); err != nil {
			return err
		}
	}
	if version < 4 {
		return s.loadRecords(sr, count)
	}
	ndbs, err := sr.uvarint()
	if err != nil {
		return err
	}
	var total uint64
	for i := uint64(0); i < ndbs; i++ {
		db, err := sr.uvarint()
		if err != nil {
			return err
		}
		if db >= MaxDatabases || i > 0 && int(db) <= s.db {
			return fmt.Errorf("%w: bad database %d", ErrCorrupt, db)
		}
		n, err := sr.uvarint()
		if err != nil {
			return err
		}
		if total += n; total > count {
			return fmt.Errorf("%w: more records than counted", ErrCorrupt)
		}
		s.selectDB(int(db))
		if err := s.loadRecords(sr, n); err != nil {
			return err
		}
	}
	s.selectDB(0)
	if total != count {
		return fmt.Errorf("%w: fewer records than counted", ErrCorrupt)
	}
	return nil
}

// loadRecords reads count records into the current database.
func (s *Store) loadRecords(sr *snapReader, count uint64) error {
	var prev item
	for i := uint64(0); i < count; i++ {
		k, err := sr.r.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		sr.crc.Write([]byte{k})
		raw := k&rawKind != 0
		if k &^= rawKind; kind(k) >= numKinds || raw && kind(k) != kindString {
			return fmt.Errorf("%w: bad type %d", ErrCorrupt, k)
		}
		klen, err := sr.uvarint()
		if err != nil {
			return err
		}
		if err := sr.bytes(klen, false); err != nil {
			return err
		}
		deadline, err := sr.varint()
		if err != nil {
			return err
		}
		ver, err := sr.uvarint()
		if err != nil {
			return err
		}
		var it item
		if kind(k) == kindString {
			vlen, err := sr.uvarint()
			if err != nil {
				return err
			}
			if err := sr.bytes(vlen, true); err != nil {
				return err
			}
			kv := sr.scratch
			key := b2s(kv[:klen])
			c := len(kv)
			if raw {
				c = spareCap(c)
			}
			it = buildItem(ordOf(key), key, deadline, len(kv), c, b2s(kv[klen:]))
			if raw {
				it.klen |= spareFlag
			}
		} else {
			key := string(sr.scratch)
			c, err := sr.container(kind(k))
			if err != nil {
				return err
			}
			it = s.newObjItem(item{ord: ordOf(key), ptr: unsafe.Pointer(unsafe.StringData(key)), klen: uint32(len(key))}, c)
			it.obj().charged = c.memUsage()
			it.deadline = deadline
		}
		it.ver = ver
		if i > 0 && !less(prev, it) {
			return fmt.Errorf("%w: records out of order", ErrCorrupt)
		}
		prev = it
		s.loadItem(it)
	}
	return nil
}

// container reads a container record's elements and rebuilds it.
func (sr *snapReader) container(k kind) (container, error) {
	if loaders[k] == nil {
		return nil, fmt.Errorf("%w: no loader for %s", ErrCorrupt, k)
	}
	n, err := sr.uvarint()
	if err != nil {
		return nil, err
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d elements", ErrCorrupt, n)
	}
	left := int(n)
	next := func() ([]byte, error) {
		if left == 0 {
			return nil, errBadValue
		}
		left--
		l, err := sr.uvarint()
		if err != nil {
			return nil, err
		}
		if err := sr.bytes(l, false); err != nil {
			return nil, err
		}
		return sr.scratch, nil
	}
	c, err := loaders[k](int(n), next)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s value: %v", ErrCorrupt, k, err)
	}
	if left != 0 {
		return nil, fmt.Errorf("%w: %s value has %d elements left over", ErrCorrupt, k, left)
	}
	return c, nil
}

// loadV1 reads the body of an RKVSNAP1 snapshot into the empty store s.
func (s *Store) loadV1(sr *snapReader) error {
	var hdr [16]byte
	if err := sr.read(hdr[:]); err != nil {
		return err
	}
	s.clock = int64(binary.LittleEndian.Uint64(hdr[0:]))
	count := binary.LittleEndian.Uint64(hdr[8:])
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
		s.loadItem(it)
	}
	return nil
}

// loadItem appends an item read in tree order.
func (s *Store) loadItem(it item) {
	s.keys.Load(it)
	s.slots[it.ord>>50]++
	s.bytes += int64(it.bufCap())
	if it.deadline != 0 {
		s.ttls.Set(ttlEntry{it.deadline, it.ord})
	}
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
	// Grown as the bytes arrive, so a corrupt length in a short file
	// fails before it allocates what it claims.
	const piece = 1 << 20
	for left := int(n); left > 0; {
		k := min(left, piece)
		l := len(sr.scratch)
		sr.scratch = slices.Grow(sr.scratch, k)[:l+k]
		if err := sr.read(sr.scratch[l:]); err != nil {
			return err
		}
		left -= k
	}
	return nil
}
