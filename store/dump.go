package store

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/rkv/rkv/internal/rdb"
)

// DUMP and RESTORE move one key's value in Redis 7.0's RDB encoding (what
// its rdbSaveObject writes, sealed by internal/rdb), so a value passes
// between rkv and Redis either way. RESTORE reads every encoding Redis 7.0
// writes for the types rkv has (and the older ones that need no ziplist);
// DUMP writes the listpack and intset forms where rkv's value has that
// encoding, else the plain ones, all of which Redis 7.0 loads.

var dumpCommands = []*Command{
	def("dump", dumpCmd),
	def("restore", restoreCmd),
}

// RDB object types (rdb.h).
const (
	rdbTypeString          = 0
	rdbTypeList            = 1
	rdbTypeSet             = 2
	rdbTypeZSet            = 3
	rdbTypeHash            = 4
	rdbTypeZSet2           = 5
	rdbTypeSetIntset       = 11
	rdbTypeHashListpack    = 16
	rdbTypeZSetListpack    = 17
	rdbTypeListQuicklist2  = 18
	rdbTypeStreamListpacks = 15
	rdbTypeStreamLP2       = 19
)

// Quicklist node containers.
const (
	qlNodePlain  = 1
	qlNodePacked = 2
)

const (
	errBadDump      = "ERR DUMP payload version or checksum are wrong"
	errBadFormat    = "ERR Bad data format"
	errBusyKey      = "BUSYKEY Target key name already exists."
	errBadTTL       = "ERR Invalid TTL value, must be >= 0"
	errBadIdle      = "ERR Invalid IDLETIME value, must be >= 0"
	errBadFreq      = "ERR Invalid FREQ value, must be >= 0 and <= 255"
	listNodeMaxSize = 8 << 10 // list-max-listpack-size -2
)

func dumpCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, ok := s.get(m, probe(args[1]))
	if !ok {
		return append(out, nullReply...)
	}
	return appendBulk(out, b2s(dumpItem(it)))
}

// dumpItem is the DUMP payload of an item's value.
func dumpItem(it item) []byte {
	return rdb.Seal(appendRDBValue(nil, it))
}

// appendRDBValue appends the item's value as its RDB type byte and body.
func appendRDBValue(b []byte, it item) []byte {
	if !it.isObj() {
		return appendRDBString(append(b, rdbTypeString), s2b(it.val()))
	}
	switch c := it.obj().val.(type) {
	case *list:
		return appendRDBList(b, c)
	case *setValue:
		return appendRDBSet(b, c)
	case hashLP:
		w := newLPWriter()
		c.each(func(f, v string) bool {
			w.str(s2b(f))
			w.str(s2b(v))
			return true
		})
		return rdb.AppendString(append(b, rdbTypeHashListpack), w.finish())
	case *hashHT:
		b = rdb.AppendLen(append(b, rdbTypeHash), uint64(c.length()))
		c.each(func(f, v string) bool {
			b = rdb.AppendString(rdb.AppendString(b, s2b(f)), s2b(v))
			return true
		})
		return b
	case *zset:
		return appendRDBZSet(b, c)
	case *stream:
		return appendRDBStream(b, c)
	}
	panic("store: DUMP of an unknown container")
}

// appendRDBString writes a string as Redis does when it fits 32 bits as a
// canonical integer (rdbTryIntegerEncoding), else plain.
func appendRDBString(b, s []byte) []byte {
	if len(s) <= 11 {
		if v, ok := parseInt(b2s(s)); ok && v >= math.MinInt32 && v <= math.MaxInt32 {
			switch {
			case v >= math.MinInt8 && v <= math.MaxInt8:
				return append(b, 0xC0, byte(v))
			case v >= math.MinInt16 && v <= math.MaxInt16:
				return binary.LittleEndian.AppendUint16(append(b, 0xC1), uint16(v))
			}
			return binary.LittleEndian.AppendUint32(append(b, 0xC2), uint32(v))
		}
	}
	return rdb.AppendString(b, s)
}

// appendRDBList writes a quicklist of listpacks (listNodes).
func appendRDBList(b []byte, l *list) []byte {
	nodes := listNodes(l)
	b = rdb.AppendLen(append(b, rdbTypeListQuicklist2), uint64(len(nodes)))
	for _, n := range nodes {
		b = rdb.AppendString(rdb.AppendLen(b, qlNodePacked), n)
	}
	return b
}

// listNodes packs a list into listpacks of at most 8 KB each, as Redis's
// default list-max-listpack-size makes its quicklist nodes.
func listNodes(l *list) [][]byte {
	var nodes [][]byte
	w := newLPWriter()
	l.each(true, func(e []byte) bool {
		if w.n > 0 && w.size()+len(e)+11 > listNodeMaxSize {
			nodes = append(nodes, w.finish())
			w = newLPWriter()
		}
		w.str(e)
		return true
	})
	return append(nodes, w.finish())
}

func appendRDBSet(b []byte, st *setValue) []byte {
	if st.ht == nil {
		// Redis's intset: encoding width, count, then the integers
		// ascending, all little-endian.
		is := st.ints
		blob := binary.LittleEndian.AppendUint32(nil, uint32(is.width))
		blob = binary.LittleEndian.AppendUint32(blob, uint32(is.len()))
		for i := range is.len() {
			blob = binary.LittleEndian.AppendUint64(blob, uint64(is.at(i)))[:len(blob)+is.width]
		}
		return rdb.AppendString(append(b, rdbTypeSetIntset), blob)
	}
	b = rdb.AppendLen(append(b, rdbTypeSet), uint64(st.length()))
	st.each(func(m string) bool {
		b = rdb.AppendString(b, s2b(m))
		return true
	})
	return b
}

func appendRDBZSet(b []byte, z *zset) []byte {
	if z.big == nil {
		w := newLPWriter()
		var buf [32]byte
		z.walk(0, false, func(m string, sc float64) bool {
			w.str(s2b(m))
			w.str(strconv.AppendFloat(buf[:0], sc, 'g', 17, 64))
			return true
		})
		return rdb.AppendString(append(b, rdbTypeZSetListpack), w.finish())
	}
	b = rdb.AppendLen(append(b, rdbTypeZSet2), uint64(z.length()))
	z.walk(0, false, func(m string, sc float64) bool {
		b = rdb.AppendString(b, s2b(m))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(sc))
		return true
	})
	return b
}

// loadRDBValue reads a DUMP payload (type byte and value, then what
// follows) into a string value or a container, converted by the encoding
// settings e as Redis's rdbLoadObject converts; ok is false for
// anything it would refuse (RESTORE's "Bad data format").
func loadRDBValue(body []byte, e *encodings) (str []byte, c container, ok bool) {
	r := &rdb.Reader{B: body}
	t, ok := r.Byte()
	if !ok {
		return nil, nil, false
	}
	switch t {
	case rdbTypeString:
		str, ok = r.Str()
		if ok {
			str = []byte(string(str)) // own it: it may alias the payload
		}
	case rdbTypeList, rdbTypeListQuicklist2:
		c, ok = loadRDBList(r, t)
	case rdbTypeSet, rdbTypeSetIntset:
		c, ok = loadRDBSet(r, t, e)
	case rdbTypeHash, rdbTypeHashListpack:
		c, ok = loadRDBHash(r, t, e)
	case rdbTypeZSet, rdbTypeZSet2, rdbTypeZSetListpack:
		c, ok = loadRDBZSet(r, t, e)
	case rdbTypeStreamListpacks, rdbTypeStreamLP2:
		c, ok = loadRDBStream(r, t == rdbTypeStreamLP2)
	default:
		return nil, nil, false
	}
	// Redis reads only the value and ignores what follows it; a container
	// must not be empty (an empty key is refused).
	if !ok || c != nil && c.length() == 0 && c.kind() != kindStream {
		return nil, nil, false
	}
	return str, c, true
}

// rdbCount reads a length that counts elements still to come, each at
// least min bytes long, so a corrupt count fails before it allocates.
func rdbCount(r *rdb.Reader, min int) (int, bool) {
	n, ok := r.Len()
	if !ok || n > uint64(len(r.B)/min) {
		return 0, false
	}
	return int(n), true
}

func loadRDBList(r *rdb.Reader, t byte) (container, bool) {
	l := newList()
	if t == rdbTypeList {
		n, ok := rdbCount(r, 1)
		for i := 0; ok && i < n; i++ {
			var e []byte
			if e, ok = r.Str(); ok {
				l.pushBack(e)
			}
		}
		return l, ok
	}
	nodes, ok := rdbCount(r, 2)
	for i := 0; ok && i < nodes; i++ {
		var kind uint64
		var data []byte
		kind, ok = r.Len()
		if ok {
			data, ok = r.Str()
		}
		switch {
		case !ok:
		case kind == qlNodePlain:
			l.pushBack(data)
		case kind == qlNodePacked:
			var elems [][]byte
			elems, ok = lpElems(data)
			ok = ok && len(elems) > 0 // Redis refuses an empty node
			for _, e := range elems {
				l.pushBack(e)
			}
		default:
			ok = false
		}
	}
	return l, ok
}

func loadRDBSet(r *rdb.Reader, t byte, e *encodings) (container, bool) {
	st := newSet()
	if t == rdbTypeSet {
		n, ok := rdbCount(r, 1)
		for i := 0; ok && i < n; i++ {
			var m []byte
			if m, ok = r.Str(); ok {
				ok = st.add(b2s(m), e) // duplicates are refused
			}
		}
		return st, ok
	}
	blob, ok := r.Str()
	if !ok || len(blob) < 8 {
		return nil, false
	}
	w := int(binary.LittleEndian.Uint32(blob))
	n := int(binary.LittleEndian.Uint32(blob[4:]))
	if w != 2 && w != 4 && w != 8 || len(blob) != 8+n*w {
		return nil, false
	}
	for i := range n {
		var v int64
		p := blob[8+i*w:]
		switch w {
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(p)))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(p)))
		default:
			v = int64(binary.LittleEndian.Uint64(p))
		}
		if !st.add(strconv.FormatInt(v, 10), e) {
			return nil, false
		}
	}
	return st, true
}

func loadRDBHash(r *rdb.Reader, t byte, e *encodings) (container, bool) {
	var h hashValue = newHashLP()
	set := func(f, v []byte) bool {
		var added bool
		h, added = h.set(b2s(f), b2s(v), e)
		return added
	}
	if t == rdbTypeHash {
		n, ok := rdbCount(r, 2)
		for i := 0; ok && i < n; i++ {
			var f, v []byte
			f, ok = r.Str()
			if ok {
				v, ok = r.Str()
			}
			ok = ok && set(f, v)
		}
		return h, ok
	}
	blob, ok := r.Str()
	if !ok {
		return nil, false
	}
	elems, ok := lpElems(blob)
	if !ok || len(elems)%2 != 0 {
		return nil, false
	}
	for i := 0; i < len(elems); i += 2 {
		if !set(elems[i], elems[i+1]) {
			return nil, false
		}
	}
	return h, true
}

func loadRDBZSet(r *rdb.Reader, t byte, e *encodings) (container, bool) {
	z := newZset(false)
	add := func(m []byte, sc float64) bool {
		if math.IsNaN(sc) {
			return false
		}
		if _, dup := z.score(b2s(m)); dup {
			return false
		}
		z.insert(b2s(m), sc, e)
		return true
	}
	if t == rdbTypeZSetListpack {
		blob, ok := r.Str()
		if !ok {
			return nil, false
		}
		elems, ok := lpElems(blob)
		if !ok || len(elems)%2 != 0 {
			return nil, false
		}
		for i := 0; i < len(elems); i += 2 {
			sc, err := strconv.ParseFloat(string(elems[i+1]), 64)
			if err != nil && !strings.Contains(err.Error(), "range") || !add(elems[i], sc) {
				return nil, false
			}
		}
		return z, true
	}
	n, ok := rdbCount(r, 2)
	for i := 0; ok && i < n; i++ {
		var m []byte
		var sc float64
		if m, ok = r.Str(); !ok {
			break
		}
		if t == rdbTypeZSet2 {
			var raw []byte
			if raw, ok = r.Raw(8); ok {
				sc = math.Float64frombits(binary.LittleEndian.Uint64(raw))
			}
		} else {
			sc, ok = loadRDBDoubleString(r)
		}
		ok = ok && add(m, sc)
	}
	return z, ok
}

// loadRDBDoubleString reads the old text form of a double
// (rdbLoadDoubleValue): a length byte, 253 NaN, 254 +inf, 255 -inf.
func loadRDBDoubleString(r *rdb.Reader) (float64, bool) {
	l, ok := r.Byte()
	switch {
	case !ok:
		return 0, false
	case l == 253:
		return math.NaN(), true
	case l == 254:
		return math.Inf(1), true
	case l == 255:
		return math.Inf(-1), true
	}
	raw, ok := r.Raw(int(l))
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}

// restoreCmd is Redis 7.0's restoreCommand: options, then BUSYKEY, then the
// TTL, then the payload's checksum, then its value. The payload is in the
// log entry and a relative TTL counts from the entry's stamp, so every
// replica restores the same key with the same deadline.
func restoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	var replace, absttl bool
	idle, freq := int64(-1), int64(-1)
	for j := 4; j < len(args); j++ {
		more := j+1 < len(args)
		switch a := args[j]; {
		case eqFold(a, "replace"):
			replace = true
		case eqFold(a, "absttl"):
			absttl = true
		case eqFold(a, "idletime") && more && freq == -1:
			v, ok := parseInt(b2s(args[j+1]))
			if !ok {
				return appendErr(out, errNotInt)
			}
			if v < 0 {
				return appendErr(out, errBadIdle)
			}
			idle = v
			j++
		case eqFold(a, "freq") && more && idle == -1:
			v, ok := parseInt(b2s(args[j+1]))
			if !ok {
				return appendErr(out, errNotInt)
			}
			if v < 0 || v > 255 {
				return appendErr(out, errBadFreq)
			}
			freq = v
			j++
		default:
			return appendErr(out, errSyntax)
		}
	}
	p := probe(args[1])
	old, exists := s.peek(m, p)
	if exists && !replace {
		return appendErr(out, errBusyKey)
	}
	ttl, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	if ttl < 0 {
		return appendErr(out, errBadTTL)
	}
	if _, ok := rdb.Open(args[3]); !ok {
		return appendErr(out, errBadDump)
	}
	// Redis reads the value from the whole payload, so a value cut short
	// reads on into the version and checksum: so does rkv.
	str, c, ok := loadRDBValue(args[3], &s.enc)
	if !ok {
		return appendErr(out, errBadFormat)
	}
	if exists {
		s.remove(old)
	}
	if ttl != 0 && !absttl {
		ttl += m.now // wraps past the largest time, as Redis's does: then already expired
	}
	if ttl != 0 && ttl <= m.now {
		return append(out, okReply...) // already expired: nothing is created
	}
	var it item
	if c == nil {
		it = newItem(p.ord, b2s(args[1]), ttl, b2s(str))
		s.put(it)
	} else {
		it = s.newObjItem(p, c)
		it.deadline = ttl
		s.changed(it)
	}
	s.setAccess(it, m.now, idle, freq)
	return append(out, okReply...)
}

// Dumped is a live key's value as MIGRATE sends it: its DUMP payload, its
// time to live in milliseconds (0 for none) and the mark that lets the
// deletion that follows the move check the key did not change meanwhile.
type Dumped struct {
	Payload []byte
	TTL     int64
	Mark    WatchMark
}

// DumpKeys returns, at one point in time, the live keys of database db
// among keys (a key named twice comes twice) with their values as MIGRATE
// sends them, at nowMs (the local wall clock, raised to the store's clock
// if behind, as for Read). The caller makes the read linearizable first.
func (s *Store) DumpKeys(db int, nowMs int64, keys [][]byte) []Dumped {
	defer s.lockDB(db)()
	m := mode{now: s.queryNow(nowMs)}
	var out []Dumped
	for _, k := range keys {
		it, ok := s.peek(m, probe(k))
		if !ok {
			continue
		}
		d := Dumped{Payload: dumpItem(it), Mark: WatchMark{Key: bytes.Clone(k), DB: db, Seq: s.seq, Live: true}}
		if it.deadline != 0 {
			d.TTL = it.deadline - m.now
		}
		out = append(out, d)
	}
	return out
}
