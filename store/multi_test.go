package store

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// execEntry applies one OpExec of cmds under marks at stamp.
func execEntry(s *Store, stamp int64, marks []WatchMark, cmds ...string) string {
	var argvs [][][]byte
	for _, c := range cmds {
		argvs = append(argvs, argv(c))
	}
	return string(s.ApplyOp(OpExec, 0, stamp, ExecArgs(marks, argvs), nil))
}

// aborted is the reply of an EXEC a watch aborted.
var aborted = string(nullArray)

func TestExecWatch(t *testing.T) {
	type tc struct {
		name   string
		before []string // applied at 1000 before WATCH
		watch  int64    // the leader's clock when it watches k
		after  []string // applied at 2000 between WATCH and EXEC
		stamp  int64    // the EXEC entry's stamp
		want   string
	}
	ran := arr(ok)
	for _, c := range []tc{
		{"untouched", []string{"set k 1"}, 1000, nil, 2000, ran},
		{"other key changed", []string{"set k 1"}, 1000, []string{"set other 1", "del other"}, 2000, ran},
		{"missing and untouched", nil, 1000, []string{"set other 1"}, 2000, ran},
		{"read only", []string{"set k 1"}, 1000, []string{"get k", "exists k", "ttl k"}, 2000, ran},
		{"failed conditional write", []string{"set k 1"}, 1000, []string{"set k 2 nx", "persist k", "del nokey"}, 2000, ran},
		{"changed", []string{"set k 1"}, 1000, []string{"set k 1"}, 2000, aborted},
		{"ttl changed", []string{"set k 1"}, 1000, []string{"expire k 100"}, 2000, aborted},
		{"deleted", []string{"set k 1"}, 1000, []string{"del k"}, 2000, aborted},
		{"deleted and set again", []string{"set k 1"}, 1000, []string{"del k", "set k 1"}, 2000, aborted},
		{"created", nil, 1000, []string{"set k 1"}, 2000, aborted},
		{"created and deleted", nil, 1000, []string{"set k 1", "del k"}, 2000, aborted},
		{"created already expired", nil, 1000, []string{"set k 1 pxat 10"}, 2000, aborted},
		{"renamed away", []string{"set k 1"}, 1000, []string{"rename k j"}, 2000, aborted},
		{"renamed onto", []string{"set j 1"}, 1000, []string{"rename j k"}, 2000, aborted},
		{"flushall", []string{"set k 1"}, 1000, []string{"flushall"}, 2000, aborted},
		{"flushall spares a missing key", nil, 1000, []string{"flushall"}, 2000, "*1\r\n+OK\r\n"},
		// Expiry counts as a change: the key was live when watched and is
		// past its deadline at the EXEC's clock, deleted or not.
		{"expired by the exec clock", []string{"set k 1 px 500"}, 1000, nil, 2000, aborted},
		{"expired and deleted", []string{"set k 1 px 500"}, 1000, []string{"get k"}, 2000, aborted},
		{"expired by active expiry", []string{"set k 1 px 500"}, 1000, []string{"expire: k"}, 2000, aborted},
		{"live until after the exec", []string{"set k 1 px 5000"}, 1000, nil, 2000, ran},
		// Already expired when watched: its deadline passing is no change.
		{"expired when watched", []string{"set k 1 px 500"}, 1600, nil, 2000, ran},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			for _, cmd := range c.before {
				apply(s, 1000, cmd)
			}
			marks := []WatchMark{s.Watch(0, c.watch, []byte("k"))}
			for _, cmd := range c.after {
				if keys, ok := strings.CutPrefix(cmd, "expire: "); ok {
					s.ApplyOp(OpExpire, 0, 2000, argv(keys), nil)
				} else {
					apply(s, 2000, cmd)
				}
			}
			if got := execEntry(s, c.stamp, marks, "set x 1"); got != c.want {
				t.Fatalf("EXEC = %q, want %q", got, c.want)
			}
			if c.want == aborted {
				if got := read(s, c.stamp, "exists x"); got != num(0) {
					t.Fatalf("an aborted EXEC ran its command: exists x = %q", got)
				}
			}
		})
	}
}

func TestWatchMark(t *testing.T) {
	s := New()
	apply(s, 1000, "set k 1 px 500")
	apply(s, 1000, "set j 1")
	w := s.Watch(0, 1200, []byte("k"))
	if !w.Live || w.Seq != 2 || string(w.Key) != "k" {
		t.Fatalf("mark of a live key: %+v", w)
	}
	if w := s.Watch(0, 1500, []byte("k")); w.Live {
		t.Fatalf("mark of a key at its deadline: %+v", w)
	}
	if w := s.Watch(0, 1200, []byte("none")); w.Live {
		t.Fatalf("mark of a missing key: %+v", w)
	}
	// The local clock behind the store's is raised to it, as for reads.
	apply(s, 3000, "set j 2")
	if w := s.Watch(0, 0, []byte("k")); w.Live || w.Seq != 3 {
		t.Fatalf("mark at a clock behind the store's: %+v", w)
	}
	key := []byte("j")
	w = s.Watch(0, 3000, key)
	key[0] = 'x'
	if string(w.Key) != "j" {
		t.Fatal("the mark aliases the caller's key")
	}
}

func TestExecMixedCommands(t *testing.T) {
	s := New()
	apply(s, 1000, "set str abc")
	apply(s, 1000, "set n 10")
	other := s.Watch(0, 1000, []byte("unrelated"))
	got := execEntry(s, 1000, []WatchMark{other},
		"incr n", "incr str", "get str", "nosuch a b", "get", "set n", "append str def",
		"getrange str 0 -1", "del n", "exists n", "incrby n 5", "mget n str missing",
		"rkv.expired str", "rkv.exec 0 0")
	want := arr(num(11), errs(errNotInt), bulk("abc"),
		errs("ERR unknown command 'nosuch', with args beginning with: 'a' 'b' "),
		errs("ERR wrong number of arguments for 'get' command"),
		errs("ERR wrong number of arguments for 'set' command"),
		num(6), bulk("abcdef"), num(1), num(0), num(5), arr(bulk("5"), bulk("abcdef"), null),
		errs("ERR unknown command 'rkv.expired', with args beginning with: 'str' "),
		errs("ERR unknown command 'rkv.exec', with args beginning with: '0' '0' "))
	if got != want {
		t.Fatalf("EXEC\n got %q\nwant %q", got, want)
	}
	if got := execEntry(s, 1000, nil); got != "*0\r\n" {
		t.Fatalf("empty EXEC = %q", got)
	}
	// An EXEC is one command of the log: every change it makes carries
	// its seq, and only one seq passes.
	seq := s.Watch(0, 1000, []byte("n")).Seq
	execEntry(s, 1000, nil, "set a 1", "set b 2")
	for _, k := range []string{"a", "b"} {
		it, _ := s.keys.Get(probe([]byte(k)))
		if it.ver != seq+1 {
			t.Fatalf("%s: ver %d, want %d", k, it.ver, seq+1)
		}
	}
	if got := s.Watch(0, 1000, []byte("n")).Seq; got != seq+1 {
		t.Fatalf("seq after EXEC = %d, want %d", got, seq+1)
	}
}

// TestExecIsInternal: no client names an OpExec, not even by the name it
// had when entries were commands ("rkv.exec").
func TestExecIsInternal(t *testing.T) {
	s := New()
	for _, run := range []func(args [][]byte) []byte{
		func(args [][]byte) []byte { return s.Apply(1000, args, nil) },
		func(args [][]byte) []byte { return s.Read(1000, args, nil) },
	} {
		if got := string(run(argv("rkv.exec 0 1 3 set a 1"))); !strings.HasPrefix(got, "-ERR unknown command 'rkv.exec'") {
			t.Fatalf("a client's rkv.exec = %q", got)
		}
	}
}

func TestExecMalformed(t *testing.T) {
	// 1 k 3 1 2 3 set a 1 2 get a
	good := ExecArgs([]WatchMark{{Key: []byte("k"), Seq: 3, Live: true}},
		[][][]byte{argv("set a 1"), argv("get a")})
	set := func(i int, v string) [][]byte {
		b := slices.Clone(good)
		b[i] = []byte(v)
		return b
	}
	for _, args := range [][][]byte{
		good[:0], good[:1], good[:4], good[:5], good[:len(good)-1], append(slices.Clone(good), []byte("extra")),
		set(0, ""), set(0, "-1"), set(0, "x"), set(0, "99"), set(0, "2"), set(0, "4294967296"),
		set(2, ""), set(2, "-1"), set(2, "18446744073709551616"),
		set(3, ""), set(3, "2"), set(3, "true"),
		set(4, "x"), set(4, "1"), set(4, "3"), set(4, "-1"),
		set(5, "0"), set(5, "2"), set(5, "99"),
	} {
		s := New()
		if got := string(s.ApplyOp(OpExec, 0, 1000, args, nil)); got != errs(errBadExec) {
			t.Errorf("%q: got %q", bytes.Join(args, []byte(" ")), got)
		}
		if got := read(s, 1000, "exists a"); got != num(0) {
			t.Errorf("%q ran a command", bytes.Join(args, []byte(" ")))
		}
	}
}

// The same EXEC entries applied to a store and to its restored snapshot
// leave both in the same state: the marks, versions and deletion marks
// WATCH depends on are in the snapshot.
func TestExecDeterministicAcrossRestore(t *testing.T) {
	a := New()
	for i, c := range []string{"set k 1", "set j 2 px 5000", "set gone 1", "del gone", "incr n"} {
		apply(a, int64(1000+i), c)
	}
	marks := []WatchMark{a.Watch(0, 1100, []byte("k")), a.Watch(0, 1100, []byte("j")), a.Watch(0, 1100, []byte("gone"))}
	apply(a, 1200, "set unrelated 1")
	var buf bytes.Buffer
	if _, err := a.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	b := New()
	if err := b.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if a.Digest() != b.Digest() {
		t.Fatal("digests differ after restore")
	}
	entries := []struct {
		stamp int64
		marks []WatchMark
		cmds  []string
		want  string
	}{
		{1300, marks, []string{"incr k", "set j 3 keepttl", "get gone"}, arr(num(2), ok, null)},
		{1400, marks, []string{"incr k"}, aborted},
		{1500, nil, []string{"incr n", "set gone 1 px 10", "incr j"}, arr(num(2), ok, num(4))},
		{1600, []WatchMark{marks[1]}, []string{"del k"}, aborted},
		{7000, nil, []string{"get j", "exists gone", "del k"}, arr(null, num(0), num(1))},
	}
	for i, e := range entries {
		ra, rb := execEntry(a, e.stamp, e.marks, e.cmds...), execEntry(b, e.stamp, e.marks, e.cmds...)
		if ra != e.want || rb != e.want {
			t.Fatalf("entry %d: original %q, restored %q, want %q", i, ra, rb, e.want)
		}
		if a.Digest() != b.Digest() {
			t.Fatalf("entry %d: digests differ", i)
		}
	}
}

// APPEND of nothing changes no byte but is a write Redis signals: a WATCH
// on the key aborts.
func TestExecWatchAppendNothing(t *testing.T) {
	s := New()
	apply(s, 1000, "set k v")
	marks := []WatchMark{s.Watch(0, 1000, []byte("k"))}
	if got := string(s.Apply(1000, [][]byte{[]byte("append"), []byte("k"), {}}, nil)); got != num(1) {
		t.Fatalf("APPEND k \"\" = %q", got)
	}
	if got := execEntry(s, 1000, marks, "set x 1"); got != aborted {
		t.Fatalf("EXEC = %q, want aborted", got)
	}
}
