package store

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/tidwall/btree"
	"github.com/tidwall/redcon"
)

var setCommands = []*Command{
	def("sadd", saddCmd),
	def("scard", scardCmd),
	def("sdiff", sdiffCmd),
	def("sdiffstore", sdiffstoreCmd),
	def("sinter", sinterCmd),
	def("sintercard", sintercardCmd),
	def("sinterstore", sinterstoreCmd),
	def("sismember", sismemberCmd),
	def("smembers", smembersCmd),
	def("smismember", smismemberCmd),
	def("smove", smoveCmd),
	def("spop", spopCmd),
	def("srandmember", srandmemberCmd),
	def("srem", sremCmd),
	def("sscan", setScan.cmd),
	def("sunion", sunionCmd),
	def("sunionstore", sunionstoreCmd),
}

// maxIntsetEntries is the default of Redis's set-max-intset-entries
// (encodings.go): a set of integers
// past it becomes a hashtable.
const maxIntsetEntries = 512

// intset is Redis's intset: distinct integers in ascending order, packed
// little-endian at the smallest width (2, 4 or 8 bytes) that holds them
// all. Like Redis's it widens when a value needs it and never narrows.
type intset struct {
	width int
	data  []byte
}

func intWidth(v int64) int {
	switch {
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return 2
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return 4
	}
	return 8
}

func (is *intset) len() int { return len(is.data) / is.width }

func (is *intset) at(i int) int64 {
	b := is.data[i*is.width:]
	switch is.width {
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	}
	return int64(binary.LittleEndian.Uint64(b))
}

func (is *intset) put(i int, v int64) {
	b := is.data[i*is.width:]
	switch is.width {
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, uint64(v))
	}
}

// search returns where v is or would be inserted.
func (is *intset) search(v int64) (int, bool) {
	lo, hi := 0, is.len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if is.at(mid) < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < is.len() && is.at(lo) == v
}

// grow makes room for n more bytes with a little headroom: every insert
// moves the tail anyway, and a set of small sets should not carry the
// doubling slack of append.
func (is *intset) grow(n int) {
	if len(is.data)+n <= cap(is.data) {
		return
	}
	d := make([]byte, len(is.data), len(is.data)+n+len(is.data)/4)
	copy(d, is.data)
	is.data = d
}

func (is *intset) insert(v int64) bool {
	if w := intWidth(v); w > is.width {
		is.widen(w)
	}
	i, found := is.search(v)
	if found {
		return false
	}
	is.grow(is.width)
	is.data = is.data[:len(is.data)+is.width]
	copy(is.data[(i+1)*is.width:], is.data[i*is.width:])
	is.put(i, v)
	return true
}

func (is *intset) widen(w int) {
	old := *is
	n := old.len()
	is.width, is.data = w, make([]byte, n*w, n*w+w)
	for i := range n {
		is.put(i, old.at(i))
	}
}

func (is *intset) removeAt(i int) {
	copy(is.data[i*is.width:], is.data[(i+1)*is.width:])
	is.data = is.data[:len(is.data)-is.width]
}

// setMember is a hashtable-encoded member, ordered by its hash so that an
// SSCAN cursor is the hash of the next member to return.
type setMember struct {
	hash uint64
	m    string
}

func memberLess(a, b setMember) bool {
	if a.hash != b.hash {
		return a.hash < b.hash
	}
	return a.m < b.m
}

func memberOf(m string) setMember { return setMember{xxhash.Sum64String(m), m} }

// setValue is a set: an intset while every member is an integer (as
// Redis's string2ll reads it) and there are at most maxIntsetEntries of
// them, then a B-tree for good (its Copy is O(1), copy-on-write), as Redis
// 7.0 turns an intset into a hashtable.
type setValue struct {
	ints intset
	ht   *btree.BTreeG[setMember] // nil while intset-encoded
	// htBytes is the sum of the lengths of ht's members, for memUsage.
	htBytes int64
}

func newSet() *setValue { return &setValue{ints: intset{width: 2}} }

func (s *setValue) kind() kind { return kindSet }

func (s *setValue) encoding() string {
	if s.ht == nil {
		return "intset"
	}
	return "hashtable"
}

func (s *setValue) length() int {
	if s.ht == nil {
		return s.ints.len()
	}
	return s.ht.Len()
}

func (s *setValue) clone() container {
	if s.ht == nil {
		return &setValue{ints: intset{width: s.ints.width, data: slices.Clone(s.ints.data)}}
	}
	return &setValue{ht: s.ht.Copy(), htBytes: s.htBytes}
}

// setMemberCost approximates a hashtable member's cost beside its bytes:
// its slot in a B-tree node at typical fill and its string's allocation.
const setMemberCost = 48

// memUsage counts an intset's length, not its capacity, so that a restored
// value counts the same.
func (s *setValue) memUsage() int64 {
	if s.ht == nil {
		return int64(unsafe.Sizeof(*s)) + int64(len(s.ints.data))
	}
	return int64(unsafe.Sizeof(*s)+unsafe.Sizeof(*s.ht)) + int64(s.ht.Len())*setMemberCost + s.htBytes
}

var (
	setTagIntset = [9][]byte{2: {'i', 2}, 4: {'i', 4}, 8: {'i', 8}}
	setTagHT     = []byte{'h'}
)

// encode lists a tag, then the members: for an intset "i" and its width
// then the integers in ascending order, for a hashtable "h" then the
// members in tree order.
func (s *setValue) encode(fn func([]byte)) {
	if s.ht == nil {
		fn(setTagIntset[s.ints.width])
		var buf [20]byte
		for i := range s.ints.len() {
			fn(strconv.AppendInt(buf[:0], s.ints.at(i), 10))
		}
		return
	}
	fn(setTagHT)
	s.ht.Scan(func(e setMember) bool {
		fn(s2b(e.m))
		return true
	})
}

func init() { loaders[kindSet] = loadSet }

// loadSet rebuilds what encode listed, refusing anything encode could not
// have written.
func loadSet(n int, next func() ([]byte, error)) (container, error) {
	if n < 2 {
		return nil, errBadValue
	}
	tag, err := next()
	if err != nil {
		return nil, err
	}
	switch {
	case len(tag) == 2 && tag[0] == 'i' && (tag[1] == 2 || tag[1] == 4 || tag[1] == 8):
		if n-1 > math.MaxInt32/8 {
			return nil, errBadValue
		}
		w := int(tag[1])
		s := &setValue{ints: intset{width: w, data: make([]byte, 0, (n-1)*w)}}
		for i := 1; i < n; i++ {
			b, err := next()
			if err != nil {
				return nil, err
			}
			v, ok := parseInt(b2s(b))
			if !ok || intWidth(v) > w || i > 1 && v <= s.ints.at(i-2) {
				return nil, errBadValue
			}
			s.ints.data = s.ints.data[:len(s.ints.data)+w]
			s.ints.put(i-1, v)
		}
		return s, nil
	case len(tag) == 1 && tag[0] == 'h':
		s := &setValue{ht: btree.NewBTreeGOptions(memberLess, btree.Options{NoLocks: true})}
		var prev setMember
		for i := 1; i < n; i++ {
			b, err := next()
			if err != nil {
				return nil, err
			}
			e := setMember{xxhash.Sum64(b), string(b)}
			if i > 1 && !memberLess(prev, e) {
				return nil, errBadValue
			}
			s.ht.Load(e)
			s.htBytes += int64(len(e.m))
			prev = e
		}
		return s, nil
	}
	return nil, errBadValue
}

func (s *setValue) toHashtable() {
	s.ht = btree.NewBTreeGOptions(memberLess, btree.Options{NoLocks: true})
	var buf [20]byte
	for i := range s.ints.len() {
		m := string(strconv.AppendInt(buf[:0], s.ints.at(i), 10))
		s.ht.Set(memberOf(m))
		s.htBytes += int64(len(m))
	}
	s.ints = intset{}
}

// add inserts m (copied), turning an intset into a hashtable as Redis
// 7.0's setTypeAdd does: for a member that is not an integer, or past
// the set-max-intset-entries of e.
func (s *setValue) add(m string, enc *encodings) bool {
	if s.ht == nil {
		if v, ok := parseInt(m); ok {
			if !s.ints.insert(v) {
				return false
			}
			if int64(s.ints.len()) > enc.setIntset() {
				s.toHashtable()
			}
			return true
		}
		s.toHashtable()
	}
	e := memberOf(m)
	if _, found := s.ht.Get(e); found {
		return false
	}
	e.m = strings.Clone(m)
	s.ht.Set(e)
	s.htBytes += int64(len(m))
	return true
}

func (s *setValue) remove(m string) bool {
	if s.ht == nil {
		v, ok := parseInt(m)
		if !ok {
			return false
		}
		i, found := s.ints.search(v)
		if found {
			s.ints.removeAt(i)
		}
		return found
	}
	if _, found := s.ht.Delete(memberOf(m)); !found {
		return false
	}
	s.htBytes -= int64(len(m))
	return true
}

func (s *setValue) has(m string) bool {
	if s.ht == nil {
		v, ok := parseInt(m)
		if !ok {
			return false
		}
		_, found := s.ints.search(v)
		return found
	}
	_, found := s.ht.Get(memberOf(m))
	return found
}

// each calls fn with every member in order (intset ascending, hashtable
// by hash) until fn returns false; m is only valid during the call.
func (s *setValue) each(fn func(m string) bool) {
	if s.ht == nil {
		var buf [20]byte
		for i := range s.ints.len() {
			if !fn(b2s(strconv.AppendInt(buf[:0], s.ints.at(i), 10))) {
				return
			}
		}
		return
	}
	s.ht.Scan(func(e setMember) bool { return fn(e.m) })
}

// at returns the i-th member in order.
func (s *setValue) at(i int) string {
	if s.ht == nil {
		return strconv.FormatInt(s.ints.at(i), 10)
	}
	e, _ := s.ht.GetAt(i)
	return e.m
}

// removeAt removes and returns the i-th member in order.
func (s *setValue) removeAt(i int) string {
	if s.ht == nil {
		m := strconv.FormatInt(s.ints.at(i), 10)
		s.ints.removeAt(i)
		return m
	}
	e, _ := s.ht.DeleteAt(i)
	s.htBytes -= int64(len(e.m))
	return e.m
}

// appendMembers appends the set as an array in its order.
func (s *setValue) appendMembers(out []byte) []byte {
	out = redcon.AppendArray(out, s.length())
	s.each(func(m string) bool {
		out = appendBulk(out, m)
		return true
	})
	return out
}

// getSet finds the set at key. wrong reports a key of another type; a
// missing key gives nil.
func (s *Store) getSet(m mode, key []byte) (it item, set *setValue, wrong bool) {
	it, c, found, wrong := s.getKind(m, probe(key), kindSet)
	if !found || wrong {
		return it, nil, wrong
	}
	return it, c.(*setValue), false
}

// getSets looks up keys as Redis's multi-key set commands do: a missing key
// is nil (an empty set), any key of another type makes wrong true.
func (s *Store) getSets(m mode, keys [][]byte) (sets []*setValue, wrong bool) {
	sets = make([]*setValue, len(keys))
	for i, k := range keys {
		_, set, w := s.getSet(m, k)
		if w {
			return nil, true
		}
		sets[i] = set
	}
	return sets, false
}

func saddCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, set, wrong := s.getSet(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	if set == nil {
		set = newSet()
		it = s.newObjItem(probe(args[1]), set)
	} else if !slices.ContainsFunc(args[2:], func(a []byte) bool { return !set.has(b2s(a)) }) {
		return append(out, zeroReply...)
	} else {
		set = s.writable(&it).(*setValue)
	}
	added := 0
	for _, a := range args[2:] {
		if set.add(b2s(a), &s.enc) {
			added++
		}
	}
	s.changed(it)
	return appendInt(out, int64(added))
}

func sremCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, set, wrong := s.getSet(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case set == nil || !slices.ContainsFunc(args[2:], func(a []byte) bool { return set.has(b2s(a)) }):
		return append(out, zeroReply...)
	}
	set = s.writable(&it).(*setValue)
	removed := 0
	for _, a := range args[2:] {
		if set.remove(b2s(a)) {
			removed++
		}
	}
	s.changed(it)
	return appendInt(out, int64(removed))
}

func smembersCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, set, wrong := s.getSet(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case set == nil:
		return append(out, emptyArray...)
	}
	return set.appendMembers(out)
}

func sismemberCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, set, wrong := s.getSet(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case set != nil && set.has(b2s(args[2])):
		return append(out, oneReply...)
	}
	return append(out, zeroReply...)
}

func smismemberCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, set, wrong := s.getSet(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	out = redcon.AppendArray(out, len(args)-2)
	for _, a := range args[2:] {
		if set != nil && set.has(b2s(a)) {
			out = append(out, oneReply...)
		} else {
			out = append(out, zeroReply...)
		}
	}
	return out
}

func scardCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, set, wrong := s.getSet(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case set == nil:
		return append(out, zeroReply...)
	}
	return appendInt(out, int64(set.length()))
}

// smoveCmd follows Redis 7.0's smoveCommand: a missing source answers 0
// before any type check, and the destination changes only when the member
// was not in it already.
func smoveCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	srcIt, src, srcWrong := s.getSet(m, args[1])
	dstIt, dst, dstWrong := s.getSet(m, args[2])
	member := b2s(args[3])
	switch {
	case src == nil && !srcWrong:
		return append(out, zeroReply...)
	case srcWrong || dstWrong:
		return appendErr(out, errWrongType)
	case bytes.Equal(args[1], args[2]):
		if src.has(member) {
			return append(out, oneReply...)
		}
		return append(out, zeroReply...)
	case !src.has(member):
		return append(out, zeroReply...)
	}
	s.writable(&srcIt).(*setValue).remove(member)
	s.changed(srcIt)
	if dst == nil {
		dst = newSet()
		dstIt = s.newObjItem(probe(args[2]), dst)
	} else if dst.has(member) {
		return append(out, oneReply...)
	} else {
		dst = s.writable(&dstIt).(*setValue)
	}
	dst.add(member, &s.enc)
	s.changed(dstIt)
	return append(out, oneReply...)
}

const errNotPositive = "ERR value is out of range, must be positive"

// spopMoveRatio is Redis's SPOP_MOVE_STRATEGY_MUL: when fewer than
// count/spopMoveRatio members remain, Redis builds a new set of them, which
// can be an intset again, so OBJECT ENCODING depends on it.
const spopMoveRatio = 5

// spopCmd removes random members, drawn from s.random: in the log every
// replica draws the same, so the members removed are the log's decision.
func spopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args) > 3 {
		return appendErr(out, errSyntax)
	}
	count := int64(1)
	if len(args) == 3 {
		var ok bool
		if count, ok = parseInt(b2s(args[2])); !ok || count < 0 {
			return appendErr(out, errNotPositive)
		}
	}
	it, set, wrong := s.getSet(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case set == nil && len(args) == 2:
		return append(out, nullReply...)
	case set == nil || count == 0:
		return append(out, emptyArray...)
	}
	size := int64(set.length())
	if count >= size && len(args) == 3 {
		out = set.appendMembers(out)
		s.remove(it)
		return out
	}
	r := s.random(m)
	set = s.writable(&it).(*setValue)
	if len(args) == 2 {
		out = appendBulk(out, set.removeAt(r.IntN(set.length())))
		s.changed(it)
		return out
	}
	remaining := size - count
	out = redcon.AppendArray(out, int(count))
	if remaining*spopMoveRatio > count {
		for range count {
			out = appendBulk(out, set.removeAt(r.IntN(set.length())))
		}
	} else {
		kept := newSet()
		for range remaining {
			kept.add(set.removeAt(r.IntN(set.length())), &s.enc)
		}
		set.each(func(m string) bool {
			out = appendBulk(out, m)
			return true
		})
		it.obj().val = kept
	}
	s.changed(it)
	return out
}

// srandSubRatio is Redis's SRANDMEMBER_SUB_STRATEGY_MUL: past count*ratio
// members, distinct ones are drawn one by one; below, all are taken and
// random ones dropped.
const srandSubRatio = 3

func srandmemberCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args) > 3 {
		return appendErr(out, errSyntax)
	}
	if len(args) == 2 {
		_, set, wrong := s.getSet(m, args[1])
		switch {
		case wrong:
			return appendErr(out, errWrongType)
		case set == nil:
			return append(out, nullReply...)
		}
		return appendBulk(out, set.at(s.random(m).IntN(set.length())))
	}
	l, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	if l == math.MinInt64 {
		return appendErr(out, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
	}
	if l < -maxRepeatedDraws {
		return appendErr(out, errTooManyDraws)
	}
	_, set, wrong := s.getSet(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case set == nil || l == 0:
		return append(out, emptyArray...)
	}
	r := s.random(m)
	size := set.length()
	if l < 0 || l == 1 {
		count := max(l, -l)
		out = redcon.AppendArray(out, int(count))
		for range count {
			out = appendBulk(out, set.at(r.IntN(size)))
		}
		return out
	}
	if l >= int64(size) {
		return set.appendMembers(out)
	}
	count := int(l)
	out = redcon.AppendArray(out, count)
	if count*srandSubRatio > size {
		picked := make([]int, size)
		for i := range picked {
			picked[i] = i
		}
		for len(picked) > count {
			i := r.IntN(len(picked))
			picked[i] = picked[len(picked)-1]
			picked = picked[:len(picked)-1]
		}
		for _, i := range picked {
			out = appendBulk(out, set.at(i))
		}
		return out
	}
	seen := make(map[int]bool, count)
	for len(seen) < count {
		i := r.IntN(size)
		if !seen[i] {
			seen[i] = true
			out = appendBulk(out, set.at(i))
		}
	}
	return out
}

// inter calls fn with each member of the intersection of sets (none nil)
// until fn returns false, iterating the smallest set as Redis does.
func inter(sets []*setValue, fn func(m string) bool) {
	sets = slices.Clone(sets)
	slices.SortStableFunc(sets, func(a, b *setValue) int { return a.length() - b.length() })
	sets[0].each(func(m string) bool {
		for _, o := range sets[1:] {
			if o != sets[0] && !o.has(m) {
				return true
			}
		}
		return fn(m)
	})
}

func sinterCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	sets, wrong := s.getSets(m, args[1:])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case slices.Contains(sets, nil):
		return append(out, emptyArray...)
	}
	var body []byte
	n := 0
	inter(sets, func(m string) bool {
		body = appendBulk(body, m)
		n++
		return true
	})
	return append(redcon.AppendArray(out, n), body...)
}

func sinterstoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	sets, wrong := s.getSets(m, args[2:])
	if wrong {
		return appendErr(out, errWrongType)
	}
	result := newSet()
	if !slices.Contains(sets, nil) {
		inter(sets, func(m string) bool {
			result.add(m, &s.enc)
			return true
		})
	}
	return s.storeResult(m, args[1], result, out)
}

// sintercardCmd follows Redis 7.0's sinterCardCommand, errors included.
func sintercardCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	numkeys, ok := parseInt(b2s(args[1]))
	if !ok || numkeys < 1 {
		return appendErr(out, "ERR numkeys should be greater than 0")
	}
	if numkeys > int64(len(args)-2) {
		return appendErr(out, "ERR Number of keys can't be greater than number of args")
	}
	limit := int64(0)
	for j := 2 + int(numkeys); j < len(args); j++ {
		if !eqFold(args[j], "limit") || j+1 == len(args) {
			return appendErr(out, errSyntax)
		}
		j++
		if limit, ok = parseInt(b2s(args[j])); !ok || limit < 0 {
			return appendErr(out, "ERR LIMIT can't be negative")
		}
	}
	sets, wrong := s.getSets(m, args[2:2+numkeys])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case slices.Contains(sets, nil):
		return append(out, zeroReply...)
	}
	n := int64(0)
	inter(sets, func(string) bool {
		n++
		return limit == 0 || n < limit
	})
	return appendInt(out, n)
}

// unionDiff computes SUNION (diff false) or SDIFF of sets (nil for a
// missing key) into a new set the way Redis 7.0's sunionDiffGenericCommand
// does, since the result's encoding depends on the steps: its second diff
// algorithm adds the whole first set before removing the others, so the
// result can be a hashtable holding only integers.
func unionDiff(sets []*setValue, diff bool, e *encodings) *setValue {
	result := newSet()
	if !diff {
		for _, set := range sets {
			if set != nil {
				set.each(func(m string) bool {
					result.add(m, e)
					return true
				})
			}
		}
		return result
	}
	first := sets[0]
	if first == nil {
		return result
	}
	oneWork, twoWork := 0, 0
	for _, set := range sets {
		if set != nil {
			oneWork += first.length()
			twoWork += set.length()
		}
	}
	if oneWork/2 <= twoWork {
		first.each(func(m string) bool {
			for _, o := range sets[1:] {
				if o == first || o != nil && o.has(m) {
					return true
				}
			}
			result.add(m, e)
			return true
		})
		return result
	}
	first.each(func(m string) bool {
		result.add(m, e)
		return true
	})
	for _, set := range sets[1:] {
		if result.length() == 0 {
			break
		}
		if set != nil {
			set.each(func(m string) bool {
				result.remove(m)
				return true
			})
		}
	}
	return result
}

func sunionCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return unionDiffCmd(s, m, args[1:], nil, false, out)
}

func sdiffCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return unionDiffCmd(s, m, args[1:], nil, true, out)
}

func sunionstoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return unionDiffCmd(s, m, args[2:], args[1], false, out)
}

func sdiffstoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return unionDiffCmd(s, m, args[2:], args[1], true, out)
}

// unionDiffCmd serves SUNION and SDIFF, and their STORE forms when dst is
// set.
func unionDiffCmd(s *Store, m mode, keys [][]byte, dst []byte, diff bool, out []byte) []byte {
	sets, wrong := s.getSets(m, keys)
	if wrong {
		return appendErr(out, errWrongType)
	}
	result := unionDiff(sets, diff, &s.enc)
	if dst != nil {
		return s.storeResult(m, dst, result, out)
	}
	return result.appendMembers(out)
}

// setScan names and replies a member as itself.
var setScan = elemScan[string]{
	kind:  kindSet,
	name:  func(m string) string { return m },
	reply: appendBulk,
	parts: 1,
}

// scan is SSCAN's walk: an intset whole in one call, a hashtable from the
// cursor, the hash of the next member to visit.
func (s *setValue) scan(cursor uint64, count int64, visit func(string)) uint64 {
	if s.ht == nil {
		s.each(func(m string) bool { visit(m); return true })
		return 0
	}
	ord := func(e setMember) uint64 { return e.hash }
	return scanFrom(s.ht, setMember{hash: cursor}, ord, count, func(e setMember) { visit(e.m) })
}
