package store

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// members returns n distinct members with prefix, joined for a command.
func members(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " %s%d", prefix, i)
	}
	return b.String()
}

// waitReleased waits until s has nothing pending in the background and
// returns how many objects it released.
func waitReleased(t *testing.T, s *Store) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, freed := s.LazyFreeStats()
		if pending == 0 {
			return freed
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d objects still pending release", pending)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFreeEffort(t *testing.T) {
	s := New()
	apply(s, 1, "sadd intset 1 2 3")
	apply(s, 1, "sadd ht"+members("m", 100))
	apply(s, 1, "hset hlp f v")
	apply(s, 1, "hset hht"+members("f", 1200)) // 600 pairs
	apply(s, 1, "zadd zlp 1 a")
	apply(s, 1, "zadd zbig"+strings.ReplaceAll(members("m", 200), " m", " 1 m"))
	apply(s, 1, "rpush short a b c")
	apply(s, 1, "rpush long"+members("e", 128*70))
	apply(s, 1, "set str v")
	for i := range 10 {
		apply(s, 1, fmt.Sprintf("xadd st %d-1 f v", i+1))
	}
	apply(s, 1, "xgroup create st g1 0")
	apply(s, 1, "xgroup create st g2 0")
	apply(s, 1, "xreadgroup group g1 alice count 3 streams st >")
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"intset", 1}, {"ht", 100}, {"hlp", 1}, {"hht", 600}, {"zlp", 1}, {"zbig", 200},
		{"short", 1}, {"long", 70}, {"str", 1},
		// One node, then each of two groups with the first group's
		// three pending entries.
		{"st", 1 + 2*(1+3)},
	} {
		it, ok := s.keys.Get(probe([]byte(tc.key)))
		if !ok {
			t.Fatalf("%s missing", tc.key)
		}
		got := 1
		if it.isObj() {
			got = freeEffort(it.obj().val)
		}
		if got != tc.want {
			t.Errorf("freeEffort(%s) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

// TestLazyFreeCauses checks which deletions release their value in the
// background, as Redis's do: UNLINK and FLUSH ASYNC always, the others
// as their lazyfree-lazy-* setting says, and only values whose free
// effort passes the threshold (a whole keyspace for a flush).
func TestLazyFreeCauses(t *testing.T) {
	big := "sadd big" + members("m", lazyfreeThreshold+1)
	for _, tc := range []struct {
		name     string
		settings LazyFree
		setup    []string
		cmd      func(s *Store) string
		want     string
		released int64
	}{
		{"unlink", 0, []string{big}, cmdAt("unlink big"), num(1), 1},
		{"unlink small", 0, []string{"sadd small" + members("m", lazyfreeThreshold)}, cmdAt("unlink small"), num(1), 0},
		{"del", 0, []string{big}, cmdAt("del big"), num(1), 0},
		{"del user-del", LazyUserDel, []string{big}, cmdAt("del big"), num(1), 1},
		{"set over", 0, []string{big}, cmdAt("set big v"), ok, 0},
		{"set over server-del", LazyServerDel, []string{big}, cmdAt("set big v"), ok, 1},
		{"rename moves the value", LazyServerDel, []string{big}, cmdAt("rename big other"), ok, 0},
		{"rename over", LazyServerDel, []string{big, "set src v"}, cmdAt("rename src big"), ok, 1},
		{"expire past", LazyExpire, []string{big}, cmdAt("pexpire big 0"), num(1), 1},
		{"expire past not lazy", LazyServerDel, []string{big}, cmdAt("pexpire big 0"), num(1), 0},
		{"active expiry", LazyExpire, []string{big, "pexpire big 10"}, opAt(OpExpire, 100, "big"), num(1), 1},
		{"eviction", LazyEviction, []string{big}, opAt(OpEvict, 1, "big"), num(1), 1},
		{"eviction not lazy", LazyExpire, []string{big}, opAt(OpEvict, 1, "big"), num(1), 0},
		{"flushall async", 0, []string{big, "set a 1", "set b 2"}, cmdAt("flushall async"), ok, 3},
		{"flushall", 0, []string{big, "set a 1"}, cmdAt("flushall"), ok, 0},
		{"flushdb user-flush", LazyUserFlush, []string{big, "set a 1"}, cmdAt("flushdb"), ok, 2},
		{"flushall sync user-flush", LazyUserFlush, []string{big, "set a 1"}, cmdAt("flushall sync"), ok, 0},
		{"flushall async, two databases", 0, []string{big}, inDB(1, "set a 1", "flushall async"), ok, 2},
		{"flushdb async, one of two databases", 0, []string{big}, inDB(1, "set a 1", "flushdb async"), ok, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			s.SetLazyFree(tc.settings, true)
			for _, c := range tc.setup {
				apply(s, 1, c)
			}
			if got := tc.cmd(s); got != tc.want {
				t.Fatalf("reply %q, want %q", got, tc.want)
			}
			if got := waitReleased(t, s); got != tc.released {
				t.Fatalf("released %d objects in the background, want %d", got, tc.released)
			}
		})
	}
}

func cmdAt(cmd string) func(s *Store) string {
	return func(s *Store) string { return apply(s, 1, cmd) }
}

// inDB applies setup then cmd in database db, replying cmd's reply.
func inDB(db int, setup, cmd string) func(s *Store) string {
	return func(s *Store) string {
		s.ApplyOp(OpCommand, db, 1, argv(setup), nil)
		return string(s.ApplyOp(OpCommand, db, 1, argv(cmd), nil))
	}
}

func opAt(op Op, stamp int64, keys string) func(s *Store) string {
	return func(s *Store) string { return string(s.ApplyOp(op, 0, stamp, argv(keys), nil)) }
}

// TestLazyFreeMemory checks that an UNLINKed value stops counting at
// once, on the apply path, while the background releases it: the value
// becomes garbage the collector reclaims, nothing keeping it alive.
func TestLazyFreeMemory(t *testing.T) {
	s := New()
	apply(s, 1, "sadd big"+members("m", 10000))
	if s.MemoryBytes() < 10000*setMemberCost {
		t.Fatalf("MemoryBytes = %d with the set", s.MemoryBytes())
	}
	it, _ := s.keys.Get(probe([]byte("big")))
	reclaimed := make(chan struct{})
	runtime.AddCleanup(it.obj(), func(ch chan struct{}) { close(ch) }, reclaimed)
	it = item{}
	if got := apply(s, 1, "unlink big"); got != num(1) {
		t.Fatalf("UNLINK = %q", got)
	}
	if s.MemoryBytes() != storeOverhead {
		t.Fatalf("MemoryBytes = %d right after UNLINK, want the empty store's %d", s.MemoryBytes(), storeOverhead)
	}
	if pending, freed := s.LazyFreeStats(); pending+freed != 1 {
		t.Fatalf("pending %d + released %d, want the one value", pending, freed)
	}
	if freed := waitReleased(t, s); freed != 1 {
		t.Fatalf("released %d", freed)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-reclaimed:
			s.ResetStats()
			if _, freed := s.LazyFreeStats(); freed != 0 {
				t.Fatalf("released %d after ResetStats", freed)
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the released value was never reclaimed")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWorthCollecting(t *testing.T) {
	for _, tc := range []struct {
		released, live int64
		want           bool
	}{
		{minCollect - 1, 0, false},
		{minCollect, 0, true},
		{minCollect, minCollect, true},
		{minCollect, minCollect + 1, false},
		{4 * minCollect, 2 * minCollect, true},
	} {
		if got := worthCollecting(tc.released, tc.live); got != tc.want {
			t.Errorf("worthCollecting(%d, %d) = %v", tc.released, tc.live, got)
		}
	}
}

// TestSyncFreeCollects: with lazyfree-lazy-user-del no, DEL of a costly
// value bigger than the live keyspace collects on the apply path, as
// Redis frees synchronously: the value is reclaimed without waiting for
// the collector's own pace.
func TestSyncFreeCollects(t *testing.T) {
	s := New()
	n := int(minCollect/setMemberCost) + 1
	for i := 0; i < n; i += 10000 {
		apply(s, 1, "sadd big"+members(fmt.Sprintf("m%d-", i), 10000))
	}
	apply(s, 1, "set small v")
	it, _ := s.keys.Get(probe([]byte("big")))
	reclaimed := make(chan struct{})
	runtime.AddCleanup(it.obj(), func(ch chan struct{}) { close(ch) }, reclaimed)
	it = item{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if got := apply(s, 1, "del big"); got != num(1) {
		t.Fatalf("DEL = %q", got)
	}
	runtime.ReadMemStats(&after)
	if after.NumForcedGC == before.NumForcedGC {
		t.Fatal("DEL of a value larger than the live keyspace did not collect")
	}
	if pending, freed := s.LazyFreeStats(); pending+freed != 0 {
		t.Fatalf("pending %d, released %d in the background: the deletion was synchronous", pending, freed)
	}
	select {
	case <-reclaimed:
	case <-time.After(10 * time.Second):
		t.Fatal("the deleted value was not reclaimed by the collection")
	}
	runtime.ReadMemStats(&before)
	if got := apply(s, 1, "del small"); got != num(1) {
		t.Fatalf("DEL = %q", got)
	}
	runtime.ReadMemStats(&after)
	if after.NumForcedGC != before.NumForcedGC {
		t.Fatal("DEL of a cheap value collected")
	}
}
