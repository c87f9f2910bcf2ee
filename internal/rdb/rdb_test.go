package rdb

import "testing"

// TestCRC64: Redis's crc64 check value (its crc64.c self-test).
func TestCRC64(t *testing.T) {
	if got := CRC64([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 = %#x", got)
	}
}

// TestLZF: a compressed RDB string (a literal run, then a back reference
// repeating it) decodes.
func TestLZF(t *testing.T) {
	// "abcabcabcabc": 3 literals, then a match of 9 at distance 3.
	in := []byte{2, 'a', 'b', 'c', 7 << 5, 0, 2}
	out, ok := LZFDecompress(in, 12)
	if !ok || string(out) != "abcabcabcabc" {
		t.Fatalf("%q %v", out, ok)
	}
}

// TestSealOpen: a sealed body opens; a flipped byte or a later version
// does not.
func TestSealOpen(t *testing.T) {
	p := Seal(AppendString(nil, []byte("hello")))
	if b, ok := Open(p); !ok || string(b) != "\x05hello" {
		t.Fatalf("%q %v", b, ok)
	}
	q := append([]byte(nil), p...)
	q[1] ^= 1
	if _, ok := Open(q); ok {
		t.Fatal("corrupt payload opened")
	}
	q = append([]byte(nil), p...)
	q[len(q)-10] = Version + 1
	if _, ok := Open(q); ok {
		t.Fatal("later version opened")
	}
}
