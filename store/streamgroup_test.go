package store

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// pendingRow is one row of XPENDING's extended form.
func pendingRow(id, consumer string, idle, count int64) string {
	return arr(bulk(id), bulk(consumer), num(idle), num(count))
}

func TestStreamGroupLifecycle(t *testing.T) {
	noKey := "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
	runScenarios(t, []scenario{
		{"xgroup", []step{
			{1, "xgroup create s g $", errs(noKey), false},
			{1, "xgroup create s g $ mkstream", ok, false},
			{1, "xgroup create s g 0", errs("BUSYGROUP Consumer Group name already exists"), false},
			{1, "xgroup create s g2 0 entriesread -2", errs("ERR value for ENTRIESREAD must be positive or -1"), false},
			{1, "xgroup create s g2 0 foo", errs("ERR unknown subcommand or wrong number of arguments for 'create'. Try XGROUP HELP."), false},
			{1, "xgroup nope s g", errs("ERR unknown subcommand 'nope'. Try XGROUP HELP."), false},
			{1, "xgroup destroy s", errs("ERR wrong number of arguments for 'xgroup|destroy' command"), false},
			{1, "xgroup setid s nog 0", errs("NOGROUP No such consumer group 'nog' for key name 's'"), false},
			{1, "xgroup createconsumer s g c", num(1), false},
			{1, "xgroup createconsumer s g c", num(0), false},
			{1, "xgroup delconsumer s g c", num(0), false},
			{1, "xgroup delconsumer s g c", num(0), false},
			{1, "xgroup destroy s g", num(1), false},
			{1, "xgroup destroy s g", num(0), false},
			{1, "set str x", ok, false},
			{1, "xgroup create str g $", errs(errWrongType), false},
		}},
		{"deliver, ack, history", []step{
			{10, "xadd s 1-1 a 1", bulk("1-1"), false},
			{10, "xadd s 1-2 b 2", bulk("1-2"), false},
			{10, "xgroup create s g 0", ok, false},
			{100, "xreadgroup group g c count 1 streams s >", arr(xStream("s", xEntry("1-1", "a", "1"))), false},
			{200, "xreadgroup group g d streams s >", arr(xStream("s", xEntry("1-2", "b", "2"))), false},
			{200, "xreadgroup group g d streams s >", xNullArr, false},
			// Idle times are measured from the log's stamps.
			{1000, "xpending s g - + 10", arr(pendingRow("1-1", "c", 900, 1), pendingRow("1-2", "d", 800, 1)), true},
			{1000, "xpending s g", arr(num(2), bulk("1-1"), bulk("1-2"), arr(arr(bulk("c"), bulk("1")), arr(bulk("d"), bulk("1")))), true},
			{1000, "xpending s g idle 850 - + 10", arr(pendingRow("1-1", "c", 900, 1)), true},
			// Reading history delivers again: count and time change.
			{500, "xreadgroup group g c streams s 0", arr(xStream("s", xEntry("1-1", "a", "1"))), false},
			{1000, "xpending s g - + 10 c", arr(pendingRow("1-1", "c", 500, 2)), true},
			{500, "xdel s 1-1", num(1), false},
			{500, "xreadgroup group g c streams s 0", arr(xStream("s", arr(bulk("1-1"), xNullArr))), false},
			{500, "xack s g 1-1 1-9", num(1), false},
			{500, "xack s g x", errs(xBadID), false},
			{500, "xack s nog x", num(0), false},
			{500, "xgroup delconsumer s g d", num(1), false},
			{500, "xpending s g", arr(num(0), null, null, xNullArr), false},
		}},
		{"xreadgroup errors", []step{
			{1, "xgroup create s g $ mkstream", ok, false},
			{1, "xreadgroup group g c streams s $", errs(errXReadGroupDol), false},
			{1, "xreadgroup group nog c streams s >", errs("NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option"), false},
			{1, "xreadgroup count 1 noack streams s >", errs(errXReadGroupMis), false},
			// BLOCK is the front end's: the store answers at once.
			{1, "xreadgroup group g c block 0 streams s >", xNullArr, false},
			{1, "xread group g c streams s >", errs(errXReadGroup), false},
		}},
	})
}

func TestStreamGroupClaim(t *testing.T) {
	runScenarios(t, []scenario{
		{"xclaim", []step{
			{10, "xadd s 1-1 a 1", bulk("1-1"), false},
			{10, "xadd s 1-2 b 2", bulk("1-2"), false},
			{10, "xadd s 1-3 c 3", bulk("1-3"), false},
			{10, "xgroup create s g 0", ok, false},
			{100, "xreadgroup group g c streams s >", arr(xStream("s", xEntry("1-1", "a", "1"), xEntry("1-2", "b", "2"), xEntry("1-3", "c", "3"))), false},
			// Idle 300 at 400 is not enough for 500.
			{400, "xclaim s g d 500 1-1", xEmptyArr, false},
			{700, "xclaim s g d 500 1-1 justid", arr(bulk("1-1")), false},
			{700, "xclaim s g d 0 1-2 idle 50 retrycount 7", arr(xEntry("1-2", "b", "2")), false},
			{700, "xclaim s g d 0 1-3 time 650", arr(xEntry("1-3", "c", "3")), false},
			{1000, "xpending s g - + 10", arr(pendingRow("1-1", "d", 300, 1), pendingRow("1-2", "d", 350, 7), pendingRow("1-3", "d", 350, 2)), true},
			{1000, "xclaim s g d x 1-1", errs("ERR Invalid min-idle-time argument for XCLAIM"), false},
			{1000, "xclaim s g d 0 1-1 foo", errs("ERR Unrecognized XCLAIM option 'foo'"), false},
			{1000, "xclaim s nog d 0 1-1", errs("NOGROUP No such key 's' or consumer group 'nog'"), false},
			// FORCE creates a pending entry, LASTID moves the group on.
			{1000, "xack s g 1-3", num(1), false},
			{1000, "xclaim s g e 0 1-3 force justid lastid 9-9", arr(bulk("1-3")), false},
			{1000, "xinfo groups s", arr(arr(bulk("name"), bulk("g"), bulk("consumers"), num(3), bulk("pending"), num(3),
				bulk("last-delivered-id"), bulk("9-9"), bulk("entries-read"), num(3), bulk("lag"), num(0))), true},
		}},
		{"xautoclaim", []step{
			{10, "xadd s 1-1 a 1", bulk("1-1"), false},
			{10, "xadd s 1-2 b 2", bulk("1-2"), false},
			{10, "xadd s 1-3 c 3", bulk("1-3"), false},
			{10, "xgroup create s g 0", ok, false},
			{100, "xreadgroup group g c streams s >", arr(xStream("s", xEntry("1-1", "a", "1"), xEntry("1-2", "b", "2"), xEntry("1-3", "c", "3"))), false},
			{100, "xdel s 1-2", num(1), false},
			{200, "xautoclaim s g d 0 0 count 1", arr(bulk("1-2"), arr(xEntry("1-1", "a", "1")), xEmptyArr), false},
			{200, "xautoclaim s g d 0 1-2 count 1 justid", arr(bulk("1-3"), xEmptyArr, arr(bulk("1-2"))), false},
			{200, "xautoclaim s g d 0 1-3", arr(bulk("0-0"), arr(xEntry("1-3", "c", "3")), xEmptyArr), false},
			{200, "xautoclaim s g d 0 0 count 0", errs(errAutoclaimCnt), false},
			{200, "xautoclaim s g d 0 0 foo", errs(errSyntax), false},
			{1000, "xpending s g - + 10", arr(pendingRow("1-1", "d", 800, 2), pendingRow("1-3", "d", 800, 2)), true},
		}},
	})
}

func TestStreamGroupInfo(t *testing.T) {
	runScenarios(t, []scenario{
		{"lag and entries-read", []step{
			{1, "xgroup create s g $ mkstream", ok, false},
			{1, "xadd s 1-1 a 1", bulk("1-1"), false},
			{1, "xadd s 1-2 a 1", bulk("1-2"), false},
			{1, "xinfo groups s", arr(arr(bulk("name"), bulk("g"), bulk("consumers"), num(0), bulk("pending"), num(0),
				bulk("last-delivered-id"), bulk("0-0"), bulk("entries-read"), null, bulk("lag"), num(2))), true},
			{5, "xreadgroup group g c count 1 noack streams s >", arr(xStream("s", xEntry("1-1", "a", "1"))), false},
			{9, "xinfo groups s", arr(arr(bulk("name"), bulk("g"), bulk("consumers"), num(1), bulk("pending"), num(0),
				bulk("last-delivered-id"), bulk("1-1"), bulk("entries-read"), num(1), bulk("lag"), num(1))), true},
			{9, "xinfo consumers s g", arr(arr(bulk("name"), bulk("c"), bulk("pending"), num(0), bulk("idle"), num(4))), true},
			{9, "xinfo stream s", arr(bulk("length"), num(2), bulk("radix-tree-keys"), num(1), bulk("radix-tree-nodes"), num(2),
				bulk("last-generated-id"), bulk("1-2"), bulk("max-deleted-entry-id"), bulk("0-0"), bulk("entries-added"), num(2),
				bulk("recorded-first-entry-id"), bulk("1-1"), bulk("groups"), num(1),
				bulk("first-entry"), xEntry("1-1", "a", "1"), bulk("last-entry"), xEntry("1-2", "a", "1")), true},
			{9, "xinfo stream s full count x", errs(errNotInt), true},
			{9, "xinfo stream s full foo", errs("ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP."), true},
			{9, "xinfo stream nokey", errs(errNoKey), true},
		}},
	})
}

// raxCount counts the nodes of Redis's radix tree of 16-byte keys (the
// differential test compares XINFO STREAM's count with redis-server's).
func TestRaxCount(t *testing.T) {
	key := func(ms, seq uint64) [16]byte {
		var k [16]byte
		for i := range 8 {
			k[7-i], k[15-i] = byte(ms>>(8*i)), byte(seq>>(8*i))
		}
		return k
	}
	for _, c := range []struct {
		keys [][16]byte
		want int
	}{
		{nil, 1},
		{[][16]byte{key(1, 1)}, 2},
		{[][16]byte{key(1, 1), key(1, 2)}, 4},    // a chain, a branch, two keys
		{[][16]byte{key(1, 1), key(1, 1<<8)}, 6}, // two chains below the branch
		{[][16]byte{key(1, 1), key(2, 1), key(2, 2)}, 8},
	} {
		if got := raxCount(c.keys, 0); got != c.want {
			t.Errorf("%d keys: %d nodes, want %d", len(c.keys), got, c.want)
		}
	}
}

// groupWorkload builds a stream with two groups, consumers and pending
// entries, deleted entries and claims.
func groupWorkload(s *Store, stamp int64) {
	cmds := []string{"xgroup create s g1 $ mkstream", "xgroup create s g2 0 entriesread 0"}
	for i := range 300 {
		cmds = append(cmds, fmt.Sprintf("xadd s * n %d", i))
		if i%7 == 0 {
			cmds = append(cmds, fmt.Sprintf("xreadgroup group g1 c%d count 3 streams s >", i%3))
		}
		if i%11 == 0 {
			cmds = append(cmds, fmt.Sprintf("xreadgroup group g2 c%d noack count 2 streams s >", i%2))
		}
	}
	cmds = append(cmds, "xautoclaim s g1 z 0 0 count 5", "xgroup createconsumer s g2 idle")
	for i, c := range cmds {
		apply(s, stamp+int64(i), c)
	}
}

func TestStreamGroupSnapshot(t *testing.T) {
	s := New()
	groupWorkload(s, 1_000_000)
	r := New()
	if err := r.Restore(bytes.NewReader(snapshotBytes(t, s))); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != s.Digest() || r.MemoryBytes() != s.MemoryBytes() {
		t.Fatal("restored state differs")
	}
	for _, cmd := range []string{"xinfo stream s full count 0", "xpending s g1 - + 1000", "xinfo consumers s g2"} {
		if a, b := read(s, 2_000_000, cmd), read(r, 2_000_000, cmd); a != b {
			t.Fatalf("%s: restored %q, want %q", cmd, b, a)
		}
	}
	// Groups change the digest.
	before := s.Digest()
	apply(s, 2_000_000, "xack s g1 "+bulkItems(read(s, 2_000_000, "xpending s g1"))[1])
	if s.Digest() == before {
		t.Fatal("XACK left the digest unchanged")
	}
}

// A snapshot keeps the groups it saw while later writes change them (run
// with -race).
func TestStreamGroupSnapshotCopyOnWrite(t *testing.T) {
	s := New()
	groupWorkload(s, 1_000_000)
	want := snapshotBytes(t, s)
	sn := s.Snapshot()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			now := int64(2_000_000 + i)
			s.Apply(now, argv("xadd s * n x"), nil)
			s.Apply(now, argv("xreadgroup group g1 c0 count 2 streams s >"), nil)
			s.Apply(now, argv("xautoclaim s g1 c1 0 0 count 3"), nil)
			s.Apply(now, argv("xgroup delconsumer s g2 c1"), nil)
		}
	}()
	var b bytes.Buffer
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatal("snapshot saw later writes")
	}
}

// Replicas applying the same entries agree on every time the groups hold.
func TestStreamGroupDeterminism(t *testing.T) {
	a, b := New(), New()
	groupWorkload(a, 1_000_000)
	groupWorkload(b, 1_000_000)
	if a.Digest() != b.Digest() {
		t.Fatal("replicas differ")
	}
	if x, y := read(a, 5_000_000, "xinfo stream s full count 0"), read(b, 9_000_000, "xinfo stream s full count 0"); x != y {
		t.Fatal("stamps in XINFO STREAM FULL depend on the reader's clock")
	}
}

// Groups do not change the key's version: Redis signals no change for
// them, so a WATCH on the stream survives XREADGROUP and XACK.
func TestStreamGroupKeepsVersion(t *testing.T) {
	s := New()
	apply(s, 1, "xgroup create s g $ mkstream")
	apply(s, 1, "xadd s 1-1 a 1")
	it, _ := s.keys.Get(probe([]byte("s")))
	apply(s, 2, "xreadgroup group g c streams s >")
	apply(s, 2, "xack s g 1-1")
	if got, _ := s.keys.Get(probe([]byte("s"))); got.ver != it.ver {
		t.Fatalf("version %d, was %d", got.ver, it.ver)
	}
}

// Scripts may not block: XREAD and XREADGROUP refuse BLOCK from one with
// Redis's error, whatever rkv answers a client.
func TestStreamBlockFromScript(t *testing.T) {
	s := New()
	apply(s, 1, "xgroup create s g $ mkstream")
	var got []string
	s.ApplyScript(0, 1, func(_ int64, exec Exec) {
		got = append(got, string(exec(argv("xreadgroup group g c block 0 streams s >"), nil)))
		got = append(got, string(exec(argv("xreadgroup group g c streams s >"), nil)))
	})
	want := []string{errs("ERR xreadgroup command is not allowed with BLOCK option from scripts"), xNullArr}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
