package store

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"testing"
)

// getValue is the string value of key, read with GET.
func getValue(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	r := applyArgs(s, 1, "get", key)
	if r[0] != '$' {
		t.Fatalf("GET %s: %q", key, r)
	}
	_, v, _ := bytes.Cut([]byte(r), []byte("\r\n"))
	return v[:len(v)-2]
}

// TestHLLRedisBytes compares with bytes redis-server 7.0.15 wrote for the
// same commands: a sparse HLL before and after PFCOUNT cached its estimate,
// and a dense one.
func TestHLLRedisBytes(t *testing.T) {
	s := New()
	if r := applyArgs(s, 1, "pfadd", "g", "a", "b", "c"); r != num(1) {
		t.Fatalf("PFADD: %q", r)
	}
	if got := hex.EncodeToString(getValue(t, s, "g")); got != "48594c4c01000000000000000000008060f38050b1844bfb80425a" {
		t.Fatalf("sparse bytes %s", got)
	}
	if r := applyArgs(s, 1, "pfcount", "g"); r != num(3) {
		t.Fatalf("PFCOUNT: %q", r)
	}
	if got := hex.EncodeToString(getValue(t, s, "g")); got != "48594c4c01000000030000000000000060f38050b1844bfb80425a" {
		t.Fatalf("cached bytes %s", got)
	}
	args := []string{"pfadd", "d"}
	for i := 1; i <= 5000; i++ {
		args = append(args, strconv.Itoa(i))
	}
	applyArgs(s, 1, args...)
	if r := applyArgs(s, 1, "pfcount", "d"); r != num(4985) {
		t.Fatalf("PFCOUNT dense: %q", r)
	}
	sum := md5.Sum(getValue(t, s, "d"))
	if got := hex.EncodeToString(sum[:]); got != "3bae899aeb887292e9be513d0bfd9035" {
		t.Fatalf("dense bytes md5 %s", got)
	}
}

// TestHLLSparseAgreesWithDense feeds the same elements to a sparse HLL and
// a dense one: the registers and estimates must agree at every step, the
// sparse form must stay within the limit until it is promoted.
func TestHLLSparseAgreesWithDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, limit := range []int{100, 700, hllDefaultSparseMax} {
		sparse := newHLL()
		dense, _ := hllToDense(newHLL())
		for i := range 20000 {
			ele := []byte("x" + strconv.FormatUint(rng.Uint64(), 36))
			var r1, r2 int
			sparse, r1 = hllAdd(sparse, ele, limit)
			dense, r2 = hllAdd(dense, ele, limit)
			if r1 < 0 || r2 < 0 {
				t.Fatalf("limit %d, element %d: corrupt", limit, i)
			}
			if sparse[4] == hllSparse && len(sparse) > limit {
				t.Fatalf("limit %d: sparse HLL of %d bytes", limit, len(sparse))
			}
			if i%97 != 0 {
				continue
			}
			d, ok := hllToDense(sparse)
			if !ok || !bytes.Equal(d[hllHdrSize:], dense[hllHdrSize:]) {
				t.Fatalf("limit %d, element %d: registers differ", limit, i)
			}
			h1, bad1 := hllHisto(sparse)
			h2, _ := hllHisto(dense)
			if bad1 || hllEstimate(&h1) != hllEstimate(&h2) {
				t.Fatalf("limit %d, element %d: estimates differ", limit, i)
			}
		}
		if sparse[4] != hllDense {
			t.Fatalf("limit %d: never promoted", limit)
		}
	}
}

// TestHLLCorruptNeverPanics runs every HLL operation on randomly corrupted
// values, truncated opcodes included.
func TestHLLCorruptNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	for range 3000 {
		b := newHLL()
		for range rng.IntN(300) {
			b, _ = hllAdd(b, []byte(strconv.Itoa(rng.IntN(1e6))), 1000)
		}
		b = bytes.Clone(b)
		for range 1 + rng.IntN(4) {
			b[hllHdrSize+rng.IntN(len(b)-hllHdrSize)] = byte(rng.IntN(256))
		}
		if rng.IntN(3) == 0 {
			b = append(b, byte(0x40+rng.IntN(64)))
		}
		var regs [hllRegisters]uint8
		hllMergeInto(&regs, b)
		hllHisto(b)
		hllToDense(b)
		hllDecode(b)
		for range 5 {
			b, _ = hllSet(b, rng.IntN(hllRegisters), uint8(1+rng.IntN(40)), 1000)
		}
	}
}

// TestHLLTruncatedXZero reads a final XZERO opcode cut to one byte with a
// zero second byte, and splits it keeping the length Redis gives it.
func TestHLLTruncatedXZero(t *testing.T) {
	b := append(newHLL()[:hllHdrSize], 0x40|0x3f, 0xff-1, 0x40) // XZERO 16383, then XZERO cut short
	h, invalid := hllHisto(b)
	if invalid || h[0] != hllRegisters {
		t.Fatalf("histogram %v invalid %v", h[0], invalid)
	}
	got, r := hllSet(bytes.Clone(b), hllRegisters-1, 3, hllDefaultSparseMax)
	// XZERO of 1 splits into VAL alone: one byte where Redis counted two.
	if r != 1 || !bytes.Equal(got[hllHdrSize:], []byte{0x7f, 0xfe}) {
		t.Fatalf("set: %d %x", r, got[hllHdrSize:])
	}
}

func TestHLLCommands(t *testing.T) {
	runScenarios(t, []scenario{
		{"errors", []step{
			{1, "set s foo", ok, false},
			{1, "pfadd s a", errs(errNotHLL), false},
			{1, "pfcount s", errs(errNotHLL), false},
			{1, "pfcount s t", errs(errNotHLL), false},
			{1, "pfmerge d s", errs(errNotHLL), false},
			{1, "lpush l a", num(1), false},
			{1, "pfadd l a", errs(errWrongType), false},
			{1, "pfdebug encoding nokey", errs("ERR The specified key does not exist"), false},
			{1, "pfadd h", num(1), false},
			{1, "pfadd h", num(0), false},
			{1, "pfdebug foo h", errs("ERR Unknown PFDEBUG subcommand 'foo'"), false},
			{1, "pfdebug encoding h", "+sparse\r\n", false},
			{1, "object encoding h", bulk("raw"), true},
			{1, "pfdebug decode h", bulk("Z:16384"), false},
			{1, "pfdebug todense h", num(1), false},
			{1, "pfdebug todense h", num(0), false},
			{1, "pfdebug decode h", errs("ERR HLL encoding is not sparse"), false},
			{1, "append h x", num(hllDenseSize + 1), false},
			{1, "pfcount h", errs(errNotHLL), false},
		}},
		{"corrupt sparse", []step{
			{1, "pfadd h a b c", num(1), false},
			{1, "append h hello", num(32), false},
			{1, "pfcount h", errs(errCorruptHLL), false},
			{1, "pfcount h h", errs(errCorruptHLL), false},
		}},
		{"merge", []step{
			{1, "pfadd a 1 2 3", num(1), false},
			{1, "pfadd b 3 4 5", num(1), false},
			{1, "pfmerge m a b nokey", ok, false},
			{1, "pfcount m", num(5), false},
			{1, "pfcount a b nokey", num(5), false},
			{1, "pfcount nokey", num(0), false},
		}},
	})
}

// TestPFCOUNTReadLeavesCache: a read run (a read-only script) answers
// without storing the estimate; through the log the cache is written.
func TestPFCOUNTReadLeavesCache(t *testing.T) {
	s := New()
	applyArgs(s, 1, "pfadd", "h", "a", "b", "c")
	before := string(getValue(t, s, "h"))
	if r := read(s, 1, "pfcount h"); r != num(3) {
		t.Fatalf("read PFCOUNT: %q", r)
	}
	if after := string(getValue(t, s, "h")); after != before || after[15]&0x80 == 0 {
		t.Fatalf("a read changed the value")
	}
	ver := func() uint64 { it, _ := s.keys.Get(probe([]byte("h"))); return it.ver }
	v0 := ver()
	applyArgs(s, 1, "pfcount", "h")
	if v := getValue(t, s, "h"); v[15]&0x80 != 0 || v[8] != 3 {
		t.Fatalf("cache not written: %x", v[:16])
	}
	// Writing the cache is a change (a WATCH on the key aborts, as
	// Redis's signalModifiedKey makes it); answering from it is not.
	v1 := ver()
	applyArgs(s, 1, "pfcount", "h")
	if v1 == v0 || ver() != v1 {
		t.Fatalf("versions %d %d %d", v0, v1, ver())
	}
}

// TestHLLUnsharedRaw: Redis unshares an existing HLL before PFADD adds to
// it, before PFCOUNT looks at its cache and before PFDEBUG looks at its
// subcommand, so a short one restored or
// SET as embstr is raw afterwards even when nothing in it changed, and
// that alone is not a change of the key.
func TestHLLUnsharedRaw(t *testing.T) {
	s := New()
	applyArgs(s, 1, "pfadd", "src", "a", "b")
	applyArgs(s, 1, "pfcount", "src")
	hll := string(getValue(t, s, "src"))
	ver := func(k string) uint64 { it, _ := s.keys.Get(probe([]byte(k))); return it.ver }
	for _, cmd := range [][]string{{"pfadd", "k", "a"}, {"pfadd", "k"}, {"pfcount", "k"}, {"pfdebug", "encoding", "k"}, {"pfdebug", "nosuch", "k"}} {
		applyArgs(s, 1, "set", "k", hll)
		if r := applyArgs(s, 1, "object", "encoding", "k"); r != "$6\r\nembstr\r\n" {
			t.Fatalf("SET of a short HLL: %q", r)
		}
		v0 := ver("k")
		applyArgs(s, 1, cmd...)
		if r := applyArgs(s, 1, "object", "encoding", "k"); r != "$3\r\nraw\r\n" {
			t.Errorf("%q on an embstr HLL left it %q, want raw", cmd, r)
		}
		if got := string(getValue(t, s, "k")); got != hll || ver("k") != v0 {
			t.Errorf("%q changed the HLL or its version", cmd)
		}
	}
	// A read (a read-only script's PFCOUNT) changes nothing.
	applyArgs(s, 1, "set", "k", hll)
	read(s, 1, "pfcount k")
	if r := applyArgs(s, 1, "object", "encoding", "k"); r != "$6\r\nembstr\r\n" {
		t.Errorf("a read PFCOUNT made the HLL %q", r)
	}
}

// A new HLL is raw whatever its length, as Redis's createHLLObject makes
// it, also when key and value fill their buffer's capacity exactly.
func TestHLLNewIsRaw(t *testing.T) {
	s := New()
	for _, k := range []string{"k1", "key", "a-longer-key-name"} {
		applyArgs(s, 1, "pfadd", k, "0", "e998", "e2320", "  ")
		if r := applyArgs(s, 1, "object", "encoding", k); r != "$3\r\nraw\r\n" {
			t.Errorf("PFADD %s: %q, want raw", k, r)
		}
	}
}
