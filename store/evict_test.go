package store

import (
	"bytes"
	"fmt"
	"testing"
)

// writeKeys writes n string keys "key:<i>" of 100 bytes at stamp.
func writeKeys(s *Store, stamp int64, from, n int) {
	for i := from; i < from+n; i++ {
		s.Apply(stamp, [][]byte{[]byte("set"), fmt.Appendf(nil, "key:%d", i), bytes.Repeat([]byte("v"), 100)}, nil)
	}
}

// hits counts how many of keys are in want.
func hits(keys [][]byte, want func(i int) bool) int {
	n := 0
	for _, k := range keys {
		var i int
		if _, err := fmt.Sscanf(string(k), "key:%d", &i); err == nil && want(i) {
			n++
		}
	}
	return n
}

func TestParsePolicy(t *testing.T) {
	for p := range numPolicies {
		got, ok := ParsePolicy(p.String())
		if !ok || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p, got, ok)
		}
	}
	if p, ok := ParsePolicy("ALLKEYS-LRU"); !ok || p != AllKeysLRU {
		t.Errorf("ParsePolicy ignores case: got %v, %v", p, ok)
	}
	if _, ok := ParsePolicy("lru"); ok {
		t.Error("ParsePolicy accepted an unknown name")
	}
}

// Under allkeys-lru, keys read recently are not chosen while colder keys
// remain; under allkeys-lfu, keys read often are not.
func TestEvictionPrefersColdKeys(t *testing.T) {
	for _, p := range []Policy{AllKeysLRU, AllKeysLFU} {
		t.Run(p.String(), func(t *testing.T) {
			s := New()
			s.SetPolicy(p, 5, 1000)
			writeKeys(s, 1000, 0, 10000)
			hot := func(i int) bool { return i%10 == 0 }
			for round := range 20 {
				for i := 0; i < 10000; i += 10 {
					read(s, 2000+int64(round), fmt.Sprintf("get key:%d", i))
				}
			}
			keys, freed := s.EvictionCandidates(0, 3000, s.MemoryBytes()/2, 5000)
			if len(keys) == 0 || freed < s.MemoryBytes()/2 && len(keys) < 5000 {
				t.Fatalf("%d candidates freeing %d of %d", len(keys), freed, s.MemoryBytes()/2)
			}
			if h := hits(keys, hot); h > len(keys)/50 {
				t.Errorf("%d of %d candidates are hot keys", h, len(keys))
			}
		})
	}
}

// A node that never saw a read (a new leader) ranks keys by their last
// write, which the log carries: the oldest writes go first.
func TestEvictionFromWriteHistory(t *testing.T) {
	s := New()
	writeKeys(s, 1_000, 0, 3000)
	writeKeys(s, 61_000, 3000, 3000)
	s.SetPolicy(AllKeysLRU, 5, 62_000)
	keys, _ := s.EvictionCandidates(0, 62_000, 1<<30, 500)
	if len(keys) != 500 {
		t.Fatalf("%d candidates", len(keys))
	}
	if old := hits(keys, func(i int) bool { return i < 3000 }); old < 490 {
		t.Errorf("only %d of 500 candidates are of the keys written a minute earlier", old)
	}
	idle := read(s, 62_000, "object idletime key:1")
	if idle != num(61) {
		t.Errorf("OBJECT IDLETIME of a key written 61 s ago = %q", idle)
	}
}

// After a snapshot is installed there is no history at all; eviction still
// finds keys, and every key it names exists.
func TestEvictionAfterRestore(t *testing.T) {
	s := New()
	writeKeys(s, 1000, 0, 2000)
	var buf bytes.Buffer
	if _, err := s.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := New()
	r.SetPolicy(AllKeysLFU, 5, 5000)
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	keys, _ := r.EvictionCandidates(0, 5000, r.MemoryBytes()/4, 2000)
	if len(keys) == 0 || len(keys) > 1000 {
		t.Fatalf("%d candidates to free a quarter of 2000 keys", len(keys))
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[string(k)] || read(r, 5000, "exists "+string(k)) != num(1) {
			t.Fatalf("candidate %q is missing or named twice", k)
		}
		seen[string(k)] = true
	}
}

func TestVolatilePolicies(t *testing.T) {
	for _, p := range []Policy{VolatileLRU, VolatileLFU, VolatileRandom, VolatileTTL} {
		t.Run(p.String(), func(t *testing.T) {
			s := New()
			s.SetPolicy(p, 5, 1000)
			writeKeys(s, 1000, 0, 1000)
			if keys, _ := s.EvictionCandidates(0, 1000, 1<<20, 100); len(keys) != 0 {
				t.Fatalf("%d candidates without any key with a TTL", len(keys))
			}
			for i := 0; i < 1000; i += 2 {
				apply(s, 1000, fmt.Sprintf("pexpire key:%d %d", i, 100_000+i))
			}
			keys, _ := s.EvictionCandidates(0, 1000, 1<<30, 100)
			if len(keys) != 100 {
				t.Fatalf("%d candidates, want 100", len(keys))
			}
			if n := hits(keys, func(i int) bool { return i%2 == 0 }); n != len(keys) {
				t.Errorf("%d of %d candidates have no TTL", len(keys)-n, len(keys))
			}
			if p == VolatileTTL {
				for j, k := range keys {
					if want := fmt.Sprintf("key:%d", 2*j); string(k) != want {
						t.Fatalf("candidate %d is %s, want the soonest to expire, %s", j, k, want)
					}
				}
			}
		})
	}
}

func TestNoEvictionChoosesNothing(t *testing.T) {
	s := New()
	writeKeys(s, 1000, 0, 100)
	if keys, _ := s.EvictionCandidates(0, 1000, 1<<20, 100); keys != nil {
		t.Fatalf("noeviction chose %d keys", len(keys))
	}
}

func TestEvictOp(t *testing.T) {
	s := New()
	writeKeys(s, 1000, 0, 3)
	before := s.MemoryBytes()
	if got := string(s.ApplyOp(OpEvict, 0, 1000, argv("key:0 key:2 missing"), nil)); got != num(2) {
		t.Fatalf("OpEvict = %q", got)
	}
	if got := read(s, 1000, "dbsize"); got != num(1) {
		t.Fatalf("DBSIZE after eviction = %q", got)
	}
	if st := s.Stats(1000); st.Evicted != 2 || st.Used >= before {
		t.Fatalf("stats after eviction: %+v (used before %d)", st, before)
	}
	if got := apply(s, 1000, "rkv.evict key:1"); got != errs("ERR unknown command 'rkv.evict', with args beginning with: 'key:1' ") {
		t.Fatalf("a client's rkv.evict = %q, want an unknown command", got)
	}
}

func TestObjectIdletimeAndFreq(t *testing.T) {
	s := New()
	apply(s, 10_000, "set k v")
	const lfuOff = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
	runSteps(t, s, []step{
		{20_000, "object idletime k", num(10), true},
		{20_000, "object freq k", errs(lfuOff), true},
	})
	s.SetPolicy(AllKeysLRU, 5, 20_000)
	runSteps(t, s, []step{
		{30_000, "get k", bulk("v"), true},
		{35_000, "object idletime k", num(5), true},
		{35_000, "object idletime missing", null, true},
	})
	s.SetPolicy(AllKeysLFU, 5, 35_000)
	runSteps(t, s, []step{
		{35_000, "object freq k", num(lfuInitVal), true},
		{35_000, "object idletime k", errs("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."), true},
	})
	for range 200 {
		read(s, 36_000, "get k")
	}
	if got := read(s, 36_000, "object freq k"); got == num(lfuInitVal) {
		t.Errorf("OBJECT FREQ after 200 reads = %q, unchanged", got)
	}
	// The counter decays by one per minute without access.
	if got := read(s, 36_000+10*60_000, "object freq k"); got == read(s, 36_000, "object freq k") {
		t.Errorf("OBJECT FREQ does not decay: %q", got)
	}
}

func runSteps(t *testing.T, s *Store, steps []step) {
	t.Helper()
	for _, st := range steps {
		got := apply(s, st.stamp, st.cmd)
		if st.read {
			got = read(s, st.stamp, st.cmd)
		}
		if got != st.want {
			t.Errorf("%s at %d = %q, want %q", st.cmd, st.stamp, got, st.want)
		}
	}
}

// Marks stay bounded however long the history, and versions keep reading
// as increasing times.
func TestClockMarks(t *testing.T) {
	s := New()
	for i := range 3 * maxMarks {
		apply(s, int64(i)*markEveryMs, "set k v")
	}
	if len(s.marks) > maxMarks {
		t.Fatalf("%d marks", len(s.marks))
	}
	prev := int64(-1)
	for v := uint64(1); v <= s.seq; v += 97 {
		w := s.writeTime(v)
		if w < prev || w > s.clock {
			t.Fatalf("writeTime(%d) = %d after %d (clock %d)", v, w, prev, s.clock)
		}
		prev = w
	}
	if w := s.writeTime(s.seq); s.clock-w > 2*markEveryMs*3 {
		t.Fatalf("the last write reads as %d ms old", s.clock-w)
	}
}

func TestAccessTableGrowsWithKeys(t *testing.T) {
	s := New()
	s.SetPolicy(AllKeysLRU, 5, 0)
	writeKeys(s, 1, 0, 3*minTableLen)
	if n := len(s.access.Load().slots); n < 3*minTableLen {
		t.Fatalf("access table of %d slots for %d keys", n, 3*minTableLen)
	}
	s.SetPolicy(NoEviction, 5, 0)
	if s.access.Load() != nil {
		t.Fatal("access history kept without a policy that needs it")
	}
}

func TestExpiryCounters(t *testing.T) {
	s := New()
	apply(s, 1000, "set a v px 100")
	apply(s, 1000, "set b v px 100")
	apply(s, 1000, "set c v px 100000")
	if st := s.Stats(2000); st.KeysWithTTL != 3 || st.StalePercent < 66 || st.StalePercent > 67 {
		t.Fatalf("before expiry: %+v", st)
	}
	s.ApplyOp(OpExpire, 0, 2000, argv("a"), nil)
	apply(s, 2000, "get b") // deleted on access in a write run
	if st := s.Stats(2000); st.Expired != 2 || st.StalePercent != 0 || st.KeysWithTTL != 1 {
		t.Fatalf("after expiry: %+v", st)
	}
}

func TestKeyMemory(t *testing.T) {
	s := New()
	apply(s, 1, "set k "+string(bytes.Repeat([]byte("v"), 1000)))
	n, ok := s.KeyMemory(0, 1, []byte("k"))
	if !ok || n < 1000 || n != s.MemoryBytes() {
		t.Fatalf("KeyMemory = %d, %v; MemoryBytes = %d", n, ok, s.MemoryBytes())
	}
	if _, ok := s.KeyMemory(0, 1, []byte("missing")); ok {
		t.Fatal("KeyMemory found a missing key")
	}
}
