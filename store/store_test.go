package store

import (
	"fmt"
	"strings"
	"testing"
)

// Reply builders for expected RESP.
func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
func num(n int64) string   { return fmt.Sprintf(":%d\r\n", n) }
func errs(s string) string { return "-" + s + "\r\n" }
func arr(items ...string) string {
	return fmt.Sprintf("*%d\r\n", len(items)) + strings.Join(items, "")
}

const (
	ok   = "+OK\r\n"
	null = "$-1\r\n"
)

func argv(cmd string) [][]byte {
	var args [][]byte
	for _, f := range strings.Fields(cmd) {
		args = append(args, []byte(f))
	}
	return args
}

func apply(s *Store, stamp int64, cmd string) string {
	return string(s.Apply(stamp, argv(cmd), nil))
}

func read(s *Store, now int64, cmd string) string {
	return string(s.Read(now, argv(cmd), nil))
}

// step is one command of a scenario: applied at stamp (or read at stamp when
// read is set), expecting want.
type step struct {
	stamp int64
	cmd   string
	want  string
	read  bool
}

type scenario struct {
	name  string
	steps []step
}

func runScenarios(t *testing.T, cases []scenario) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			for i, st := range c.steps {
				var got string
				if st.read {
					got = read(s, st.stamp, st.cmd)
				} else {
					got = apply(s, st.stamp, st.cmd)
				}
				if got != st.want {
					t.Fatalf("step %d %q at %d: got %q, want %q", i, st.cmd, st.stamp, got, st.want)
				}
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, name := range []string{"get", "GET", "GeT", "incrbyfloat", "SCAN"} {
		if _, found := Lookup([]byte(name)); !found {
			t.Errorf("Lookup(%q) not found", name)
		}
	}
	for _, name := range []string{"", "nope", "rkv.expired", "RKV.EXEC", strings.Repeat("g", 100)} {
		if _, found := Lookup([]byte(name)); found {
			t.Errorf("Lookup(%q) found", name)
		}
	}
	name := []byte("Set")
	if n := testing.AllocsPerRun(100, func() { Lookup(name) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}

func TestCommandsTable(t *testing.T) {
	cmds := commands
	for i, c := range cmds {
		if i > 0 && cmds[i-1].Name >= c.Name {
			t.Errorf("not sorted at %q", c.Name)
		}
		// PFCOUNT, flagged readonly, goes through the log to write its
		// cache (command/where.go).
		if c.Writes() != (c.Flags[0] == "write") && c.Name != "pfcount" {
			t.Errorf("%s: flags %v disagree with Writes", c.Name, c.Flags)
		}
		if l, _ := Lookup([]byte(strings.ToUpper(c.Name))); l != c {
			t.Errorf("%s: Lookup mismatch", c.Name)
		}
	}
}

func TestDispatchErrors(t *testing.T) {
	runScenarios(t, []scenario{
		{"unknown", []step{
			{1, "foo a b", errs("ERR unknown command 'foo', with args beginning with: 'a' 'b' "), false},
			{1, "foo", errs("ERR unknown command 'foo', with args beginning with: "), true},
			// Redis prints arguments as C strings: nothing from a NUL on.
			{1, "foo k \x00bin c", errs("ERR unknown command 'foo', with args beginning with: 'k' '' 'c' "), false},
			{1, "fo\x00o a", errs("ERR unknown command 'fo', with args beginning with: 'a' "), true},
		}},
		{"arity", []step{
			{1, "GET", errs("ERR wrong number of arguments for 'get' command"), false},
			{1, "get a b", errs("ERR wrong number of arguments for 'get' command"), true},
			{1, "SET a", errs("ERR wrong number of arguments for 'set' command"), false},
			{1, "mset a b c", errs("ERR wrong number of arguments for 'mset' command"), false},
			{1, "msetnx a", errs("ERR wrong number of arguments for 'msetnx' command"), false},
			{1, "dbsize x", errs("ERR wrong number of arguments for 'dbsize' command"), true},
		}},
		{"write via Read is refused", []step{
			{1, "set a 1", errs("ERR write command 'set' must go through the log"), true},
			{1, "get a", null, false},
		}},
		{"read via Apply runs", []step{
			{1, "set a 1", ok, false},
			{1, "get a", bulk("1"), false},
			{1, "dbsize", num(1), false},
		}},
	})
	s := New()
	if got := string(s.Apply(1, nil, nil)); !strings.HasPrefix(got, "-ERR") {
		t.Errorf("empty Apply: %q", got)
	}
}

func TestExpirySemantics(t *testing.T) {
	runScenarios(t, []scenario{
		{"hidden on read, missing on apply", []step{
			{1000, "set k v px 100", ok, false},
			{1099, "get k", bulk("v"), true},
			{1100, "get k", null, true},
			{1099, "dbsize", num(1), true},
			{1050, "get k", bulk("v"), false},
			{1100, "exists k", num(0), false},
			{1100, "dbsize", num(0), true},
		}},
		{"read clock never behind store clock", []step{
			{1000, "set k v px 100", ok, false},
			{5000, "set other v", ok, false},
			{0, "get k", null, true},
			{0, "dbsize", num(2), true},
		}},
		{"clock never goes back", []step{
			{1000, "set k v px 100", ok, false},
			{2000, "set x 1", ok, false},
			{500, "get k", null, false},
			{500, "pttl x", num(-1), false},
		}},
		{"relative ttl from the store clock", []step{
			{2000, "set x 1", ok, false},
			{1000, "set k v ex 10", ok, false},
			{1000, "pexpiretime k", num(12000), true},
		}},
	})
}

// Two replicas applying the same entries end equal whatever their read
// clocks are, and reads never change the state.
func TestDeterminism(t *testing.T) {
	cmds := []string{
		"set a 1 ex 10", "set b 2 px 500", "incr c", "append d hello", "expire c 3",
		"setex e 1 x", "psetex f 10 y", "getex a px 100", "incrbyfloat g 1.5",
		"set h v pxat 1000500", "mset i 1 j 2", "rename i k", "copy k l", "persist a",
		"setrange d 10 world", "getdel j", "expire d 0", "getset b 3",
	}
	a, b := New(), New()
	for i, c := range cmds {
		stamp := int64(1_000_000 + i*100)
		ra, rb := apply(a, stamp, c), apply(b, stamp, c)
		if ra != rb {
			t.Fatalf("%q: replies differ: %q vs %q", c, ra, rb)
		}
		read(a, stamp+5000, "get a")
		read(b, stamp-5000, "keys *")
		a.ExpiredSample(0, stamp+99999, 10)
	}
	if a.Digest() != b.Digest() {
		t.Fatal("digests differ")
	}
	apply(b, 2_000_000, "set z 1")
	if a.Digest() == b.Digest() {
		t.Fatal("digests equal after divergence")
	}
}

func TestExpireOp(t *testing.T) {
	s := New()
	apply(s, 1000, "set a 1 px 10")
	apply(s, 1000, "set b 1 px 10")
	apply(s, 1000, "set c 1 px 5000")
	apply(s, 1000, "set d 1")
	got := s.ExpiredSample(0, 1010, 10)
	if len(got) != 2 {
		t.Fatalf("ExpiredSample = %q", got)
	}
	if n := len(s.ExpiredSample(0, 1010, 1)); n != 1 {
		t.Fatalf("ExpiredSample max 1 gave %d", n)
	}
	if n := len(s.ExpiredSample(0, 999, 10)); n != 0 {
		t.Fatalf("ExpiredSample before deadlines gave %d", n)
	}
	// b is set again before the deletion is applied: it survives.
	apply(s, 1005, "set b 2")
	args := append(got, []byte("c"), []byte("d"), []byte("missing"))
	if r := string(s.ApplyOp(OpExpire, 0, 1010, args, nil)); r != num(1) {
		t.Fatalf("OpExpire = %q", r)
	}
	if r := apply(s, 1010, "mget a b c d"); r != arr(null, bulk("2"), bulk("1"), bulk("1")) {
		t.Fatalf("after expiry: %q", r)
	}
	if s.Len() != 3 || s.ttls.Len() != 1 {
		t.Fatalf("Len %d, ttl index %d", s.Len(), s.ttls.Len())
	}
	if n := len(s.ExpiredSample(0, 1_000_000, 10)); n != 1 {
		t.Fatalf("sample after = %d", n)
	}
}

// Keys sharing an ord (forced here) stay correctly indexed for expiry.
func TestTTLIndexSharedOrd(t *testing.T) {
	s := New()
	s.mu.Lock()
	s.put(newItem(42, "x", 100, "1"))
	s.put(newItem(42, "y", 100, "2"))
	s.put(newItem(42, "z", 200, "3"))
	if s.ttls.Len() != 2 {
		t.Fatalf("ttl entries %d", s.ttls.Len())
	}
	it, _ := s.keys.Get(newItem(42, "x", 0))
	s.remove(it)
	if s.ttls.Len() != 2 {
		t.Fatalf("entry shared with y dropped")
	}
	it, _ = s.keys.Get(newItem(42, "y", 0))
	s.remove(it)
	if s.ttls.Len() != 1 {
		t.Fatalf("ttl entries %d", s.ttls.Len())
	}
	s.mu.Unlock()
	if got := s.ExpiredSample(0, 300, 10); len(got) != 1 || string(got[0]) != "z" {
		t.Fatalf("sample %q", got)
	}
}

func TestKeySlot(t *testing.T) {
	for key, want := range map[string]int{
		"foo": 12182, "bar": 5061, "{user1000}.following": 3443, "{user1000}.followers": 3443,
		"foo{}{bar}": 8363, "foo{{bar}}zap": 4015, "foo{bar}{zap}": 5061, "": 0, "123456789": 12739,
	} {
		if got := KeySlot([]byte(key)); got != want {
			t.Errorf("KeySlot(%q) = %d, want %d", key, got, want)
		}
	}
	s := New()
	apply(s, 1, "mset {a}1 x {a}2 y b z")
	slot := KeySlot([]byte("a"))
	if n := s.CountKeysInSlot(slot); n != 2 {
		t.Errorf("CountKeysInSlot = %d", n)
	}
	if k := s.KeysInSlot(slot, 10); len(k) != 2 {
		t.Errorf("KeysInSlot = %q", k)
	}
	if k := s.KeysInSlot(slot, 1); len(k) != 1 {
		t.Errorf("KeysInSlot count 1 = %q", k)
	}
	apply(s, 1, "del {a}1")
	if n := s.CountKeysInSlot(slot); n != 1 {
		t.Errorf("CountKeysInSlot after del = %d", n)
	}
	if s.KeysInSlot(-1, 1) != nil || s.CountKeysInSlot(NumSlots) != 0 {
		t.Error("out of range slot")
	}
}

func TestMemoryBytes(t *testing.T) {
	s := New()
	if s.MemoryBytes() != 0 {
		t.Fatal("empty store uses memory")
	}
	apply(s, 1, "set k "+strings.Repeat("v", 1000))
	m1 := s.MemoryBytes()
	if m1 < 1000 {
		t.Fatalf("MemoryBytes = %d", m1)
	}
	apply(s, 1, "del k")
	if s.MemoryBytes() != 0 {
		t.Fatalf("MemoryBytes after del = %d", s.MemoryBytes())
	}
}

func TestNoAllocs(t *testing.T) {
	s := New()
	set := argv("set key value")
	get := argv("get key")
	out := make([]byte, 0, 64)
	s.Apply(1, set, out)
	if n := testing.AllocsPerRun(100, func() { s.Read(1, get, out[:0]) }); n != 0 {
		t.Errorf("Read GET allocates %v", n)
	}
	if n := testing.AllocsPerRun(100, func() { s.Apply(1, set, out[:0]) }); n > 1 {
		t.Errorf("Apply SET allocates %v (want only the stored value)", n)
	}
}

// After a failover to a leader whose wall clock is behind the last one's,
// every query judges expiry by the store's clock when the local clock is
// behind it: an expired key does not come back, and active expiry still
// finds it.
func TestExpiryNeverJudgedBehindStoreClock(t *testing.T) {
	const ahead, behind = 10_000, 5_000 // the old leader's clock, this node's
	s := New()
	apply(s, ahead, "set k v px 100")
	apply(s, ahead+200, "set other x") // the store's clock passes k's deadline
	for _, c := range []struct{ cmd, want string }{
		{"get k", null},
		{"mget k other", arr(null, bulk("x"))},
		{"exists k", num(0)},
		{"touch k", num(0)},
		{"ttl k", num(-2)},
		{"pttl k", num(-2)},
		{"expiretime k", num(-2)},
		{"pexpiretime k", num(-2)},
		{"type k", "+none\r\n"},
		{"strlen k", num(0)},
		{"getrange k 0 -1", "$0\r\n\r\n"},
		{"substr k 0 -1", "$0\r\n\r\n"},
		{"keys *", arr(bulk("other"))},
		{"scan 0 count 100", arr(bulk("0"), arr(bulk("other")))},
		{"dbsize", num(2)}, // as in Redis, until the deletion is applied
	} {
		if got := read(s, behind, c.cmd); got != c.want {
			t.Errorf("%q at local clock %d: %q, want %q", c.cmd, behind, got, c.want)
		}
	}
	apply(s, ahead+200, "del other")
	for range 50 {
		if got := read(s, behind, "randomkey"); got != null {
			t.Fatalf("randomkey = %q, want nil", got)
		}
	}
	keys := s.ExpiredSample(0, behind, 10)
	if len(keys) != 1 || string(keys[0]) != "k" {
		t.Fatalf("ExpiredSample at local clock %d = %q, want [k]", behind, keys)
	}
	if got := string(s.ApplyOp(OpExpire, 0, behind, keys, nil)); got != num(1) {
		t.Fatalf("OpExpire = %q", got)
	}
	if got := read(s, behind, "dbsize"); got != num(0) {
		t.Fatalf("dbsize after active expiry = %q", got)
	}
}
