package store

import (
	"errors"
	"math/rand/v2"
	"strings"
	"unsafe"
)

// kind is a key's Redis type.
type kind uint8

const (
	kindString kind = iota
	kindHash
	kindList
	kindSet
	kindZSet
	kindStream
	numKinds
)

var kindNames = [numKinds]string{"string", "hash", "list", "set", "zset", "stream"}

func (k kind) String() string { return kindNames[k] }

const errWrongType = "WRONGTYPE Operation against a key holding the wrong kind of value"

// container is the value of a key that is not a string. Each type's file
// implements it.
//
// A container reachable from a snapshot must never change: Store.writable
// hands out a clone instead (see object.gen), so clone must be cheap for
// large values (the B-tree forms copy their tree in O(1), copy-on-write).
type container interface {
	kind() kind
	// encoding is the OBJECT ENCODING answer.
	encoding() string
	// length is the number of elements; a container of length 0 is
	// deleted with its key (streams excepted: they may stay empty).
	length() int
	// clone returns a copy that shares nothing mutable with the receiver.
	clone() container
	// memUsage approximates the heap bytes the value holds.
	memUsage() int64
	// encode lists the value as byte strings in a canonical order (the same
	// on every replica holding the same value), for snapshots and digests;
	// its load function reads them back into an equal value, with the same
	// encoding. fn must not keep the slice it is given.
	encode(fn func(elem []byte))
}

// loaders rebuild each kind from what its encode listed: n elements that
// next returns one by one (next's slice is only valid until its next call).
var loaders [numKinds]func(n int, next func() ([]byte, error)) (container, error)

var errBadValue = errors.New("malformed value")

// object holds a container value with its key. An item of a container
// points to its object (objFlag set in klen).
type object struct {
	key string
	// gen is the store's snapshot generation when this object was created
	// or last cloned: an object of an older generation may be shared with a
	// snapshot and is cloned before it is written.
	gen uint64
	// charged is what this object counts for in Store.bytes.
	charged int64
	val     container
}

// objFlag marks an item whose ptr is an *object rather than key+value bytes.
const objFlag = 1 << 30

func (it *item) isObj() bool { return it.klen&objFlag != 0 }

func (it *item) obj() *object { return (*object)(it.ptr) }

// kind returns the item's Redis type.
func (it *item) kind() kind {
	if it.isObj() {
		return it.obj().val.kind()
	}
	return kindString
}

// newObjItem makes an item holding a fresh container for the probe p. The
// key is copied: a probe's key aliases the command's argument buffer.
func (s *Store) newObjItem(p item, c container) item {
	o := &object{key: strings.Clone(p.key()), gen: s.snapGen, val: c}
	return item{ord: p.ord, ptr: unsafe.Pointer(o), klen: uint32(len(o.key)) | objFlag}
}

// getKind finds the live key p holding a value of kind k. When the key
// holds another type, wrong is set and the caller answers WRONGTYPE.
func (s *Store) getKind(m mode, p item, k kind) (it item, c container, found, wrong bool) {
	it, found = s.get(m, p)
	if !found {
		return it, nil, false, false
	}
	if it.kind() != k {
		return it, nil, true, true
	}
	return it, it.obj().val, true, false
}

// writable returns the container of it ready to be changed, first cloning
// it when a snapshot may share it; *it is updated to the clone's item.
// The caller must call s.changed(*it) when done.
func (s *Store) writable(it *item) container {
	o := it.obj()
	if o.gen == s.snapGen {
		return o.val
	}
	c := &object{key: o.key, gen: s.snapGen, charged: o.charged, val: o.val.clone()}
	it.ptr = unsafe.Pointer(c)
	s.keys.Set(*it)
	return c.val
}

// changed records a write to the container item it (got from writable or
// newObjItem): it is stored, its memory recharged, its version bumped, and
// it is deleted when it has become empty.
func (s *Store) changed(it item) {
	o := it.obj()
	if o.val.length() == 0 && o.val.kind() != kindStream {
		if _, ok := s.keys.Get(it); ok {
			s.remove(it)
		}
		return
	}
	s.put(it)
	use := o.val.memUsage()
	s.bytes += use - o.charged
	o.charged = use
}

// storeResult makes the container c, a new value built by a *STORE command,
// the value of dst, replacing whatever dst held (and its TTL), or deletes dst
// when c is empty; it replies c's length.
func (s *Store) storeResult(m mode, dst []byte, c container, out []byte) []byte {
	p := probe(dst)
	if c.length() == 0 {
		if it, found := s.get(m, p); found {
			s.remove(it)
		}
		return append(out, zeroReply...)
	}
	s.changed(s.newObjItem(p, c))
	return appendInt(out, int64(c.length()))
}

// maxRepeatedDraws bounds HRANDFIELD, SRANDMEMBER and ZRANDMEMBER with a
// negative count (draws with repetition), the one reply the data does not
// bound: inside EXEC it is built on every replica, and again on every
// replay of the log, so a count of billions would take the whole cluster
// down with it. Redis builds it; rkv refuses it with errTooManyDraws.
const maxRepeatedDraws = 1 << 24

const errTooManyDraws = "ERR value is out of range, a negative count must be at least -16777216"

// random returns the randomness a command may use. Applying from the log it
// is a generator seeded by the command's position in the log and its stamp,
// so every replica draws the same numbers (what SPOP removes is decided by
// the log, never by a replica); a read outside the log draws fresh ones.
func (s *Store) random(m mode) *rand.Rand {
	if !m.write {
		return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if s.rngSeq != s.seq {
		s.rngSeq = s.seq
		s.rngSrc.Seed(s.seq, uint64(s.clock))
	}
	return s.rng
}
