package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// fuzzSeedStore holds a key of every kind in each of its encodings, with
// and without TTLs, so that the seeds reach every loader; small, since
// the fuzzer minimizes each new input it finds one byte at a time.
func fuzzSeedStore() *Store {
	s := New()
	for _, cmd := range []string{
		"set s1 v", "set s2 12345 px 5000", "set s3 x", "del s3",
		"hset h1 f v g w", "hset h2 f v",
		"rpush l1 a b c", "lpush l2 z",
		"sadd i1 1 2 3", "sadd i2 70000 -5", "sadd i3 5000000000", "sadd m1 a b",
		"zadd z1 1 a 2 b", "zadd z2 -0.5 x",
		"xadd x1 1-1 f v", "xadd x1 2-1 g w", "xadd x2 5-5 a b", "xdel x2 5-5",
		"expire h1 100",
	} {
		apply(s, 1_000_000, cmd)
	}
	long := strings.Repeat("x", 65) // past the compact encodings' value limit
	apply(s, 1_000_000, "hset hbig f "+long)
	apply(s, 1_000_000, "zadd zbig 1 "+long)
	return s
}

// withChecksum returns b with the CRC-32C trailer a snapshot ends with, so
// that the fuzzer's changes to a body get past the checksum to the checks
// behind it.
func withChecksum(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(bytes.Clone(b), crc32.Checksum(b, castagnoli))
}

// FuzzRestore feeds arbitrary bytes to Restore, which reads snapshots from
// disk and from the leader: it must never panic or allocate what the input
// merely claims, a failure must leave the store as it was, and whatever it
// accepts must behave like a store the commands built.
func FuzzRestore(f *testing.F) {
	full := snapshotBytes(f, fuzzSeedStore())
	f.Add(full)
	f.Add(full[:len(full)-4]) // the body alone: the harness adds the checksum
	f.Add(snapshotBytes(f, New()))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New()
		apply(s, 1, "set keep me")
		before := s.Digest()
		err := s.Restore(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Restore: %v, want ErrCorrupt", err)
			}
			if s.Digest() != before {
				t.Fatal("a failed restore changed the store")
			}
			err = s.Restore(bytes.NewReader(withChecksum(data)))
		}
		if err != nil {
			return
		}
		checkRestored(t, s)
	})
}

// checkRestored checks a store that Restore accepted: its snapshot restores
// to the same state and bytes, every key reads back, and deleting every key
// leaves nothing behind in the indexes and the memory accounting.
func checkRestored(t *testing.T, s *Store) {
	again := snapshotBytes(t, s)
	r := New()
	if err := r.Restore(bytes.NewReader(again)); err != nil {
		t.Fatalf("the snapshot of a restored store does not restore: %v", err)
	}
	if r.Digest() != s.Digest() || !bytes.Equal(snapshotBytes(t, r), again) {
		t.Fatal("restoring a restored store's snapshot changed it")
	}
	var keys [][]byte
	var kinds []kind
	s.keys.Scan(func(it item) bool {
		keys = append(keys, []byte(it.key()))
		kinds = append(kinds, it.kind())
		return true
	})
	reads := map[kind][]string{
		kindString: {"get", "strlen"},
		kindHash:   {"hgetall", "hlen"},
		kindList:   {"llen"},
		kindSet:    {"smembers", "scard"},
		kindZSet:   {"zcard"},
		kindStream: {"xlen"},
	}
	now := s.clock
	for i, k := range keys {
		for _, name := range reads[kinds[i]] {
			checkReply(t, s.Read(now, [][]byte{[]byte(name), k}, nil))
		}
		switch kinds[i] {
		case kindList:
			checkReply(t, s.Read(now, [][]byte{[]byte("lrange"), k, []byte("0"), []byte("-1")}, nil))
		case kindZSet:
			checkReply(t, s.Read(now, [][]byte{[]byte("zrange"), k, []byte("0"), []byte("-1"), []byte("withscores")}, nil))
		case kindStream:
			checkReply(t, s.Read(now, [][]byte{[]byte("xrange"), k, []byte("-"), []byte("+")}, nil))
			checkReply(t, s.Read(now, [][]byte{[]byte("xrevrange"), k, []byte("+"), []byte("-")}, nil))
		}
	}
	for _, k := range keys {
		s.Apply(now, [][]byte{[]byte("del"), k}, nil)
	}
	if s.Len() != 0 || s.ttls.Len() != 0 || s.bytes != 0 || *s.slots != ([NumSlots]uint32{}) {
		t.Fatalf("after deleting every key: %d keys, %d TTLs, %d bytes", s.Len(), s.ttls.Len(), s.bytes)
	}
}

// checkReply fails on an empty or error reply: every
// key the store holds must be readable by its type's commands.
func checkReply(t *testing.T, reply []byte) {
	t.Helper()
	if len(reply) == 0 || reply[0] == '-' {
		t.Fatalf("read of a restored key: %q", reply)
	}
}
