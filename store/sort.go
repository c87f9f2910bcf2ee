package store

// SORT and SORT_RO, as Redis 7.0's sort.c.

import (
	"math"
	"slices"
	"strings"

	"github.com/tidwall/redcon"
)

var sortCommands = []*Command{
	def("sort", sortCmd),
	def("sort_ro", sortROCmd),
}

func sortCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return sortGeneric(s, m, args, out, false)
}

func sortROCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return sortGeneric(s, m, args, out, true)
}

// sortOpts are SORT's options.
type sortOpts struct {
	desc, alpha bool
	// dontsort is set by a BY pattern without '*', and stays set even if
	// a later BY has one, as in Redis.
	dontsort     bool
	start, count int64 // LIMIT; count -1 for no limit
	by           string
	hasBy        bool
	gets         []string
	store        []byte
}

func parseSortOpts(args [][]byte, readonly bool) (o sortOpts, errMsg string) {
	o.count = -1
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		a := args[j]
		switch {
		case eqFold(a, "asc"):
			o.desc = false
		case eqFold(a, "desc"):
			o.desc = true
		case eqFold(a, "alpha"):
			o.alpha = true
		case eqFold(a, "limit") && left >= 2:
			var ok bool
			if o.start, ok = parseInt(b2s(args[j+1])); !ok {
				return o, errNotInt
			}
			if o.count, ok = parseInt(b2s(args[j+2])); !ok {
				return o, errNotInt
			}
			j += 2
		case !readonly && eqFold(a, "store") && left >= 1:
			o.store = args[j+1]
			j++
		case eqFold(a, "by") && left >= 1:
			o.by, o.hasBy = string(args[j+1]), true
			if !strings.Contains(o.by, "*") {
				o.dontsort = true
			}
			j++
		case eqFold(a, "get") && left >= 1:
			o.gets = append(o.gets, string(args[j+1]))
			j++
		default:
			return o, errSyntax
		}
	}
	return o, ""
}

// sortElems lists the elements of the value at key to sort: a list's and
// a sorted set's in their order (reversed for DESC when they are not to
// be sorted, as Redis loads them), a set's in its iteration order.
func (s *Store) sortElems(m mode, key []byte, o *sortOpts) (elems []string, wrong bool) {
	it, found := s.get(m, probe(key))
	if !found {
		return nil, false
	}
	reverse := o.dontsort && o.desc
	switch it.kind() {
	case kindList:
		it.obj().val.(*list).each(!reverse, func(e []byte) bool {
			elems = append(elems, string(e))
			return true
		})
	case kindZSet:
		if m.write {
			s.sortConvert(it)
		}
		z := it.obj().val.(*zset)
		from := 0
		if reverse {
			from = z.length() - 1
		}
		z.walk(from, reverse, func(e string, _ float64) bool {
			elems = append(elems, strings.Clone(e))
			return true
		})
	case kindSet:
		it.obj().val.(*setValue).each(func(e string) bool {
			elems = append(elems, strings.Clone(e))
			return true
		})
		// An unsorted set's order would differ from Redis's, so what is
		// stored or seen by a script is sorted, as Redis does for both.
		if o.dontsort && (o.store != nil || m.script) {
			o.dontsort, o.alpha, o.hasBy = false, true, false
		}
	default:
		return nil, true
	}
	return elems, false
}

// sortConvert turns the listpack sorted set of it into a skiplist, as
// Redis's SORT does before reading one (SORT_RO too, but a read cannot
// change replicated state in rkv). Redis signals no change of the key, so
// its version is kept and WATCH sees none.
func (s *Store) sortConvert(it item) {
	if it.obj().val.(*zset).big != nil {
		return
	}
	s.writable(&it).(*zset).convert()
	o := it.obj()
	use := o.val.memUsage()
	s.bytes += use - o.charged
	o.charged = use
}

// lookupByPattern is Redis's lookupKeyByPattern: "#" is the element
// itself; otherwise the first '*' of pattern is replaced by elem to name
// a string key, or a hash key and field when "->field" follows the '*'.
// A pattern without '*', a missing key or one of another type gives none.
func (s *Store) lookupByPattern(m mode, pattern, elem string) (string, bool) {
	if pattern == "#" {
		return elem, true
	}
	p := strings.IndexByte(pattern, '*')
	if p < 0 {
		return "", false
	}
	rest, field, hasField := pattern[p+1:], "", false
	if f := strings.Index(rest, "->"); f >= 0 && f+2 < len(rest) {
		rest, field, hasField = rest[:f], rest[f+2:], true
	}
	it, found := s.get(m, probe([]byte(pattern[:p]+elem+rest)))
	switch {
	case !found:
		return "", false
	case hasField:
		if it.kind() != kindHash {
			return "", false
		}
		return it.obj().val.(hashValue).get(field)
	case it.kind() != kindString:
		return "", false
	}
	return it.val(), true
}

// sortItem is an element with what it sorts by.
type sortItem struct {
	elem  string
	score float64
	cmp   string
	hasBy bool // cmp was found (ALPHA with BY)
}

// sortVector sorts elems as sortCompare orders them: numbers with ties by
// the elements' bytes, or ALPHA by bytes (Redis's strcoll, in the C
// locale), elements whose BY key is missing first. The sort is stable, as
// glibc's qsort (a merge sort) is, for ALPHA BY's ties. conv reports an
// element or BY value that is not a number.
func (s *Store) sortVector(m mode, elems []string, o *sortOpts) (vec []sortItem, convErr bool) {
	vec = make([]sortItem, len(elems))
	for i, e := range elems {
		vec[i].elem = e
		by := e
		if o.hasBy {
			v, ok := s.lookupByPattern(m, o.by, e)
			if !ok {
				continue
			}
			by = strings.Clone(v)
		}
		if o.alpha {
			if o.hasBy {
				vec[i].cmp, vec[i].hasBy = by, true
			}
			continue
		}
		v, n, erange := strtod(by)
		if n < len(by) && by[n] != 0 || erange || math.IsNaN(v) {
			convErr = true
		}
		vec[i].score = v
	}
	// Redis compares ALPHA's strings with strcoll, which stops at a NUL
	// byte (in the C locale it is strcmp), unless it stores the result,
	// when it compares them whole.
	compare := collate
	if o.store != nil {
		compare = strings.Compare
	}
	slices.SortStableFunc(vec, func(a, b sortItem) int {
		var c int
		switch {
		case !o.alpha:
			switch {
			case a.score > b.score:
				c = 1
			case a.score < b.score:
				c = -1
			default:
				c = strings.Compare(a.elem, b.elem)
			}
		case o.hasBy:
			switch {
			case a.hasBy && b.hasBy:
				c = compare(a.cmp, b.cmp)
			case a.hasBy:
				c = 1
			case b.hasBy:
				c = -1
			}
		default:
			c = compare(a.elem, b.elem)
		}
		if o.desc {
			return -c
		}
		return c
	})
	return vec, convErr
}

// collate compares a and b as C strings: each up to its first NUL byte.
func collate(a, b string) int {
	if i := strings.IndexByte(a, 0); i >= 0 {
		a = a[:i]
	}
	if i := strings.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.Compare(a, b)
}

// sortRange is SORT's LIMIT arithmetic over n elements: the inclusive
// range [start, end] to output, empty when end < start.
func sortRange(o *sortOpts, n int64) (start, end int64) {
	start = min(max(o.start, 0), n)
	count := min(max(o.count, -1), n)
	end = n - 1
	if count >= 0 {
		end = start + count - 1
	}
	if start >= n {
		start, end = n-1, n-2
	}
	return start, min(end, n-1)
}

func sortGeneric(s *Store, m mode, args [][]byte, out []byte, readonly bool) []byte {
	o, msg := parseSortOpts(args, readonly)
	if msg != "" {
		return appendErr(out, msg)
	}
	elems, wrong := s.sortElems(m, args[1], &o)
	if wrong {
		return appendErr(out, errWrongType)
	}
	var vec []sortItem
	if o.dontsort {
		vec = make([]sortItem, len(elems))
		for i, e := range elems {
			vec[i].elem = e
		}
	} else {
		var convErr bool
		if vec, convErr = s.sortVector(m, elems, &o); convErr {
			return appendErr(out, "ERR One or more scores can't be converted into double")
		}
	}
	start, end := sortRange(&o, int64(len(vec)))
	var picked []sortItem
	if end >= start {
		picked = vec[start : end+1]
	}
	if o.store == nil {
		n := len(picked)
		if len(o.gets) > 0 {
			n *= len(o.gets)
		}
		out = redcon.AppendArray(out, n)
		for _, v := range picked {
			if len(o.gets) == 0 {
				out = appendBulk(out, v.elem)
			}
			for _, g := range o.gets {
				if val, ok := s.lookupByPattern(m, g, v.elem); ok {
					out = appendBulk(out, val)
				} else {
					out = append(out, nullReply...)
				}
			}
		}
		return out
	}
	l := newList()
	for _, v := range picked {
		if len(o.gets) == 0 {
			l.pushBack([]byte(v.elem))
		}
		for _, g := range o.gets {
			// A missing value is stored as an empty string.
			val, _ := s.lookupByPattern(m, g, v.elem)
			l.pushBack([]byte(val))
		}
	}
	return s.storeResult(m, o.store, l, out)
}
