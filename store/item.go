package store

import (
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// item is one key and its value. It is pointer-light on purpose: for a
// string the key and the value share one allocation (key bytes first), so a
// key costs this 40-byte struct inside a B-tree node plus a single
// pointer-free buffer. Any other type points to an object (objFlag).
//
// Invariant: the bytes in [0, keyLen+vlen) of the buffer never change once the
// item is in the tree, because a snapshot (a copy-on-write clone of the tree)
// may be reading them on another goroutine. Only APPEND writes in place, and
// only past vlen, into spare capacity that no other item can see (no two live
// items share a buffer).
type item struct {
	ord      uint64         // slot<<50 | hash>>14: the tree order, the SCAN cursor
	ptr      unsafe.Pointer // string: key then value bytes, nil when both are empty; else *object
	klen     uint32         // key length; spareFlag set when the buffer has spare capacity; objFlag
	vlen     uint32         // string value length (both fit: resp caps bulk strings at 512 MiB)
	deadline int64          // absolute Unix ms after which the key is gone; 0 means no TTL
	// ver is the Store.seq of the command that last changed the key: WATCH
	// compares it, and it is replicated (in snapshots) so every replica
	// decides an EXEC alike.
	ver uint64
}

// spareFlag marks a buffer allocated with capacity spareCap(keyLen+vlen)
// instead of exactly keyLen+vlen. Because spareCap is a step function, the
// capacity can be recomputed from the current length, so it costs no field.
const spareFlag = 1 << 31

// objectOverhead is the size of an object and its container's interface
// header, which every non-string key carries beside its value.
const objectOverhead = int(unsafe.Sizeof(object{}))

// maxBulk is Redis's default proto-max-bulk-len: no string may grow past it.
const maxBulk = 512 << 20

func (it *item) keyLen() int { return int(it.klen &^ (spareFlag | objFlag)) }

// key returns the key as a string aliasing the buffer (no copy).
func (it *item) key() string {
	if it.isObj() {
		return it.obj().key
	}
	return unsafe.String((*byte)(it.ptr), it.keyLen())
}

// val returns the value as a string aliasing the buffer (no copy).
func (it *item) val() string {
	if it.vlen == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Add(it.ptr, it.keyLen())), int(it.vlen))
}

// bufCap is the size of the item's buffer, for memory accounting.
func (it *item) bufCap() int {
	if it.isObj() {
		return it.keyLen() + objectOverhead + int(it.obj().charged)
	}
	n := it.keyLen() + int(it.vlen)
	if it.klen&spareFlag != 0 {
		return spareCap(n)
	}
	return n
}

// expired reports whether the item is past its deadline at now.
func (it *item) expired(now int64) bool {
	return it.deadline != 0 && it.deadline <= now
}

// spareCap is the capacity given to a buffer that grows by APPEND: powers of
// two up to 1 MiB, then whole MiBs, like Redis's sds greedy preallocation.
func spareCap(n int) int {
	const mb = 1 << 20
	if n > mb {
		return (n + mb - 1) &^ (mb - 1)
	}
	c := 16
	for c < n {
		c <<= 1
	}
	return c
}

// newItem copies key and the concatenation of vals into a fresh buffer.
func newItem(ord uint64, key string, deadline int64, vals ...string) item {
	n := len(key)
	for _, v := range vals {
		n += len(v)
	}
	return buildItem(ord, key, deadline, n, n, vals...)
}

// buildItem allocates a buffer of capacity c for key and vals (total length n).
func buildItem(ord uint64, key string, deadline int64, n, c int, vals ...string) item {
	it := item{ord: ord, klen: uint32(len(key)), vlen: uint32(n - len(key)), deadline: deadline}
	if c == 0 {
		return it
	}
	buf := make([]byte, n, c)
	off := copy(buf, key)
	for _, v := range vals {
		off += copy(buf[off:], v)
	}
	it.ptr = unsafe.Pointer(unsafe.SliceData(buf))
	if c != n {
		it.klen |= spareFlag
	}
	return it
}

// appendInPlace appends v to the item's value when its buffer has room,
// reporting whether it did. See the invariant on item for why this is safe.
func (it *item) appendInPlace(v []byte) bool {
	n := it.keyLen() + int(it.vlen)
	if it.klen&spareFlag == 0 || n+len(v) > spareCap(n) {
		return false
	}
	buf := unsafe.Slice((*byte)(it.ptr), spareCap(n))
	copy(buf[n:], v)
	it.vlen += uint32(len(v))
	return true
}

// ordOf places a key in the tree: keys of one cluster slot are contiguous
// (cheap KEYS/COUNT in slot) and, within a slot, ordered by a stable hash so
// a SCAN cursor is just the next position and survives inserts and deletes.
func ordOf(key string) uint64 {
	return uint64(KeySlot(unsafe.Slice(unsafe.StringData(key), len(key))))<<50 | xxhash.Sum64String(key)>>14
}

// probe is a search key for the tree; it aliases key and must not be stored.
func probe(key []byte) item {
	k := b2s(key)
	return item{ord: ordOf(k), ptr: unsafe.Pointer(unsafe.SliceData(key)), klen: uint32(len(key))}
}

func less(a, b item) bool {
	if a.ord != b.ord {
		return a.ord < b.ord
	}
	return a.key() < b.key()
}

// b2s views b as a string without copying; the string must not outlive b.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// ttlEntry indexes keys with a deadline, earliest first, for active expiry.
// It holds no key: the key is found again through ord (several keys may share
// an ord; all of them are checked).
type ttlEntry struct {
	deadline int64
	ord      uint64
}

func ttlLess(a, b ttlEntry) bool {
	if a.deadline != b.deadline {
		return a.deadline < b.deadline
	}
	return a.ord < b.ord
}
