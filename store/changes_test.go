package store

import (
	"bytes"
	"slices"
	"testing"
)

// TestTakeChanges: each applied entry reports the keys it wrote or deleted
// (an expired key it met included), FLUSHALL and a restore report the whole
// keyspace, and nothing is recorded while recording is off.
func TestTakeChanges(t *testing.T) {
	s := New()
	apply(s, 1000, "SET a 1")
	if c := s.TakeChanges(); len(c.Keys) != 0 || c.All {
		t.Fatalf("recorded while off: %+v", c)
	}
	s.RecordChanges(true)
	cases := []struct {
		cmd  string
		keys []string
	}{
		{"SET b 2", []string{"b"}},
		{"GET a", nil},
		{"DEL a missing", []string{"a"}},
		{"HSET h f v", []string{"h"}},
		{"HDEL h f", []string{"h"}},
		{"SET t 1 PX 10", []string{"t"}},
		{"LPUSH l x", []string{"l"}},
		{"RENAME b c", []string{"b", "c"}},
	}
	for i, tc := range cases {
		apply(s, 2000+int64(i), tc.cmd)
		c := s.TakeChanges()
		got := slices.Clone(c.Keys)
		slices.Sort(got)
		got = slices.Compact(got)
		if !slices.Equal(got, tc.keys) || c.All || c.Seq != s.seq {
			t.Errorf("%s: changes %q all=%v seq=%d, want %q at seq %d", tc.cmd, got, c.All, c.Seq, tc.keys, s.seq)
		}
	}
	// The key t expired at 2015: the write that meets it deletes it.
	apply(s, 3000, "SET t2 x GET")
	apply(s, 3001, "EXISTS t")
	if c := s.TakeChanges(); !slices.Contains(c.Keys, "t") {
		t.Errorf("the expired key a write deleted is not reported: %q", c.Keys)
	}
	apply(s, 4000, "FLUSHALL")
	if c := s.TakeChanges(); !c.All {
		t.Error("FLUSHALL does not report the whole keyspace")
	}
	var snap bytes.Buffer
	if _, err := s.Snapshot().WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(&snap); err != nil {
		t.Fatal(err)
	}
	if c := s.TakeChanges(); !c.All {
		t.Error("a restore does not report the whole keyspace")
	}
	s.RecordChanges(false)
	apply(s, 5000, "SET z 1")
	if c := s.TakeChanges(); len(c.Keys) != 0 {
		t.Fatalf("recorded after turned off: %q", c.Keys)
	}
}

// TestDirty: Dirty counts the keys each write changed, whether or not
// changes are recorded; a write that leaves the value as it was (SETBIT
// and BITFIELD of the bit it has) counts nothing, as in Redis, and a
// flush counts the keys it removed.
func TestDirty(t *testing.T) {
	s := New()
	cases := []struct {
		cmd  string
		want uint64
	}{
		{"SETBIT foo 0 0", 1},
		{"BITFIELD foo2 SET i5 0 0", 1},
		{"SETBIT foo 0 0", 0},
		{"BITFIELD foo2 SET i5 0 0", 0},
		{"SETBIT foo 0 1", 1},
		{"SETBIT foo 0 1", 0},
		{"BITFIELD foo2 SET i5 0 1", 1},
		{"GET foo", 0},
		{"DEL foo missing", 1},
		{"SET a 1", 1},
		{"FLUSHALL", 2},
	}
	for i, tc := range cases {
		before := s.Dirty()
		apply(s, 1000+int64(i), tc.cmd)
		if got := s.Dirty() - before; got != tc.want {
			t.Errorf("%s: dirty grew by %d, want %d", tc.cmd, got, tc.want)
		}
	}
}
