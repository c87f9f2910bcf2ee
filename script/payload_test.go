package script

import (
	"bytes"
	"testing"

	"github.com/rkv/rkv/internal/rdb"
)

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
	p[len(p)-10] = rdb.Version + 1
	if _, err := decodePayload(p); err != errBadPayload {
		t.Fatalf("later version: %v", err)
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
