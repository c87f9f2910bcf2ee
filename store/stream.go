package store

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/btree"
	"github.com/tidwall/redcon"
)

var streamCommands = []*Command{
	def("xadd", xaddCmd),
	def("xdel", xdelCmd),
	def("xlen", xlenCmd),
	def("xrange", xrangeCmd),
	// Redis 7.0 lists XREAD's keys by keyword (after STREAMS), so its
	// legacy key positions are 0 0 0.
	def("xread", xreadCmd),
	def("xrevrange", xrevrangeCmd),
	def("xsetid", xsetidCmd),
	def("xtrim", xtrimCmd),
}

// Streams.
//
// Entries live in a B-tree ordered by ID, each with its field/value pairs
// packed in one string. Beside them the stream keeps a model of Redis's
// radix tree of listpack nodes (first and last ID, live and deleted
// counts, byte size, master fields of each): Redis's "~" trimming removes
// whole nodes only, and where a node ends depends on its entry count and
// listpack bytes, so XADD/XTRIM with "~" answer exactly what Redis's would
// only if the nodes are the same. Both trees clone in O(1).

// Redis 7.0's defaults for stream-node-max-entries and
// stream-node-max-bytes (encodings.go) and the bound on an entry's total
// size and on a node's (STREAM_LISTPACK_MAX_SIZE).
const (
	streamNodeMaxEntries = 100
	streamNodeMaxBytes   = 4096
	streamEntryMaxBytes  = 1 << 30
)

const (
	errStreamID       = "ERR Invalid stream ID specified as stream command argument"
	errXAddZero       = "ERR The ID specified in XADD must be greater than 0-0"
	errXAddSmaller    = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
	errXAddExhausted  = "ERR The stream has exhausted the last possible ID, unable to add more items"
	errXAddTooLarge   = "ERR Elements are too large to be stored"
	errTrimBoth       = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
	errTrimMaxLen     = "ERR The MAXLEN argument must be >= 0."
	errTrimLimit      = "ERR The LIMIT argument must be >= 0."
	errTrimLimitAlone = "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
	errTrimNoStrategy = "ERR syntax error, XTRIM must be called with a trimming strategy"
	errTrimLimitExact = "ERR syntax error, LIMIT cannot be used without the special ~ option"
	errRangeStart     = "ERR invalid start ID for the interval"
	errRangeEnd       = "ERR invalid end ID for the interval"
	errXReadBalance   = "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
	errXReadGroup     = "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
	errXReadNoAck     = "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
	errXReadGT        = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
	errTimeoutInt     = "ERR timeout is not an integer or out of range"
	errTimeoutNeg     = "ERR timeout is negative"
	errXSetIDAdded    = "ERR entries_added must be positive"
	errXSetIDMaxDel   = "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
	errXSetIDTop      = "ERR The ID specified in XSETID is smaller than the target stream top item"
	errXSetIDLength   = "ERR The entries_added specified in XSETID is smaller than the target stream length"
)

// streamID is an entry ID, ms-seq.
type streamID struct{ ms, seq uint64 }

var maxStreamID = streamID{math.MaxUint64, math.MaxUint64}

func (a streamID) cmp(b streamID) int {
	switch {
	case a.ms != b.ms:
		if a.ms < b.ms {
			return -1
		}
		return 1
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// incr returns the next ID; false when id is the last possible one.
func (id streamID) incr() (streamID, bool) {
	switch {
	case id.seq != math.MaxUint64:
		id.seq++
	case id.ms != math.MaxUint64:
		id.ms, id.seq = id.ms+1, 0
	default:
		return streamID{}, false
	}
	return id, true
}

// decr returns the previous ID; false when id is 0-0.
func (id streamID) decr() (streamID, bool) {
	switch {
	case id.seq != 0:
		id.seq--
	case id.ms != 0:
		id.ms, id.seq = id.ms-1, math.MaxUint64
	default:
		return maxStreamID, false
	}
	return id, true
}

func appendStreamID(out []byte, id streamID) []byte {
	var b [41]byte
	return appendBulk(out, b2s(appendRawStreamID(b[:0], id)))
}

// appendRawStreamID appends id as "ms-seq".
func appendRawStreamID(out []byte, id streamID) []byte {
	out = strconv.AppendUint(out, id.ms, 10)
	out = append(out, '-')
	return strconv.AppendUint(out, id.seq, 10)
}

// parseStreamID parses an ID as Redis's streamGenericParseIDOrReply: "-"
// and "+" (refused when strict), "ms" (seq missingSeq), "ms-seq", and, with
// seqAuto, "ms-*" (seqGiven false). Redis copies the argument into a
// 128-byte C string, so a NUL ends it.
func parseStreamID(arg []byte, missingSeq uint64, strict, seqAuto bool) (id streamID, seqGiven, ok bool) {
	if len(arg) > 127 {
		return id, false, false
	}
	b := cString(arg)
	if len(b) == 1 && (b[0] == '-' || b[0] == '+') {
		if strict {
			return id, false, false
		}
		if b[0] == '-' {
			return streamID{}, true, true
		}
		return maxStreamID, true, true
	}
	ms, seq, seqGiven := b, []byte(nil), true
	if i := bytes.IndexByte(b, '-'); i >= 0 {
		ms, seq = b[:i], b[i+1:]
	}
	if id.ms, ok = string2ull(ms); !ok {
		return id, false, false
	}
	switch {
	case seq == nil:
		id.seq = missingSeq
	case seqAuto && len(seq) == 1 && seq[0] == '*':
		seqGiven = false
	default:
		if id.seq, ok = string2ull(seq); !ok {
			return id, false, false
		}
	}
	return id, seqGiven, true
}

// string2ull is Redis's: string2ll when that succeeds (a negative value is
// refused), else strtoull, which skips leading spaces, takes a sign (a minus
// negates modulo 2^64) and leading zeros, but must consume the whole string.
func string2ull(s []byte) (uint64, bool) {
	if v, ok := parseInt(b2s(s)); ok {
		return uint64(v), v >= 0
	}
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	v, ok := parseDigits(b2s(s[i:]))
	if !ok {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseIntervalID parses an XRANGE bound: "(" before an ID (not "-" or "+")
// makes it exclusive.
func parseIntervalID(arg []byte, missingSeq uint64) (id streamID, exclusive, ok bool) {
	if len(arg) > 1 && arg[0] == '(' {
		id, _, ok = parseStreamID(arg[1:], missingSeq, true, false)
		return id, true, ok
	}
	id, _, ok = parseStreamID(arg, missingSeq, false, false)
	return id, false, ok
}

// optIs compares an option as Redis's strcasecmp on the C string does.
func optIs(a []byte, lower string) bool { return eqFold(cString(a), lower) }

// streamEntry is one entry: its ID and its field/value pairs packed as a
// uvarint count of strings, then each string as a uvarint length and its
// bytes.
type streamEntry struct {
	id   streamID
	data string
}

func entryLess(a, b streamEntry) bool { return a.id.cmp(b.id) < 0 }

// streamNode models one of Redis's listpack nodes: the master ID (the
// first entry ever added to it), the last entry added (possibly deleted
// since), how many of its entries are live and how many deleted (Redis
// only flags them), its listpack size in bytes and its master entry's
// field names, packed as an entry's data. The live entries of a node are
// the entries from first to last; those of the next node come after.
type streamNode struct {
	first, last   streamID
	live, deleted int
	size          int
	fields        string
}

func nodeLess(a, b streamNode) bool { return a.first.cmp(b.first) < 0 }

type stream struct {
	entries *btree.BTreeG[streamEntry]
	nodes   *btree.BTreeG[streamNode]
	// Redis's stream metadata: the last ID generated (or set by XSETID),
	// the greatest ID XDEL deleted, and the count of entries ever added.
	lastID       streamID
	maxDeleted   streamID
	entriesAdded uint64
	// dataBytes and fieldBytes sum the entries' data and the nodes'
	// fields, for memUsage.
	dataBytes, fieldBytes int
	// groups are the consumer groups, sorted by name (streamgroup.go);
	// groupBytes sums their memUsage.
	groups     []*cgroup
	groupBytes int
}

func newStream() *stream {
	return &stream{
		entries: btree.NewBTreeGOptions(entryLess, btree.Options{NoLocks: true}),
		nodes:   btree.NewBTreeGOptions(nodeLess, btree.Options{NoLocks: true}),
	}
}

func (st *stream) kind() kind       { return kindStream }
func (st *stream) encoding() string { return "stream" }
func (st *stream) length() int      { return st.entries.Len() }

func (st *stream) clone() container {
	c := *st
	c.entries, c.nodes = st.entries.Copy(), st.nodes.Copy()
	if st.groups != nil {
		c.groups = make([]*cgroup, len(st.groups))
		for i, g := range st.groups {
			c.groups[i] = g.clone()
		}
	}
	return &c
}

// Approximate costs: the stream header, an entry (its struct in a B-tree
// node at typical fill, plus the allocation of its data) and a node.
const (
	streamOverhead = 96
	entryOverhead  = 56
	nodeOverhead   = 112
)

func (st *stream) memUsage() int64 {
	return int64(streamOverhead + st.entries.Len()*entryOverhead + st.dataBytes +
		st.nodes.Len()*nodeOverhead + st.fieldBytes + st.groupBytes)
}

// lastValid is the ID of the last live entry (Redis's streamLastValidID).
func (st *stream) lastValid() (streamID, bool) {
	e, ok := st.entries.Max()
	return e.id, ok
}

// packStrings packs strs as an entry's data.
func packStrings(strs [][]byte) string {
	n := uvarintLen(uint64(len(strs)))
	for _, s := range strs {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	var b strings.Builder
	b.Grow(n)
	var v [binary.MaxVarintLen64]byte
	b.Write(binary.AppendUvarint(v[:0], uint64(len(strs))))
	for _, s := range strs {
		b.Write(binary.AppendUvarint(v[:0], uint64(len(s))))
		b.Write(s)
	}
	return b.String()
}

// unpacked iterates over packed data: count, then next for each string.
type unpacked struct{ rest string }

func (u *unpacked) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(unsafe.Slice(unsafe.StringData(u.rest), len(u.rest)))
	if n <= 0 {
		return 0, false
	}
	u.rest = u.rest[n:]
	return v, true
}

func (u *unpacked) next() (string, bool) {
	l, ok := u.uvarint()
	if !ok || l > uint64(len(u.rest)) {
		return "", false
	}
	s := u.rest[:l]
	u.rest = u.rest[l:]
	return s, true
}

// checkPacked reports whether data is well-formed packed data of an even,
// non-zero number of strings (pairs), or of at least one (names).
func checkPacked(data string, pairs bool) bool {
	u := unpacked{data}
	n, ok := u.uvarint()
	if !ok || n == 0 || pairs && n%2 != 0 || n > uint64(len(data)) {
		return false
	}
	for range n {
		if _, ok := u.next(); !ok {
			return false
		}
	}
	return u.rest == ""
}

// appendEntry appends the RESP reply of an entry: its ID and its pairs.
func appendEntry(out []byte, e streamEntry) []byte {
	out = redcon.AppendArray(out, 2)
	out = appendStreamID(out, e.id)
	u := unpacked{e.data}
	n, _ := u.uvarint()
	out = redcon.AppendArray(out, int(n))
	for range n {
		s, _ := u.next()
		out = appendBulk(out, s)
	}
	return out
}

// Listpack sizes, as Redis 7.0's listpack.c encodes elements: a string
// that is a canonical 64-bit integer is stored as an integer, in the
// smallest of its integer encodings; each element ends with its backlen.
func lpIntSize(v int64) int {
	switch {
	case v >= 0 && v <= 127:
		return 2
	case v >= -4096 && v <= 4095:
		return 3
	case v >= -32768 && v <= 32767:
		return 4
	case v >= -8388608 && v <= 8388607:
		return 5
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return 6
	}
	return 10
}

func lpStrSize(s []byte) int {
	if v, ok := parseInt(b2s(s)); ok {
		return lpIntSize(v)
	}
	l := len(s)
	switch {
	case l < 64:
		l++
	case l < 4096:
		l += 2
	default:
		l += 5
	}
	switch {
	case l <= 127:
		return l + 1
	case l < 16383:
		return l + 2
	case l < 2097151:
		return l + 3
	case l < 268435455:
		return l + 4
	}
	return l + 5
}

// lpEmptySize is an empty listpack: its header and end byte.
const lpEmptySize = 7

// sameFields reports whether the fields of fv (field, value, ...) are the
// node's master fields, which Redis then omits from the entry.
func sameFields(master string, fv [][]byte) bool {
	u := unpacked{master}
	n, _ := u.uvarint()
	if int(n) != len(fv)/2 {
		return false
	}
	for i := 0; i < len(fv); i += 2 {
		if f, _ := u.next(); f != b2s(fv[i]) {
			return false
		}
	}
	return true
}

// add appends the entry id (greater than lastID) with pairs fv, into the
// tail node as Redis's streamAppendItem does, or a new node: one past the
// stream-node-max-bytes and stream-node-max-entries of enc (0: no limit).
func (st *stream) add(id streamID, fv [][]byte, enc *encodings) {
	e := streamEntry{id: id, data: packStrings(fv)}
	total := 0
	for _, s := range fv {
		total += len(s)
	}
	tail, ok := st.nodes.Max()
	// A tail holding only deleted entries from id on can only exist after
	// XSETID moved the last ID back below them (Redis would then mix the
	// order inside its listpack); dropping such nodes, and starting a new
	// node after a tail that ends past id, keeps every node's live entries
	// between its first and last IDs and before the next node's.
	for ok && tail.live == 0 && tail.last.cmp(id) >= 0 {
		st.dropNode(tail)
		tail, ok = st.nodes.Max()
	}
	nf := len(fv) / 2
	maxBytes, maxEntries := enc[encStreamBytes], enc[encStreamEntries]
	if maxBytes == 0 || maxBytes > streamEntryMaxBytes {
		maxBytes = streamEntryMaxBytes
	}
	if ok && int64(tail.size+total) < maxBytes && (maxEntries == 0 || int64(tail.live+tail.deleted) < maxEntries) &&
		tail.last.cmp(id) < 0 {
		same := sameFields(tail.fields, fv)
		size := lpIntSize(0) + lpIntSize(int64(id.ms-tail.first.ms)) + lpIntSize(int64(id.seq-tail.first.seq))
		count := nf + 3
		for i, s := range fv {
			if i%2 == 1 || !same {
				size += lpStrSize(s)
			}
		}
		if !same {
			size += lpIntSize(int64(nf))
			count += nf + 1
		}
		tail.size += size + lpIntSize(int64(count))
		tail.live++
		tail.last = id
		st.nodes.Set(tail)
	} else {
		names := make([][]byte, nf)
		size := lpEmptySize + lpIntSize(1) + lpIntSize(0) + lpIntSize(int64(nf)) + lpIntSize(0)
		for i := range names {
			names[i] = fv[2*i]
			size += lpStrSize(names[i]) + lpStrSize(fv[2*i+1])
		}
		size += 3*lpIntSize(0) + lpIntSize(int64(nf+3))
		n := streamNode{first: id, last: id, live: 1, size: size, fields: packStrings(names)}
		st.nodes.Set(n)
		st.fieldBytes += len(n.fields)
	}
	st.entries.Set(e)
	st.dataBytes += len(e.data)
	st.lastID = id
	st.entriesAdded++
}

func (st *stream) dropNode(n streamNode) {
	st.nodes.Delete(n)
	st.fieldBytes -= len(n.fields)
}

// nodeOf returns the node holding the live entry id.
func (st *stream) nodeOf(id streamID) streamNode {
	var n streamNode
	st.nodes.Descend(streamNode{first: id}, func(x streamNode) bool {
		n = x
		return false
	})
	return n
}

// del deletes the entry id if present, as XDEL: a node whose last live
// entry goes is removed.
func (st *stream) del(id streamID) bool {
	e, ok := st.entries.Delete(streamEntry{id: id})
	if !ok {
		return false
	}
	st.dataBytes -= len(e.data)
	n := st.nodeOf(id)
	if n.live == 1 {
		st.dropNode(n)
	} else {
		n.live--
		n.deleted++
		st.nodes.Set(n)
	}
	return true
}

// popFirst deletes the first live entry.
func (st *stream) popFirst() {
	e, _ := st.entries.PopMin()
	st.dataBytes -= len(e.data)
}

// Trimming strategies.
const (
	trimNone = iota
	trimMaxLen
	trimMinID
)

type trimArgs struct {
	strategy int
	approx   bool
	limit    int64 // most entries removed, 0 for no limit
	maxLen   int64
	minID    streamID
}

// trim follows Redis's streamTrim: whole nodes go from the head while
// they are entirely beyond the bound (and within the limit); then, unless
// approx, entries of the first remaining node. It returns how many
// entries it removed.
func (st *stream) trim(t trimArgs) int64 {
	var removed int64
	for {
		if t.strategy == trimMaxLen && int64(st.length()) <= t.maxLen {
			break
		}
		n, ok := st.nodes.Min()
		if !ok {
			break
		}
		live := int64(n.live)
		if t.limit != 0 && removed+live > t.limit {
			break
		}
		var whole bool
		if t.strategy == trimMaxLen {
			whole = int64(st.length())-live >= t.maxLen
		} else {
			whole = n.last.cmp(t.minID) < 0
		}
		if whole {
			for range n.live {
				st.popFirst()
			}
			st.dropNode(n)
			removed += live
			continue
		}
		if t.approx {
			break
		}
		k := 0
		for k < n.live {
			e, _ := st.entries.Min()
			if t.strategy == trimMaxLen && int64(st.length()) <= t.maxLen ||
				t.strategy == trimMinID && e.id.cmp(t.minID) >= 0 {
				break
			}
			st.popFirst()
			k++
		}
		n.live -= k
		n.deleted += k
		st.nodes.Set(n)
		removed += int64(k)
		break
	}
	return removed
}

// parseTrimArgs parses the options of XADD (xadd) or XTRIM from args[2:]
// as Redis's streamParseAddOrTrimArgsOrReply: for XADD it stops at the ID,
// returning its position (len(args) if none) in idPos. errMsg is the error
// reply, if any.
func parseTrimArgs(args [][]byte, xadd bool, nodeMaxEntries int64) (t trimArgs, a xaddArgs, idPos int, errMsg string) {
	limitGiven := false
	i := 2
loop:
	for ; i < len(args); i++ {
		more := len(args) - 1 - i
		opt := args[i]
		switch {
		case xadd && string(cString(opt)) == "*":
			break loop
		case (optIs(opt, "maxlen") || optIs(opt, "minid")) && more > 0:
			if t.strategy != trimNone {
				return t, a, 0, errTrimBoth
			}
			t.approx = false
			if next := string(cString(args[i+1])); more >= 2 && (next == "~" || next == "=") {
				t.approx = next == "~"
				i++
			}
			i++
			if optIs(opt, "maxlen") {
				var ok bool
				if t.maxLen, ok = parseInt(b2s(args[i])); !ok {
					return t, a, 0, errNotInt
				}
				if t.maxLen < 0 {
					return t, a, 0, errTrimMaxLen
				}
				t.strategy = trimMaxLen
			} else {
				var ok bool
				if t.minID, _, ok = parseStreamID(args[i], 0, true, false); !ok {
					return t, a, 0, errStreamID
				}
				t.strategy = trimMinID
			}
		case optIs(opt, "limit") && more > 0:
			var ok bool
			i++
			if t.limit, ok = parseInt(b2s(args[i])); !ok {
				return t, a, 0, errNotInt
			}
			if t.limit < 0 {
				return t, a, 0, errTrimLimit
			}
			limitGiven = true
		case xadd && optIs(opt, "nomkstream"):
			a.noMkStream = true
		case xadd:
			var ok bool
			if a.id, a.seqGiven, ok = parseStreamID(opt, 0, true, true); !ok {
				return t, a, 0, errStreamID
			}
			a.idGiven = true
			break loop
		default:
			return t, a, 0, errSyntax
		}
	}
	switch {
	case t.limit != 0 && t.strategy == trimNone:
		return t, a, 0, errTrimLimitAlone
	case !xadd && t.strategy == trimNone:
		return t, a, 0, errTrimNoStrategy
	case limitGiven && !t.approx:
		return t, a, 0, errTrimLimitExact
	case !limitGiven && t.approx:
		// As Redis: 100 nodes' worth, within bounds whatever the setting.
		t.limit = 100 * min(nodeMaxEntries, 10000)
		if t.limit == 0 {
			t.limit = 10000
		}
	}
	return t, a, i, ""
}

// xaddArgs are XADD's own options.
type xaddArgs struct {
	id                streamID
	idGiven, seqGiven bool
	noMkStream        bool
}

func xaddCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	t, a, idPos, msg := parseTrimArgs(args, true, s.enc[encStreamEntries])
	if msg != "" {
		return appendErr(out, msg)
	}
	fv := args[min(idPos+1, len(args)):]
	if len(fv) < 2 || len(fv)%2 != 0 {
		return appendArity(out, "xadd")
	}
	if a.idGiven && a.seqGiven && a.id == (streamID{}) {
		return appendErr(out, errXAddZero)
	}
	p := probe(args[1])
	it, c, found, wrong := s.getKind(m, p, kindStream)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found && a.noMkStream:
		return append(out, nullReply...)
	case !found:
		it = s.newObjItem(p, newStream())
		c = it.obj().val
	}
	last := c.(*stream).lastID
	if last == maxStreamID {
		return appendErr(out, errXAddExhausted)
	}
	var id streamID
	switch {
	case a.idGiven && a.seqGiven:
		id = a.id
	case a.idGiven && a.id.ms == last.ms:
		if last.seq == math.MaxUint64 {
			// Redis 7.0 fails here without setting errno to EDOM, so
			// it answers the error of an oversized entry.
			return appendErr(out, errXAddTooLarge)
		}
		id = streamID{last.ms, last.seq + 1}
	case a.idGiven:
		id = a.id
	case uint64(max(m.now, 0)) > last.ms:
		id = streamID{uint64(m.now), 0}
	default:
		id, _ = last.incr()
	}
	if id.cmp(last) <= 0 {
		return appendErr(out, errXAddSmaller)
	}
	total := 0
	for _, f := range fv {
		total += len(f)
	}
	if total > streamEntryMaxBytes {
		if !found {
			s.changed(it) // Redis has created the key already
		}
		return appendErr(out, errXAddTooLarge)
	}
	st := c.(*stream)
	if found {
		st = s.writable(&it).(*stream)
	}
	st.add(id, fv, &s.enc)
	s.xaddTrimmed = t.strategy != trimNone && st.trim(t) > 0
	s.changed(it)
	return appendStreamID(out, id)
}

func xtrimCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	t, _, _, msg := parseTrimArgs(args, false, s.enc[encStreamEntries])
	if msg != "" {
		return appendErr(out, msg)
	}
	it, _, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	n := s.writable(&it).(*stream).trim(t)
	if n > 0 {
		s.changed(it)
	}
	return appendInt(out, n)
}

func xdelCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, _, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	ids := make([]streamID, len(args)-2)
	for i, a := range args[2:] {
		var ok bool
		if ids[i], _, ok = parseStreamID(a, 0, true, false); !ok {
			return appendErr(out, errStreamID)
		}
	}
	var st *stream
	n := 0
	for _, id := range ids {
		if st == nil {
			if _, ok := it.obj().val.(*stream).entries.Get(streamEntry{id: id}); !ok {
				continue
			}
			st = s.writable(&it).(*stream)
		}
		if st.del(id) {
			n++
			if id.cmp(st.maxDeleted) > 0 {
				st.maxDeleted = id
			}
		}
	}
	if n > 0 {
		s.changed(it)
	}
	return appendInt(out, int64(n))
}

func xlenCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, c, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	return appendInt(out, int64(c.length()))
}

func xrangeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return xrangeGeneric(s, m, args, out, false)
}

func xrevrangeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return xrangeGeneric(s, m, args, out, true)
}

// xrangeGeneric is XRANGE key start end and XREVRANGE key end start, with
// COUNT: the IDs are parsed first, then the options, then the key is read.
func xrangeGeneric(s *Store, m mode, args [][]byte, out []byte, rev bool) []byte {
	startArg, endArg := args[2], args[3]
	if rev {
		startArg, endArg = endArg, startArg
	}
	start, excl, ok := parseIntervalID(startArg, 0)
	if !ok {
		return appendErr(out, errStreamID)
	}
	if excl {
		if start, ok = start.incr(); !ok {
			return appendErr(out, errRangeStart)
		}
	}
	end, excl, ok := parseIntervalID(endArg, math.MaxUint64)
	if !ok {
		return appendErr(out, errStreamID)
	}
	if excl {
		if end, ok = end.decr(); !ok {
			return appendErr(out, errRangeEnd)
		}
	}
	count := int64(-1)
	for j := 4; j < len(args); j++ {
		if !optIs(args[j], "count") || j+1 >= len(args) {
			return appendErr(out, errSyntax)
		}
		j++
		if count, ok = parseInt(b2s(args[j])); !ok {
			return appendErr(out, errNotInt)
		}
		count = max(count, 0)
	}
	_, c, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, emptyArray...)
	case count == 0:
		return append(out, nullArray...)
	}
	return c.(*stream).appendRange(out, start, end, max(count, 0), rev)
}

// appendRange appends the array of entries from start to end (reversed
// from end to start when rev), at most count of them unless count is 0.
func (st *stream) appendRange(out []byte, start, end streamID, count int64, rev bool) []byte {
	at := len(out)
	var n int64
	each := func(e streamEntry) bool {
		if rev && e.id.cmp(start) < 0 || !rev && e.id.cmp(end) > 0 {
			return false
		}
		out = appendEntry(out, e)
		n++
		return n != count
	}
	if start.cmp(end) <= 0 {
		if rev {
			st.entries.Descend(streamEntry{id: end}, each)
		} else {
			st.entries.Ascend(streamEntry{id: start}, each)
		}
	}
	return insertArrayLen(out, at, int(n))
}

func xreadCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return xreadGeneric(s, m, args, out, false)
}

// xreadGeneric is XREAD, or XREADGROUP when group is set: the options,
// then per stream its type, its group and its ID, then the reply.
func xreadGeneric(s *Store, m mode, args [][]byte, out []byte, group bool) []byte {
	var count int64
	noack := false
	var groupName, consumerName []byte
	streamsAt := 0
	for i := 1; i < len(args) && streamsAt == 0; i++ {
		more := len(args) - i - 1
		switch a := args[i]; {
		case optIs(a, "block") && more > 0:
			if m.script {
				// Redis refuses it before BLOCK's value is read.
				return appendErr(out, "ERR "+string(cString(args[0]))+" command is not allowed with BLOCK option from scripts")
			}
			i++
			timeout, ok := parseInt(b2s(args[i]))
			switch {
			case !ok:
				return appendErr(out, errTimeoutInt)
			case timeout < 0:
				return appendErr(out, errTimeoutNeg)
			}
			// BLOCK is the front end's to honour (resp/blocking.go);
			// here, as in MULTI, the command answers at once.
		case optIs(a, "count") && more > 0:
			i++
			var ok bool
			if count, ok = parseInt(b2s(args[i])); !ok {
				return appendErr(out, errNotInt)
			}
			count = max(count, 0)
		case optIs(a, "streams") && more > 0:
			streamsAt = i + 1
			if (len(args)-streamsAt)%2 != 0 {
				return appendErr(out, errXReadBalance)
			}
		case optIs(a, "group") && more >= 2:
			if !group {
				return appendErr(out, errXReadGroup)
			}
			groupName, consumerName = args[i+1], args[i+2]
			i += 2
		case optIs(a, "noack"):
			if !group {
				return appendErr(out, errXReadNoAck)
			}
			noack = true
		default:
			return appendErr(out, errSyntax)
		}
	}
	if streamsAt == 0 {
		return appendErr(out, errSyntax)
	}
	if group && groupName == nil {
		return appendErr(out, errXReadGroupMis)
	}
	n := (len(args) - streamsAt) / 2
	keys, idArgs := args[streamsAt:streamsAt+n], args[streamsAt+n:]
	items := make([]item, n)
	streams := make([]*stream, n)
	after := make([]streamID, n)
	for i, k := range keys {
		it, c, found, wrong := s.getKind(m, probe(k), kindStream)
		if wrong {
			return appendErr(out, errWrongType)
		}
		if found {
			items[i], streams[i] = it, c.(*stream)
		}
		if group && (!found || streams[i].group(groupName) == nil) {
			return appendGroupErr(out, errNoGroupRead, k, groupName)
		}
		switch id := cString(idArgs[i]); {
		case len(id) == 1 && id[0] == '$':
			if group {
				return appendErr(out, errXReadGroupDol)
			}
			if found {
				after[i] = streams[i].lastID
			}
		case len(id) == 1 && id[0] == '>':
			if !group {
				return appendErr(out, errXReadGT)
			}
			after[i] = maxStreamID
		default:
			var ok bool
			if after[i], _, ok = parseStreamID(idArgs[i], 0, true, false); !ok {
				return appendErr(out, errStreamID)
			}
		}
	}
	at := len(out)
	served := 0
	for i, st := range streams {
		if st == nil {
			continue
		}
		if group {
			// An earlier key of the command may be this one, changed
			// (and cloned) since: serve what the tree holds now.
			items[i], _ = s.keys.Get(probe(keys[i]))
			st = items[i].obj().val.(*stream)
		}
		// ">" (the greatest ID, as in Redis, even when written out)
		// serves what the group has not delivered; any other ID the
		// consumer's history.
		history := group && after[i] != maxStreamID
		if group && !history {
			after[i] = st.group(groupName).lastID
		}
		if top, ok := st.lastValid(); !history && (!ok || top.cmp(after[i]) <= 0) {
			continue
		}
		served++
		start, _ := after[i].incr()
		out = redcon.AppendArray(out, 2)
		out = appendBulk(out, b2s(keys[i]))
		if !group {
			out = st.appendRange(out, start, maxStreamID, count, false)
			continue
		}
		it := items[i]
		st = s.writable(&it).(*stream)
		s.consumerSeen(st, st.group(groupName), keys[i], consumerName, m.now)
		out = st.serveGroup(out, st.group(groupName), consumerName, start, count, noack, history, m.now)
		s.groupsChanged(it)
	}
	if served == 0 {
		return append(out, nullArray...)
	}
	return insertArrayLen(out, at, served)
}

// insertArrayLen inserts at out[at] the header of an array of n elements
// already appended: their count is known only once they are written.
func insertArrayLen(out []byte, at, n int) []byte {
	var b [24]byte
	return slices.Insert(out, at, redcon.AppendArray(b[:0], n)...)
}

func xsetidCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	id, _, ok := parseStreamID(args[2], 0, true, false)
	if !ok {
		return appendErr(out, errStreamID)
	}
	added := int64(-1)
	var maxDel streamID
	for i := 3; i < len(args); i += 2 {
		more := len(args) - 1 - i
		switch {
		case optIs(args[i], "entriesadded") && more > 0:
			if added, ok = parseInt(b2s(args[i+1])); !ok {
				return appendErr(out, errNotInt)
			}
			if added < 0 {
				return appendErr(out, errXSetIDAdded)
			}
		case optIs(args[i], "maxdeletedid") && more > 0:
			if maxDel, _, ok = parseStreamID(args[i+1], 0, true, false); !ok {
				return appendErr(out, errStreamID)
			}
			if id.cmp(maxDel) < 0 {
				return appendErr(out, errXSetIDMaxDel)
			}
		default:
			return appendErr(out, errSyntax)
		}
	}
	it, c, found, wrong := s.getKind(m, probe(args[1]), kindStream)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return appendErr(out, errNoKey)
	}
	st := c.(*stream)
	if top, ok := st.lastValid(); ok {
		if id.cmp(top) < 0 {
			return appendErr(out, errXSetIDTop)
		}
		if added != -1 && int64(st.length()) > added {
			return appendErr(out, errXSetIDLength)
		}
	}
	st = s.writable(&it).(*stream)
	st.lastID = id
	if added != -1 {
		st.entriesAdded = uint64(added)
	}
	if maxDel != (streamID{}) {
		st.maxDeleted = maxDel
	}
	s.changed(it)
	return append(out, okReply...)
}

// encode lists a header (last ID, greatest deleted ID, entries added,
// node count), then each node followed by its live entries: the node as
// its IDs, counts and size then its fields; an entry as its ID then its
// data. The consumer groups follow (encodeGroups): a stream without any
// lists what it did before groups existed, so older snapshots load.
func (st *stream) encode(fn func(elem []byte)) {
	var buf []byte
	u := func(vs ...uint64) {
		for _, v := range vs {
			buf = binary.AppendUvarint(buf, v)
		}
	}
	u(st.lastID.ms, st.lastID.seq, st.maxDeleted.ms, st.maxDeleted.seq, st.entriesAdded, uint64(st.nodes.Len()))
	fn(buf)
	// The nodes' live entries, in order, are all the entries.
	iter := st.entries.Iter()
	defer iter.Release()
	iter.First()
	st.nodes.Scan(func(n streamNode) bool {
		buf = buf[:0]
		u(n.first.ms, n.first.seq, n.last.ms, n.last.seq, uint64(n.live), uint64(n.deleted), uint64(n.size))
		fn(append(buf, n.fields...))
		for range n.live {
			e := iter.Item()
			buf = buf[:0]
			u(e.id.ms, e.id.seq)
			fn(append(buf, e.data...))
			iter.Next()
		}
		return true
	})
	st.encodeGroups(fn)
}

func init() {
	loaders[kindStream] = loadStream
}

// loadStream rebuilds a stream from what encode listed, checking every
// invariant the commands rely on.
func loadStream(n int, next func() ([]byte, error)) (container, error) {
	elem, err := next()
	if err != nil {
		return nil, err
	}
	r := uvarintReader{b: elem}
	st := newStream()
	st.lastID = streamID{r.next(), r.next()}
	st.maxDeleted = streamID{r.next(), r.next()}
	st.entriesAdded = r.next()
	nodes := r.next()
	if r.bad || len(r.b) != 0 {
		return nil, errBadValue
	}
	var prev streamID // the greatest ID seen so far, entry or node start
	for i := uint64(0); i < nodes; i++ {
		if elem, err = next(); err != nil {
			return nil, err
		}
		r = uvarintReader{b: elem}
		n := streamNode{first: streamID{r.next(), r.next()}, last: streamID{r.next(), r.next()}}
		live, deleted, size := r.next(), r.next(), r.next()
		if r.bad || live+deleted == 0 || live+deleted > math.MaxInt32 ||
			size > math.MaxInt32 || n.first.cmp(n.last) > 0 || i > 0 && n.first.cmp(prev) <= 0 {
			return nil, errBadValue
		}
		n.live, n.deleted, n.size = int(live), int(deleted), int(size)
		n.fields = string(r.b)
		if !checkPacked(n.fields, false) {
			return nil, errBadValue
		}
		st.nodes.Load(n)
		st.fieldBytes += len(n.fields)
		prev = n.first
		for j := uint64(0); j < live; j++ {
			if elem, err = next(); err != nil {
				return nil, err
			}
			r = uvarintReader{b: elem}
			e := streamEntry{id: streamID{r.next(), r.next()}}
			if r.bad || e.id.cmp(n.first) < 0 || e.id.cmp(n.last) > 0 || j > 0 && e.id.cmp(prev) <= 0 {
				return nil, errBadValue
			}
			e.data = string(r.b)
			if !checkPacked(e.data, true) {
				return nil, errBadValue
			}
			st.entries.Load(e)
			st.dataBytes += len(e.data)
			prev = e.id
		}
	}
	if top, ok := st.lastValid(); ok && st.lastID.cmp(top) < 0 {
		return nil, errBadValue
	}
	if err := st.loadGroups(n-1-int(nodes)-st.length(), next); err != nil {
		return nil, err
	}
	return st, nil
}

// uvarintReader reads uvarints from b; bad records any failure.
type uvarintReader struct {
	b   []byte
	bad bool
}

func (r *uvarintReader) next() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}
