package store

import (
	"strings"
	"testing"
)

const (
	errSyntaxR   = "-ERR syntax error\r\n"
	errNotIntR   = "-ERR value is not an integer or out of range\r\n"
	errNotFloatR = "-ERR value is not a valid float\r\n"
)

func TestSetGet(t *testing.T) {
	runScenarios(t, []scenario{
		{"basic", []step{
			{1, "get k", null, true},
			{1, "set k v", ok, false},
			{1, "get k", bulk("v"), true},
			{1, "set k w", ok, false},
			{1, "get k", bulk("w"), false},
		}},
		{"nx xx", []step{
			{1, "set k v xx", null, false},
			{1, "set k v nx", ok, false},
			{1, "set k w nx", null, false},
			{1, "set k w xx", ok, false},
			{1, "get k", bulk("w"), true},
			{1, "set k w nx xx", errSyntaxR, false},
			{1, "set k w xx nx", errSyntaxR, false},
			{1, "set k w NX nx", null, false},
		}},
		{"get option", []step{
			{1, "set k v get", null, false},
			{1, "set k w GET", bulk("v"), false},
			{1, "set k x nx get", bulk("w"), false},
			{1, "get k", bulk("w"), true},
			{1, "set j x xx get", null, false},
			{1, "exists j", num(0), true},
		}},
		{"expiry options", []step{
			{1000, "set k v ex 10", ok, false},
			{1000, "pttl k", num(10000), true},
			{1000, "set k v px 1500", ok, false},
			{1000, "ttl k", num(2), true},
			{1000, "set k v exat 5", ok, false},
			{1000, "pexpiretime k", num(5000), true},
			{1000, "set k v pxat 4000", ok, false},
			{1000, "pttl k", num(3000), true},
			{1000, "set k w keepttl", ok, false},
			{1000, "pttl k", num(3000), true},
			{1000, "set k w", ok, false},
			{1000, "pttl k", num(-1), true},
			{1000, "set k v ex 1 ex 2", ok, false},
			{1000, "pttl k", num(2000), true},
		}},
		{"past absolute deadline deletes", []step{
			{5000, "set k v", ok, false},
			{5000, "set k v pxat 4000", ok, false},
			{5000, "exists k", num(0), true},
			{5000, "dbsize", num(0), true},
		}},
		{"expiry errors", []step{
			{1, "set k v ex 0", errs("ERR invalid expire time in 'set' command"), false},
			{1, "set k v px -1", errs("ERR invalid expire time in 'set' command"), false},
			{1, "set k v ex 9223372036854776", errs("ERR invalid expire time in 'set' command"), false},
			{1, "set k v px 9223372036854775807", errs("ERR invalid expire time in 'set' command"), false},
			{1, "set k v ex abc", errNotIntR, false},
			{1, "set k v ex", errSyntaxR, false},
			{1, "set k v ex 1 px 1", errSyntaxR, false},
			{1, "set k v ex 1 keepttl", errSyntaxR, false},
			{1, "set k v keepttl px 1", errSyntaxR, false},
			{1, "set k v persist", errSyntaxR, false},
			{1, "set k v foo", errSyntaxR, false},
			{1, "exists k", num(0), true},
		}},
		{"setnx setex psetex getset", []step{
			{1000, "setnx k v", num(1), false},
			{1000, "setnx k w", num(0), false},
			{1000, "setex k 10 x", ok, false},
			{1000, "pttl k", num(10000), true},
			{1000, "psetex k 10 y", ok, false},
			{1000, "pttl k", num(10), true},
			{1000, "setex k 0 x", errs("ERR invalid expire time in 'setex' command"), false},
			{1000, "psetex k -5 x", errs("ERR invalid expire time in 'psetex' command"), false},
			{1000, "setex k x x", errNotIntR, false},
			{1000, "getset k z", bulk("y"), false},
			{1000, "pttl k", num(-1), true},
			{1000, "getset n z", null, false},
		}},
		{"getdel getex", []step{
			{1000, "getdel k", null, false},
			{1000, "set k v", ok, false},
			{1000, "getex k", bulk("v"), false},
			{1000, "getex k ex 10", bulk("v"), false},
			{1000, "pttl k", num(10000), true},
			{1000, "getex k persist", bulk("v"), false},
			{1000, "pttl k", num(-1), true},
			{1000, "getex k pxat 5000", bulk("v"), false},
			{1000, "pexpiretime k", num(5000), true},
			{1000, "getex k px 100 persist", errSyntaxR, false},
			{1000, "getex k keepttl", errSyntaxR, false},
			{1000, "getex k ex 0", errs("ERR invalid expire time in 'getex' command"), false},
			// Redis 7.0 looks the key up before it reads the time.
			{1000, "getex missing ex 0", null, false},
			{1000, "getex missing ex 9223372036854775", null, false},
			{1000, "getex missing px abc", null, false},
			{1000, "getex k px abc", errNotIntR, false},
			{1000, "getex missing ex 10", null, false},
			{1000, "getex k exat 1", bulk("v"), false},
			{1000, "exists k", num(0), true},
			{1000, "set k v", ok, false},
			{1000, "getdel k", bulk("v"), false},
			{1000, "getdel k", null, false},
		}},
		{"mget mset msetnx", []step{
			{1, "mset a 1 b 2 a 3", ok, false},
			{1, "mget a b c", arr(bulk("3"), bulk("2"), null), true},
			{1, "msetnx c 1 a 2", num(0), false},
			{1, "exists c", num(0), true},
			{1, "msetnx c 1 d 2", num(1), false},
			{1, "mget c d", arr(bulk("1"), bulk("2")), false},
		}},
		{"mset clears ttl", []step{
			{1, "set a 1 ex 100", ok, false},
			{1, "mset a 2", ok, false},
			{1, "ttl a", num(-1), true},
		}},
	})
}

func TestIncrDecr(t *testing.T) {
	const overflow = "-ERR increment or decrement would overflow\r\n"
	runScenarios(t, []scenario{
		{"basic", []step{
			{1, "incr n", num(1), false},
			{1, "incrby n 10", num(11), false},
			{1, "decr n", num(10), false},
			{1, "decrby n 20", num(-10), false},
			{1, "get n", bulk("-10"), true},
			{1, "incrby n -5", num(-15), false},
		}},
		{"keeps ttl", []step{
			{1000, "set n 5 ex 100", ok, false},
			{1000, "incr n", num(6), false},
			{1000, "ttl n", num(100), true},
		}},
		{"not integers", []step{
			{1, "set n abc", ok, false},
			{1, "incr n", errNotIntR, false},
			{1, "set n 01", ok, false},
			{1, "incr n", errNotIntR, false},
			{1, "set n +1", ok, false},
			{1, "incr n", errNotIntR, false},
			{1, "set n 1.0", ok, false},
			{1, "incr n", errNotIntR, false},
			{1, "set n 9223372036854775808", ok, false},
			{1, "incr n", errNotIntR, false},
			{1, "incrby m x", errNotIntR, false},
			{1, "incrby m 1x", errNotIntR, false},
			{1, "decrby m -0", errNotIntR, false},
			{1, "exists m", num(0), true},
		}},
		{"overflow", []step{
			{1, "set n 9223372036854775807", ok, false},
			{1, "incr n", overflow, false},
			{1, "set n -9223372036854775808", ok, false},
			{1, "decr n", overflow, false},
			{1, "incrby n -1", overflow, false},
			{1, "incrby n 9223372036854775807", num(-1), false},
			{1, "decrby n -9223372036854775808", errs("ERR decrement would overflow"), false},
			{1, "get n", bulk("-1"), true},
		}},
		{"incrbyfloat", []step{
			{1, "set f 10.50", ok, false},
			{1, "incrbyfloat f 0.1", bulk("10.6"), false},
			{1, "incrbyfloat f -5", bulk("5.6"), false},
			{1, "set f 5.0e3", ok, false},
			{1, "incrbyfloat f 2.0e2", bulk("5200"), false},
			{1, "incrbyfloat g 0.1", bulk("0.1"), false},
			{1, "incrbyfloat g 0.2", bulk("0.3"), false},
			{1, "incrbyfloat g -0.3", bulk("0"), false},
			{1, "incrbyfloat h 3", bulk("3"), false},
			{1, "incrbyfloat h 1e-3", bulk("3.001"), false},
			{1, "incrbyfloat h abc", errNotFloatR, false},
			{1, "incrbyfloat x 0x10", bulk("16"), false},
			{1, "incrbyfloat x 0x1.8p1", bulk("19"), false},
			{1, "incrbyfloat x 1p1", errNotFloatR, false},
			{1, "incrbyfloat x 0b1", errNotFloatR, false},
			{1, "incrbyfloat x .5", bulk("19.5"), false},
			{1, "incrbyfloat x 1.234567890123456789", bulk("20.73456789012345679"), false},
			{1, "incrbyfloat h nan", errNotFloatR, false},
			{1, "incrbyfloat h inf", errs("ERR increment would produce NaN or Infinity"), false},
			{1, "incrbyfloat h 1e5000", errNotFloatR, false},
			{1, "set s hello", ok, false},
			{1, "incrbyfloat s 1", errNotFloatR, false},
			{1, "set s 1_0", ok, false},
			{1, "incrbyfloat s 1", errNotFloatR, false},
		}},
	})
}

func TestAppendRange(t *testing.T) {
	tooBig := errs("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	runScenarios(t, []scenario{
		{"append strlen", []step{
			{1, "append k hello", num(5), false},
			{1, "append k _world", num(11), false},
			{1, "strlen k", num(11), true},
			{1, "strlen none", num(0), true},
			{1, "get k", bulk("hello_world"), true},
		}},
		{"append keeps ttl", []step{
			{1000, "set k v px 500", ok, false},
			{1000, "append k w", num(2), false},
			{1000, "pttl k", num(500), true},
		}},
		{"getrange", []step{
			{1, "getrange none 0 -1", bulk(""), true},
			{1, "set k Thisisastring", ok, false},
			{1, "getrange k 0 3", bulk("This"), true},
			{1, "getrange k -3 -1", bulk("ing"), true},
			{1, "getrange k 0 -1", bulk("Thisisastring"), true},
			{1, "getrange k 10 100", bulk("ing"), true},
			{1, "getrange k -1 -5", bulk(""), true},
			{1, "getrange k 5 3", bulk(""), true},
			{1, "getrange k -100 2", bulk("Thi"), true},
			{1, "getrange k 0 -100", bulk("T"), true},
			{1, "substr k 0 1", bulk("Th"), true},
			{1, "getrange k a 1", errNotIntR, true},
		}},
		{"setrange", []step{
			{1, "setrange k 5 hi", num(7), false},
			{1, "get k", bulk("\x00\x00\x00\x00\x00hi"), true},
			{1, "set k Hello_World", ok, false},
			{1, "setrange k 6 Redis", num(11), false},
			{1, "get k", bulk("Hello_Redis"), true},
			{1, "setrange k 20 !", num(21), false},
			{1, "strlen k", num(21), true},
			{1, "setrange k -1 x", errs("ERR offset is out of range"), false},
			{1, "setrange k 536870911 xx", tooBig, false},
			// off+len overflows int64: must still be refused, not panic.
			{1, "setrange k 9223372036854775807 xx", tooBig, false},
			{1, "setrange new 9223372036854775807 x", tooBig, false},
			{1, "setrange none 3 ", errs("ERR wrong number of arguments for 'setrange' command"), false},
			{1, "setrange k x y", errNotIntR, false},
		}},
	})
	s := New()
	empty := [][]byte{[]byte("setrange"), []byte("k"), []byte("5"), {}}
	if r := string(s.Apply(1, empty, nil)); r != num(0) || s.Len() != 0 {
		t.Fatalf("setrange with empty value on missing key: %q", r)
	}
	apply(s, 1, "set k abc")
	if r := string(s.Apply(1, empty, nil)); r != num(3) {
		t.Fatalf("setrange with empty value: %q", r)
	}
}

// Repeated APPENDs grow in place (amortized) and never disturb what a
// snapshot taken in between holds.
func TestAppendInPlaceIsolation(t *testing.T) {
	s := New()
	apply(s, 1, "set k a")
	var want strings.Builder
	want.WriteString("a")
	var snaps []*Snapshot
	var wants []string
	for i := range 200 {
		c := string(rune('b' + i%20))
		apply(s, 1, "append k "+c)
		want.WriteString(c)
		if i%7 == 0 {
			snaps = append(snaps, s.Snapshot())
			wants = append(wants, want.String())
		}
	}
	if got := read(s, 1, "get k"); got != bulk(want.String()) {
		t.Fatalf("value %q", got)
	}
	for i, sn := range snaps {
		var b strings.Builder
		sn.WriteTo(&b)
		r := New()
		if err := r.Restore(strings.NewReader(b.String())); err != nil {
			t.Fatal(err)
		}
		if got := read(r, 1, "get k"); got != bulk(wants[i]) {
			t.Fatalf("snapshot %d: %q, want %q", i, got, wants[i])
		}
	}
}
