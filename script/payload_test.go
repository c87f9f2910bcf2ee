package script

import (
	"bytes"
	"testing"
)

// TestCRC64Jones: Redis's crc64 check value (its crc64.c self-test).
func TestCRC64Jones(t *testing.T) {
	if got := crc64Jones([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 = %#x", got)
	}
}

// TestPayloadRoundTrip: a payload rkv writes reads back; a flipped byte, a
// later RDB version and a non-function opcode are refused.
func TestPayloadRoundTrip(t *testing.T) {
	long := "#!lua name=b\n" + string(bytes.Repeat([]byte("-- padding\n"), 2000))
	codes := []string{"#!lua name=a\nredis.register_function('f', function() return 1 end)", long}
	got, err := decodePayload(encodePayload(codes))
	if err != nil || len(got) != 2 || got[0] != codes[0] || got[1] != codes[1] {
		t.Fatalf("round trip: %v %d", err, len(got))
	}
	p := encodePayload(codes)
	p[3] ^= 1
	if _, err := decodePayload(p); err != errBadPayload {
		t.Fatalf("corrupt payload: %v", err)
	}
	p = encodePayload(codes)
	p[len(p)-10] = rdbVersion + 1
	if _, err := decodePayload(p); err != errBadPayload {
		t.Fatalf("later version: %v", err)
	}
}

// TestLZF: a compressed RDB string (a literal run, then a back reference
// repeating it) decodes.
func TestLZF(t *testing.T) {
	// "abcabcabcabc": 3 literals, then a match of 9 at distance 3.
	in := []byte{2, 'a', 'b', 'c', 7 << 5, 0, 2}
	out, ok := lzfDecompress(in, 12)
	if !ok || string(out) != "abcabcabcabc" {
		t.Fatalf("%q %v", out, ok)
	}
}

// TestPayloadMovesBetweenRedisAndRkv: redis-server's FUNCTION DUMP (its
// long library LZF-compressed) restores here, and rkv's dump restores into
// redis-server.
func TestPayloadMovesBetweenRedisAndRkv(t *testing.T) {
	srv := startRedis(t)
	long := "#!lua name=big\nredis.register_function('big', function() return 1 end)\n" +
		string(bytes.Repeat([]byte("-- the same comment again and again\n"), 200))
	small := "#!lua name=small\nredis.register_function('small', function() return 2 end)"
	for _, code := range []string{long, small} {
		srv.do(t, "FUNCTION", "LOAD", code)
	}
	reply := srv.do(t, "FUNCTION", "DUMP")
	// A bulk string: "$<n>\r\n<payload>\r\n".
	payload := reply[bytes.IndexByte(reply, '\n')+1 : len(reply)-2]
	if len(payload) >= len(long) {
		t.Fatalf("redis-server did not compress the long library (%d bytes): the LZF path is untested", len(payload))
	}
	e := New(nil)
	if err := e.FunctionRestore(payload, RestoreAppend); err != nil {
		t.Fatalf("restoring redis-server's dump: %v", err)
	}
	if got := e.SnapshotLibraries(); len(got) != 2 || got[0] != long || got[1] != small {
		t.Fatalf("restored libraries %q", got)
	}
	srv.do(t, "FUNCTION", "FLUSH")
	if got := string(srv.do(t, "FUNCTION", "RESTORE", string(e.FunctionDump()))); got != "+OK\r\n" {
		t.Fatalf("redis-server restoring rkv's dump: %q", got)
	}
	if got := string(srv.do(t, "FCALL", "small", "0")); got != ":2\r\n" {
		t.Fatalf("FCALL after the restore: %q", got)
	}
}
