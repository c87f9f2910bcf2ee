package store

import (
	"strconv"

	"github.com/tidwall/btree"
	"github.com/tidwall/redcon"
)

// HSCAN, SSCAN and ZSCAN are one algorithm, as in Redis's
// scanGenericCommand. An elemScan holds what tells them apart: the kind of
// key, how an element is named (what MATCH tests) and replied, and, as its
// containers are scanners, how they are walked. The reply is built while
// walking, since an element may not outlive its visit (an intset member is
// formatted into a buffer).
type elemScan[E any] struct {
	kind  kind // its containers are scanner[E]
	name  func(E) string
	reply func(out []byte, e E) []byte
	parts int // how many bulks reply appends
}

// scanner is a container that walks its elements from cursor, at least
// count of them, and returns the cursor of the next call, 0 at the end. A
// compact encoding walks them all whatever the cursor, as Redis's does.
type scanner[E any] interface {
	scan(cursor uint64, count int64, visit func(E)) (next uint64)
}

// cmd answers args (command, key, cursor, options) as Redis 7.0 does: the
// cursor is parsed first, then the key is looked up (a missing one answers
// an empty scan before the options are read), then the options.
func (sc elemScan[E]) cmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	cursor, ok := parseCursor(b2s(args[2]))
	if !ok {
		return appendErr(out, errCursor)
	}
	_, c, found, wrong := s.getKind(m, probe(args[1]), sc.kind)
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, "*2\r\n$1\r\n0\r\n*0\r\n"...)
	}
	count, pat, _, errMsg := parseScanOpts(args[3:], false)
	if errMsg != "" {
		return appendErr(out, errMsg)
	}
	var body []byte
	n := 0
	next := c.(scanner[E]).scan(cursor, count, func(e E) {
		if pat == nil || globMatch(b2s(pat), sc.name(e)) {
			body = sc.reply(body, e)
			n += sc.parts
		}
	})
	return append(redcon.AppendArray(appendScanCursor(out, next), n), body...)
}

// scanFrom walks t from pivot, the cursor's place, visiting count entries
// and then the rest of the last one's ord, and returns the ord of the next
// entry, 0 at the end. Entries of one ord are never split across calls, so
// an entry present for the whole scan is visited whatever is inserted or
// deleted in between, and the scan always ends.
func scanFrom[T any](t *btree.BTreeG[T], pivot T, ord func(T) uint64, count int64, visit func(T)) (next uint64) {
	var seen int64
	var last uint64
	t.Ascend(pivot, func(e T) bool {
		o := ord(e)
		if seen >= count && o != last {
			next = o
			return false
		}
		seen++
		last = o
		visit(e)
		return true
	})
	return next
}

// appendScanCursor begins a scan's reply: its two parts, the first being
// the next cursor.
func appendScanCursor(out []byte, next uint64) []byte {
	out = redcon.AppendArray(out, 2)
	var buf [20]byte
	return redcon.AppendBulk(out, strconv.AppendUint(buf[:0], next, 10))
}

// parseScanOpts reads the COUNT and MATCH options of SCAN and its HSCAN,
// SSCAN and ZSCAN kin (and TYPE, SCAN's alone, when withType is set) as
// Redis's scanGenericCommand does. A MATCH of "*" comes back nil: it
// filters nothing. errMsg is the error to answer, if any.
func parseScanOpts(opts [][]byte, withType bool) (count int64, pat, typ []byte, errMsg string) {
	count = 10
	for i := 0; i < len(opts); i += 2 {
		more := i+1 < len(opts)
		switch {
		case more && eqFold(opts[i], "count"):
			n, ok := parseInt(b2s(opts[i+1]))
			if !ok {
				return 0, nil, nil, errNotInt
			}
			if n < 1 {
				return 0, nil, nil, errSyntax
			}
			count = n
		case more && eqFold(opts[i], "match"):
			pat = opts[i+1]
			if len(pat) == 1 && pat[0] == '*' {
				pat = nil
			}
		case more && withType && eqFold(opts[i], "type"):
			typ = opts[i+1]
		default:
			return 0, nil, nil, errSyntax
		}
	}
	return count, pat, typ, ""
}
