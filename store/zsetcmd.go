package store

import (
	"math"
	"slices"
	"strings"

	"github.com/tidwall/redcon"
)

var zsetCommands = []*Command{
	def("zadd", zaddCmd),
	def("zcard", zcardCmd),
	def("zcount", zcountCmd),
	def("zdiff", zdiffCmd),
	def("zdiffstore", zdiffstoreCmd),
	def("zincrby", zincrbyCmd),
	def("zinter", zinterCmd),
	def("zinterstore", zinterstoreCmd),
	def("zintercard", zintercardCmd),
	def("zlexcount", zlexcountCmd),
	def("zmscore", zmscoreCmd),
	def("zmpop", zmpopCmd),
	def("zpopmax", zpopmaxCmd),
	def("zpopmin", zpopminCmd),
	def("zrandmember", zrandmemberCmd),
	def("zrange", zrangeCmd),
	def("zrangebylex", zrangebylexCmd),
	def("zrangebyscore", zrangebyscoreCmd),
	def("zrangestore", zrangestoreCmd),
	def("zrank", zrankCmd),
	def("zrem", zremCmd),
	def("zremrangebylex", zremrangebylexCmd),
	def("zremrangebyrank", zremrangebyrankCmd),
	def("zremrangebyscore", zremrangebyscoreCmd),
	def("zrevrange", zrevrangeCmd),
	def("zrevrangebylex", zrevrangebylexCmd),
	def("zrevrangebyscore", zrevrangebyscoreCmd),
	def("zrevrank", zrevrankCmd),
	def("zscan", zsetScan.cmd),
	def("zscore", zscoreCmd),
	def("zunion", zunionCmd),
	def("zunionstore", zunionstoreCmd),
}

// Sorted set commands, following Redis 7.0's t_zset.c: the same order of
// checks, the same errors and replies.

const (
	errScoreNaN   = "ERR resulting score is not a number (NaN)"
	errMinMax     = "ERR min or max is not a float"
	errLexRange   = "ERR min or max not valid string range item"
	errWeight     = "ERR weight value is not a float"
	errRange      = "ERR value is out of range"
	errLimitRange = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	errLexScores  = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
)

// getZset finds the live sorted set at key; wrong reports another type.
func (s *Store) getZset(m mode, key []byte) (it item, z *zset, found, wrong bool) {
	it, c, found, wrong := s.getKind(m, probe(key), kindZSet)
	if found && !wrong {
		z = c.(*zset)
	}
	return it, z, found, wrong
}

// ZADD options, as Redis's ZADD_IN_* flags.
const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddIncr
)

func zaddCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zaddGeneric(s, m, args, out, 0)
}

func zincrbyCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zaddGeneric(s, m, args, out, zaddIncr)
}

// zaddGeneric is Redis's zaddGenericCommand, which serves ZINCRBY too (so
// ZINCRBY also reads options where its increment would be).
func zaddGeneric(s *Store, m mode, args [][]byte, out []byte, flags int) []byte {
	idx, ch := 2, false
opts:
	for ; idx < len(args); idx++ {
		a := args[idx]
		switch {
		case eqFold(a, "nx"):
			flags |= zaddNX
		case eqFold(a, "xx"):
			flags |= zaddXX
		case eqFold(a, "ch"):
			ch = true
		case eqFold(a, "incr"):
			flags |= zaddIncr
		case eqFold(a, "gt"):
			flags |= zaddGT
		case eqFold(a, "lt"):
			flags |= zaddLT
		default:
			break opts
		}
	}
	nx, xx, gt, lt, incr := flags&zaddNX != 0, flags&zaddXX != 0, flags&zaddGT != 0, flags&zaddLT != 0, flags&zaddIncr != 0
	elements := len(args) - idx
	switch {
	case elements == 0 || elements%2 != 0:
		return appendErr(out, errSyntax)
	case nx && xx:
		return appendErr(out, "ERR XX and NX options at the same time are not compatible")
	case gt && nx || lt && nx || gt && lt:
		return appendErr(out, "ERR GT, LT, and/or NX options at the same time are not compatible")
	case incr && elements > 2:
		return appendErr(out, "ERR INCR option supports a single increment-element pair")
	}
	pairs := args[idx:]
	scores := make([]float64, len(pairs)/2)
	for i := range scores {
		var ok bool
		if scores[i], ok = parseScore(pairs[2*i]); !ok {
			return appendErr(out, errNotFloat)
		}
	}
	it, _, found, wrong := s.getZset(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	var z *zset
	if !found {
		if xx {
			if incr {
				return append(out, nullReply...)
			}
			return append(out, zeroReply...)
		}
		// Redis 7.0 picks the new set's encoding by its first member.
		z = newZset(s.enc.zsetEntries() == 0 || len(pairs[1]) > s.enc.zsetValue())
		it = s.newObjItem(probe(args[1]), z)
	} else {
		z = s.writable(&it).(*zset)
	}
	added, updated, processed := 0, 0, 0
	var score float64
	for i, sc := range scores {
		member := b2s(pairs[2*i+1])
		cur, exists := z.score(member)
		switch {
		case exists && nx, !exists && xx:
			continue
		case exists:
			if incr {
				sc += cur
				if math.IsNaN(sc) {
					return appendErr(out, errScoreNaN)
				}
			}
			if lt && sc >= cur || gt && sc <= cur {
				continue
			}
			if sc != cur {
				z.setScore(member, cur, sc)
				updated++
			}
		default:
			z.insert(member, sc, &s.enc)
			added++
		}
		processed++
		score = sc
	}
	if added+updated > 0 {
		s.changed(it)
	}
	switch {
	case incr && processed > 0:
		return appendScore(out, score)
	case incr:
		return append(out, nullReply...)
	case ch:
		return appendInt(out, int64(added+updated))
	}
	return appendInt(out, int64(added))
}

func zremCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, _, found, wrong := s.getZset(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	z := s.writable(&it).(*zset)
	deleted := 0
	for _, a := range args[2:] {
		if z.remove(b2s(a)) {
			deleted++
		}
		if z.length() == 0 {
			break
		}
	}
	if deleted > 0 {
		s.changed(it)
	}
	return appendInt(out, int64(deleted))
}

func zcardCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, z, found, wrong := s.getZset(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	return appendInt(out, int64(z.length()))
}

func zscoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, z, found, wrong := s.getZset(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, nullReply...)
	}
	if sc, ok := z.score(b2s(args[2])); ok {
		return appendScore(out, sc)
	}
	return append(out, nullReply...)
}

func zmscoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	_, z, found, wrong := s.getZset(m, args[1])
	if wrong {
		return appendErr(out, errWrongType)
	}
	out = redcon.AppendArray(out, len(args)-2)
	for _, a := range args[2:] {
		if !found {
			out = append(out, nullReply...)
		} else if sc, ok := z.score(b2s(a)); ok {
			out = appendScore(out, sc)
		} else {
			out = append(out, nullReply...)
		}
	}
	return out
}

func zrankCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrankGeneric(s, m, args, out, false)
}

func zrevrankCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrankGeneric(s, m, args, out, true)
}

func zrankGeneric(s *Store, m mode, args [][]byte, out []byte, reverse bool) []byte {
	_, z, found, wrong := s.getZset(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, nullReply...)
	}
	r := z.rank(b2s(args[2]))
	if r < 0 {
		return append(out, nullReply...)
	}
	if reverse {
		r = z.length() - 1 - r
	}
	return appendInt(out, int64(r))
}

func zcountCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	var sp scoreSpan
	if !parseScoreSpan(args[2], args[3], &sp) {
		return appendErr(out, errMinMax)
	}
	return zcountGeneric(s, m, args, out, &sp)
}

func zlexcountCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	var sp lexSpan
	if !parseLexSpan(args[2], args[3], &sp) {
		return appendErr(out, errLexRange)
	}
	return zcountGeneric(s, m, args, out, &sp)
}

func zcountGeneric(s *Store, m mode, args [][]byte, out []byte, sp zspan) []byte {
	_, z, found, wrong := s.getZset(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	i := z.firstIn(sp)
	if i < 0 {
		return append(out, zeroReply...)
	}
	return appendInt(out, int64(z.runEnd(i, sp.lteMax)-i))
}

func parseScoreSpan(min, max []byte, sp *scoreSpan) bool {
	var ok1, ok2 bool
	sp.min, sp.minEx, ok1 = parseScoreBound(min)
	sp.max, sp.maxEx, ok2 = parseScoreBound(max)
	return ok1 && ok2
}

func parseLexSpan(min, max []byte, sp *lexSpan) bool {
	var ok1, ok2 bool
	sp.min, ok1 = parseLexBound(min)
	sp.max, ok2 = parseLexBound(max)
	return ok1 && ok2
}

// The kinds of range of ZRANGE and its variants.
const (
	byAuto = iota
	byRank
	byScore
	byLex
)

// Directions of a range.
const (
	dirAuto = iota
	dirForward
	dirReverse
)

func zrangeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrangeGeneric(s, m, args, out, 1, false, byAuto, dirAuto)
}

func zrangestoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrangeGeneric(s, m, args, out, 2, true, byAuto, dirAuto)
}

func zrevrangeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrangeGeneric(s, m, args, out, 1, false, byRank, dirReverse)
}

func zrangebyscoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrangeGeneric(s, m, args, out, 1, false, byScore, dirForward)
}

func zrevrangebyscoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrangeGeneric(s, m, args, out, 1, false, byScore, dirReverse)
}

func zrangebylexCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrangeGeneric(s, m, args, out, 1, false, byLex, dirForward)
}

func zrevrangebylexCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zrangeGeneric(s, m, args, out, 1, false, byLex, dirReverse)
}

// zrangeGeneric is Redis's zrangeGenericCommand: args[src] is the source
// key, followed by min, max and the options; store is ZRANGESTORE, whose
// destination is args[1].
func zrangeGeneric(s *Store, m mode, args [][]byte, out []byte, src int, store bool, by, dir int) []byte {
	minArg, maxArg := args[src+1], args[src+2]
	withScores := false
	offset, limit := int64(0), int64(-1)
	for j := src + 3; j < len(args); j++ {
		a := args[j]
		switch {
		case !store && eqFold(a, "withscores"):
			withScores = true
		case eqFold(a, "limit") && len(args)-j-1 >= 2:
			var ok1, ok2 bool
			offset, ok1 = parseInt(b2s(args[j+1]))
			if ok1 {
				limit, ok2 = parseInt(b2s(args[j+2]))
			}
			if !ok1 || !ok2 {
				return appendErr(out, errNotInt)
			}
			j += 2
		case dir == dirAuto && eqFold(a, "rev"):
			dir = dirReverse
		case by == byAuto && eqFold(a, "bylex"):
			by = byLex
		case by == byAuto && eqFold(a, "byscore"):
			by = byScore
		default:
			return appendErr(out, errSyntax)
		}
	}
	if by == byAuto {
		by = byRank
	}
	reverse := dir == dirReverse
	switch {
	case limit != -1 && by == byRank:
		return appendErr(out, errLimitRange)
	case withScores && by == byLex:
		return appendErr(out, errLexScores)
	}
	if reverse && by != byRank {
		minArg, maxArg = maxArg, minArg
	}
	var start, end int64
	var sp zspan
	switch by {
	case byRank:
		var ok1, ok2 bool
		start, ok1 = parseInt(b2s(minArg))
		if ok1 {
			end, ok2 = parseInt(b2s(maxArg))
		}
		if !ok1 || !ok2 {
			return appendErr(out, errNotInt)
		}
	case byScore:
		var ss scoreSpan
		if !parseScoreSpan(minArg, maxArg, &ss) {
			return appendErr(out, errMinMax)
		}
		sp = &ss
	default:
		var ls lexSpan
		if !parseLexSpan(minArg, maxArg, &ls) {
			return appendErr(out, errLexRange)
		}
		sp = &ls
	}
	_, z, found, wrong := s.getZset(m, args[src])
	switch {
	case !found && store:
		return s.storeResult(m, args[1], newZset(false), out)
	case !found:
		return append(out, emptyArray...)
	case wrong:
		return appendErr(out, errWrongType)
	}
	var from, count int
	if by == byRank {
		from, count = rankSelection(z.length(), start, end, reverse)
	} else {
		from, count = spanSelection(z, sp, offset, limit, reverse)
	}
	if store {
		// Redis adds the range to a new listpack one member after the
		// other, in range order, converting it when it outgrows one.
		dst := newZset(false)
		zwalkN(z, from, reverse, count, func(m string, sc float64) { dst.insert(m, sc, &s.enc) })
		return s.storeResult(m, args[1], dst, out)
	}
	return appendRange(out, z, from, reverse, count, withScores)
}

// rankSelection turns ZRANGE's start and end ranks (negative ones from the
// end) into a first rank and a count, as genericZrangebyrankCommand does;
// in reverse, ranks count from the highest score.
func rankSelection(n int, start, end int64, reverse bool) (from, count int) {
	l := int64(n)
	if start < 0 {
		start += l
	}
	if end < 0 {
		end += l
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= l {
		return 0, 0
	}
	if end >= l {
		end = l - 1
	}
	if reverse {
		return n - 1 - int(start), int(end - start + 1)
	}
	return int(start), int(end - start + 1)
}

// spanSelection finds a score or lex range as Redis does: from the first
// (in reverse, the last) member in the range, skip offset members without
// looking at them, then take members while they are in the range, at most
// limit of them (no limit when negative). A negative offset walks off the
// end: nothing.
func spanSelection(z *zset, sp zspan, offset, limit int64, reverse bool) (from, count int) {
	n := z.length()
	var first int
	if reverse {
		first = z.lastIn(sp)
	} else {
		first = z.firstIn(sp)
	}
	if first < 0 || offset < 0 || offset >= int64(n) {
		return 0, 0
	}
	var run int
	if reverse {
		from = first - int(offset)
		if from < 0 {
			return 0, 0
		}
		run = from - z.runStart(from, sp.gteMin)
	} else {
		from = first + int(offset)
		if from >= n {
			return 0, 0
		}
		run = z.runEnd(from, sp.lteMax) - from
	}
	if limit >= 0 && int64(run) > limit {
		run = int(limit)
	}
	return from, run
}

// zwalkN calls fn on count entries from rank from on.
func zwalkN(z *zset, from int, reverse bool, count int, fn func(m string, s float64)) {
	if count <= 0 {
		return
	}
	z.walk(from, reverse, func(m string, s float64) bool {
		fn(m, s)
		count--
		return count > 0
	})
}

func appendRange(out []byte, z *zset, from int, reverse bool, count int, withScores bool) []byte {
	if withScores {
		out = redcon.AppendArray(out, 2*count)
	} else {
		out = redcon.AppendArray(out, count)
	}
	zwalkN(z, from, reverse, count, func(m string, s float64) {
		out = appendBulk(out, m)
		if withScores {
			out = appendScore(out, s)
		}
	})
	return out
}

func zremrangebyrankCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	start, ok1 := parseInt(b2s(args[2]))
	end, ok2 := parseInt(b2s(args[3]))
	if !ok1 || !ok2 {
		return appendErr(out, errNotInt)
	}
	return zremrangeGeneric(s, m, args, out, func(z *zset) (int, int) {
		return rankSelection(z.length(), start, end, false)
	})
}

func zremrangebyscoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	var sp scoreSpan
	if !parseScoreSpan(args[2], args[3], &sp) {
		return appendErr(out, errMinMax)
	}
	return zremrangeGeneric(s, m, args, out, func(z *zset) (int, int) { return spanRun(z, &sp) })
}

func zremrangebylexCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	var sp lexSpan
	if !parseLexSpan(args[2], args[3], &sp) {
		return appendErr(out, errLexRange)
	}
	return zremrangeGeneric(s, m, args, out, func(z *zset) (int, int) { return spanRun(z, &sp) })
}

// spanRun is the run of members ZREMRANGEBYSCORE and ZREMRANGEBYLEX delete:
// from the first in the range while they are in it.
func spanRun(z *zset, sp zspan) (from, count int) {
	i := z.firstIn(sp)
	if i < 0 {
		return 0, 0
	}
	return i, z.runEnd(i, sp.lteMax) - i
}

func zremrangeGeneric(s *Store, m mode, args [][]byte, out []byte, sel func(*zset) (int, int)) []byte {
	it, z, found, wrong := s.getZset(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	from, count := sel(z)
	if count == 0 {
		return append(out, zeroReply...)
	}
	z = s.writable(&it).(*zset)
	z.deleteRanks(from, from+count)
	s.changed(it)
	return appendInt(out, int64(count))
}

func zpopminCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zpopGeneric(s, m, args, out, false)
}

func zpopmaxCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zpopGeneric(s, m, args, out, true)
}

func zmpopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	keys, minFirst, count, msg := parseMpop(args, zsetEnd)
	if msg != "" {
		return appendErr(out, msg)
	}
	return zmpop(s, m, keys, minFirst, count, out)
}

// zsetEnd parses MIN or MAX: minFirst is true for MIN.
func zsetEnd(arg []byte) (minFirst, ok bool) {
	switch {
	case eqFold(arg, "min"):
		return true, true
	case eqFold(arg, "max"):
		return false, true
	}
	return false, false
}

// zmpop pops up to count of the lowest (or highest) members of the first
// non-empty sorted set of keys, replying with the key and the members with
// their scores, each a pair.
func zmpop(s *Store, m mode, keys [][]byte, minFirst bool, count int64, out []byte) []byte {
	for _, key := range keys {
		it, _, found, wrong := s.getZset(m, key)
		if wrong {
			return appendErr(out, errWrongType)
		}
		if !found {
			continue
		}
		z := s.writable(&it).(*zset)
		n := int(min(count, int64(z.length())))
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendBulk(out, key)
		out = redcon.AppendArray(out, n)
		for range n {
			i := 0
			if !minFirst {
				i = z.length() - 1
			}
			mem, sc := z.at(i)
			out = redcon.AppendArray(out, 2)
			out = appendBulk(out, mem)
			out = appendScore(out, sc)
			z.deleteRanks(i, i+1)
		}
		s.changed(it)
		return out
	}
	return append(out, nullArray...)
}

func zpopGeneric(s *Store, m mode, args [][]byte, out []byte, max bool) []byte {
	if len(args) > 3 {
		return appendErr(out, errSyntax)
	}
	count := int64(1)
	if len(args) == 3 {
		var ok bool
		if count, ok = parseInt(b2s(args[2])); !ok || count < 0 {
			return appendErr(out, errPositive)
		}
	}
	it, z, found, wrong := s.getZset(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found || count == 0:
		return append(out, emptyArray...)
	}
	n := int(min(count, int64(z.length())))
	z = s.writable(&it).(*zset)
	out = redcon.AppendArray(out, 2*n)
	for range n {
		i := 0
		if max {
			i = z.length() - 1
		}
		mem, sc := z.at(i)
		out = appendBulk(out, mem)
		out = appendScore(out, sc)
		z.deleteRanks(i, i+1)
	}
	s.changed(it)
	return out
}

func zrandmemberCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args) == 2 {
		_, z, found, wrong := s.getZset(m, args[1])
		switch {
		case wrong:
			return appendErr(out, errWrongType)
		case !found:
			return append(out, nullReply...)
		}
		mem, _ := z.at(s.random(m).IntN(z.length()))
		return appendBulk(out, mem)
	}
	l, ok := parseInt(b2s(args[2]))
	switch {
	case !ok:
		return appendErr(out, errNotInt)
	case l == math.MinInt64:
		return appendErr(out, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
	case len(args) > 4 || len(args) == 4 && !eqFold(args[3], "withscores"):
		return appendErr(out, errSyntax)
	}
	withScores := len(args) == 4
	switch {
	case withScores && (l < -math.MaxInt64/2 || l > math.MaxInt64/2):
		return appendErr(out, errRange)
	case l < -maxRepeatedDraws:
		return appendErr(out, errTooManyDraws)
	}
	_, z, found, wrong := s.getZset(m, args[1])
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found || l == 0:
		return append(out, emptyArray...)
	}
	r := s.random(m)
	n := z.length()
	at := z.indexer()
	emit := func(mem string, sc float64) {
		out = appendBulk(out, mem)
		if withScores {
			out = appendScore(out, sc)
		}
	}
	header := func(k int) {
		if withScores {
			k *= 2
		}
		out = redcon.AppendArray(out, k)
	}
	switch {
	case l < 0:
		header(int(-l))
		for range -l {
			emit(at(r.IntN(n)))
		}
	case l >= int64(n):
		header(n)
		z.walk(0, false, func(mem string, sc float64) bool { emit(mem, sc); return true })
	default:
		// Distinct ranks by a partial Fisher-Yates shuffle whose swaps a
		// map holds, so it costs O(count) whatever the set's size.
		k := int(l)
		header(k)
		swapped := make(map[int]int, k)
		pos := func(i int) int {
			if v, ok := swapped[i]; ok {
				return v
			}
			return i
		}
		for i := range k {
			j := i + r.IntN(n-i)
			pi, pj := pos(i), pos(j)
			swapped[j] = pi
			emit(at(pj))
		}
	}
	return out
}

// zsetScan names an entry by its member and replies the member then the
// score.
var zsetScan = elemScan[zentry]{
	kind:  kindZSet,
	name:  func(e zentry) string { return e.member },
	reply: func(out []byte, e zentry) []byte { return appendScore(appendBulk(out, e.member), e.score) },
	parts: 2,
}

// scan is ZSCAN's walk: a listpack whole in one call, as Redis's, a
// skiplist by member from the cursor, the hash of the next member to visit.
func (z *zset) scan(cursor uint64, count int64, visit func(zentry)) uint64 {
	if z.big == nil {
		z.walk(0, false, func(mem string, sc float64) bool { visit(zentry{sc, mem}); return true })
		return 0
	}
	ord := func(e zmember) uint64 { return e.hash }
	return scanFrom(z.big.byMember, zmember{hash: cursor}, ord, count, func(e zmember) {
		visit(zentry{e.score, e.member})
	})
}

// zsrc is one input of ZUNION, ZINTER or ZDIFF: a sorted set, a set (whose
// members score 1), or a missing key (both nil).
type zsrc struct {
	z      *zset
	set    *setValue
	weight float64
}

func (src *zsrc) length() int {
	switch {
	case src.z != nil:
		return src.z.length()
	case src.set != nil:
		return src.set.length()
	}
	return 0
}

func (src *zsrc) find(m string) (float64, bool) {
	switch {
	case src.z != nil:
		return src.z.score(m)
	case src.set != nil:
		return 1, src.set.has(m)
	}
	return 0, false
}

func (src *zsrc) each(fn func(m string, s float64)) {
	switch {
	case src.z != nil:
		src.z.walk(0, false, func(m string, s float64) bool { fn(m, s); return true })
	case src.set != nil:
		// A set's member is only valid during the call; a sorted set's
		// stays valid until the set changes, after the command's reply.
		src.set.each(func(m string) bool { fn(strings.Clone(m), 1); return true })
	}
}

// The operations and aggregates of zsetOpGeneric.
const (
	opUnion = iota
	opInter
	opDiff
	// opInterCard is ZINTERCARD: opInter's count, with LIMIT.
	opInterCard
)

const (
	aggSum = iota
	aggMin
	aggMax
)

func zunionCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zsetOpGeneric(s, m, args, out, false, opUnion, "zunion")
}

func zinterCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zsetOpGeneric(s, m, args, out, false, opInter, "zinter")
}

func zintercardCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zsetOpGeneric(s, m, args, out, false, opInterCard, "zintercard")
}

func zdiffCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zsetOpGeneric(s, m, args, out, false, opDiff, "zdiff")
}

func zunionstoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zsetOpGeneric(s, m, args, out, true, opUnion, "zunionstore")
}

func zinterstoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zsetOpGeneric(s, m, args, out, true, opInter, "zinterstore")
}

func zdiffstoreCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return zsetOpGeneric(s, m, args, out, true, opDiff, "zdiffstore")
}

// zsetOpGeneric is Redis's zunionInterDiffGenericCommand; store commands
// have their destination at args[1] and numkeys after it.
func zsetOpGeneric(s *Store, m mode, args [][]byte, out []byte, store bool, op int, name string) []byte {
	numIdx := 1
	if store {
		numIdx = 2
	}
	setnum, ok := parseInt(b2s(args[numIdx]))
	switch {
	case !ok:
		return appendErr(out, errNotInt)
	case setnum < 1:
		return appendErr(out, "ERR at least 1 input key is needed for '"+name+"' command")
	case setnum > int64(len(args)-numIdx-1):
		return appendErr(out, errSyntax)
	}
	srcs := make([]zsrc, setnum)
	j := numIdx + 1
	for i := range srcs {
		srcs[i].weight = 1
		it, found := s.get(m, probe(args[j]))
		j++
		if !found {
			continue
		}
		switch it.kind() {
		case kindZSet:
			srcs[i].z = it.obj().val.(*zset)
		case kindSet:
			srcs[i].set = it.obj().val.(*setValue)
		default:
			return appendErr(out, errWrongType)
		}
	}
	agg, withScores, limit := aggSum, false, int64(0)
	scored := op == opUnion || op == opInter // WEIGHTS, AGGREGATE, WITHSCORES
	for j < len(args) {
		left := len(args) - j
		a := args[j]
		switch {
		case scored && left >= len(srcs)+1 && eqFold(a, "weights"):
			j++
			for i := range srcs {
				w, ok := parseScore(args[j])
				if !ok {
					return appendErr(out, errWeight)
				}
				srcs[i].weight = w
				j++
			}
		case scored && left >= 2 && eqFold(a, "aggregate"):
			switch b := args[j+1]; {
			case eqFold(b, "sum"):
				agg = aggSum
			case eqFold(b, "min"):
				agg = aggMin
			case eqFold(b, "max"):
				agg = aggMax
			default:
				return appendErr(out, errSyntax)
			}
			j += 2
		case !store && op != opInterCard && eqFold(a, "withscores"):
			withScores = true
			j++
		case op == opInterCard && left >= 2 && eqFold(a, "limit"):
			if limit, ok = parseInt(b2s(args[j+1])); !ok || limit < 0 {
				return appendErr(out, "ERR LIMIT can't be negative")
			}
			j += 2
		default:
			return appendErr(out, errSyntax)
		}
	}
	if op != opDiff {
		// Smallest first, equal sizes in argument order (glibc's qsort is
		// a stable merge sort): the order of the additions decides the
		// last bits of a sum.
		slices.SortStableFunc(srcs, func(a, b zsrc) int { return a.length() - b.length() })
	}
	var res []zentry
	switch op {
	case opUnion:
		res = zunion(srcs, agg)
	case opInter:
		res = zinter(srcs, agg)
	case opInterCard:
		n := int64(len(zinter(srcs, agg)))
		if limit > 0 {
			n = min(n, limit)
		}
		return appendInt(out, n)
	default:
		res = zdiff(srcs)
	}
	slices.SortFunc(res, func(a, b zentry) int {
		if zentryLess(a, b) {
			return -1
		}
		return 1
	})
	if store {
		return s.storeResult(m, args[1], buildZset(res, &s.enc), out)
	}
	if withScores {
		out = redcon.AppendArray(out, 2*len(res))
	} else {
		out = redcon.AppendArray(out, len(res))
	}
	for _, e := range res {
		out = appendBulk(out, e.member)
		if withScores {
			out = appendScore(out, e.score)
		}
	}
	return out
}

// aggregate is Redis's zunionInterAggregate: a sum of inf and -inf is 0.
func aggregate(target *float64, v float64, agg int) {
	switch agg {
	case aggSum:
		*target += v
		if math.IsNaN(*target) {
			*target = 0
		}
	case aggMin:
		if v < *target {
			*target = v
		}
	case aggMax:
		if v > *target {
			*target = v
		}
	}
}

// weighted is a member's score times its input's weight, 0 for NaN (0*inf).
func weighted(s, w float64) float64 {
	if v := s * w; !math.IsNaN(v) {
		return v
	}
	return 0
}

func zunion(srcs []zsrc, agg int) []zentry {
	acc := make(map[string]float64)
	for i := range srcs {
		srcs[i].each(func(m string, s float64) {
			v := weighted(s, srcs[i].weight)
			if cur, ok := acc[m]; ok {
				aggregate(&cur, v, agg)
				acc[m] = cur
			} else {
				acc[m] = v
			}
		})
	}
	// The caller sorts: the map's order does not show.
	res := make([]zentry, 0, len(acc))
	for m, s := range acc {
		res = append(res, zentry{s, m})
	}
	return res
}

func zinter(srcs []zsrc, agg int) []zentry {
	var res []zentry
	srcs[0].each(func(m string, s float64) {
		score := weighted(s, srcs[0].weight)
		for i := 1; i < len(srcs); i++ {
			v, ok := srcs[i].find(m)
			if !ok {
				return
			}
			aggregate(&score, v*srcs[i].weight, agg)
		}
		res = append(res, zentry{score, m})
	})
	return res
}

func zdiff(srcs []zsrc) []zentry {
	var res []zentry
	srcs[0].each(func(m string, s float64) {
		for i := 1; i < len(srcs); i++ {
			if _, ok := srcs[i].find(m); ok {
				return
			}
		}
		res = append(res, zentry{s, m})
	})
	return res
}

// buildZset makes a sorted set of entries in order, with the encoding
// Redis gives a ZUNIONSTORE result: a listpack when it fits one (where -0
// becomes 0), else a skiplist.
func buildZset(entries []zentry, enc *encodings) *zset {
	small, total := int64(len(entries)) <= enc.zsetEntries(), 0
	for _, e := range entries {
		small = small && len(e.member) <= enc.zsetValue()
		total += len(e.member)
	}
	small = small && total <= lpSafeMax
	z := newZset(!small)
	for _, e := range entries {
		if small {
			if e.score == 0 {
				e.score = 0
			}
			z.lp = appendLPEntry(z.lp, e.member, e.score)
			z.lpn++
			continue
		}
		m := strings.Clone(e.member)
		z.big.byScore.Load(zentry{e.score, m})
		z.big.byMember.Set(zmember{memberHash(m), m, e.score})
		z.big.memberBytes += len(m)
	}
	return z
}
