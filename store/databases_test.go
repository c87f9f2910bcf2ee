package store

import (
	"bytes"
	"testing"
)

// applyIn applies cmd in database db.
func applyIn(s *Store, db int, stamp int64, cmd string) string {
	return string(s.ApplyOp(OpCommand, db, stamp, argv(cmd), nil))
}

func readIn(s *Store, db int, now int64, cmd string) string {
	return string(s.ReadDB(db, now, argv(cmd), nil))
}

func TestDatabasesAreSeparate(t *testing.T) {
	s := New()
	applyIn(s, 0, 1, "set k zero")
	applyIn(s, 3, 1, "set k three")
	applyIn(s, 3, 1, "set only3 x px 100")
	for _, c := range []struct {
		db        int
		cmd, want string
	}{
		{0, "get k", bulk("zero")},
		{3, "get k", bulk("three")},
		{1, "get k", null},
		{0, "dbsize", num(1)},
		{3, "dbsize", num(2)},
		{3, "keys only*", arr(bulk("only3"))},
		{0, "exists only3", num(0)},
	} {
		if got := readIn(s, c.db, 10, c.cmd); got != c.want {
			t.Errorf("db %d %q: got %q, want %q", c.db, c.cmd, got, c.want)
		}
	}
	if got := s.Keyspace(); len(got) != 2 || got[0] != (DBInfo{0, 1, 0}) || got[1] != (DBInfo{3, 2, 1}) {
		t.Errorf("Keyspace: %+v", got)
	}
	if got := s.ExpiredSample(3, 200, 10); len(got) != 1 || string(got[0]) != "only3" {
		t.Errorf("ExpiredSample(3): %q", got)
	}
	if got := s.ExpiredSample(0, 200, 10); len(got) != 0 {
		t.Errorf("ExpiredSample(0): %q", got)
	}
	if got := string(s.ApplyOp(OpExpire, 3, 200, argv("only3"), nil)); got != num(1) {
		t.Errorf("OpExpire in db 3: %q", got)
	}
	if got := applyIn(s, 0, 300, "flushdb"); got != ok {
		t.Fatal(got)
	}
	if readIn(s, 0, 300, "dbsize") != num(0) || readIn(s, 3, 300, "get k") != bulk("three") {
		t.Error("FLUSHDB emptied another database")
	}
	applyIn(s, 0, 300, "set k again")
	applyIn(s, 5, 300, "flushall")
	if s.Len() != 0 {
		t.Errorf("FLUSHALL left %d keys", s.Len())
	}
}

func TestMoveSwapdbCopy(t *testing.T) {
	runScenarios(t, []scenario{
		{"move", []step{
			{1000, "set a 1 px 500", ok, false},
			{1000, "move a 0", errs("ERR source and destination objects are the same"), false},
			{1000, "move a 16", errs("ERR DB index is out of range"), false},
			{1000, "move a x", errs("ERR value is not an integer or out of range"), false},
			{1000, "move nokey 1", num(0), false},
			{1000, "move a 1", num(1), false},
			{1000, "exists a", num(0), true},
			{1000, "select 1", errs("ERR unknown command 'select', with args beginning with: '1' "), true},
		}},
		{"swapdb", []step{
			{1000, "swapdb x 1", errs("ERR invalid first DB index"), false},
			{1000, "swapdb 1 y", errs("ERR invalid second DB index"), false},
			{1000, "swapdb 0 16", errs("ERR DB index is out of range"), false},
			{1000, "swapdb 0 0", ok, false},
			{1000, "set a 1", ok, false},
			{1000, "swapdb 0 2", ok, false},
			{1000, "dbsize", num(0), true},
			{1000, "swapdb 2 0", ok, false},
			{1000, "get a", bulk("1"), true},
		}},
	})
	s := New()
	applyIn(s, 0, 1000, "set a 1 px 500")
	applyIn(s, 0, 1000, "set b 2")
	applyIn(s, 1, 1000, "set b old")
	for _, c := range []struct {
		db        int
		cmd, want string
	}{
		{0, "move a 1", num(1)},
		{1, "pttl a", num(500)},
		{0, "move b 1", num(0)},
		{0, "copy b b db 1", num(0)},
		{0, "copy b b db 1 replace", num(1)},
		{1, "get b", bulk("2")},
		{0, "copy b c db 2", num(1)},
		{1, "swapdb 1 2", ok},
		{1, "mget a b c", arr(null, null, bulk("2"))},
		{2, "pttl a", num(500)},
	} {
		if got := applyIn(s, c.db, 1000, c.cmd); got != c.want {
			t.Fatalf("db %d %q: got %q, want %q", c.db, c.cmd, got, c.want)
		}
	}
}

// A transaction's SELECT moves its later commands to another database,
// and a WATCH mark is judged in its own database.
func TestExecSelectAndWatch(t *testing.T) {
	s := New()
	applyIn(s, 2, 1, "set w 1")
	mark := s.Watch(2, 1, []byte("w"))
	applyIn(s, 0, 2, "set w changed-elsewhere")
	exec := func(marks []WatchMark, cmds ...string) string {
		var argvs [][][]byte
		for _, c := range cmds {
			argvs = append(argvs, argv(c))
		}
		return string(s.ApplyOp(OpExec, 0, 3, ExecArgs(marks, argvs), nil))
	}
	if got := exec([]WatchMark{mark}, "select 4", "set x 1", "select 99"); got != arr(ok, ok, errs("ERR DB index is out of range")) {
		t.Fatalf("EXEC: %q", got)
	}
	if readIn(s, 4, 3, "get x") != bulk("1") || readIn(s, 0, 3, "get x") != null {
		t.Error("SELECT inside EXEC did not move SET to database 4")
	}
	applyIn(s, 2, 4, "set w 2")
	if got := exec([]WatchMark{mark}, "set y 1"); got != "*-1\r\n" {
		t.Errorf("EXEC after a change of the watched key in its database: %q", got)
	}
	mark = s.Watch(4, 5, []byte("x"))
	applyIn(s, 5, 6, "swapdb 4 5")
	if got := exec([]WatchMark{mark}, "set y 1"); got != "*-1\r\n" {
		t.Errorf("EXEC after SWAPDB of the watched database: %q", got)
	}
	// x is in database 5 now: a WATCH of x in 4, where it is missing,
	// aborts when the swap brings it back, as in Redis.
	mark = s.Watch(4, 7, []byte("x"))
	applyIn(s, 0, 8, "swapdb 5 4")
	if got := exec([]WatchMark{mark}, "set y 1"); got != "*-1\r\n" {
		t.Errorf("EXEC after SWAPDB brought the watched key: %q", got)
	}
	mark = s.Watch(0, 9, []byte("x"))
	applyIn(s, 0, 10, "swapdb 4 5")
	if got := exec([]WatchMark{mark}, "set y 1"); got != arr(ok) {
		t.Errorf("EXEC after SWAPDB of other databases: %q", got)
	}
}

// A script's SELECT inside a transaction lasts until the script ends.
func TestExecScriptSelect(t *testing.T) {
	s := New()
	s.SetScriptRunner(func(nowMs int64, exec Exec, args [][]byte, out []byte) []byte {
		exec(argv("select 2"), nil)
		return exec(argv("set k in2"), out)
	})
	reply := string(s.ApplyOp(OpExec, 0, 1, ExecArgs(nil, [][][]byte{argv("eval x 0"), argv("set k in0")}), nil))
	if reply != arr(ok, ok) || readIn(s, 0, 1, "get k") != bulk("in0") || readIn(s, 2, 1, "get k") != bulk("in2") {
		t.Errorf("EXEC %q: database 0 has %q, 2 has %q", reply, readIn(s, 0, 1, "get k"), readIn(s, 2, 1, "get k"))
	}
}

func TestSnapshotKeepsDatabases(t *testing.T) {
	s := New()
	applyIn(s, 0, 1, "set a 0")
	applyIn(s, 7, 1, "set a 7 px 100")
	applyIn(s, 7, 1, "hset h f v")
	applyIn(s, 15, 1, "rpush l x y")
	data := snapshotBytes(t, s)
	r := New()
	if err := r.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != s.Digest() || r.Len() != 4 || r.MemoryBytes() != s.MemoryBytes() {
		t.Fatalf("restored: digest %x vs %x, %d keys", r.Digest(), s.Digest(), r.Len())
	}
	if readIn(r, 7, 50, "get a") != bulk("7") || readIn(r, 15, 50, "lrange l 0 -1") != arr(bulk("x"), bulk("y")) {
		t.Error("restored databases lost their keys")
	}
	moved := New()
	applyIn(moved, 0, 1, "set a 0")
	applyIn(moved, 6, 1, "set a 7 px 100")
	applyIn(moved, 6, 1, "hset h f v")
	applyIn(moved, 15, 1, "rpush l x y")
	if moved.Digest() == s.Digest() {
		t.Error("the digest does not tell databases apart")
	}
}

func TestEventsAndChangesCarryTheDatabase(t *testing.T) {
	s := New()
	s.RecordChanges(true)
	s.ApplyOp(OpConfig, 0, 1, argv("notify-keyspace-events KEA"), nil)
	s.TakeChanges()
	applyIn(s, 0, 1, "set k v")
	s.TakeChanges()
	applyIn(s, 0, 2, "move k 9")
	c := s.TakeChanges()
	if len(c.Keys) != 2 || c.DBs[0] != 0 || c.DBs[1] != 9 {
		t.Errorf("changes of MOVE: %q in %v", c.Keys, c.DBs)
	}
	var got []Event
	for _, e := range c.Events {
		if e.Keyspace {
			got = append(got, e)
		}
	}
	if len(got) != 2 || got[0].Name != "move_from" || got[0].DB != 0 || got[1].Name != "move_to" || got[1].DB != 9 {
		t.Errorf("events of MOVE: %+v", got)
	}
}
