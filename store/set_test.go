package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const errWrongTypeR = "-" + errWrongType + "\r\n"

// setArr is the reply of an array of bulk strings.
func setArr(members ...string) string {
	items := make([]string, len(members))
	for i, m := range members {
		items[i] = bulk(m)
	}
	return arr(items...)
}

// setParse reads one RESP2 reply of bulk strings, integers, nils, errors
// and arrays of them into strings and []any, returning the rest of b.
func setParse(t *testing.T, b string) (any, string) {
	t.Helper()
	line, rest, found := strings.Cut(b, "\r\n")
	if !found || line == "" {
		t.Fatalf("malformed reply %q", b)
	}
	switch line[0] {
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, rest
		}
		return rest[:n], rest[n+2:]
	case '*':
		n, _ := strconv.Atoi(line[1:])
		items := make([]any, n)
		for i := range items {
			items[i], rest = setParse(t, rest)
		}
		return items, rest
	}
	return line, rest
}

// setMembers runs a command whose reply is an array of bulk strings and
// returns them sorted.
func setMembers(t *testing.T, s *Store, cmd string) []string {
	t.Helper()
	v, _ := setParse(t, apply(s, 1, cmd))
	items, ok := v.([]any)
	if !ok {
		t.Fatalf("%q: not an array: %v", cmd, v)
	}
	out := make([]string, len(items))
	for i, e := range items {
		out[i] = e.(string)
	}
	slices.Sort(out)
	return out
}

// setFill adds members first..last (integers) to key, plus extra.
func setFill(s *Store, key string, first, last int, extra ...string) {
	args := [][]byte{[]byte("sadd"), []byte(key)}
	for i := first; i <= last; i++ {
		args = append(args, strconv.AppendInt(nil, int64(i), 10))
	}
	for _, e := range extra {
		args = append(args, []byte(e))
	}
	s.Apply(1, args, nil)
}

func setRange(first, last int, extra ...string) []string {
	var out []string
	for i := first; i <= last; i++ {
		out = append(out, strconv.Itoa(i))
	}
	out = append(out, extra...)
	slices.Sort(out)
	return out
}

func TestSetBasics(t *testing.T) {
	runScenarios(t, []scenario{
		{"sadd srem scard", []step{
			{1, "sadd s 3 1 2", num(3), false},
			{1, "sadd s 2 4 4", num(1), false},
			{1, "scard s", num(4), true},
			{1, "smembers s", setArr("1", "2", "3", "4"), true},
			{1, "object encoding s", bulk("intset"), true},
			{1, "srem s 4 5 x", num(1), false},
			{1, "srem s 9", num(0), false},
			{1, "srem s 1 2 3", num(3), false},
			{1, "exists s", num(0), true},
			{1, "srem s 1", num(0), false},
			{1, "scard s", num(0), true},
			{1, "smembers s", "*0\r\n", true},
		}},
		{"intset holds integers as string2ll reads them", []step{
			{1, "sadd s -9223372036854775808 9223372036854775807 0 -1", num(4), false},
			{1, "object encoding s", bulk("intset"), true},
			{1, "smembers s", setArr("-9223372036854775808", "-1", "0", "9223372036854775807"), true},
			{1, "sismember s -1", num(1), true},
			{1, "sismember s -01", num(0), true},
			{1, "sadd t 007", num(1), false},
			{1, "object encoding t", bulk("hashtable"), true},
			{1, "sadd u -0", num(1), false},
			{1, "object encoding u", bulk("hashtable"), true},
			{1, "sadd v 9223372036854775808", num(1), false},
			{1, "object encoding v", bulk("hashtable"), true},
			{1, "sadd w +1", num(1), false},
			{1, "object encoding w", bulk("hashtable"), true},
		}},
		{"hashtable for good", []step{
			{1, "sadd s 1 2 a", num(3), false},
			{1, "object encoding s", bulk("hashtable"), true},
			{1, "srem s a", num(1), false},
			{1, "object encoding s", bulk("hashtable"), true},
			{1, "sismember s 1", num(1), true},
			{1, "sismember s a", num(0), true},
			{1, "smismember s 1 a 2 3", arr(num(1), num(0), num(1), num(0)), true},
		}},
		{"membership of a missing key", []step{
			{1, "sismember s a", num(0), true},
			{1, "smismember s a b", arr(num(0), num(0)), true},
			{1, "scard s", num(0), true},
			{1, "srandmember s", null, true},
			{1, "srandmember s 3", "*0\r\n", true},
			{1, "srandmember s -3", "*0\r\n", true},
			{1, "spop s", null, false},
			{1, "spop s 2", "*0\r\n", false},
			{1, "sscan s 0", arr(bulk("0"), "*0\r\n"), true},
			{1, "sscan s 0 foo", arr(bulk("0"), "*0\r\n"), true},
			{1, "exists s", num(0), true},
		}},
		{"wrong type", []step{
			{1, "set str x", ok, false},
			{1, "sadd str a", errWrongTypeR, false},
			{1, "srem str a", errWrongTypeR, false},
			{1, "smembers str", errWrongTypeR, true},
			{1, "sismember str a", errWrongTypeR, true},
			{1, "smismember str a", errWrongTypeR, true},
			{1, "scard str", errWrongTypeR, true},
			{1, "spop str", errWrongTypeR, false},
			{1, "spop str 0", errWrongTypeR, false},
			{1, "srandmember str", errWrongTypeR, true},
			{1, "srandmember str 0", errWrongTypeR, true},
			{1, "sscan str 0", errWrongTypeR, true},
			{1, "sinter nokey str", errWrongTypeR, true},
			{1, "sunion str", errWrongTypeR, true},
			{1, "sdiff nokey str", errWrongTypeR, true},
			{1, "sintercard 2 nokey str", errWrongTypeR, true},
			{1, "sinterstore d nokey str", errWrongTypeR, false},
			{1, "sadd s a", num(1), false},
			{1, "get s", errWrongTypeR, true},
			{1, "get str", bulk("x"), true},
		}},
		{"arity", []step{
			{1, "sadd s", errs("ERR wrong number of arguments for 'sadd' command"), false},
			{1, "smembers", errs("ERR wrong number of arguments for 'smembers' command"), true},
			{1, "sintercard 1", errs("ERR wrong number of arguments for 'sintercard' command"), true},
			{1, "smove a b", errs("ERR wrong number of arguments for 'smove' command"), false},
			{1, "sscan s", errs("ERR wrong number of arguments for 'sscan' command"), true},
		}},
		{"writes through Read are refused", []step{
			{1, "sadd s a", errs("ERR write command 'sadd' must go through the log"), true},
			{1, "spop s", errs("ERR write command 'spop' must go through the log"), true},
		}},
		{"type ttl rename copy", []step{
			{1000, "sadd s a b", num(2), false},
			{1000, "type s", "+set\r\n", true},
			{1000, "expire s 10", num(1), false},
			{1000, "sadd s c", num(1), false},
			{1000, "pttl s", num(10000), true},
			{1000, "rename s t", ok, false},
			{1000, "copy t u", num(1), false},
			{1000, "sadd u d", num(1), false},
			{1000, "scard t", num(3), true},
			{1000, "scard u", num(4), true},
			{11000, "smembers t", "*0\r\n", true},
			{11000, "sadd t x", num(1), false},
			{11000, "scard t", num(1), true},
		}},
	})
}

// Redis 7.0's set-max-intset-entries: 512 integers stay an intset, the
// 513th makes a hashtable, which stays one when shrunk.
func TestSetIntsetLimit(t *testing.T) {
	s := New()
	setFill(s, "s", 1, 512)
	if got := read(s, 1, "object encoding s"); got != bulk("intset") {
		t.Fatalf("512 integers: %q", got)
	}
	apply(s, 1, "sadd s 513")
	if got := read(s, 1, "object encoding s"); got != bulk("hashtable") {
		t.Fatalf("513 integers: %q", got)
	}
	apply(s, 1, "srem s 513 512")
	if got := read(s, 1, "object encoding s"); got != bulk("hashtable") {
		t.Fatalf("shrunk: %q", got)
	}
	if got := setMembers(t, s, "smembers s"); !slices.Equal(got, setRange(1, 511)) {
		t.Fatalf("members: %v", got)
	}
}

// The intset packs at the width its widest member needs.
func TestSetIntsetWidths(t *testing.T) {
	s, enc := newSet(), defaultEncodings()
	for _, v := range []string{"5", "-3", "32767"} {
		s.add(v, &enc)
	}
	if s.ints.width != 2 {
		t.Fatalf("width %d", s.ints.width)
	}
	s.add("-32769", &enc)
	if s.ints.width != 4 {
		t.Fatalf("width %d", s.ints.width)
	}
	s.add("2147483648", &enc)
	if s.ints.width != 8 {
		t.Fatalf("width %d", s.ints.width)
	}
	var got []string
	s.each(func(m string) bool {
		got = append(got, strings.Clone(m))
		return true
	})
	if want := []string{"-32769", "-3", "5", "32767", "2147483648"}; !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	s.remove("2147483648")
	if s.ints.width != 8 || s.length() != 4 || !s.has("-32769") || s.has("2147483648") {
		t.Fatalf("after remove: width %d, len %d", s.ints.width, s.length())
	}
}

func TestSetMove(t *testing.T) {
	runScenarios(t, []scenario{
		{"smove", []step{
			{1, "sadd a 1 2 x", num(3), false},
			{1, "smove a b 1", num(1), false},
			{1, "object encoding b", bulk("intset"), true},
			{1, "smove a b x", num(1), false},
			{1, "object encoding b", bulk("hashtable"), true},
			{1, "smove a b x", num(0), false},
			{1, "smove a a 2", num(1), false},
			{1, "smove a a 9", num(0), false},
			{1, "sadd b 2", num(1), false},
			{1, "smove a b 2", num(1), false},
			{1, "exists a", num(0), true},
			{1, "scard b", num(3), true},
			{1, "smove nokey b 1", num(0), false},
		}},
		{"smove types", []step{
			{1, "set str v", ok, false},
			{1, "sadd s 1", num(1), false},
			{1, "smove nokey str 1", num(0), false},
			{1, "smove s str 1", errWrongTypeR, false},
			{1, "smove str s 1", errWrongTypeR, false},
			{1, "smove s str 9", errWrongTypeR, false},
			{1, "scard s", num(1), true},
		}},
	})
}

func TestSetAlgebra(t *testing.T) {
	runScenarios(t, []scenario{
		{"sinter sunion sdiff", []step{
			{1, "sadd a 1 2 3 4", num(4), false},
			{1, "sadd b 3 4 5", num(3), false},
			{1, "sadd c 4 5 6", num(3), false},
			{1, "sinter a b", setArr("3", "4"), true},
			{1, "sinter a b c", setArr("4"), true},
			{1, "sinter a", setArr("1", "2", "3", "4"), true},
			{1, "sinter a a", setArr("1", "2", "3", "4"), true},
			{1, "sinter a nokey", "*0\r\n", true},
			{1, "sunion a b c", setArr("1", "2", "3", "4", "5", "6"), true},
			{1, "sunion nokey a nokey", setArr("1", "2", "3", "4"), true},
			{1, "sunion nokey", "*0\r\n", true},
			{1, "sdiff a b", setArr("1", "2"), true},
			{1, "sdiff a b c", setArr("1", "2"), true},
			{1, "sdiff a nokey", setArr("1", "2", "3", "4"), true},
			{1, "sdiff a a", "*0\r\n", true},
			{1, "sdiff nokey a", "*0\r\n", true},
		}},
		{"store forms", []step{
			{1000, "sadd a 1 2 3 x", num(4), false},
			{1000, "sadd b 2 3 x y", num(4), false},
			{1000, "set d v ex 100", ok, false},
			{1000, "sinterstore d a b", num(3), false},
			{1000, "type d", "+set\r\n", true},
			{1000, "pttl d", num(-1), true},
			{1000, "object encoding d", bulk("hashtable"), true},
			{1000, "srem a x", num(1), false},
			{1000, "sinterstore d a b", num(2), false},
			{1000, "object encoding d", bulk("intset"), true},
			{1000, "smembers d", setArr("2", "3"), true},
			{1000, "sinterstore d a nokey", num(0), false},
			{1000, "exists d", num(0), true},
			{1000, "sunionstore d a nokey", num(3), false},
			{1000, "sunionstore a a b", num(5), false},
			{1000, "scard a", num(5), true},
			{1000, "sdiffstore d a b", num(1), false},
			{1000, "smembers d", setArr("1"), true},
			{1000, "sdiffstore d b a", num(0), false},
			{1000, "exists d", num(0), true},
			{1000, "set str v", ok, false},
			{1000, "sdiffstore str nokey", num(0), false},
			{1000, "exists str", num(0), true},
			{1000, "set str v", ok, false},
			{1000, "sunionstore str nokey str", errWrongTypeR, false},
			{1000, "get str", bulk("v"), true},
		}},
		{"sdiff's second algorithm leaves a hashtable", []step{
			{1, "sadd a 1 2 3 4 5 6 7 8 9 x", num(10), false},
			{1, "sadd b x", num(1), false},
			{1, "sadd c y", num(1), false},
			{1, "sdiffstore d a b c", num(9), false},
			{1, "object encoding d", bulk("hashtable"), true},
			{1, "sdiffstore d a b", num(9), false},
			{1, "object encoding d", bulk("intset"), true},
		}},
		{"sintercard", []step{
			{1, "sadd a 1 2 3 4", num(4), false},
			{1, "sadd b 2 3 4 5", num(4), false},
			{1, "sintercard 2 a b", num(3), true},
			{1, "sintercard 2 a b limit 2", num(2), true},
			{1, "sintercard 2 a b LIMIT 0", num(3), true},
			{1, "sintercard 2 a b limit 1 limit 9", num(3), true},
			{1, "sintercard 1 a", num(4), true},
			{1, "sintercard 2 a nokey", num(0), true},
			{1, "sintercard 0 a", errs("ERR numkeys should be greater than 0"), true},
			{1, "sintercard abc a", errs("ERR numkeys should be greater than 0"), true},
			{1, "sintercard 9223372036854775808 a", errs("ERR numkeys should be greater than 0"), true},
			{1, "sintercard 3 a b", errs("ERR Number of keys can't be greater than number of args"), true},
			{1, "sintercard 1 a limit -1", errs("ERR LIMIT can't be negative"), true},
			{1, "sintercard 1 a limit abc", errs("ERR LIMIT can't be negative"), true},
			{1, "sintercard 1 a limit", errSyntaxR, true},
			{1, "sintercard 1 a foo 1", errSyntaxR, true},
			{1, "sintercard 1 str limit -1", errs("ERR LIMIT can't be negative"), true},
		}},
	})
}

func TestSetSpopSrandmember(t *testing.T) {
	runScenarios(t, []scenario{
		{"errors", []step{
			{1, "sadd s 1 2 3", num(3), false},
			{1, "spop s -1", errs(errNotPositive), false},
			{1, "spop s abc", errs(errNotPositive), false},
			{1, "spop s 9223372036854775808", errs(errNotPositive), false},
			{1, "spop nokey abc", errs(errNotPositive), false},
			{1, "spop s 1 2", errSyntaxR, false},
			{1, "srandmember s abc", errNotIntR, true},
			{1, "srandmember nokey abc", errNotIntR, true},
			{1, "srandmember s -9223372036854775808", errs("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"), true},
			{1, "srandmember s 1 2", errSyntaxR, true},
			{1, "spop s 0", "*0\r\n", false},
			{1, "srandmember s 0", "*0\r\n", true},
			{1, "scard s", num(3), true},
		}},
		{"whole set", []step{
			{1, "sadd s 1 2 3", num(3), false},
			{1, "srandmember s 3", setArr("1", "2", "3"), true},
			{1, "srandmember s 30", setArr("1", "2", "3"), true},
			{1, "spop s 4", setArr("1", "2", "3"), false},
			{1, "exists s", num(0), true},
		}},
		{"single member", []step{
			{1, "sadd s x", num(1), false},
			{1, "srandmember s", bulk("x"), true},
			{1, "srandmember s -3", setArr("x", "x", "x"), true},
			{1, "srandmember s 1", setArr("x"), true},
			{1, "spop s", bulk("x"), false},
			{1, "exists s", num(0), true},
		}},
	})
	s := New()
	for _, c := range []struct {
		key   string
		pop   int
		want  string
		extra string
	}{
		{"h", 9, "intset", "a"},     // 1 left, 1*5 <= 9: rebuilt from what remains
		{"g", 8, "hashtable", "a"},  // 2 left, 2*5 > 8: popped in place
		{"m", 10, "hashtable", "b"}, // rebuilt, an intset unless b remains
	} {
		setFill(s, c.key, 1, 10, c.extra)
		if c.extra == "a" {
			apply(s, 1, "srem "+c.key+" a")
		}
		before := setMembers(t, s, "smembers "+c.key)
		popped := setMembers(t, s, fmt.Sprintf("spop %s %d", c.key, c.pop))
		left := setMembers(t, s, "smembers "+c.key)
		if len(popped) != c.pop || len(left) != len(before)-c.pop {
			t.Fatalf("%s: popped %v, left %v", c.key, popped, left)
		}
		if all := slices.Sorted(slices.Values(append(popped, left...))); !slices.Equal(all, before) {
			t.Fatalf("%s: popped %v and left %v are not %v", c.key, popped, left, before)
		}
		want := c.want
		if c.key == "m" && !slices.Contains(left, "b") && len(left) <= maxIntsetEntries {
			want = "intset"
		}
		if got := read(s, 1, "object encoding "+c.key); got != bulk(want) {
			t.Fatalf("%s: encoding %q, want %q", c.key, got, want)
		}
	}
}

// SRANDMEMBER's counts: distinct members up to the size, repeats for a
// negative count, in each of Redis's strategies.
func TestSetSrandmemberCounts(t *testing.T) {
	s := New()
	setFill(s, "small", 1, 10)
	setFill(s, "big", 1, 1000)
	for _, c := range []struct {
		key   string
		count int
		size  int
	}{
		{"small", 5, 10}, {"small", 3, 10}, {"small", 9, 10}, {"small", -25, 10},
		{"big", 10, 1000}, {"big", 400, 1000}, {"big", 999, 1000}, {"big", -2000, 1000},
	} {
		for _, how := range []string{"read", "apply"} {
			var reply string
			cmd := fmt.Sprintf("srandmember %s %d", c.key, c.count)
			if how == "read" {
				reply = read(s, 1, cmd)
			} else {
				reply = apply(s, 1, cmd)
			}
			v, _ := setParse(t, reply)
			items := v.([]any)
			n := max(c.count, -c.count)
			if len(items) != n {
				t.Fatalf("%s %s: %d members", how, cmd, len(items))
			}
			seen := map[string]bool{}
			for _, e := range items {
				i, err := strconv.Atoi(e.(string))
				if err != nil || i < 1 || i > c.size {
					t.Fatalf("%s %s: not a member: %v", how, cmd, e)
				}
				if c.count > 0 && seen[e.(string)] {
					t.Fatalf("%s %s: repeated %v", how, cmd, e)
				}
				seen[e.(string)] = true
			}
		}
	}
}

// SPOP and SRANDMEMBER from the log draw the same members on every
// replica, and different ones from one command to the next.
func TestSetRandomDeterministic(t *testing.T) {
	a, b := New(), New()
	for _, s := range []*Store{a, b} {
		setFill(s, "ints", 1, 300)
		setFill(s, "big", 1, 2000, "x")
	}
	var replies []string
	for i := range 40 {
		for _, cmd := range []string{"spop ints", "spop big 3", "srandmember big 5", "srandmember ints -2", "spop big"} {
			stamp := int64(1000 + i)
			ra, rb := apply(a, stamp, cmd), apply(b, stamp, cmd)
			if ra != rb {
				t.Fatalf("%q: replicas differ: %q vs %q", cmd, ra, rb)
			}
			replies = append(replies, ra)
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatal("digests differ")
	}
	slices.Sort(replies)
	if len(slices.Compact(replies)) < len(replies)/2 {
		t.Fatalf("random replies repeat: %d distinct of %d", len(slices.Compact(replies)), 200)
	}
	if got := read(a, 1, "scard ints"); got != num(260) {
		t.Fatalf("scard ints = %q", got)
	}
}

// Popping one member at a time empties the set, each member exactly once.
func TestSetSpopAll(t *testing.T) {
	for _, n := range []int{20, 700} {
		s := New()
		setFill(s, "s", 1, n, "x")
		var popped []string
		for range n + 1 {
			v, _ := setParse(t, apply(s, 1, "spop s"))
			popped = append(popped, v.(string))
		}
		slices.Sort(popped)
		if !slices.Equal(popped, setRange(1, n, "x")) {
			t.Fatalf("n=%d: popped %v", n, popped)
		}
		if got := read(s, 1, "exists s"); got != num(0) {
			t.Fatalf("n=%d: set left after popping all", n)
		}
	}
}

func TestSetScan(t *testing.T) {
	runScenarios(t, []scenario{
		{"intset in one call", []step{
			{1, "sadd s 3 1 2 10", num(4), false},
			{1, "sscan s 0", arr(bulk("0"), setArr("1", "2", "3", "10")), true},
			{1, "sscan s 12345 count 1", arr(bulk("0"), setArr("1", "2", "3", "10")), true},
			{1, "sscan s 0 match 1*", arr(bulk("0"), setArr("1", "10")), true},
			{1, "sscan s 0 MATCH * COUNT 1", arr(bulk("0"), setArr("1", "2", "3", "10")), true},
		}},
		{"errors", []step{
			{1, "sadd s a", num(1), false},
			{1, "sscan s abc", errs("ERR invalid cursor"), true},
			{1, "sscan nokey abc", errs("ERR invalid cursor"), true},
			{1, "sscan s 0 count 0", errSyntaxR, true},
			{1, "sscan s 0 count abc", errNotIntR, true},
			{1, "sscan s 0 match", errSyntaxR, true},
			{1, "sscan s 0 type string", errSyntaxR, true},
			{1, "sscan s 0 foo bar", errSyntaxR, true},
		}},
	})
	s := New()
	setFill(s, "h", 1, 1000, "x", "y", "xy")
	scan := func(opts string) []string {
		var got []string
		cursor := "0"
		for calls := 0; ; calls++ {
			if calls > 2000 {
				t.Fatal("scan does not end")
			}
			v, _ := setParse(t, read(s, 1, "sscan h "+cursor+" "+opts))
			page := v.([]any)
			for _, m := range page[1].([]any) {
				got = append(got, m.(string))
			}
			if cursor = page[0].(string); cursor == "0" {
				break
			}
		}
		slices.Sort(got)
		return got
	}
	if got := scan("count 7"); !slices.Equal(got, setRange(1, 1000, "x", "y", "xy")) {
		t.Fatalf("full scan: %d members", len(got))
	}
	if got := scan("match x*"); !slices.Equal(got, []string{"x", "xy"}) {
		t.Fatalf("match scan: %v", got)
	}
}

// Members present for a whole SSCAN are returned whatever is added and
// removed between its calls.
func TestSetScanUnderWrites(t *testing.T) {
	s := New()
	setFill(s, "h", 1, 500, "x")
	seen, removed := map[string]bool{}, map[string]bool{}
	cursor := "0"
	for i := 0; ; i++ {
		v, _ := setParse(t, read(s, 1, "sscan h "+cursor+" count 5"))
		page := v.([]any)
		for _, m := range page[1].([]any) {
			seen[m.(string)] = true
		}
		apply(s, 1, fmt.Sprintf("sadd h new%d", i))
		gone := strconv.Itoa(500 - 2*i)
		apply(s, 1, "srem h "+gone)
		removed[gone] = true
		if cursor = page[0].(string); cursor == "0" {
			break
		}
	}
	for _, m := range setRange(1, 500, "x") {
		if !seen[m] && !removed[m] {
			t.Fatalf("member %s missed", m)
		}
	}
}

// setStore builds the set values the snapshot tests use: intsets of each
// width, a hashtable of integers only, small and large hashtables.
func setStore() *Store {
	s := New()
	apply(s, 1_000_000, "sadd narrow 1 -2 3")
	apply(s, 1_000_000, "sadd mid 70000 -70000 1")
	apply(s, 1_000_000, "sadd wide 1 9223372036854775807 -9223372036854775808")
	apply(s, 1_000_000, "sadd widened 1 9223372036854775807")
	apply(s, 1_000_000, "srem widened 9223372036854775807")
	apply(s, 1_000_000, "sadd intsonly 1 2 x")
	apply(s, 1_000_000, "srem intsonly x")
	apply(s, 1_000_000, "sadd small a b c")
	apply(s, 1_000_000, "pexpire small 5000")
	setFill(s, "big", 1, 3000, "a", "b", "")
	setFill(s, "fullintset", 1, 512)
	s.Apply(1_000_000, [][]byte{[]byte("sadd"), []byte("bin"), []byte("\x00\xff"), {}, []byte("a b\r\n")}, nil)
	return s
}

var setReadBack = []string{
	"smembers narrow", "smembers mid", "smembers wide", "smembers widened", "smembers intsonly",
	"smembers small", "scard big", "smembers fullintset", "smembers bin", "sscan big 0 count 50",
	"object encoding narrow", "object encoding intsonly", "object encoding big",
	"object encoding fullintset", "object encoding widened", "pttl small",
}

func TestSetSnapshotRoundTrip(t *testing.T) {
	s := setStore()
	r := New()
	if err := r.Restore(bytes.NewReader(snapshotBytes(t, s))); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != s.Digest() || r.MemoryBytes() != s.MemoryBytes() {
		t.Fatalf("restored state differs (memory %d, want %d)", r.MemoryBytes(), s.MemoryBytes())
	}
	for _, cmd := range setReadBack {
		if a, b := read(s, 1_000_000, cmd), read(r, 1_000_000, cmd); a != b {
			t.Errorf("%q: %q after restore, want %q", cmd, b, a)
		}
	}
	got, _ := r.keys.Get(probe([]byte("widened")))
	if w := got.obj().val.(*setValue).ints.width; w != 8 {
		t.Errorf("widened intset restored at width %d", w)
	}
	for _, cmd := range []string{"sadd big z", "srem narrow 1", "sadd intsonly 5", "spop big 2", "sadd mid x"} {
		if a, b := apply(s, 1_000_001, cmd), apply(r, 1_000_001, cmd); a != b {
			t.Fatalf("%q: %q after restore, want %q", cmd, b, a)
		}
	}
	if r.Digest() != s.Digest() {
		t.Fatal("diverged after restore")
	}
	if !bytes.Equal(snapshotBytes(t, r), snapshotBytes(t, s)) {
		t.Fatal("snapshots of equal states differ")
	}
}

// A snapshot streams the sets as they were when it was taken while big and
// small sets keep changing (run with -race).
func TestSetSnapshotWhileWriting(t *testing.T) {
	s := setStore()
	want := snapshotBytes(t, s)
	sn := s.Snapshot()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			stamp := int64(1_000_000 + i)
			for _, cmd := range []string{
				fmt.Sprintf("sadd big n%d", i), fmt.Sprintf("srem big %d", i+1), "spop big",
				fmt.Sprintf("sadd narrow %d", i%600), "spop narrow", fmt.Sprintf("sadd small s%d", i%50),
				fmt.Sprintf("srem fullintset %d", i%512+1), "sinterstore mid big narrow", "sunionstore intsonly small narrow",
			} {
				s.Apply(stamp, argv(cmd), nil)
			}
		}
	}()
	var got bytes.Buffer
	if _, err := sn.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("the snapshot saw writes made after it")
	}
	if bytes.Equal(snapshotBytes(t, s), want) {
		t.Fatal("the writes changed nothing")
	}
}

func TestSetRestoreCorrupt(t *testing.T) {
	r := New()
	apply(r, 1, "sadd keep me")
	before := r.Digest()
	check := func(name string, bad []byte) {
		t.Helper()
		if err := r.Restore(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: err = %v", name, err)
		}
		if r.Digest() != before {
			t.Fatalf("%s: a failed restore changed the state", name)
		}
	}
	for _, cmd := range []string{"sadd k 1 2 3", "sadd k a b 1", "sadd k 1 2 99999 -9999999999"} {
		s := New()
		apply(s, 1, cmd)
		data := snapshotBytes(t, s)
		// The one record, of kind set, with key "k", ends before the CRC.
		rec := bytes.LastIndex(data, []byte{byte(kindSet), 1, 'k'})
		for n := rec; n < len(data); n++ {
			check(fmt.Sprintf("%s: truncated at %d", cmd, n), data[:n])
		}
		// Flipping the kind byte would make another type's record.
		for i := rec + 1; i < len(data)-4; i++ {
			for _, x := range []byte{0x01, 0x40, 0xff} {
				bad := bytes.Clone(data)
				bad[i] ^= x
				check(fmt.Sprintf("%s: byte %d ^ %#x", cmd, i, x), bad)
			}
		}
	}
}

// The loader refuses whatever encode could not have listed, without
// panicking.
func TestSetLoaderRejects(t *testing.T) {
	load := func(elems ...string) error {
		i := 0
		_, err := loadSet(len(elems), func() ([]byte, error) {
			if i == len(elems) {
				return nil, errBadValue
			}
			i++
			return []byte(elems[i-1]), nil
		})
		return err
	}
	for _, c := range []struct {
		name  string
		elems []string
	}{
		{"nothing", nil},
		{"tag only", []string{"i\x02"}},
		{"unknown tag", []string{"x", "1"}},
		{"bad width", []string{"i\x03", "1"}},
		{"not an integer", []string{"i\x02", "a"}},
		{"not canonical", []string{"i\x02", "01"}},
		{"too wide", []string{"i\x02", "40000"}},
		{"unsorted", []string{"i\x08", "2", "1"}},
		{"repeated", []string{"i\x02", "1", "1"}},
		{"repeated member", []string{"h", "a", "a"}},
		{"out of order", []string{"h", "b", "a", "c", "d", "e"}},
	} {
		if load(c.elems...) == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	// set-max-intset-entries may have been higher when it was written.
	many := []string{"i\x02"}
	for i := range 2*maxIntsetEntries + 1 {
		many = append(many, strconv.Itoa(i))
	}
	if err := load(many...); err != nil {
		t.Errorf("a large intset refused: %v", err)
	}
	_, err := loadSet(1<<30, func() ([]byte, error) { return nil, ErrCorrupt })
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("huge count: %v", err)
	}
}

// Writes that change nothing leave the key's version alone (a WATCH on it
// must not abort), and read-only commands never clone a value.
func TestSetNoopWrites(t *testing.T) {
	s := New()
	apply(s, 1, "sadd s a b")
	apply(s, 1, "sadd d a x")
	ver := func(k string) uint64 {
		it, _ := s.keys.Get(probe([]byte(k)))
		return it.ver
	}
	vs, vd := ver("s"), ver("d")
	for _, cmd := range []string{"sadd s a b", "srem s c", "smove s d zz", "smove s s a", "spop s 0", "sadd d x"} {
		apply(s, 1, cmd)
	}
	if ver("s") != vs || ver("d") != vd {
		t.Fatal("a write that changed nothing bumped a version")
	}
	// As in Redis, SMOVE of a member the destination has changes only the source.
	if got := apply(s, 2, "smove s d a"); got != num(1) {
		t.Fatalf("smove = %q", got)
	}
	if ver("s") == vs || ver("d") != vd {
		t.Fatalf("smove s d a: versions of s %d -> %d, d %d -> %d", vs, ver("s"), vd, ver("d"))
	}
}
