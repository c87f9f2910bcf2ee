package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// xEntry is the RESP of a stream entry: its ID and its field/value pairs.
func xEntry(id string, fv ...string) string {
	items := make([]string, len(fv))
	for i, s := range fv {
		items[i] = bulk(s)
	}
	return arr(bulk(id), arr(items...))
}

// xStream is one stream of an XREAD reply.
func xStream(key string, entries ...string) string { return arr(bulk(key), arr(entries...)) }

const (
	xNullArr  = "*-1\r\n"
	xEmptyArr = "*0\r\n"
	xBadID    = "ERR Invalid stream ID specified as stream command argument"
	xSmaller  = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
)

func TestStreamXAdd(t *testing.T) {
	runScenarios(t, []scenario{
		{"auto ids follow the replicated clock", []step{
			{1000, "xadd s * f v", bulk("1000-0"), false},
			{1000, "xadd s * f v", bulk("1000-1"), false},
			// The clock never goes back: a smaller stamp keeps 1000.
			{900, "xadd s * f v", bulk("1000-2"), false},
			{1001, "xadd s * f v", bulk("1001-0"), false},
			{1001, "xadd s 5000-7 f v", bulk("5000-7"), false},
			{2000, "xadd s * f v", bulk("5000-8"), false},
			{6000, "xadd s * f v", bulk("6000-0"), false},
			{6000, "xlen s", num(7), true},
		}},
		{"explicit ids", []step{
			{1, "xadd s 0-0 f v", errs("ERR The ID specified in XADD must be greater than 0-0"), false},
			{1, "xadd s 0 f v", errs("ERR The ID specified in XADD must be greater than 0-0"), false},
			{1, "exists s", num(0), false},
			{1, "xadd s 0-* f v", bulk("0-1"), false},
			{1, "xadd s 0-1 f v", errs(xSmaller), false},
			{1, "xadd s 5 f v", bulk("5-0"), false},
			{1, "xadd s 5-* f v", bulk("5-1"), false},
			{1, "xadd s 4-* f v", errs(xSmaller), false},
			{1, "xadd s 5-0 f v", errs(xSmaller), false},
			{1, "xadd s 7-* a 1 b 2", bulk("7-0"), false},
			{1, "xadd s 7-18446744073709551615 f v", bulk("7-18446744073709551615"), false},
			// Redis 7.0 answers this overflow with the oversized-entry error.
			{1, "xadd s 7-* f v", errs("ERR Elements are too large to be stored"), false},
			{1, "xadd s * f v", bulk("8-0"), false},
			{1, "xadd s 18446744073709551615-18446744073709551615 f v", bulk("18446744073709551615-18446744073709551615"), false},
			{1, "xadd s * f v", errs("ERR The stream has exhausted the last possible ID, unable to add more items"), false},
			{1, "xadd s 18446744073709551615-* f v", errs("ERR The stream has exhausted the last possible ID, unable to add more items"), false},
			{1, "xrange s - 7", arr(xEntry("0-1", "f", "v"), xEntry("5-0", "f", "v"), xEntry("5-1", "f", "v"),
				xEntry("7-0", "a", "1", "b", "2"), xEntry("7-18446744073709551615", "f", "v")), false},
		}},
		{"id syntax as strtoull reads it", []step{
			{1, "xadd s +7-+3 f v", bulk("7-3"), false},
			{1, "xadd s 007-4 f v", bulk("7-4"), false},
			{1, "xadd s 7--18446744073709551611 f v", bulk("7-5"), false},
			{1, "xadd s 7--5 f v", errs(xBadID), false},
			{1, "xadd s 8-0x1 f v", errs(xBadID), false},
			{1, "xadd s 18446744073709551616 f v", errs(xBadID), false},
			{1, "xadd s -8 f v", errs(xBadID), false},
			{1, "xadd s 8- f v", errs(xBadID), false},
			{1, "xadd s 8-1-1 f v", errs(xBadID), false},
			{1, "xadd s + f v", errs(xBadID), false},
			{1, "xadd s - f v", errs(xBadID), false},
			// Redis reads at most 127 bytes.
			{1, "xadd s " + strings.Repeat("0", 127) + "9 f v", errs(xBadID), false},
			{1, "xadd s " + strings.Repeat("0", 126) + "9 f v", bulk("9-0"), false},
		}},
		{"options and arity", []step{
			{1, "xadd s nomkstream * f v", null, false},
			{1, "exists s", num(0), false},
			{1, "xadd s * f", errs("ERR wrong number of arguments for 'xadd' command"), false},
			{1, "xadd s * f v g", errs("ERR wrong number of arguments for 'xadd' command"), false},
			{1, "xadd s maxlen 5", errs("ERR wrong number of arguments for 'xadd' command"), false},
			{1, "xadd s maxlen 1 nomkstream", errs("ERR wrong number of arguments for 'xadd' command"), false},
			{1, "xadd s", errs("ERR wrong number of arguments for 'xadd' command"), false},
			{1, "xadd s foo f v", errs(xBadID), false},
			{1, "xadd s maxlen -1 * f v", errs("ERR The MAXLEN argument must be >= 0."), false},
			{1, "xadd s maxlen abc * f v", errs("ERR value is not an integer or out of range"), false},
			{1, "xadd s maxlen ~ * f v", errs("ERR value is not an integer or out of range"), false},
			{1, "xadd s minid + * f v", errs(xBadID), false},
			{1, "xadd s minid 5-* * f v", errs(xBadID), false},
			{1, "xadd s maxlen 1 minid 0 * f v", errs("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"), false},
			{1, "xadd s maxlen 1 maxlen 2 * f v", errs("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"), false},
			{1, "xadd s limit 5 * f v", errs("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"), false},
			{1, "xadd s limit 0 * f v", errs("ERR syntax error, LIMIT cannot be used without the special ~ option"), false},
			{1, "xadd s maxlen 1 limit 5 * f v", errs("ERR syntax error, LIMIT cannot be used without the special ~ option"), false},
			{1, "xadd s limit -1 * f v", errs("ERR The LIMIT argument must be >= 0."), false},
			{1, "xadd s limit x * f v", errs("ERR value is not an integer or out of range"), false},
			{1, "exists s", num(0), false},
			{1, "xadd s NoMkStream MAXLEN = 1 LIMIT 0 1-1 f v", errs("ERR syntax error, LIMIT cannot be used without the special ~ option"), false},
			{1, "xadd s MAXLEN ~ 1 LIMIT 0 NOMKSTREAM 1-1 f v", null, false},
			{1, "set str x", ok, false},
			{1, "xadd str * f v", errs(errWrongType), false},
			{1, "xadd str 0-0 f v", errs("ERR The ID specified in XADD must be greater than 0-0"), false},
		}},
	})
}

func TestStreamTrim(t *testing.T) {
	// big holds ten entries of about 1 KB, four to a listpack node: each
	// node ends when its bytes would reach stream-node-max-bytes.
	big := []step{}
	for i := 1; i <= 10; i++ {
		big = append(big, step{1, fmt.Sprintf("xadd s %d-1 f %s", i, strings.Repeat("x", 1000)), bulk(fmt.Sprintf("%d-1", i)), false})
	}
	// small holds 250 entries, 100 to a node.
	small := []step{}
	for i := 1; i <= 250; i++ {
		small = append(small, step{1, fmt.Sprintf("xadd s %d-0 f %d", i, i), bulk(fmt.Sprintf("%d-0", i)), false})
	}
	cases := []scenario{
		{"exact maxlen and minid", []step{
			{1, "xadd s 1-1 a 1", bulk("1-1"), false},
			{1, "xadd s 2-1 a 2", bulk("2-1"), false},
			{1, "xadd s 3-1 a 3", bulk("3-1"), false},
			{1, "xadd s maxlen 2 4-1 a 4", bulk("4-1"), false},
			{1, "xrange s - +", arr(xEntry("3-1", "a", "3"), xEntry("4-1", "a", "4")), false},
			{1, "xtrim s minid 4", num(1), false},
			{1, "xtrim s minid = 4", num(0), false},
			{1, "xtrim s maxlen = 5", num(0), false},
			{1, "xadd s minid 5-2 5-1 a 5", bulk("5-1"), false},
			{1, "xlen s", num(0), false},
			{1, "exists s", num(1), false},
			{1, "xadd s 5-1 a 5", errs(xSmaller), false},
			{1, "xadd s maxlen 0 * a 5", bulk("5-2"), false},
			{1, "xlen s", num(0), false},
			{1, "type s", "+stream\r\n", false},
			{1, "xtrim nokey maxlen 0", num(0), false},
		}},
		{"approximate trimming removes whole nodes", slices.Concat(small, []step{
			{1, "xadd s maxlen ~ 120 251-0 f 251", bulk("251-0"), false},
			{1, "xlen s", num(151), false},
			{1, "xtrim s maxlen ~ 120", num(0), false},
			{1, "xtrim s maxlen ~ 0 limit 50", num(0), false},
			{1, "xtrim s minid ~ 251", num(100), false},
			{1, "xrange s - + count 1", arr(xEntry("201-0", "f", "201")), false},
			{1, "xtrim s minid ~ 999", num(51), false},
			{1, "xtrim s maxlen 0", num(0), false},
			{1, "xlen s", num(0), false},
		})},
		{"limit bounds the work", slices.Concat(small, []step{
			{1, "xtrim s maxlen ~ 0 limit 99", num(0), false},
			{1, "xtrim s maxlen ~ 0 limit 199", num(100), false},
			// LIMIT 0 is no limit at all.
			{1, "xtrim s MAXLEN ~ 0 LIMIT 0", num(150), false},
			{1, "xlen s", num(0), false},
		})},
		{"nodes end by bytes", slices.Concat(big, []step{
			{1, "xtrim s maxlen ~ 5", num(4), false},
			{1, "xtrim s maxlen ~ 3", num(0), false},
			{1, "xtrim s maxlen ~ 2", num(4), false},
			{1, "xtrim s maxlen ~ 1", num(0), false},
			{1, "xrange s - + count 1", arr(xEntry("9-1", "f", strings.Repeat("x", 1000))), false},
		})},
		{"deleted entries still fill a node", slices.Concat(small[:100], []step{
			{1, "xdel s 1-0 2-0", num(2), false},
			{1, "xadd s 101-0 f 101", bulk("101-0"), false},
			// The first node has 98 live entries and 2 deleted: full.
			{1, "xtrim s maxlen ~ 1", num(98), false},
			{1, "xlen s", num(1), false},
		})},
		{"exact trimming inside a node", slices.Concat(small, []step{
			{1, "xtrim s maxlen 240", num(10), false},
			{1, "xtrim s minid 20", num(9), false},
			{1, "xrange s - + count 1", arr(xEntry("20-0", "f", "20")), false},
			// The trimmed entries still count in their node.
			{1, "xtrim s maxlen ~ 100", num(81), false},
			{1, "xlen s", num(150), false},
		})},
		{"errors", []step{
			{1, "xadd s 1-1 f v", bulk("1-1"), false},
			{1, "xtrim s maxlen", errs("ERR wrong number of arguments for 'xtrim' command"), false},
			{1, "xtrim s limit 5", errs("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"), false},
			{1, "xtrim s limit 0", errs("ERR syntax error, XTRIM must be called with a trimming strategy"), false},
			{1, "xtrim s maxlen 1 limit 5", errs("ERR syntax error, LIMIT cannot be used without the special ~ option"), false},
			{1, "xtrim s minid ~ 1 limit 0 foo", errs("ERR syntax error"), false},
			{1, "xtrim s nomkstream maxlen 1", errs("ERR syntax error"), false},
			{1, "xtrim s maxlen -1", errs("ERR The MAXLEN argument must be >= 0."), false},
			{1, "xtrim s maxlen ~ x", errs("ERR value is not an integer or out of range"), false},
			{1, "xtrim s minid ~", errs(xBadID), false},
			{1, "xtrim s minid (1", errs(xBadID), false},
			{1, "xtrim s minid -", errs(xBadID), false},
			{1, "xtrim s maxlen 1 minid 1", errs("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"), false},
			{1, "xtrim nokey maxlen x", errs("ERR value is not an integer or out of range"), false},
			{1, "set str x", ok, false},
			{1, "xtrim str maxlen 1", errs(errWrongType), false},
		}},
	}
	runScenarios(t, cases)
}

func TestStreamXDel(t *testing.T) {
	runScenarios(t, []scenario{
		{"xdel", []step{
			{1, "xdel nokey abc", num(0), false},
			{1, "xadd s 1-1 a 1", bulk("1-1"), false},
			{1, "xadd s 2-1 a 2", bulk("2-1"), false},
			{1, "xadd s 3-1 a 3", bulk("3-1"), false},
			{1, "xdel s 2-1 abc", errs(xBadID), false},
			{1, "xdel s +", errs(xBadID), false},
			{1, "xlen s", num(3), false},
			{1, "xdel s 2-1 2-1 9-9 2", num(1), false},
			{1, "xdel s 2-1", num(0), false},
			{1, "xrange s - +", arr(xEntry("1-1", "a", "1"), xEntry("3-1", "a", "3")), false},
			{1, "xdel s 3-1 1-1", num(2), false},
			// An empty stream stays, with its last ID.
			{1, "xlen s", num(0), false},
			{1, "exists s", num(1), false},
			{1, "object encoding s", bulk("stream"), false},
			{1, "xadd s 3-1 a 3", errs(xSmaller), false},
			{1, "xadd s 3-* a 3", bulk("3-2"), false},
			{1, "set str x", ok, false},
			{1, "xdel str 1-1", errs(errWrongType), false},
		}},
	})
}

func TestStreamRanges(t *testing.T) {
	fill := []step{
		{1, "xadd s 1-1 a 1", bulk("1-1"), false},
		{1, "xadd s 1-2 b 2", bulk("1-2"), false},
		{1, "xadd s 2-0 c 3 d 4", bulk("2-0"), false},
		{1, "xadd s 3-5 e 5", bulk("3-5"), false},
	}
	e11, e12, e20, e35 := xEntry("1-1", "a", "1"), xEntry("1-2", "b", "2"), xEntry("2-0", "c", "3", "d", "4"), xEntry("3-5", "e", "5")
	runScenarios(t, []scenario{
		{"xrange and xrevrange", slices.Concat(fill, []step{
			{1, "xrange s - +", arr(e11, e12, e20, e35), true},
			{1, "xrevrange s + -", arr(e35, e20, e12, e11), true},
			{1, "xrange s 1 1", arr(e11, e12), true},
			{1, "xrange s 1-2 2", arr(e12, e20), true},
			{1, "xrange s (1-1 (3-5", arr(e12, e20), true},
			// "(1" excludes 1-0, the ID "1" stands for as a start.
			{1, "xrange s (1 +", arr(e11, e12, e20, e35), false},
			{1, "xrange s (1-2 +", arr(e20, e35), false},
			{1, "xrevrange s (3-5 (1-1", arr(e20, e12), true},
			{1, "xrevrange s 2 (1-1", arr(e20, e12), true},
			{1, "xrange s + -", xEmptyArr, true},
			{1, "xrange s 4 +", xEmptyArr, true},
			{1, "xrange s - + COUNT 2", arr(e11, e12), true},
			{1, "xrevrange s + - count 1 count 3", arr(e35, e20, e12), true},
			{1, "xrange s - + count 0", xNullArr, true},
			{1, "xrange s - + count -1", xNullArr, true},
			{1, "xrange s - + count", errs(errSyntax), true},
			{1, "xrange s - + foo 1", errs(errSyntax), true},
			{1, "xrange s - + count x", errs(errNotInt), true},
			{1, "xrange s (- +", errs(xBadID), true},
			{1, "xrange s - (+", errs(xBadID), true},
			{1, "xrange s ( +", errs(xBadID), true},
			{1, "xrange s abc +", errs(xBadID), true},
			{1, "xrange s (18446744073709551615-18446744073709551615 +", errs("ERR invalid start ID for the interval"), true},
			{1, "xrange s - (0-0", errs("ERR invalid end ID for the interval"), true},
			{1, "xrange nokey - +", xEmptyArr, true},
			{1, "xrange nokey - + count 0", xEmptyArr, true},
			{1, "xrange nokey abc +", errs(xBadID), true},
			{1, "xlen s", num(4), true},
			{1, "xlen nokey", num(0), true},
			{1, "set str x", ok, false},
			{1, "xrange str - +", errs(errWrongType), true},
			{1, "xrevrange str + -", errs(errWrongType), true},
			{1, "xlen str", errs(errWrongType), true},
		})},
		{"xread", slices.Concat(fill, []step{
			{1, "xadd t 5-0 x y", bulk("5-0"), false},
			{1, "xread streams s 0", arr(xStream("s", e11, e12, e20, e35)), true},
			{1, "xread count 2 streams s t 1-1 0", arr(xStream("s", e12, e20), xStream("t", xEntry("5-0", "x", "y"))), true},
			{1, "xread COUNT 0 streams s 1-2", arr(xStream("s", e20, e35)), true},
			{1, "xread streams s 2", arr(xStream("s", e35)), true},
			{1, "xread count -3 streams nokey s 0 3", arr(xStream("s", e35)), true},
			{1, "xread streams s t 3-5 5", xNullArr, true},
			{1, "xread streams s $", xNullArr, true},
			{1, "xread streams nokey $", xNullArr, false},
			{1, "xread streams s s 0 3", arr(xStream("s", e11, e12, e20, e35), xStream("s", e35)), true},
			{1, "xread streams s", errs("ERR wrong number of arguments for 'xread' command"), true},
			{1, "xread streams s t 0", errs("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."), true},
			{1, "xread count 1 streams s t 0", errs("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."), true},
			{1, "xread streams s +", errs(xBadID), true},
			{1, "xread streams s -", errs(xBadID), true},
			{1, "xread streams s >", errs("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."), true},
			{1, "xread group g c streams s 0", errs("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."), true},
			{1, "xread noack streams s 0", errs("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."), true},
			{1, "xread count x streams s 0", errs(errNotInt), true},
			{1, "xread foo streams s 0", errs(errSyntax), true},
			{1, "xread count 1 count", errs(errSyntax), true},
			{1, "xread count 1 streams s 0 count 1", errs(xBadID), true},
			{1, "xread block x streams s 0", errs("ERR timeout is not an integer or out of range"), true},
			{1, "xread block -1 streams s 0", errs("ERR timeout is negative"), true},
			{1, "xread block 0 streams s abc", errs(xBadID), true},
			// The store answers a BLOCK at once; the front end blocks.
			{1, "xread block 100 streams s 0", arr(xStream("s", e11, e12, e20, e35)), true},
			{1, "xread block 0 count 5 streams s 9", xNullArr, false},
			{1, "set str x", ok, false},
			{1, "xread streams s str 0 abc", errs(errWrongType), true},
			{1, "xread streams str s abc 0", errs(errWrongType), true},
			{1, "xread streams s str abc 0", errs(xBadID), true},
		})},
	})
}

func TestStreamXSetID(t *testing.T) {
	runScenarios(t, []scenario{
		{"xsetid", []step{
			{1, "xsetid nokey 1-1", errs("ERR no such key"), false},
			{1, "xsetid nokey abc", errs(xBadID), false},
			{1, "xadd s 5-1 f v", bulk("5-1"), false},
			{1, "xadd s 6-1 f v", bulk("6-1"), false},
			{1, "xsetid s 6-0", errs("ERR The ID specified in XSETID is smaller than the target stream top item"), false},
			{1, "xsetid s 6-1 entriesadded 1", errs("ERR The entries_added specified in XSETID is smaller than the target stream length"), false},
			{1, "xsetid s 6-1 entriesadded -1", errs("ERR entries_added must be positive"), false},
			{1, "xsetid s 6-1 entriesadded x", errs(errNotInt), false},
			{1, "xsetid s 6-1 maxdeletedid 7-0", errs("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"), false},
			{1, "xsetid s 6-1 maxdeletedid +", errs(xBadID), false},
			{1, "xsetid s 6-1 foo", errs(errSyntax), false},
			{1, "xsetid s 6-1 entriesadded", errs(errSyntax), false},
			{1, "xsetid s 6-*", errs(xBadID), false},
			{1, "xsetid s +", errs(xBadID), false},
			{1, "xsetid s 9-0 ENTRIESADDED 2 MAXDELETEDID 1-1", ok, false},
			{1, "xadd s 9-0 f v", errs(xSmaller), false},
			{1, "xadd s 9-* f v", bulk("9-1"), false},
			{1, "xdel s 9-1", num(1), false},
			// The top entry is 6-1 again; the last ID may go back to it.
			{1, "xsetid s 7-0", ok, false},
			{1, "xadd s * f v", bulk("7-1"), false},
			{1, "set str x", ok, false},
			{1, "xsetid str 1-1", errs(errWrongType), false},
		}},
	})
}

// Auto IDs come from the stamps in the log, so replicas applying the same
// entries agree on them, and on the whole state.
func TestStreamDeterminism(t *testing.T) {
	a, b := New(), New()
	for i := range 500 {
		cmd := fmt.Sprintf("xadd s maxlen ~ 150 * n %d", i)
		stamp := int64(1_000_000 + i/3)
		if ra, rb := apply(a, stamp, cmd), apply(b, stamp, cmd); ra != rb {
			t.Fatalf("replies differ: %q, %q", ra, rb)
		}
		if i%7 == 0 {
			apply(a, stamp, fmt.Sprintf("xdel s %d-0", stamp-5))
			apply(b, stamp, fmt.Sprintf("xdel s %d-0", stamp-5))
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatal("digests differ")
	}
}

// streamWorkload writes streams small and big, with deletions and trims
// that leave deleted entries in nodes.
func streamWorkload(s *Store, n int, stamp int64) {
	for i := range n {
		key := fmt.Sprintf("st:%d", i%5)
		val := strings.Repeat("v", i%300)
		apply(s, stamp+int64(i), fmt.Sprintf("xadd %s * f%d %s n %d", key, i%3, val, i))
		if i%11 == 0 {
			apply(s, stamp+int64(i), fmt.Sprintf("xdel %s %d-0", key, stamp+int64(i)-20))
		}
		if i%97 == 0 {
			apply(s, stamp+int64(i), fmt.Sprintf("xtrim %s minid %d", key, stamp+int64(i)-400))
		}
	}
	apply(s, stamp+int64(n), "xadd tiny 1-1 f v")
	apply(s, stamp+int64(n), "xadd empty 1-1 f v")
	apply(s, stamp+int64(n), "xdel empty 1-1")
	apply(s, stamp+int64(n), "xsetid empty 5-5 entriesadded 9 maxdeletedid 2-2")
}

func TestStreamSnapshotRoundTrip(t *testing.T) {
	for _, n := range []int{0, 20, 3000} {
		s := New()
		streamWorkload(s, n, 1_000_000)
		r := New()
		if err := r.Restore(bytes.NewReader(snapshotBytes(t, s))); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if r.Digest() != s.Digest() || r.MemoryBytes() != s.MemoryBytes() {
			t.Fatalf("n=%d: restored state differs", n)
		}
		// Replies after the restore agree too: the metadata and the
		// nodes that "~" trimming removes came back.
		for _, cmd := range []string{
			"xrange st:1 - + count 5", "xrevrange st:2 + - count 5", "xlen st:3",
			"xtrim st:0 maxlen ~ 10", "xtrim st:4 minid ~ 1000500", "xadd st:1 * f v",
			"xadd empty * f v", "xadd empty 6-* f v", "xread count 3 streams st:0 tiny 0 0",
			"object encoding st:1", "xadd tiny maxlen ~ 0 * f v",
		} {
			if a, b := apply(s, 2_000_000, cmd), apply(r, 2_000_000, cmd); a != b {
				t.Fatalf("n=%d: %s: %q after restore, want %q", n, cmd, b, a)
			}
		}
		if r.Digest() != s.Digest() {
			t.Fatalf("n=%d: states diverged after restore", n)
		}
	}
}

// A snapshot written while its streams change sees none of the changes
// (run with -race).
func TestStreamSnapshotWhileWriting(t *testing.T) {
	s := New()
	streamWorkload(s, 3000, 1_000_000)
	before := snapshotBytes(t, s)
	sn := s.Snapshot()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			stamp := int64(3_000_000 + i)
			key := fmt.Sprintf("st:%d", i%5)
			apply(s, stamp, fmt.Sprintf("xadd %s maxlen ~ 200 * f %d", key, i))
			apply(s, stamp, fmt.Sprintf("xdel %s %d-0", key, 1_000_000+i))
			apply(s, stamp, "xadd tiny * f v")
			apply(s, stamp, "xtrim tiny maxlen 3")
			apply(s, stamp, "xsetid empty 9-9")
		}
	}()
	var b bytes.Buffer
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !bytes.Equal(b.Bytes(), before) {
		t.Fatal("the snapshot saw writes made after it was taken")
	}
	if bytes.Equal(snapshotBytes(t, s), before) {
		t.Fatal("the writes changed nothing")
	}
}

// streamElems lists what a stream's encode gives, and loadElems loads it.
func streamElems(c container) [][]byte {
	var elems [][]byte
	c.encode(func(e []byte) { elems = append(elems, bytes.Clone(e)) })
	return elems
}

func loadElems(elems [][]byte) (container, error) {
	i := 0
	return loadStream(len(elems), func() ([]byte, error) {
		if i == len(elems) {
			return nil, errBadValue
		}
		i++
		return elems[i-1], nil
	})
}

func TestStreamLoadCorrupt(t *testing.T) {
	s := New()
	for i := 1; i <= 5; i++ {
		apply(s, 1, fmt.Sprintf("xadd s %d-1 f %d g x", i, i))
	}
	apply(s, 1, "xdel s 2-1")
	it, _ := s.keys.Get(probe([]byte("s")))
	valid := streamElems(it.obj().val)
	if c, err := loadElems(valid); err != nil || !bytes.Equal(bytes.Join(streamElems(c), nil), bytes.Join(valid, nil)) {
		t.Fatalf("valid value: %v", err)
	}
	bad := map[string][][]byte{
		"no elements":     nil,
		"missing entry":   valid[:len(valid)-1],
		"extra header":    append([][]byte{append(bytes.Clone(valid[0]), 0)}, valid[1:]...),
		"empty node":      {valid[0], {1, 1, 1, 1, 0, 0, 10, 1, 1, 'f'}},
		"node backwards":  {valid[0], {2, 0, 1, 0, 0, 1, 10, 1, 1, 'f'}},
		"bad fields":      {valid[0], {1, 0, 1, 0, 0, 1, 10, 1, 5, 'f'}},
		"entry outside":   {valid[0], {1, 0, 1, 0, 1, 0, 10, 1, 1, 'f'}, {2, 0, 2, 1, 1, 'v', 1, 'w'}},
		"odd data":        {valid[0], {1, 0, 1, 0, 1, 0, 10, 1, 1, 'f'}, {1, 0, 1, 1, 'v'}},
		"no data":         {valid[0], {1, 0, 1, 0, 1, 0, 10, 1, 1, 'f'}, {1, 0}},
		"truncated id":    {valid[0], {1, 0, 1, 0, 1, 0, 10, 1, 1, 'f'}, {0x80}},
		"huge node count": {{0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	// The header says the last ID is 0-0: below the entry it holds.
	bad["last id below top"] = append([][]byte{{0, 0, 0, 0, 5, 1}}, valid[1:3]...)
	for name, elems := range bad {
		if _, err := loadElems(elems); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	// No damage to any byte makes the loader panic.
	for i := range valid {
		for j := range valid[i] {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				elems := slices2DClone(valid)
				elems[i][j] ^= x
				loadElems(elems)
				elems[i] = elems[i][:j]
				loadElems(elems)
			}
		}
	}
	// Through Restore, damage is ErrCorrupt and changes nothing.
	data := snapshotBytes(t, s)
	r := New()
	apply(r, 1, "xadd keep 1-1 f v")
	digest := r.Digest()
	for _, cut := range []int{len(data) - 5, len(data) - 20, len(data) / 2} {
		if err := r.Restore(bytes.NewReader(data[:cut])); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated at %d: %v", cut, err)
		}
	}
	for i := len(data) - 60; i < len(data); i++ {
		d := bytes.Clone(data)
		d[i] ^= 0x55
		if err := r.Restore(bytes.NewReader(d)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("flipped byte %d: %v", i, err)
		}
	}
	if r.Digest() != digest {
		t.Fatal("a failed restore changed the state")
	}
}

func slices2DClone(b [][]byte) [][]byte {
	c := make([][]byte, len(b))
	for i := range b {
		c[i] = bytes.Clone(b[i])
	}
	return c
}
