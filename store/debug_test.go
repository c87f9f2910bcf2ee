package store

import (
	"regexp"
	"testing"
)

// TestReloadKeepsState: DEBUG RELOAD's snapshot and restore in place leave
// the digest (every key, value, deadline and version, the clock and seq)
// as it was, and writes go on after it.
func TestReloadKeepsState(t *testing.T) {
	s := New()
	for _, c := range []string{"set a 1 px 100000", "rpush l x y", "hset h f v", "zadd z 1 m", "sadd s 1 x",
		"xadd st 1-1 f v", "xgroup create st g 0", "del a2"} {
		apply(s, 1000, c)
	}
	before := s.Digest()
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if after := s.Digest(); after != before {
		t.Fatalf("digest %x after reload, %x before", after, before)
	}
	if got := apply(s, 2000, "rpush l z"); got != num(3) {
		t.Fatalf("rpush after reload: %q", got)
	}
}

// TestDebugObject: Redis's line, with the encoding and the serialized
// length Redis reports for the same values.
func TestDebugObject(t *testing.T) {
	s := New()
	apply(s, 1000, "rpush l a b c 1 2")
	apply(s, 1000, "set s 12345")
	apply(s, 1000, "set s2 hello")
	for key, want := range map[string]string{
		"l":  `^Value at:0x[0-9a-f]+ refcount:1 encoding:quicklist serializedlength:23 lru:\d+ lru_seconds_idle:\d+ ql_nodes:1 ql_avg_node:5.00 ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:20$`,
		"s":  `^Value at:0x[0-9a-f]+ refcount:1 encoding:int serializedlength:3 lru:\d+ lru_seconds_idle:\d+$`,
		"s2": `^Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:6 lru:\d+ lru_seconds_idle:\d+$`,
	} {
		line, ok := s.DebugObject(0, 1000, []byte(key))
		if !ok || !regexp.MustCompile(want).MatchString(line) {
			t.Errorf("%s: %q", key, line)
		}
	}
	if _, ok := s.DebugObject(0, 1000, []byte("missing")); ok {
		t.Error("a missing key has an object")
	}
}
