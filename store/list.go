package store

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/tidwall/redcon"
)

var listCommands = []*Command{
	def("lindex", lindexCmd),
	def("linsert", linsertCmd),
	def("llen", llenCmd),
	def("lmove", lmoveCmd),
	def("lmpop", lmpopCmd),
	def("lpop", lpopCmd),
	def("lpos", lposCmd),
	def("lpush", lpushCmd),
	def("lpushx", lpushxCmd),
	def("lrange", lrangeCmd),
	def("lrem", lremCmd),
	def("lset", lsetCmd),
	def("ltrim", ltrimCmd),
	def("rpop", rpopCmd),
	def("rpoplpush", rpoplpushCmd),
	def("rpush", rpushCmd),
	def("rpushx", rpushxCmd),
}

func init() { loaders[kindList] = loadList }

// A list is a deque of chunks, like Redis's quicklist: each chunk packs up
// to listChunkElems elements (and, past one element, no more than
// listChunkBytes) into one buffer, as entries of uvarint length, bytes and
// the length again as a reversed uvarint, so the chunk walks both ways
// (a listpack's backlen). Pushes and pops at either end are O(1) amortized:
// a chunk keeps spare room at both ends of its buffer, and the chunk slice
// keeps spare room before its head. An index is found by counting whole
// chunks first.
//
// Copy-on-write: clone copies the chunk slice (the chunk headers) but not
// the buffers, and leaves neither list owning any buffer (see token): a
// list writes bytes only into a buffer it allocated since, so a buffer a
// snapshot holds is never written. Pops and trims only move a chunk's own
// header, which no other list shares.
type list struct {
	chunks []listChunk // the chunks are chunks[head:], in order, none empty
	head   int
	n      int
	bytes  int // capacity of the chunks' buffers, for memUsage
	// owner marks the buffers this list allocated since its last clone;
	// nil until it allocates one.
	owner *listOwner
}

// listOwner is a token of buffer ownership: its address is what matters
// (a byte, so that every token is a distinct allocation).
type listOwner struct{ _ byte }

type listChunk struct {
	data  []byte // entries are data[off:]; data[:off] and the capacity past len are spare room
	off   int
	n     int
	owner *listOwner // the list that may write data's bytes, if still its owner
}

// Redis 7.0's default list-max-listpack-size (-2) is 8 KB per node; the
// element bound keeps an index walk inside a chunk short.
const (
	listChunkElems = 128
	listChunkBytes = 8 << 10
)

func newList() *list { return &list{} }

func (l *list) kind() kind { return kindList }

// encoding is what Redis 7.0 answers for every list.
func (l *list) encoding() string { return "quicklist" }

func (l *list) length() int { return l.n }

func (l *list) clone() container {
	l.owner = nil
	return &list{chunks: append([]listChunk(nil), l.live()...), n: l.n, bytes: l.bytes}
}

func (l *list) memUsage() int64 {
	return int64(unsafe.Sizeof(list{})) + int64(cap(l.chunks))*int64(unsafe.Sizeof(listChunk{})) + int64(l.bytes)
}

func (l *list) encode(fn func(elem []byte)) {
	l.each(true, func(e []byte) bool {
		fn(e)
		return true
	})
}

// loadList rebuilds a list from its elements in order.
func loadList(n int, next func() ([]byte, error)) (container, error) {
	if n == 0 {
		return nil, errBadValue // an empty list is never stored
	}
	l := newList()
	for range n {
		e, err := next()
		if err != nil {
			return nil, err
		}
		l.pushBack(e)
	}
	return l, nil
}

func (l *list) live() []listChunk { return l.chunks[l.head:] }

func (l *list) token() *listOwner {
	if l.owner == nil {
		l.owner = new(listOwner)
	}
	return l.owner
}

func (l *list) canWrite(c *listChunk) bool { return c.owner != nil && c.owner == l.owner }

// Entries.

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func entrySize(n int) int { return 2*uvarintLen(uint64(n)) + n }

// putEntry writes e as an entry into dst, which is exactly entrySize long.
func putEntry(dst, e []byte) {
	k := binary.PutUvarint(dst, uint64(len(e)))
	copy(dst[k:], e)
	for i := range k {
		dst[len(dst)-1-i] = dst[i]
	}
}

// entryAt decodes the entry at pos, returning it and where the next starts.
func entryAt(data []byte, pos int) ([]byte, int) {
	n, k := binary.Uvarint(data[pos:])
	start := pos + k
	return data[start : start+int(n)], start + int(n) + k
}

// entryBefore decodes the entry ending at end, returning it and where it starts.
func entryBefore(data []byte, end int) ([]byte, int) {
	var n uint64
	var shift uint
	i := end - 1
	for ; ; i-- {
		b := data[i]
		n |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
		shift += 7
	}
	k := end - i
	start := i - int(n)
	return data[start:i], start - k
}

func (c *listChunk) used() int { return len(c.data) - c.off }

// fits reports whether an entry of sz bytes may join the chunk.
func (c *listChunk) fits(sz int) bool {
	return c.n < listChunkElems && c.used()+sz <= listChunkBytes
}

// oversized reports whether the chunk must be split.
func (c *listChunk) oversized() bool {
	return c.n > listChunkElems || c.n > 1 && c.used() > listChunkBytes
}

// room is the spare room to give a chunk that must grow by an entry of sz
// bytes: about what it holds (so growth is amortized O(1)), no more than
// the chunk can still take.
func (c *listChunk) room(sz int) int {
	used := c.used()
	r := min(used, listChunkBytes-used, (listChunkElems-c.n)*used/c.n)
	return max(r, sz)
}

// setData gives chunk c a buffer of this list's own.
func (l *list) setData(c *listChunk, data []byte, off int) {
	l.bytes += cap(data) - cap(c.data)
	c.data, c.off, c.owner = data, off, l.token()
}

// Chunk slice.

func (l *list) appendChunk(c listChunk) {
	if len(l.chunks) == cap(l.chunks) && l.head > 0 && l.head >= len(l.chunks)-l.head {
		n := copy(l.chunks, l.chunks[l.head:])
		clear(l.chunks[n:])
		l.chunks, l.head = l.chunks[:n], 0
	}
	l.chunks = append(l.chunks, c)
	l.bytes += cap(c.data)
}

func (l *list) prependChunk(c listChunk) {
	if l.head == 0 {
		live := len(l.chunks)
		room := max(live, 1)
		grown := make([]listChunk, room+live)
		copy(grown[room:], l.chunks)
		l.chunks, l.head = grown, room
	}
	l.head--
	l.chunks[l.head] = c
	l.bytes += cap(c.data)
}

func (l *list) insertChunk(i int, c listChunk) {
	if i == 0 {
		l.prependChunk(c)
		return
	}
	l.chunks = append(l.chunks, listChunk{})
	at := l.head + i
	copy(l.chunks[at+1:], l.chunks[at:])
	l.chunks[at] = c
	l.bytes += cap(c.data)
}

func (l *list) removeChunk(i int) {
	at := l.head + i
	l.bytes -= cap(l.chunks[at].data)
	if i == 0 {
		l.chunks[at] = listChunk{}
		l.head++
	} else {
		copy(l.chunks[at:], l.chunks[at+1:])
		l.chunks[len(l.chunks)-1] = listChunk{}
		l.chunks = l.chunks[:len(l.chunks)-1]
	}
	if l.head == len(l.chunks) {
		l.chunks, l.head = l.chunks[:0], 0
	}
}

// newChunk makes a chunk of this list's own holding the given entries.
func (l *list) newChunk(entries []byte, n int) listChunk {
	return listChunk{data: entries, n: n, owner: l.token()}
}

// Ends.

func (l *list) pushBack(e []byte) {
	sz := entrySize(len(e))
	l.n++
	if cs := l.live(); len(cs) > 0 {
		c := &cs[len(cs)-1]
		if c.fits(sz) {
			if !l.canWrite(c) || cap(c.data)-len(c.data) < sz {
				front := 0
				if l.canWrite(c) {
					front = c.off
				}
				used := c.used()
				buf := make([]byte, front+used, front+used+c.room(sz))
				copy(buf[front:], c.data[c.off:])
				l.setData(c, buf, front)
			}
			end := len(c.data)
			c.data = c.data[:end+sz]
			putEntry(c.data[end:], e)
			c.n++
			return
		}
	}
	buf := make([]byte, sz)
	putEntry(buf, e)
	l.appendChunk(l.newChunk(buf, 1))
}

func (l *list) pushFront(e []byte) {
	sz := entrySize(len(e))
	l.n++
	if cs := l.live(); len(cs) > 0 {
		c := &cs[0]
		if c.fits(sz) {
			if !l.canWrite(c) || c.off < sz {
				back := 0
				if l.canWrite(c) {
					back = cap(c.data) - len(c.data)
				}
				used, room := c.used(), c.room(sz)
				buf := make([]byte, room+used, room+used+back)
				copy(buf[room:], c.data[c.off:])
				l.setData(c, buf, room)
			}
			c.off -= sz
			putEntry(c.data[c.off:c.off+sz], e)
			c.n++
			return
		}
	}
	buf := make([]byte, sz)
	putEntry(buf, e)
	l.prependChunk(l.newChunk(buf, 1))
}

// popFront removes the first element and returns it; the slice stays valid
// (the list never writes the bytes of a live or popped entry).
func (l *list) popFront() []byte {
	c := &l.chunks[l.head]
	e, next := entryAt(c.data, c.off)
	l.n--
	if c.n--; c.n == 0 {
		l.removeChunk(0)
	} else {
		c.off = next
	}
	return e
}

// popBack removes the last element and returns it, valid as popFront's.
func (l *list) popBack() []byte {
	cs := l.live()
	c := &cs[len(cs)-1]
	e, start := entryBefore(c.data, len(c.data))
	l.n--
	if c.n--; c.n == 0 {
		l.removeChunk(len(cs) - 1)
	} else {
		c.data = c.data[:start]
	}
	return e
}

// Positions.

// locate finds element idx (0 <= idx < n): its chunk and the offset of its
// entry, counting whole chunks from the nearer end of the list, then
// entries from the nearer end of the chunk.
func (l *list) locate(idx int) (ci, pos int) {
	cs := l.live()
	if idx < l.n/2 {
		for idx >= cs[ci].n {
			idx -= cs[ci].n
			ci++
		}
	} else {
		back := l.n - 1 - idx
		ci = len(cs) - 1
		for back >= cs[ci].n {
			back -= cs[ci].n
			ci--
		}
		idx = cs[ci].n - 1 - back
	}
	c := &cs[ci]
	if idx <= c.n/2 {
		pos = c.off
		for range idx {
			_, pos = entryAt(c.data, pos)
		}
		return ci, pos
	}
	pos = len(c.data)
	for range c.n - idx {
		_, pos = entryBefore(c.data, pos)
	}
	return ci, pos
}

// each calls fn on every element, from the head (forward) or from the
// tail, until fn returns false.
func (l *list) each(forward bool, fn func(e []byte) bool) {
	cs := l.live()
	if forward {
		for i := range cs {
			c := &cs[i]
			for pos, k := c.off, 0; k < c.n; k++ {
				var e []byte
				e, pos = entryAt(c.data, pos)
				if !fn(e) {
					return
				}
			}
		}
		return
	}
	for i := len(cs) - 1; i >= 0; i-- {
		c := &cs[i]
		for end, k := len(c.data), 0; k < c.n; k++ {
			var e []byte
			e, end = entryBefore(c.data, end)
			if !fn(e) {
				return
			}
		}
	}
}

// appendRange appends count elements from index start on to out as bulks.
func (l *list) appendRange(out []byte, start, count int) []byte {
	ci, pos := l.locate(start)
	cs := l.live()
	for ; count > 0; count-- {
		c := &cs[ci]
		var e []byte
		e, pos = entryAt(c.data, pos)
		out = redcon.AppendBulk(out, e)
		if pos == len(c.data) && count > 1 {
			ci++
			pos = cs[ci].off
		}
	}
	return out
}

// Changes inside the list.

// rewrite replaces chunk ci's entries with a buffer of n entries, which
// may be empty or too large: the chunk is then dropped or split.
func (l *list) rewrite(ci int, entries []byte, n int) {
	c := &l.live()[ci]
	l.n += n - c.n
	if n == 0 {
		l.removeChunk(ci)
		return
	}
	l.setData(c, entries, 0)
	c.n = n
	l.split(ci)
}

// split halves chunk ci, and its halves, until none is oversized.
func (l *list) split(ci int) {
	c := &l.live()[ci]
	if !c.oversized() {
		return
	}
	half := c.n / 2
	pos := c.off
	for range half {
		_, pos = entryAt(c.data, pos)
	}
	second := l.newChunk(bytes.Clone(c.data[pos:]), c.n-half)
	l.setData(c, bytes.Clone(c.data[c.off:pos]), 0)
	c.n = half
	l.insertChunk(ci+1, second)
	l.split(ci + 1)
	l.split(ci)
}

// set replaces element idx.
func (l *list) set(idx int, e []byte) {
	ci, pos := l.locate(idx)
	c := &l.live()[ci]
	_, next := entryAt(c.data, pos)
	sz := entrySize(len(e))
	buf := make([]byte, 0, c.used()-(next-pos)+sz)
	buf = append(buf, c.data[c.off:pos]...)
	buf = buf[:len(buf)+sz]
	putEntry(buf[len(buf)-sz:], e)
	buf = append(buf, c.data[next:]...)
	l.rewrite(ci, buf, c.n)
}

// insert makes e element idx (0 <= idx <= n).
func (l *list) insert(idx int, e []byte) {
	switch idx {
	case 0:
		l.pushFront(e)
		return
	case l.n:
		l.pushBack(e)
		return
	}
	ci, pos := l.locate(idx)
	c := &l.live()[ci]
	sz := entrySize(len(e))
	buf := make([]byte, 0, c.used()+sz)
	buf = append(buf, c.data[c.off:pos]...)
	buf = buf[:len(buf)+sz]
	putEntry(buf[len(buf)-sz:], e)
	buf = append(buf, c.data[pos:]...)
	l.rewrite(ci, buf, c.n+1)
}

// remove deletes the elements equal to e, up to limit of them (all when
// limit is 0), the first ones from the head (forward) or from the tail,
// and returns how many it deleted.
func (l *list) remove(e []byte, forward bool, limit int64) int64 {
	var removed int64
	budget := func() int64 {
		if limit == 0 {
			return 0
		}
		return limit - removed
	}
	if forward {
		for ci := 0; ci < len(l.live()) && (limit == 0 || removed < limit); {
			before := len(l.live())
			removed += l.removeIn(ci, e, true, budget())
			if len(l.live()) == before {
				ci++
			}
		}
	} else {
		for ci := len(l.live()) - 1; ci >= 0 && (limit == 0 || removed < limit); ci-- {
			removed += l.removeIn(ci, e, false, budget())
		}
	}
	l.merge()
	return removed
}

// removeIn deletes from chunk ci the elements equal to e, the first ones in
// the given direction, up to budget of them (all when budget is 0).
func (l *list) removeIn(ci int, e []byte, forward bool, budget int64) int64 {
	c := &l.live()[ci]
	starts := make([]int, 0, c.n+1) // entry offsets, then the end
	for pos, k := c.off, 0; k < c.n; k++ {
		starts = append(starts, pos)
		_, pos = entryAt(c.data, pos)
	}
	starts = append(starts, len(c.data))
	drop := make([]bool, c.n)
	var removed int64
	for j := range c.n {
		k := j
		if !forward {
			k = c.n - 1 - j
		}
		if el, _ := entryAt(c.data, starts[k]); bytes.Equal(el, e) {
			drop[k] = true
			if removed++; removed == budget {
				break
			}
		}
	}
	if removed == 0 {
		return 0
	}
	buf := make([]byte, 0, c.used())
	kept := 0
	for k := range c.n {
		if !drop[k] {
			buf = append(buf, c.data[starts[k]:starts[k+1]]...)
			kept++
		}
	}
	l.rewrite(ci, buf, kept)
	return removed
}

// merge joins neighbouring chunks that fit in one, after removals left
// them underfull.
func (l *list) merge() {
	for ci := 0; ci+1 < len(l.live()); {
		cs := l.live()
		a, b := &cs[ci], &cs[ci+1]
		if a.n+b.n > listChunkElems || a.used()+b.used() > listChunkBytes {
			ci++
			continue
		}
		buf := make([]byte, 0, a.used()+b.used())
		buf = append(buf, a.data[a.off:]...)
		buf = append(buf, b.data[b.off:]...)
		l.setData(a, buf, 0)
		a.n += b.n
		l.removeChunk(ci + 1)
	}
}

// trimFront removes the first k elements; trimBack the last k.
func (l *list) trimFront(k int) {
	for k > 0 {
		c := &l.chunks[l.head]
		if c.n <= k {
			k -= c.n
			l.n -= c.n
			l.removeChunk(0)
			continue
		}
		for range k {
			_, c.off = entryAt(c.data, c.off)
		}
		c.n -= k
		l.n -= k
		return
	}
}

func (l *list) trimBack(k int) {
	for k > 0 {
		cs := l.live()
		c := &cs[len(cs)-1]
		if c.n <= k {
			k -= c.n
			l.n -= c.n
			l.removeChunk(len(cs) - 1)
			continue
		}
		end := len(c.data)
		for range k {
			_, end = entryBefore(c.data, end)
		}
		c.data = c.data[:end]
		c.n -= k
		l.n -= k
		return
	}
}

// List commands.

const (
	errNoIndex   = "ERR index out of range"
	errPositive  = "ERR value is out of range, must be positive"
	errRankZero  = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
	errLposCount = "ERR COUNT can't be negative"
	errMaxlen    = "ERR MAXLEN can't be negative"
	errNumkeys   = "ERR numkeys should be greater than 0"
	errMpopCount = "ERR count should be greater than 0"
)

func lpushCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return pushGeneric(s, m, args, out, true, false)
}

func rpushCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return pushGeneric(s, m, args, out, false, false)
}

func lpushxCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return pushGeneric(s, m, args, out, true, true)
}

func rpushxCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return pushGeneric(s, m, args, out, false, true)
}

// pushGeneric serves LPUSH, RPUSH and, when onlyExisting, LPUSHX and RPUSHX.
func pushGeneric(s *Store, m mode, args [][]byte, out []byte, front, onlyExisting bool) []byte {
	p := probe(args[1])
	it, _, found, wrong := s.getKind(m, p, kindList)
	var l *list
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case found:
		l = s.writable(&it).(*list)
	case onlyExisting:
		return append(out, zeroReply...)
	default:
		l = newList()
		it = s.newObjItem(p, l)
	}
	for _, e := range args[2:] {
		if front {
			l.pushFront(e)
		} else {
			l.pushBack(e)
		}
	}
	s.changed(it)
	return appendInt(out, int64(l.n))
}

func lpopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return popGeneric(s, m, args, out, true, "lpop")
}

func rpopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return popGeneric(s, m, args, out, false, "rpop")
}

// popGeneric serves LPOP and RPOP: one element as a bulk, or with a count
// an array of up to count elements.
func popGeneric(s *Store, m mode, args [][]byte, out []byte, front bool, name string) []byte {
	if len(args) > 3 {
		return appendArity(out, name)
	}
	hasCount := len(args) == 3
	var count int64
	if hasCount {
		var ok bool
		if count, ok = parseInt(b2s(args[2])); !ok || count < 0 {
			return appendErr(out, errPositive)
		}
	}
	it, _, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case !found && hasCount:
		return append(out, nullArray...)
	case !found:
		return append(out, nullReply...)
	case wrong:
		return appendErr(out, errWrongType)
	case hasCount && count == 0:
		return append(out, emptyArray...)
	}
	l := s.writable(&it).(*list)
	if !hasCount {
		out = redcon.AppendBulk(out, l.pop(front))
	} else {
		out = l.appendPops(out, front, count)
	}
	s.changed(it)
	return out
}

func (l *list) pop(front bool) []byte {
	if front {
		return l.popFront()
	}
	return l.popBack()
}

// appendPops pops up to count elements from one end, appending them to out
// as an array in the order popped.
func (l *list) appendPops(out []byte, front bool, count int64) []byte {
	n := int(min(count, int64(l.n)))
	out = redcon.AppendArray(out, n)
	for range n {
		out = redcon.AppendBulk(out, l.pop(front))
	}
	return out
}

func llenCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, c, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	return appendInt(out, int64(c.length()))
}

// listRange clamps the LRANGE/LTRIM indexes start and end (negative from
// the tail) to a list of length n, as Redis does; ok is false for an
// empty range.
func listRange(n, start, end int64) (from, to int64, ok bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	if start > end || start >= n {
		return 0, 0, false
	}
	return start, min(end, n-1), true
}

func lrangeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	start, ok1 := parseInt(b2s(args[2]))
	end, ok2 := parseInt(b2s(args[3]))
	if !ok1 || !ok2 {
		return appendErr(out, errNotInt)
	}
	_, c, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, emptyArray...)
	}
	l := c.(*list)
	from, to, ok := listRange(int64(l.n), start, end)
	if !ok {
		return append(out, emptyArray...)
	}
	n := int(to - from + 1)
	out = redcon.AppendArray(out, n)
	return l.appendRange(out, int(from), n)
}

// listIndex turns a LINDEX/LSET index into a position, ok false when out
// of range.
func listIndex(n, idx int64) (int, bool) {
	if idx < 0 {
		idx += n
	}
	return int(idx), idx >= 0 && idx < n
}

func lindexCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, c, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, nullReply...)
	}
	idx, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	l := c.(*list)
	i, ok := listIndex(int64(l.n), idx)
	if !ok {
		return append(out, nullReply...)
	}
	ci, pos := l.locate(i)
	e, _ := entryAt(l.live()[ci].data, pos)
	return redcon.AppendBulk(out, e)
}

func lsetCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, c, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return appendErr(out, errNoKey)
	}
	idx, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	i, ok := listIndex(int64(c.length()), idx)
	if !ok {
		return appendErr(out, errNoIndex)
	}
	s.writable(&it).(*list).set(i, args[3])
	s.changed(it)
	return append(out, okReply...)
}

func lremCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	limit, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	it, c, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	e := args[3]
	present := false
	c.(*list).each(true, func(el []byte) bool {
		present = bytes.Equal(el, e)
		return !present
	})
	if !present {
		return append(out, zeroReply...)
	}
	forward := limit >= 0
	if !forward {
		// Redis negates a long: LONG_MIN stays negative and bounds nothing.
		limit = max(-limit, 0)
	}
	removed := s.writable(&it).(*list).remove(e, forward, limit)
	s.changed(it)
	return appendInt(out, removed)
}

func ltrimCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	start, ok1 := parseInt(b2s(args[2]))
	end, ok2 := parseInt(b2s(args[3]))
	if !ok1 || !ok2 {
		return appendErr(out, errNotInt)
	}
	it, c, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, okReply...)
	}
	n := int64(c.length())
	ltrim, rtrim := n, int64(0)
	if from, to, ok := listRange(n, start, end); ok {
		ltrim, rtrim = from, n-to-1
	}
	// Redis signals the key as modified even when nothing is trimmed, so a
	// WATCH on it aborts: changed is called either way.
	if ltrim+rtrim > 0 {
		l := s.writable(&it).(*list)
		l.trimFront(int(ltrim))
		l.trimBack(int(rtrim))
	}
	s.changed(it)
	return append(out, okReply...)
}

func linsertCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	var after bool
	switch {
	case eqFold(args[2], "after"):
		after = true
	case eqFold(args[2], "before"):
	default:
		return appendErr(out, errSyntax)
	}
	it, c, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	pivot, idx := args[3], 0
	present := false
	c.(*list).each(true, func(el []byte) bool {
		if present = bytes.Equal(el, pivot); !present {
			idx++
		}
		return !present
	})
	if !present {
		return appendInt(out, -1)
	}
	if after {
		idx++
	}
	l := s.writable(&it).(*list)
	l.insert(idx, args[4])
	s.changed(it)
	return appendInt(out, int64(l.n))
}

func lposCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	rank, count, maxlen := int64(1), int64(-1), int64(0) // count -1: no COUNT
	for j := 3; j < len(args); j++ {
		opt, more := args[j], j+1 < len(args)
		var ok bool
		switch {
		case eqFold(opt, "rank") && more:
			j++
			if rank, ok = parseInt(b2s(args[j])); !ok {
				return appendErr(out, errNotInt)
			}
			if rank == 0 {
				return appendErr(out, errRankZero)
			}
		case eqFold(opt, "count") && more:
			j++
			if count, ok = parseInt(b2s(args[j])); !ok || count < 0 {
				return appendErr(out, errLposCount)
			}
		case eqFold(opt, "maxlen") && more:
			j++
			if maxlen, ok = parseInt(b2s(args[j])); !ok || maxlen < 0 {
				return appendErr(out, errMaxlen)
			}
		default:
			return appendErr(out, errSyntax)
		}
	}
	// A negative rank searches from the tail. Redis negates a long, so
	// LONG_MIN stays negative and every match then counts as ranked,
	// which int64 arithmetic reproduces.
	forward := rank > 0
	if !forward {
		rank = -rank
	}
	_, c, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found && count != -1:
		return append(out, emptyArray...)
	case !found:
		return append(out, nullReply...)
	}
	l := c.(*list)
	n := int64(l.n)
	e := args[2]
	var index, matches int64
	var hits []int64
	match := int64(-1)
	l.each(forward, func(el []byte) bool {
		if maxlen != 0 && index >= maxlen {
			return false
		}
		if bytes.Equal(el, e) {
			matches++
			if matches >= rank {
				at := index
				if !forward {
					at = n - index - 1
				}
				if count == -1 {
					match = at
					return false
				}
				hits = append(hits, at)
				if count != 0 && matches-rank+1 >= count {
					return false
				}
			}
		}
		index++
		return true
	})
	if count == -1 {
		if match == -1 {
			return append(out, nullReply...)
		}
		return appendInt(out, match)
	}
	out = redcon.AppendArray(out, len(hits))
	for _, h := range hits {
		out = appendInt(out, h)
	}
	return out
}

// listEnd parses LEFT or RIGHT: front is true for LEFT.
func listEnd(arg []byte) (front, ok bool) {
	switch {
	case eqFold(arg, "left"):
		return true, true
	case eqFold(arg, "right"):
		return false, true
	}
	return false, false
}

func lmoveCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	from, ok1 := listEnd(args[3])
	if !ok1 {
		return appendErr(out, errSyntax)
	}
	to, ok2 := listEnd(args[4])
	if !ok2 {
		return appendErr(out, errSyntax)
	}
	return moveGeneric(s, m, args, out, from, to)
}

func rpoplpushCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return moveGeneric(s, m, args, out, false, true)
}

// moveGeneric pops from one end of the list args[1] and pushes the element
// onto an end of args[2] (created if missing), replying with it.
func moveGeneric(s *Store, m mode, args [][]byte, out []byte, fromFront, toFront bool) []byte {
	src, _, found, wrong := s.getKind(m, probe(args[1]), kindList)
	switch {
	case !found:
		return append(out, nullReply...)
	case wrong:
		return appendErr(out, errWrongType)
	}
	dstProbe := probe(args[2])
	if bytes.Equal(args[1], args[2]) {
		l := s.writable(&src).(*list)
		e := bytes.Clone(l.pop(fromFront))
		l.push(toFront, e)
		s.changed(src)
		return redcon.AppendBulk(out, e)
	}
	dst, _, dstFound, dstWrong := s.getKind(m, dstProbe, kindList)
	if dstWrong {
		return appendErr(out, errWrongType)
	}
	e := s.writable(&src).(*list).pop(fromFront)
	s.changed(src)
	var dl *list
	if dstFound {
		dl = s.writable(&dst).(*list)
	} else {
		dl = newList()
		dst = s.newObjItem(dstProbe, dl)
	}
	dl.push(toFront, e)
	s.changed(dst)
	return redcon.AppendBulk(out, e)
}

func (l *list) push(front bool, e []byte) {
	if front {
		l.pushFront(e)
	} else {
		l.pushBack(e)
	}
}

func lmpopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	keys, front, count, msg := parseMpop(args, listEnd)
	if msg != "" {
		return appendErr(out, msg)
	}
	return lmpop(s, m, keys, front, count, out)
}

// parseMpop parses LMPOP's or ZMPOP's arguments after its name: numkeys,
// the keys, the end (LEFT or RIGHT, MIN or MAX: end parses it) and an
// optional COUNT; it returns Redis's error text when they do not parse.
func parseMpop(args [][]byte, end func([]byte) (bool, bool)) (keys [][]byte, front bool, count int64, msg string) {
	numkeys, ok := parseInt(b2s(args[1]))
	if !ok || numkeys < 1 {
		return nil, false, 0, errNumkeys
	}
	if numkeys >= int64(len(args)-2) {
		return nil, false, 0, errSyntax
	}
	endAt := 2 + int(numkeys)
	front, ok = end(args[endAt])
	if !ok {
		return nil, false, 0, errSyntax
	}
	count = -1
	for j := endAt + 1; j < len(args); j++ {
		if count == -1 && eqFold(args[j], "count") && j+1 < len(args) {
			j++
			if count, ok = parseInt(b2s(args[j])); !ok || count < 1 {
				return nil, false, 0, errMpopCount
			}
			continue
		}
		return nil, false, 0, errSyntax
	}
	return args[2:endAt], front, max(count, 1), ""
}

// lmpop pops up to count elements from the first non-empty list of keys.
func lmpop(s *Store, m mode, keys [][]byte, front bool, count int64, out []byte) []byte {
	for _, key := range keys {
		it, _, found, wrong := s.getKind(m, probe(key), kindList)
		if wrong {
			return appendErr(out, errWrongType)
		}
		if !found {
			continue
		}
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendBulk(out, key)
		out = s.writable(&it).(*list).appendPops(out, front, count)
		s.changed(it)
		return out
	}
	return append(out, nullArray...)
}
