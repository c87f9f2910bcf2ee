package store

import (
	"encoding/binary"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/tidwall/btree"
	"github.com/tidwall/redcon"
)

var hashCommands = []*Command{
	def("hdel", hdelCmd),
	def("hexists", hexistsCmd),
	def("hget", hgetCmd),
	def("hgetall", hgetallCmd),
	def("hincrby", hincrbyCmd),
	def("hincrbyfloat", hincrbyfloatCmd),
	def("hkeys", hkeysCmd),
	def("hlen", hlenCmd),
	def("hmget", hmgetCmd),
	def("hmset", hmsetCmd),
	def("hrandfield", hrandfieldCmd),
	def("hscan", hashScan.cmd),
	def("hset", hsetCmd),
	def("hsetnx", hsetnxCmd),
	def("hstrlen", hstrlenCmd),
	def("hvals", hvalsCmd),
}

// A hash stays a listpack while it has at most hash-max-listpack-entries
// fields and no field or value longer than hash-max-listpack-value bytes
// (encodings.go), then becomes a hashtable for good. These are the
// defaults redis-server 7.0 runs with (its built-in
// hash-max-listpack-entries is 512; the sample redis.conf sets 128).
const (
	hashMaxListpackEntries = 512
	hashMaxListpackValue   = 64
)

// hashValue is a hash in either encoding.
type hashValue interface {
	container
	// get returns field's value. The string may alias the container: it
	// is valid until the hash next changes.
	get(field string) (string, bool)
	// set stores field's value, copying both, and returns the hash to keep
	// (a listpack is reallocated, or becomes a table past its limits) and
	// whether the field is new.
	// e are the encoding settings a listpack keeps to.
	set(field, val string, e *encodings) (hashValue, bool)
	// del removes field and returns the hash to keep and whether the field
	// was there.
	del(field string) (hashValue, bool)
	// each calls fn on every pair in order (insertion order for a
	// listpack, tree order for a table) until fn returns false.
	each(fn func(field, val string) bool)
	// pairAt returns a function giving the i-th pair of that order, cheap
	// over repeated calls.
	pairAt() func(i int) (field, val string)
	// scan is HSCAN's walk of the pairs, field then value.
	scanner[[2]string]
}

// hashLP is the listpack encoding: one pointer-free buffer holding a 4-byte
// total size, a 2-byte field count, then each field and value in insertion
// order, each after its length as a uvarint (at most lpCountMax pairs). A
// struct of one pointer is stored in an interface without an allocation of
// its own, so a small hash costs its object and this one buffer, about what
// Redis's listpack costs.
type hashLP struct{ p *byte }

const lpHeader = 6

// lpAlloc returns a listpack buffer of size bytes with its header set.
func lpAlloc(size, count int) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b, uint32(size))
	binary.LittleEndian.PutUint16(b[4:], uint16(count))
	return b
}

func lpOf(b []byte) hashLP { return hashLP{&b[0]} }

func newHashLP() hashLP { return lpOf(lpAlloc(lpHeader, 0)) }

func (h hashLP) bytes() []byte {
	return unsafe.Slice(h.p, binary.LittleEndian.Uint32(unsafe.Slice(h.p, 4)))
}

func (h hashLP) count() int {
	return int(binary.LittleEndian.Uint16(unsafe.Slice(h.p, lpHeader)[4:]))
}

// lpNext returns the entry at off and the offset after it.
func lpNext(b []byte, off int) (string, int) {
	l, n := binary.Uvarint(b[off:])
	start := off + n
	return b2s(b[start : start+int(l)]), start + int(l)
}

// lpEntrySize is the bytes an entry of s takes: its length, then s.
func lpEntrySize(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

// lpPut writes the entry of s at b[off:] and returns the offset after it.
func lpPut(b []byte, off int, s string) int {
	off += binary.PutUvarint(b[off:], uint64(len(s)))
	return off + copy(b[off:], s)
}

// lpSafeMax is Redis's LISTPACK_MAX_SAFETY_SIZE: a listpack that would
// grow past it becomes a hashtable whatever the settings.
const lpSafeMax = 1 << 30

// lpFind returns the offsets in the listpack bytes b of field's entry, of
// its value's entry and of the end of the pair; fo is -1 when field is
// absent.
func lpFind(b []byte, field string) (fo, vo, end int) {
	for off := lpHeader; off < len(b); off = end {
		var f string
		f, vo = lpNext(b, off)
		_, end = lpNext(b, vo)
		if f == field {
			return off, vo, end
		}
	}
	return -1, 0, 0
}

func (h hashLP) kind() kind       { return kindHash }
func (h hashLP) encoding() string { return "listpack" }
func (h hashLP) length() int      { return h.count() }

func (h hashLP) clone() container {
	b := h.bytes()
	nb := make([]byte, len(b))
	copy(nb, b)
	return lpOf(nb)
}

func (h hashLP) memUsage() int64 { return int64(len(h.bytes())) + allocSlack }

var (
	hashTagLP    = []byte{'l'}
	hashTagTable = []byte{'h'}
)

// encode lists the encoding's tag, then fields and values.
func (h hashLP) encode(fn func(elem []byte)) {
	fn(hashTagLP)
	b := h.bytes()
	for off := lpHeader; off < len(b); {
		var e string
		e, off = lpNext(b, off)
		fn(s2b(e))
	}
}

func (h hashLP) get(field string) (string, bool) {
	b := h.bytes()
	fo, vo, _ := lpFind(b, field)
	if fo < 0 {
		return "", false
	}
	v, _ := lpNext(b, vo)
	return v, true
}

func (h hashLP) set(field, val string, e *encodings) (hashValue, bool) {
	b := h.bytes()
	if len(field) > e.hashValue() || len(val) > e.hashValue() || len(b)+len(field)+len(val) > lpSafeMax {
		return h.toTable().set(field, val, e)
	}
	fo, vo, end := lpFind(b, field)
	if fo >= 0 {
		updated := h
		if old, _ := lpNext(b, vo); len(old) == len(val) {
			lpPut(b, vo, val)
		} else {
			nb := lpAlloc(len(b)-(end-vo)+lpEntrySize(val), h.count())
			copy(nb[lpHeader:], b[lpHeader:vo])
			copy(nb[lpPut(nb, vo, val):], b[end:])
			updated = lpOf(nb)
		}
		// Redis checks the count after an update too: a hash built under
		// a higher hash-max-listpack-entries converts at its next write.
		if int64(h.count()) > e.hashEntries() {
			return updated.toTable(), false
		}
		return updated, false
	}
	n := h.count()
	if int64(n) >= e.hashEntries() {
		return h.toTable().set(field, val, e)
	}
	nb := lpAlloc(len(b)+lpEntrySize(field)+lpEntrySize(val), n+1)
	copy(nb[lpHeader:], b[lpHeader:])
	lpPut(nb, lpPut(nb, len(b), field), val)
	return lpOf(nb), true
}

func (h hashLP) del(field string) (hashValue, bool) {
	b := h.bytes()
	fo, _, end := lpFind(b, field)
	if fo < 0 {
		return h, false
	}
	nb := lpAlloc(len(b)-(end-fo), h.count()-1)
	copy(nb[lpHeader:], b[lpHeader:fo])
	copy(nb[fo:], b[end:])
	return lpOf(nb), true
}

func (h hashLP) each(fn func(field, val string) bool) {
	b := h.bytes()
	for off := lpHeader; off < len(b); {
		f, vo := lpNext(b, off)
		v, end := lpNext(b, vo)
		if !fn(f, v) {
			return
		}
		off = end
	}
}

func (h hashLP) pairAt() func(i int) (string, string) {
	b := h.bytes()
	offs := make([]int, 0, h.count())
	for off := lpHeader; off < len(b); {
		offs = append(offs, off)
		_, vo := lpNext(b, off)
		_, off = lpNext(b, vo)
	}
	return func(i int) (string, string) {
		f, vo := lpNext(b, offs[i])
		v, _ := lpNext(b, vo)
		return f, v
	}
}

func (h hashLP) toTable() *hashHT {
	t := newHashHT()
	h.each(func(f, v string) bool {
		t.set(f, v, nil)
		return true
	})
	return t
}

// hashHT is the hashtable encoding: a B-tree of pairs ordered by (xxhash of
// the field, field), so that lookups are O(log n), a clone is O(1)
// copy-on-write, and an HSCAN cursor is the hash of the next field to visit.
type hashHT struct {
	tree *btree.BTreeG[hashEntry]
	// size is the sum of the pairs' lengths, for memUsage in O(1).
	size int64
}

type hashEntry struct {
	ord  uint64 // xxhash of the field
	fv   string // the field then the value, in one allocation
	flen uint32
}

func (e hashEntry) field() string { return e.fv[:e.flen] }
func (e hashEntry) value() string { return e.fv[e.flen:] }

func hashEntryLess(a, b hashEntry) bool {
	if a.ord != b.ord {
		return a.ord < b.ord
	}
	return a.field() < b.field()
}

// hashProbe is a search key for field; it aliases field.
func hashProbe(field string) hashEntry {
	return hashEntry{ord: xxhash.Sum64String(field), fv: field, flen: uint32(len(field))}
}

// hashEntryCost is a pair's share of the tree beside its bytes: the 32-byte
// entry in a node at typical fill, and the allocator's rounding of fv.
const hashEntryCost = 56

func newHashHT() *hashHT {
	return &hashHT{tree: btree.NewBTreeGOptions(hashEntryLess, btree.Options{NoLocks: true})}
}

func (h *hashHT) kind() kind       { return kindHash }
func (h *hashHT) encoding() string { return "hashtable" }
func (h *hashHT) length() int      { return h.tree.Len() }

func (h *hashHT) clone() container { return &hashHT{tree: h.tree.Copy(), size: h.size} }

func (h *hashHT) memUsage() int64 {
	return h.size + int64(h.tree.Len())*hashEntryCost + int64(unsafe.Sizeof(*h))
}

// encode lists the encoding's tag, then fields and values in tree order.
func (h *hashHT) encode(fn func(elem []byte)) {
	fn(hashTagTable)
	h.tree.Scan(func(e hashEntry) bool {
		fn(s2b(e.field()))
		fn(s2b(e.value()))
		return true
	})
}

func (h *hashHT) get(field string) (string, bool) {
	e, ok := h.tree.Get(hashProbe(field))
	return e.value(), ok
}

func (h *hashHT) set(field, val string, _ *encodings) (hashValue, bool) {
	e := hashProbe(field)
	e.fv = concat(field, val)
	prev, replaced := h.tree.Set(e)
	h.size += int64(len(e.fv))
	if replaced {
		h.size -= int64(len(prev.fv))
	}
	return h, !replaced
}

func (h *hashHT) del(field string) (hashValue, bool) {
	prev, ok := h.tree.Delete(hashProbe(field))
	if ok {
		h.size -= int64(len(prev.fv))
	}
	return h, ok
}

func (h *hashHT) each(fn func(field, val string) bool) {
	h.tree.Scan(func(e hashEntry) bool { return fn(e.field(), e.value()) })
}

func (h *hashHT) pairAt() func(i int) (string, string) {
	return func(i int) (string, string) {
		e, _ := h.tree.GetAt(i)
		return e.field(), e.value()
	}
}

// concat returns a+b in a fresh allocation: a+b would return one of them,
// aliasing the caller's bytes, when the other is empty.
func concat(a, b string) string {
	var sb strings.Builder
	sb.Grow(len(a) + len(b))
	sb.WriteString(a)
	sb.WriteString(b)
	return sb.String()
}

// s2b views s as bytes that must not be modified.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func init() { loaders[kindHash] = loadHash }

// loadHash rebuilds a hash from its encode list, checking every invariant
// of the encoding the tag names.
func loadHash(n int, next func() ([]byte, error)) (container, error) {
	if n < 3 || n%2 == 0 {
		return nil, errBadValue
	}
	tag, err := next()
	if err != nil {
		return nil, err
	}
	pairs := (n - 1) / 2
	switch {
	case len(tag) == 1 && tag[0] == hashTagLP[0]:
		if pairs > lpCountMax {
			return nil, errBadValue
		}
		b := lpAlloc(lpHeader, pairs)
		for range pairs {
			for i := range 2 {
				e, err := next()
				if err != nil {
					return nil, err
				}
				// Quadratic, but over at most 512 short fields, and
				// cheaper for small hashes than a map.
				if i == 0 {
					if fo, _, _ := lpFind(b, b2s(e)); fo >= 0 {
						return nil, errBadValue
					}
				}
				b = append(binary.AppendUvarint(b, uint64(len(e))), e...)
			}
		}
		nb := make([]byte, len(b))
		copy(nb, b)
		binary.LittleEndian.PutUint32(nb, uint32(len(nb)))
		return lpOf(nb), nil
	case len(tag) == 1 && tag[0] == hashTagTable[0]:
		h := newHashHT()
		var prev hashEntry
		var fieldBuf []byte
		for i := range pairs {
			f, err := next()
			if err != nil {
				return nil, err
			}
			f = append(fieldBuf[:0], f...) // next reuses its buffer
			fieldBuf = f
			v, err := next()
			if err != nil {
				return nil, err
			}
			e := hashProbe(b2s(f))
			e.fv = concat(b2s(f), b2s(v))
			if i > 0 && !hashEntryLess(prev, e) {
				return nil, errBadValue
			}
			prev = e
			h.tree.Load(e)
			h.size += int64(len(e.fv))
		}
		return h, nil
	}
	return nil, errBadValue
}

// Hash commands.

const (
	errHashNotInt   = "ERR hash value is not an integer"
	errHashNotFloat = "ERR hash value is not a float"
	errIncrNaN      = "ERR value is NaN or Infinity"
)

// hashAt finds the live hash at key; wrong reports a key of another type.
func (s *Store) hashAt(m mode, key []byte) (it item, h hashValue, found, wrong bool) {
	it, c, found, wrong := s.getKind(m, probe(key), kindHash)
	if !found || wrong {
		return it, nil, found, wrong
	}
	return it, c.(hashValue), true, false
}

// editHash readies for a change the hash of it (found) or a new one for
// key; the change ends with hashChanged.
func (s *Store) editHash(key []byte, it item, found bool) (item, hashValue) {
	if !found {
		h := newHashLP()
		return s.newObjItem(probe(key), h), h
	}
	return it, s.writable(&it).(hashValue)
}

// hashChanged stores h, which a change of it's hash returned, as its value.
func (s *Store) hashChanged(it item, h hashValue) {
	it.obj().val = h
	s.changed(it)
}

func hsetCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	added, out, ok := hsetPairs(s, m, args, out, "hset")
	if !ok {
		return out
	}
	return appendInt(out, added)
}

func hmsetCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, out, ok := hsetPairs(s, m, args, out, "hmset")
	if !ok {
		return out
	}
	return append(out, okReply...)
}

// hsetPairs serves HSET and HMSET. Like Redis, it counts as a change even
// when every value was already there.
func hsetPairs(s *Store, m mode, args [][]byte, out []byte, name string) (int64, []byte, bool) {
	if len(args)%2 != 0 {
		return 0, appendArity(out, name), false
	}
	it, _, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return 0, appendErr(out, errWrongType), false
	}
	it, h := s.editHash(args[1], it, found)
	var added int64
	for i := 2; i < len(args); i += 2 {
		var isNew bool
		if h, isNew = h.set(b2s(args[i]), b2s(args[i+1]), &s.enc); isNew {
			added++
		}
	}
	s.hashChanged(it, h)
	return added, out, true
}

func hsetnxCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	if found {
		if _, ok := h.get(b2s(args[2])); ok {
			return append(out, zeroReply...)
		}
	}
	it, h = s.editHash(args[1], it, found)
	h, _ = h.set(b2s(args[2]), b2s(args[3]), &s.enc)
	s.hashChanged(it, h)
	return append(out, oneReply...)
}

func hgetCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	if found {
		if v, ok := h.get(b2s(args[2])); ok {
			return appendBulk(out, v)
		}
	}
	return append(out, nullReply...)
}

func hmgetCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	out = redcon.AppendArray(out, len(args)-2)
	for _, f := range args[2:] {
		if found {
			if v, ok := h.get(b2s(f)); ok {
				out = appendBulk(out, v)
				continue
			}
		}
		out = append(out, nullReply...)
	}
	return out
}

func hdelCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found {
		return append(out, zeroReply...)
	}
	// Nothing to delete is no change: the key keeps its version (WATCH).
	present := false
	for _, f := range args[2:] {
		if _, present = h.get(b2s(f)); present {
			break
		}
	}
	if !present {
		return append(out, zeroReply...)
	}
	it, h = s.editHash(args[1], it, true)
	var n int64
	for _, f := range args[2:] {
		var ok bool
		if h, ok = h.del(b2s(f)); ok {
			n++
		}
	}
	s.hashChanged(it, h)
	return appendInt(out, n)
}

func hexistsCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	if found {
		if _, ok := h.get(b2s(args[2])); ok {
			return append(out, oneReply...)
		}
	}
	return append(out, zeroReply...)
}

func hlenCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found {
		return append(out, zeroReply...)
	}
	return appendInt(out, int64(h.length()))
}

func hstrlenCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	if found {
		if v, ok := h.get(b2s(args[2])); ok {
			return appendInt(out, int64(len(v)))
		}
	}
	return append(out, zeroReply...)
}

// Parts of a hash a reply lists.
const (
	hashFields = 1 << iota
	hashValues
)

func hgetallCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return hashList(s, m, args, out, hashFields|hashValues)
}

func hkeysCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return hashList(s, m, args, out, hashFields)
}

func hvalsCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return hashList(s, m, args, out, hashValues)
}

// hashList serves HGETALL, HKEYS and HVALS.
func hashList(s *Store, m mode, args [][]byte, out []byte, parts int) []byte {
	_, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found {
		return append(out, emptyArray...)
	}
	n := h.length()
	if parts == hashFields|hashValues {
		n *= 2
	}
	out = redcon.AppendArray(out, n)
	h.each(func(f, v string) bool {
		out = appendPair(out, f, v, parts)
		return true
	})
	return out
}

func appendPair(out []byte, f, v string, parts int) []byte {
	if parts&hashFields != 0 {
		out = appendBulk(out, f)
	}
	if parts&hashValues != 0 {
		out = appendBulk(out, v)
	}
	return out
}

func hincrbyCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	incr, ok := parseInt(b2s(args[3]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	it, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	field := b2s(args[2])
	var v int64
	if found {
		if old, ok := h.get(field); ok {
			if v, ok = parseInt(old); !ok {
				return appendErr(out, errHashNotInt)
			}
		}
	}
	if incr < 0 && v < 0 && incr < math.MinInt64-v || incr > 0 && v > 0 && incr > math.MaxInt64-v {
		return appendErr(out, errOverflow)
	}
	v += incr
	var buf [20]byte
	it, h = s.editHash(args[1], it, found)
	h, _ = h.set(field, b2s(strconv.AppendInt(buf[:0], v, 10)), &s.enc)
	s.hashChanged(it, h)
	return appendInt(out, v)
}

// hincrbyfloatCmd computes in long double as INCRBYFLOAT does.
func hincrbyfloatCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	var v, incr big.Float
	incrInf, ok := parseLongDouble(b2s(args[3]), &incr)
	if !ok {
		return appendErr(out, errNotFloat)
	}
	if incrInf {
		return appendErr(out, errIncrNaN)
	}
	it, h, found, wrong := s.hashAt(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	field := b2s(args[2])
	v.SetPrec(ldPrec)
	if found {
		if old, ok := h.get(field); ok {
			vInf, ok := parseLongDouble(old, &v)
			if !ok {
				return appendErr(out, errHashNotFloat)
			}
			if vInf {
				return appendErr(out, errNaN)
			}
		}
	}
	v.Add(&v, &incr)
	if v.Sign() != 0 && v.MantExp(nil) > ldMaxExp {
		return appendErr(out, errNaN)
	}
	str := formatLongDouble(&v)
	it, h = s.editHash(args[1], it, found)
	h, _ = h.set(field, str, &s.enc)
	s.hashChanged(it, h)
	return appendBulk(out, str)
}

// hrandfieldCmd follows Redis 7.0's hrandfieldCommand: without a count one
// random field (nil for no key); a positive count gives distinct fields (the
// whole hash when it is that small), a negative one that many independent
// draws. Randomness comes from s.random, the log's when applied.
func hrandfieldCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args) == 2 {
		_, h, found, wrong := s.hashAt(m, args[1])
		switch {
		case wrong:
			return appendErr(out, errWrongType)
		case !found:
			return append(out, nullReply...)
		}
		f, _ := h.pairAt()(s.random(m).IntN(h.length()))
		return appendBulk(out, f)
	}
	l, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	if l == math.MinInt64 {
		return appendErr(out, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
	}
	parts := hashFields
	if len(args) > 4 || len(args) == 4 && !eqFold(args[3], "withvalues") {
		return appendErr(out, errSyntax)
	}
	if len(args) == 4 {
		parts |= hashValues
		if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
			return appendErr(out, "ERR value is out of range")
		}
	}
	if l < -maxRepeatedDraws {
		return appendErr(out, errTooManyDraws)
	}
	_, h, found, wrong := s.hashAt(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found || l == 0:
		return append(out, emptyArray...)
	}
	per := 1
	if parts&hashValues != 0 {
		per = 2
	}
	size := h.length()
	r := s.random(m)
	if l < 0 {
		at := h.pairAt()
		out = redcon.AppendArray(out, int(-l)*per)
		for range -l {
			f, v := at(r.IntN(size))
			out = appendPair(out, f, v, parts)
		}
		return out
	}
	count := int(min(l, int64(size)))
	out = redcon.AppendArray(out, count*per)
	if count == size {
		h.each(func(f, v string) bool {
			out = appendPair(out, f, v, parts)
			return true
		})
		return out
	}
	if _, isLP := h.(hashLP); isLP || count*3 > size {
		// Selection sampling: each pair is taken with the probability
		// that leaves count of them uniformly chosen, in order.
		seen, need := 0, count
		h.each(func(f, v string) bool {
			if r.IntN(size-seen) < need {
				out = appendPair(out, f, v, parts)
				need--
			}
			seen++
			return need > 0
		})
		return out
	}
	// Few of many: draw until count distinct positions came up.
	at := h.pairAt()
	taken := make(map[int]struct{}, count)
	for len(taken) < count {
		i := r.IntN(size)
		if _, dup := taken[i]; dup {
			continue
		}
		taken[i] = struct{}{}
		f, v := at(i)
		out = appendPair(out, f, v, parts)
	}
	return out
}

// hashScan names a pair by its field and replies the field then the value.
var hashScan = elemScan[[2]string]{
	kind:  kindHash,
	name:  func(p [2]string) string { return p[0] },
	reply: func(out []byte, p [2]string) []byte { return appendBulk(appendBulk(out, p[0]), p[1]) },
	parts: 2,
}

// scan walks a listpack whole in one call.
func (h hashLP) scan(_ uint64, _ int64, visit func([2]string)) uint64 {
	h.each(func(f, v string) bool { visit([2]string{f, v}); return true })
	return 0
}

// scan walks the tree from the cursor, the hash of the next field to visit.
func (h *hashHT) scan(cursor uint64, count int64, visit func([2]string)) uint64 {
	ord := func(e hashEntry) uint64 { return e.ord }
	return scanFrom(h.tree, hashEntry{ord: cursor}, ord, count, func(e hashEntry) {
		visit([2]string{e.field(), e.value()})
	})
}
