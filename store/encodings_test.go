package store

import (
	"bytes"
	"strings"
	"testing"
)

func config(s *Store, pairs ...string) string {
	args := make([][]byte, len(pairs))
	for i, p := range pairs {
		args[i] = []byte(p)
	}
	return string(s.ApplyOp(OpConfig, 0, 1, args, nil))
}

// Values convert at the thresholds in force when they grow, and stay
// converted when the thresholds rise again, as in Redis.
func TestEncodingThresholds(t *testing.T) {
	s := New()
	for _, c := range []struct{ cmd, want string }{
		{"config hash-max-ziplist-entries 2 zset-max-listpack-value 3 set-max-intset-entries 1", ""},
		{"hset h a 1 b 2", num(2)},
		{"object encoding h", bulk("listpack")},
		{"hset h c 3", num(1)},
		{"object encoding h", bulk("hashtable")},
		{"zadd z 1 abc", num(1)},
		{"object encoding z", bulk("listpack")},
		{"zadd z 2 abcd", num(1)},
		{"object encoding z", bulk("skiplist")},
		{"sadd s 1", num(1)},
		{"object encoding s", bulk("intset")},
		{"sadd s 2", num(1)},
		{"object encoding s", bulk("hashtable")},
		{"config hash-max-listpack-entries 512 zset-max-ziplist-value 64", ""},
		{"hdel h c", num(1)},
		{"object encoding h", bulk("hashtable")},
		{"config zset-max-listpack-entries 0", ""},
		{"zadd z0 1 a", num(1)},
		{"object encoding z0", bulk("skiplist")},
	} {
		var got string
		if args := argv(c.cmd); string(args[0]) == "config" {
			var pairs []string
			for _, a := range args[1:] {
				pairs = append(pairs, string(a))
			}
			if got = config(s, pairs...); got != ok {
				t.Fatalf("%s: %q", c.cmd, got)
			}
			continue
		}
		if got = apply(s, 1, c.cmd); got != c.want {
			t.Fatalf("%s: got %q, want %q", c.cmd, got, c.want)
		}
	}
}

// A zset score update never converts, even past a lowered limit.
func TestEncodingScoreUpdateKeepsListpack(t *testing.T) {
	s := New()
	apply(s, 1, "zadd z 1 a 2 b 3 c")
	config(s, "zset-max-listpack-entries", "1")
	if got := apply(s, 1, "zadd z 5 a"); got != num(0) {
		t.Fatal(got)
	}
	if got := apply(s, 1, "object encoding z"); got != bulk("listpack") {
		t.Fatalf("after a score update: %q", got)
	}
}

// A malformed entry changes no setting, whatever came before the bad pair.
func TestEncodingConfigEntryAtomic(t *testing.T) {
	s := New()
	if got := config(s, "hash-max-listpack-entries", "7", "set-max-intset-entries", "x"); got[0] != '-' {
		t.Fatalf("accepted: %q", got)
	}
	if got := config(s, "hash-max-listpack-entries"); got[0] != '-' {
		t.Fatalf("odd pairs accepted: %q", got)
	}
	if v := s.EncodingSettings()["hash-max-listpack-entries"]; v != "512" {
		t.Fatalf("changed to %s", v)
	}
}

func TestCheckEncodingSetting(t *testing.T) {
	for _, c := range []struct{ name, value, canonical, decimal, complaint string }{
		{"HASH-MAX-ZIPLIST-ENTRIES", "5", "hash-max-listpack-entries", "5", ""},
		{"hash-max-listpack-entries", "-1", "", "", "argument must be between 0 and 9223372036854775807 inclusive"},
		{"hash-max-listpack-entries", "05", "", "", "argument couldn't be parsed into an integer"},
		{"hash-max-listpack-value", "1kb", "hash-max-listpack-value", "1024", ""},
		{"hash-max-listpack-value", "", "hash-max-listpack-value", "0", ""},
		{"zset-max-ziplist-value", "-5", "", "", "argument must be a memory value"},
		{"zset-max-ziplist-value", "1.5", "", "", "argument must be a memory value"},
		{"stream-node-max-bytes", "99999999999999999999", "", "", "argument must be between 0 and 9223372036854775807 inclusive"},
		{"list-max-ziplist-size", "-3", "list-max-listpack-size", "-3", ""},
		{"list-compress-depth", "-1", "", "", "argument must be between 0 and 2147483647 inclusive"},
	} {
		canonical, decimal, complaint := CheckEncodingSetting(c.name, c.value)
		if canonical != c.canonical || decimal != c.decimal || complaint != c.complaint {
			t.Errorf("%s %q: got %q %q %q", c.name, c.value, canonical, decimal, complaint)
		}
	}
}

// The settings survive a snapshot and count in the digest; a snapshot of
// the defaults is read back as the defaults.
func TestEncodingSnapshot(t *testing.T) {
	s, other := New(), New()
	apply(s, 1, "set k v")
	apply(other, 1, "set k v")
	config(s, "stream-node-max-entries", "3", "list-max-listpack-size", "-5")
	config(other, "stream-node-max-entries", "4", "list-max-listpack-size", "-5")
	if s.Digest() == other.Digest() {
		t.Fatal("the digest ignores the settings")
	}
	var buf bytes.Buffer
	if _, err := s.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := New()
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != s.Digest() {
		t.Fatal("digests differ after restore")
	}
	got := r.EncodingSettings()
	if got["stream-node-max-entries"] != "3" || got["list-max-ziplist-size"] != "-5" || got["hash-max-listpack-entries"] != "512" {
		t.Fatalf("restored %v", got)
	}
}

// Past 255 bytes an element still fits a listpack when the settings let
// it, as in Redis, and reads, updates and snapshots alike.
func TestEncodingLongListpackElements(t *testing.T) {
	s := New()
	config(s, "hash-max-listpack-value", "1kb", "zset-max-listpack-value", "1kb")
	long, longer := strings.Repeat("v", 300), strings.Repeat("w", 1000)
	for _, c := range [][]string{
		{"hset", "h", long, long, "f", "1"},
		{"hset", "h", long, strings.Repeat("u", 300)},
		{"hset", "h", "f", longer},
		{"zadd", "z", "2", long, "1", longer, "3", "m"},
		{"zadd", "z", "0", long},
		{"zrem", "z", "m"},
	} {
		if got := applyArgs(s, 1, c...); got[0] == '-' {
			t.Fatalf("%v: %q", c[:2], got)
		}
	}
	check := func(s *Store) {
		t.Helper()
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"object", "encoding", "h"}, bulk("listpack")},
			{[]string{"object", "encoding", "z"}, bulk("listpack")},
			{[]string{"hget", "h", long}, bulk(strings.Repeat("u", 300))},
			{[]string{"hget", "h", "f"}, bulk(longer)},
			{[]string{"zrange", "z", "0", "-1"}, arr(bulk(long), bulk(longer))},
		} {
			if got := applyArgs(s, 1, c.args...); got != c.want {
				t.Errorf("%v: got %.60q, want %.60q", c.args, got, c.want)
			}
		}
	}
	check(s)
	var buf bytes.Buffer
	if _, err := s.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := New()
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	check(r)
	if got := applyArgs(s, 1, "hset", "h", "x", strings.Repeat("x", 1025)); got != num(1) {
		t.Fatal(got)
	}
	if got := applyArgs(s, 1, "object", "encoding", "h"); got != bulk("hashtable") {
		t.Fatalf("past the limit: %q", got)
	}
}

// A hash past a lowered hash-max-listpack-entries converts at its next
// write, an update included, as Redis's hashTypeSet checks after either.
func TestEncodingHashUpdateConverts(t *testing.T) {
	s := New()
	apply(s, 1, "hset h a 1 b 2 c 3")
	config(s, "hash-max-listpack-entries", "2")
	if got := apply(s, 1, "object encoding h"); got != bulk("listpack") {
		t.Fatalf("before a write: %q", got)
	}
	if got := apply(s, 1, "hset h a 9"); got != num(0) {
		t.Fatal(got)
	}
	if got := apply(s, 1, "object encoding h"); got != bulk("hashtable") {
		t.Fatalf("after an update: %q", got)
	}
}
