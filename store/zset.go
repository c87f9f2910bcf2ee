package store

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/tidwall/btree"
	"github.com/tidwall/redcon"
)

// The defaults of Redis 7.0's zset-max-listpack-entries and
// zset-max-listpack-value (encodings.go): a sorted set keeps the compact
// form while it has at most that many members, none longer than that.
const (
	zsetMaxListpackEntries = 128
	zsetMaxListpackValue   = 64
)

// zset is a sorted set: members ordered by (score, member bytes), as Redis
// orders them.
//
// Small sets ("listpack") are one byte slice of entries in that order, each
// an 8-byte little-endian score, a uvarint length and the member. Past the
// limits a set becomes ("skiplist") two B-trees for good: one by (score,
// member), whose subtree counts give ranks, and one by (member hash, member)
// holding the score, for lookups and as the ZSCAN cursor order. Both copy in
// O(1), copy-on-write.
type zset struct {
	lp  []byte
	lpn int   // entries in lp
	big *zbig // nil while the set is a listpack
}

type zbig struct {
	byScore     *btree.BTreeG[zentry]
	byMember    *btree.BTreeG[zmember]
	memberBytes int
}

type zentry struct {
	score  float64
	member string
}

type zmember struct {
	hash   uint64
	member string
	score  float64
}

// zentryLess is Redis's sorted set order. Scores are never NaN; -0 and 0
// are equal scores, ordered by member.
func zentryLess(a, b zentry) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.member < b.member
}

func zmemberLess(a, b zmember) bool {
	if a.hash != b.hash {
		return a.hash < b.hash
	}
	return a.member < b.member
}

// memberHash places a member in the ZSCAN order; 0 is kept for the cursor
// that starts and ends a scan.
func memberHash(m string) uint64 {
	if h := xxhash.Sum64String(m); h != 0 {
		return h
	}
	return 1
}

func newZset(big bool) *zset {
	z := &zset{}
	if big {
		z.big = newZbig()
	}
	return z
}

func newZbig() *zbig {
	return &zbig{
		byScore:  btree.NewBTreeGOptions(zentryLess, btree.Options{NoLocks: true}),
		byMember: btree.NewBTreeGOptions(zmemberLess, btree.Options{NoLocks: true}),
	}
}

func (z *zset) kind() kind { return kindZSet }

func (z *zset) encoding() string {
	if z.big != nil {
		return "skiplist"
	}
	return "listpack"
}

func (z *zset) length() int {
	if z.big != nil {
		return z.big.byScore.Len()
	}
	return z.lpn
}

func (z *zset) clone() container {
	if z.big == nil {
		return &zset{lp: slices.Clone(z.lp), lpn: z.lpn}
	}
	b := z.big
	return &zset{big: &zbig{byScore: b.byScore.Copy(), byMember: b.byMember.Copy(), memberBytes: b.memberBytes}}
}

// Approximate costs: the zset and its header; per skiplist member, its
// entries in both trees at typical node fill plus the string's allocation
// rounding.
const (
	zsetOverhead   = 48
	zbigOverhead   = 2 * 96
	zbigMemberCost = 88
)

func (z *zset) memUsage() int64 {
	if z.big == nil {
		return zsetOverhead + int64(cap(z.lp))
	}
	return zsetOverhead + zbigOverhead + int64(z.big.byScore.Len())*zbigMemberCost + int64(z.big.memberBytes)
}

// zsetTags are the first element encode lists: the encoding.
var zsetTags = [2][]byte{{0}, {1}} // listpack, skiplist

// encode lists the encoding's tag and then each member in order as its
// score's 8 bytes followed by the member.
func (z *zset) encode(fn func(elem []byte)) {
	if z.big == nil {
		fn(zsetTags[0])
	} else {
		fn(zsetTags[1])
	}
	var buf []byte
	z.walk(0, false, func(m string, s float64) bool {
		buf = binary.LittleEndian.AppendUint64(buf[:0], math.Float64bits(s))
		buf = append(buf, m...)
		fn(buf)
		return true
	})
}

func init() { loaders[kindZSet] = loadZset }

// loadZset rebuilds what encode listed, checking everything: a listpack
// holds at most 128 members of at most 64 bytes and never a -0 score (it
// stores 0, as Redis's does), scores are not NaN, members strictly ascend
// and appear once.
func loadZset(n int, next func() ([]byte, error)) (container, error) {
	if n < 2 {
		return nil, errBadValue
	}
	tag, err := next()
	if err != nil {
		return nil, err
	}
	if len(tag) != 1 || tag[0] > 1 {
		return nil, errBadValue
	}
	big := tag[0] == 1
	if !big && n-1 > math.MaxUint16 {
		return nil, errBadValue
	}
	z := newZset(big)
	var prev zentry
	for i := 1; i < n; i++ {
		e, err := next()
		if err != nil {
			return nil, err
		}
		if len(e) < 8 {
			return nil, errBadValue
		}
		cur := zentry{math.Float64frombits(binary.LittleEndian.Uint64(e)), string(e[8:])}
		if math.IsNaN(cur.score) || i > 1 && !zentryLess(prev, cur) {
			return nil, errBadValue
		}
		prev = cur
		if big {
			if _, dup := z.big.byMember.Set(zmember{memberHash(cur.member), cur.member, cur.score}); dup {
				return nil, errBadValue
			}
			z.big.byScore.Load(cur)
			z.big.memberBytes += len(cur.member)
			continue
		}
		if cur.score == 0 && math.Signbit(cur.score) {
			return nil, errBadValue
		}
		if _, dup := z.score(cur.member); dup {
			return nil, errBadValue
		}
		z.lp = appendLPEntry(z.lp, cur.member, cur.score)
		z.lpn++
	}
	return z, nil
}

// Listpack entries.

func appendLPEntry(lp []byte, m string, s float64) []byte {
	lp = binary.LittleEndian.AppendUint64(lp, math.Float64bits(s))
	lp = binary.AppendUvarint(lp, uint64(len(m)))
	return append(lp, m...)
}

// lpEntry decodes the entry at off; the member aliases lp.
func lpEntry(lp []byte, off int) (m string, s float64, next int) {
	s = math.Float64frombits(binary.LittleEndian.Uint64(lp[off:]))
	l, n := binary.Uvarint(lp[off+8:])
	start := off + 8 + n
	return b2s(lp[start : start+int(l)]), s, start + int(l)
}

// lpOffsets lists where each entry starts, in buf when it has room (it
// has for the default zset-max-listpack-entries).
func (z *zset) lpOffsets(buf *[zsetMaxListpackEntries]int) []int {
	offs := buf[:0]
	for off := 0; off < len(z.lp); {
		offs = append(offs, off)
		_, _, off = lpEntry(z.lp, off)
	}
	return offs
}

// lpFind returns the offset of member m, or -1.
func (z *zset) lpFind(m string) (off int, s float64) {
	for off := 0; off < len(z.lp); {
		em, es, next := lpEntry(z.lp, off)
		if em == m {
			return off, es
		}
		off = next
	}
	return -1, 0
}

// Operations on either encoding.

// score returns member m's score.
func (z *zset) score(m string) (float64, bool) {
	if z.big != nil {
		e, ok := z.big.byMember.Get(zmember{hash: memberHash(m), member: m})
		return e.score, ok
	}
	off, s := z.lpFind(m)
	return s, off >= 0
}

// insert adds member m, which must be absent, with score s. A listpack
// that would pass the limits of e becomes a skiplist first, as Redis's
// zsetAdd does (e nil: a member moving to a new score, which Redis never
// converts for); a listpack stores -0 as 0, as Redis's does. m is copied.
func (z *zset) insert(m string, s float64, e *encodings) {
	if z.big == nil && e != nil && (int64(z.lpn)+1 > e.zsetEntries() || len(m) > e.zsetValue() || len(z.lp)+len(m) > lpSafeMax) {
		z.convert()
	}
	if z.big != nil {
		m = strings.Clone(m)
		z.big.byScore.Set(zentry{s, m})
		z.big.byMember.Set(zmember{memberHash(m), m, s})
		z.big.memberBytes += len(m)
		return
	}
	if s == 0 {
		s = 0 // -0 becomes 0
	}
	at := len(z.lp)
	for off := 0; off < len(z.lp); {
		em, es, next := lpEntry(z.lp, off)
		if zentryLess(zentry{s, m}, zentry{es, em}) {
			at = off
			break
		}
		off = next
	}
	var buf [80]byte // a default-sized entry needs no allocation
	entry := appendLPEntry(buf[:0], m, s)
	z.lp = slices.Insert(z.lp, at, entry...)
	z.lpn++
}

// convert turns a listpack into a skiplist.
func (z *zset) convert() {
	b := newZbig()
	z.walk(0, false, func(m string, s float64) bool {
		m = strings.Clone(m)
		b.byScore.Load(zentry{s, m})
		b.byMember.Set(zmember{memberHash(m), m, s})
		b.memberBytes += len(m)
		return true
	})
	z.big, z.lp, z.lpn = b, nil, 0
}

// remove deletes member m, reporting whether it was there.
func (z *zset) remove(m string) bool {
	if z.big != nil {
		e, ok := z.big.byMember.Delete(zmember{hash: memberHash(m), member: m})
		if ok {
			z.big.byScore.Delete(zentry{e.score, e.member})
			z.big.memberBytes -= len(e.member)
		}
		return ok
	}
	off, _ := z.lpFind(m)
	if off < 0 {
		return false
	}
	_, _, next := lpEntry(z.lp, off)
	z.lp = slices.Delete(z.lp, off, next)
	z.lpn--
	return true
}

// setScore moves present member m from score old to score s.
func (z *zset) setScore(m string, old, s float64) {
	if z.big != nil {
		e, _ := z.big.byScore.Delete(zentry{old, m})
		z.big.byScore.Set(zentry{s, e.member})
		z.big.byMember.Set(zmember{memberHash(e.member), e.member, s})
		return
	}
	z.remove(m)
	z.insert(m, s, nil)
}

// at returns the entry of rank i (0 <= i < length).
func (z *zset) at(i int) (string, float64) {
	if z.big != nil {
		e, _ := z.big.byScore.GetAt(i)
		return e.member, e.score
	}
	var buf [zsetMaxListpackEntries]int
	m, s, _ := lpEntry(z.lp, z.lpOffsets(&buf)[i])
	return m, s
}

// indexer returns at for many lookups: a listpack's offsets are found once.
func (z *zset) indexer() func(i int) (string, float64) {
	if z.big != nil {
		return z.at
	}
	offs := z.lpOffsets(new([zsetMaxListpackEntries]int))
	return func(i int) (string, float64) {
		m, s, _ := lpEntry(z.lp, offs[i])
		return m, s
	}
}

// rank returns member m's rank from the lowest score, or -1.
func (z *zset) rank(m string) int {
	if z.big != nil {
		s, ok := z.score(m)
		if !ok {
			return -1
		}
		target := zentry{s, m}
		return z.big.search(0, z.length(), func(e zentry) bool { return !zentryLess(e, target) })
	}
	i := 0
	for off := 0; off < len(z.lp); i++ {
		em, _, next := lpEntry(z.lp, off)
		if em == m {
			return i
		}
		off = next
	}
	return -1
}

// walk calls fn on the entries from rank i on, upwards or downwards, until
// fn returns false. Members alias the set: they are valid until it changes.
func (z *zset) walk(i int, reverse bool, fn func(m string, s float64) bool) {
	n := z.length()
	if i < 0 || i >= n {
		return
	}
	if z.big != nil {
		pivot, _ := z.big.byScore.GetAt(i)
		iter := func(e zentry) bool { return fn(e.member, e.score) }
		if reverse {
			z.big.byScore.Descend(pivot, iter)
		} else {
			z.big.byScore.Ascend(pivot, iter)
		}
		return
	}
	var buf [zsetMaxListpackEntries]int
	offs := z.lpOffsets(&buf)
	for ; i >= 0 && i < n; i += dirStep(reverse) {
		m, s, _ := lpEntry(z.lp, offs[i])
		if !fn(m, s) {
			return
		}
	}
}

func dirStep(reverse bool) int {
	if reverse {
		return -1
	}
	return 1
}

// search returns the first rank in [lo, hi) whose entry satisfies p, which
// must be false and then true over the ranks (hi if none does): a binary
// search over GetAt, O(log² n).
func (b *zbig) search(lo, hi int, p func(zentry) bool) int {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if e, _ := b.byScore.GetAt(mid); p(e) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// runEnd returns the first rank from i up whose entry does not satisfy p
// (length if all do). A listpack is scanned one entry after the other, as
// Redis scans it; a skiplist is searched, p being true and then false over
// the ranks (Redis's descent through its skiplist assumes the same).
func (z *zset) runEnd(i int, p func(m string, s float64) bool) int {
	n := z.length()
	if z.big != nil {
		return z.big.search(i, n, func(e zentry) bool { return !p(e.member, e.score) })
	}
	end := n
	z.walk(i, false, func(m string, s float64) bool {
		if !p(m, s) {
			end = i
			return false
		}
		i++
		return true
	})
	return end
}

// runStart is runEnd downwards: the first rank from i down whose entry does
// not satisfy p, or -1.
func (z *zset) runStart(i int, p func(m string, s float64) bool) int {
	if z.big != nil {
		return z.big.search(0, i+1, func(e zentry) bool { return p(e.member, e.score) }) - 1
	}
	start := -1
	z.walk(i, true, func(m string, s float64) bool {
		if !p(m, s) {
			start = i
			return false
		}
		i--
		return true
	})
	return start
}

// deleteRanks removes the entries of ranks [i, j).
func (z *zset) deleteRanks(i, j int) {
	if i >= j {
		return
	}
	if z.big != nil {
		doomed := make([]zentry, 0, j-i)
		z.walk(i, false, func(m string, s float64) bool {
			doomed = append(doomed, zentry{s, m})
			return len(doomed) < j-i
		})
		for _, e := range doomed {
			z.big.byScore.Delete(e)
			z.big.byMember.Delete(zmember{hash: memberHash(e.member), member: e.member})
			z.big.memberBytes -= len(e.member)
		}
		return
	}
	var buf [zsetMaxListpackEntries]int
	offs := z.lpOffsets(&buf)
	end := len(z.lp)
	if j < z.lpn {
		end = offs[j]
	}
	z.lp = slices.Delete(z.lp, offs[i], end)
	z.lpn -= j - i
}

// zspan is a score or lex range as ZRANGEBYSCORE and ZRANGEBYLEX give it.
type zspan interface {
	// empty reports a range that can hold nothing (min above max...).
	empty() bool
	gteMin(m string, s float64) bool
	lteMax(m string, s float64) bool
}

// firstIn returns the rank of the first entry in the range, or -1, as
// Redis's zzlFirstInRange and zzlFirstInLexRange find it: after checking
// that the last entry is not below the range and the first not above it,
// the first entry not below the range, if it is not above it.
func (z *zset) firstIn(sp zspan) int {
	n := z.length()
	if n == 0 || sp.empty() || !z.spanCovers(sp) {
		return -1
	}
	below := func(m string, s float64) bool { return !sp.gteMin(m, s) }
	i := z.runEnd(0, below)
	if i == n {
		return -1
	}
	if m, s := z.at(i); !sp.lteMax(m, s) {
		return -1
	}
	return i
}

// lastIn is firstIn from the top: the last entry not above the range.
func (z *zset) lastIn(sp zspan) int {
	n := z.length()
	if n == 0 || sp.empty() || !z.spanCovers(sp) {
		return -1
	}
	above := func(m string, s float64) bool { return !sp.lteMax(m, s) }
	i := z.runStart(n-1, above)
	if i < 0 {
		return -1
	}
	if m, s := z.at(i); !sp.gteMin(m, s) {
		return -1
	}
	return i
}

// spanCovers is Redis's zslIsInRange test: the last entry is not below the
// range and the first is not above it.
func (z *zset) spanCovers(sp zspan) bool {
	lm, ls := z.at(z.length() - 1)
	fm, fs := z.at(0)
	return sp.gteMin(lm, ls) && sp.lteMax(fm, fs)
}

// scoreSpan is a score range; ex marks an exclusive end.
type scoreSpan struct {
	min, max     float64
	minEx, maxEx bool
}

func (r *scoreSpan) empty() bool {
	return r.min > r.max || r.min == r.max && (r.minEx || r.maxEx)
}

func (r *scoreSpan) gteMin(_ string, s float64) bool {
	if r.minEx {
		return s > r.min
	}
	return s >= r.min
}

func (r *scoreSpan) lteMax(_ string, s float64) bool {
	if r.maxEx {
		return s < r.max
	}
	return s <= r.max
}

// lexBound is one end of a lex range: a member ('[' inclusive, '('
// exclusive), or '-' or '+' (inf -1 or 1), which sort before and after
// every member.
type lexBound struct {
	s   string
	inf int
	ex  bool
}

// lexSpan is a lex range.
type lexSpan struct{ min, max lexBound }

// lexCmp compares as Redis's sdscmplex, where '-' and '+' are two shared
// strings: each equals itself only.
func lexCmp(a, b lexBound) int {
	switch {
	case a.inf != 0 && a.inf == b.inf:
		return 0
	case a.inf < 0 || b.inf > 0:
		return -1
	case a.inf > 0 || b.inf < 0:
		return 1
	}
	return strings.Compare(a.s, b.s)
}

func (r *lexSpan) empty() bool {
	c := lexCmp(r.min, r.max)
	return c > 0 || c == 0 && (r.min.ex || r.max.ex)
}

func (r *lexSpan) gteMin(m string, _ float64) bool {
	c := lexCmp(lexBound{s: m}, r.min)
	if r.min.ex {
		return c > 0
	}
	return c >= 0
}

func (r *lexSpan) lteMax(m string, _ float64) bool {
	c := lexCmp(lexBound{s: m}, r.max)
	if r.max.ex {
		return c < 0
	}
	return c <= 0
}

// parseLexBound parses a lex range end as Redis's zslParseLexRangeItem,
// which reads it as a C string. The member aliases b.
func parseLexBound(b []byte) (lexBound, bool) {
	if len(b) == 0 {
		return lexBound{}, false
	}
	switch b[0] {
	case '+', '-':
		if len(b) > 1 && b[1] != 0 {
			return lexBound{}, false
		}
		if b[0] == '+' {
			return lexBound{inf: 1, ex: true}, true
		}
		return lexBound{inf: -1, ex: true}, true
	case '(':
		return lexBound{s: b2s(b[1:]), ex: true}, true
	case '[':
		return lexBound{s: b2s(b[1:])}, true
	}
	return lexBound{}, false
}

// parseScoreBound parses a score range end as Redis's zslParseRange: an
// optional '(' for exclusive, then strtod over the C string (leading
// spaces, "" as 0, anything after a NUL ignored), NaN refused.
func parseScoreBound(b []byte) (v float64, ex, ok bool) {
	s := b2s(b)
	if len(s) > 0 && s[0] == '(' {
		ex, s = true, s[1:]
	}
	v, n, _ := strtod(s)
	if n < len(s) && s[n] != 0 || math.IsNaN(v) {
		return 0, false, false
	}
	return v, ex, true
}

// parseScore parses a score, increment or weight as Redis's string2d: the
// whole string is a strtod number, no leading space, no NaN, no overflow
// and no underflow to zero.
func parseScore(b []byte) (float64, bool) {
	s := b2s(b)
	if len(s) == 0 || isCSpace(s[0]) {
		return 0, false
	}
	v, n, erange := strtod(s)
	if n != len(s) || erange || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

func isCSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

func hasPrefixFold(s, lower string) bool {
	return len(s) >= len(lower) && strings.EqualFold(s[:len(lower)], lower)
}

// strtod reads the longest prefix of s that C's strtod converts: leading
// spaces, a sign, then "inf", "infinity", "nan[(chars)]", a hexadecimal
// float (0x, digits, '.', optional p exponent) or a decimal one. n is the
// length read (0 when nothing converts) and erange reports an overflow or
// an underflow to zero, where strtod sets ERANGE.
func strtod(s string) (v float64, n int, erange bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	rest := s[i:]
	sign := func(f float64) float64 {
		if neg {
			return -f
		}
		return f
	}
	switch {
	case hasPrefixFold(rest, "infinity"):
		return sign(math.Inf(1)), i + 8, false
	case hasPrefixFold(rest, "inf"):
		return sign(math.Inf(1)), i + 3, false
	case hasPrefixFold(rest, "nan"):
		j := 3
		if j < len(rest) && rest[j] == '(' {
			k := j + 1
			for k < len(rest) && (isDigit(rest[k]) || rest[k]|0x20 >= 'a' && rest[k]|0x20 <= 'z' || rest[k] == '_') {
				k++
			}
			if k < len(rest) && rest[k] == ')' {
				j = k + 1
			}
		}
		return math.NaN(), i + j, false
	}
	if len(rest) > 2 && rest[0] == '0' && rest[1]|0x20 == 'x' {
		if f, l, er, ok := strtodHex(rest); ok {
			return sign(f), i + l, er
		}
	}
	j, digits, nonzero := 0, 0, false
	for pass := 0; pass < 2; pass++ {
		for j < len(rest) && isDigit(rest[j]) {
			nonzero = nonzero || rest[j] != '0'
			j++
			digits++
		}
		if pass == 0 && j < len(rest) && rest[j] == '.' {
			j++
		} else {
			break
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	j = exponentEnd(rest, j, 'e')
	f, err := strconv.ParseFloat(rest[:j], 64)
	overflow := err != nil && math.IsInf(f, 0)
	return sign(f), i + j, overflow || f == 0 && nonzero
}

// strtodHex reads a hexadecimal float after the "0x" prefix of s; ok is
// false when no hex digit follows (strtod then reads just the "0").
func strtodHex(s string) (v float64, n int, erange, ok bool) {
	j, digits, nonzero := 2, 0, false
	for pass := 0; pass < 2; pass++ {
		for j < len(s) && isHexDigit(s[j]) {
			nonzero = nonzero || s[j] != '0'
			j++
			digits++
		}
		if pass == 0 && j < len(s) && s[j] == '.' {
			j++
		} else {
			break
		}
	}
	if digits == 0 {
		return 0, 0, false, false
	}
	end := exponentEnd(s, j, 'p')
	exp := "0"
	if end > j {
		exp = s[j+1 : end]
	}
	f, err := strconv.ParseFloat("0x"+s[2:j]+"p"+exp, 64)
	overflow := err != nil && math.IsInf(f, 0)
	return f, end, overflow || f == 0 && nonzero, true
}

// exponentEnd returns where an exponent (marker e, sign, digits) starting
// at j ends, or j when there is none.
func exponentEnd(s string, j int, marker byte) int {
	if j >= len(s) || s[j]|0x20 != marker {
		return j
	}
	k := j + 1
	if k < len(s) && (s[k] == '+' || s[k] == '-') {
		k++
	}
	if k >= len(s) || !isDigit(s[k]) {
		return j
	}
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	return k
}

// appendScore replies a score as Redis 7.0's addReplyDouble does in RESP2:
// "%.17g", and inf or -inf.
func appendScore(out []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(out, "$3\r\ninf\r\n"...)
	case math.IsInf(f, -1):
		return append(out, "$4\r\n-inf\r\n"...)
	}
	var buf [32]byte
	return redcon.AppendBulk(out, strconv.AppendFloat(buf[:0], f, 'g', 17, 64))
}
