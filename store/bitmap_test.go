package store

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

const errBitOffsetR = "-" + errBitOffset + "\r\n"

func TestBitCommands(t *testing.T) {
	runScenarios(t, []scenario{
		{"setbit grows and answers the old bit", []step{
			{1, "setbit k 7 1", num(0), false},
			{1, "get k", bulk("\x01"), true},
			{1, "setbit k 7 1", num(1), false},
			{1, "setbit k 17 1", num(0), false},
			{1, "get k", bulk("\x01\x00\x40"), true},
			{1, "getbit k 17", num(1), true},
			{1, "getbit k 18", num(0), true},
			{1, "getbit k 4294967295", num(0), true},
			{1, "object encoding k", bulk("raw"), true},
		}},
		{"setbit errors", []step{
			{1, "setbit k 4294967296 1", errBitOffsetR, false},
			{1, "setbit k -1 1", errBitOffsetR, false},
			{1, "setbit k 0 2", errs(errBitValue), false},
			{1, "setbit k #1 1", errBitOffsetR, false},
			{1, "exists k", num(0), true},
			{1, "lpush l x", num(1), false},
			{1, "setbit l 0 1", errs(errWrongType), false},
			{1, "setbit l x 1", errBitOffsetR, false},
		}},
		{"integers are bits of their digits", []step{
			{1, "set k 1234", ok, false},
			{1, "object encoding k", bulk("int"), true},
			{1, "setbit k 0 0", num(0), false},
			{1, "object encoding k", bulk("raw"), true},
			{1, "bitcount k", num(13), true},
		}},
		{"bitcount ranges", []step{
			{1, "set k foobar", ok, false},
			{1, "bitcount k", num(26), true},
			{1, "bitcount k 1 1", num(6), true},
			{1, "bitcount k -2 -1", num(7), true},
			{1, "bitcount k -1 -2", num(0), true},
			{1, "bitcount k 5 30 bit", num(17), true},
			{1, "bitcount k 1", errSyntaxR, true},
			{1, "bitcount k 0 1 word", errSyntaxR, true},
			{1, "bitcount k a 1", errNotIntR, true},
			{1, "bitcount missing a b", num(0), true},
		}},
		{"bitpos", []step{
			{1, "set k \xff\xf0\x00", ok, false},
			{1, "bitpos k 0", num(12), true},
			{1, "bitpos k 1 1", num(8), true},
			{1, "bitpos k 1 2", num(-1), true},
			{1, "bitpos k 0 0 0", num(-1), true},
			{1, "bitpos k 0 0", num(12), true},
			{1, "bitpos k 1 7 15 bit", num(7), true},
			{1, "bitpos k 0 7 11 bit", num(-1), true},
			{1, "bitpos k 0 7 12 bit", num(12), true},
			{1, "bitpos k 1 12 -1 bit", num(-1), true},
			{1, "set f \xff\xff", ok, false},
			{1, "bitpos f 0", num(16), true},
			{1, "bitpos f 0 0 -1", num(-1), true},
			{1, "bitpos missing 0", num(0), true},
			{1, "bitpos missing 1", num(-1), true},
			{1, "bitpos k 2", errs("ERR The bit argument must be 1 or 0."), true},
			{1, "bitpos k 1 0 1 bit x", errSyntaxR, true},
		}},
		{"bitop", []step{
			{1, "set a \xff\x0f", ok, false},
			{1, "set b \x0f", ok, false},
			{1, "bitop and d a b", num(2), false},
			{1, "get d", bulk("\x0f\x00"), true},
			{1, "bitop or d a b", num(2), false},
			{1, "get d", bulk("\xff\x0f"), true},
			{1, "bitop xor d a b", num(2), false},
			{1, "get d", bulk("\xf0\x0f"), true},
			{1, "bitop not d b", num(1), false},
			{1, "get d", bulk("\xf0"), true},
			{1, "bitop not d a b", errs("ERR BITOP NOT must be called with a single source key."), false},
			{1, "bitop nand d a", errSyntaxR, false},
			{1, "set one 1", ok, false},
			{1, "bitop or d one", num(1), false},
			{1, "object encoding d", bulk("raw"), true},
			{1, "bitop and d missing", num(0), false},
			{1, "exists d", num(0), true},
		}},
		{"bitfield", []step{
			{1, "bitfield k set i8 0 -100 get u8 0 get i4 0", arr(num(0), num(156), num(-7)), false},
			{1, "bitfield k set u4 #1 15 get u8 0", arr(num(12), num(159)), false},
			{1, "bitfield k incrby u2 100 1 overflow sat incrby u2 102 5 overflow fail incrby u2 102 1",
				arr(num(1), num(3), null), false},
			{1, "bitfield k overflow wrap incrby i8 0 100", arr(num(3)), false},
			{1, "bitfield k get u64 0", errs(errBitfieldType), false},
			{1, "bitfield k get i65 0", errs(errBitfieldType), false},
			{1, "bitfield k get u8 #-1", errBitOffsetR, false},
			{1, "bitfield k overflow none get u8 0", errs("ERR Invalid OVERFLOW type specified"), false},
			{1, "bitfield k get u8", errSyntaxR, false},
			{1, "bitfield k set u8 0 x", errNotIntR, false},
			{1, "bitfield_ro k get u8 0", arr(num(3)), true},
			{1, "bitfield_ro k set u8 0 1", errs("ERR BITFIELD_RO only supports the GET subcommand"), true},
			{1, "bitfield missing", arr(), false},
			{1, "exists missing", num(0), true},
		}},
		{"lcs", []step{
			{1, "set a ohmytext", ok, false},
			{1, "set b mynewtext", ok, false},
			{1, "lcs a b", bulk("mytext"), true},
			{1, "lcs a b len", num(6), true},
			{1, "lcs a b idx", arr(bulk("matches"), arr(
				arr(arr(num(4), num(7)), arr(num(5), num(8))),
				arr(arr(num(2), num(3)), arr(num(0), num(1)))), bulk("len"), num(6)), true},
			{1, "lcs a b idx minmatchlen 4 withmatchlen", arr(bulk("matches"), arr(
				arr(arr(num(4), num(7)), arr(num(5), num(8)), num(4))), bulk("len"), num(6)), true},
			{1, "lcs a b len idx", errs("ERR If you want both the length and indexes, please just use IDX."), true},
			{1, "lcs a missing", bulk(""), true},
			{1, "lpush l x", num(1), false},
			{1, "lcs a l", errs("ERR The specified keys must contain string values"), true},
		}},
	})
}

// TestBitfieldOverflow checks the overflow arithmetic against a direct
// computation in big integers for every width, at and around the limits.
func TestBitfieldOverflow(t *testing.T) {
	vals := []int64{0, 1, -1, 2, -2, 63, 64, -64, -65, 127, 128, -128, 255, 1 << 40, -1 << 40, 1<<62 + 5, -1 << 63, 1<<63 - 1}
	for width := 1; width <= 64; width++ {
		lo, hi := int64(-1)<<(width-1), int64(1<<(width-1)-1)
		if width == 64 {
			hi = 1<<63 - 1
		}
		for _, v := range vals {
			if v < lo || v > hi {
				continue
			}
			for _, incr := range vals {
				sum, exact := addExact(v, incr)
				over := !exact || sum < lo || sum > hi
				got, gotOver := signedField(v, incr, width, overflowSat)
				if gotOver != over {
					t.Fatalf("i%d %d+%d: overflow %v, want %v", width, v, incr, gotOver, over)
				}
				if !over && got != sum {
					t.Fatalf("i%d %d+%d = %d", width, v, incr, got)
				}
				if over && (got != lo && got != hi) {
					t.Fatalf("i%d %d+%d saturated to %d", width, v, incr, got)
				}
				wrapped, _ := signedField(v, incr, width, overflowWrap)
				if wrapped < lo || wrapped > hi || uint64(wrapped-(v+incr))<<(64-width) != 0 && width < 64 {
					t.Fatalf("i%d %d+%d wrapped to %d", width, v, incr, wrapped)
				}
			}
		}
	}
	for width := 1; width <= 63; width++ {
		top := uint64(1)<<width - 1
		for _, v := range []uint64{0, 1, top / 2, top - 1, top} {
			for _, incr := range vals {
				got, over := unsignedField(v, incr, width, overflowSat)
				sum := int64(v) + incr // no overflow: v < 2^63 and |incr| small enough or checked below
				wantOver := incr > 0 && uint64(incr) > top-v || incr < 0 && (incr == -1<<63 || uint64(-incr) > v)
				if over != wantOver {
					t.Fatalf("u%d %d+%d: overflow %v, want %v", width, v, incr, over, wantOver)
				}
				if !over && got != uint64(sum) {
					t.Fatalf("u%d %d+%d = %d", width, v, incr, got)
				}
				if over && got != 0 && got != top {
					t.Fatalf("u%d %d+%d saturated to %d", width, v, incr, got)
				}
			}
		}
	}
}

func addExact(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0)
}

// TestBitNoChangeKeepsVersion: Redis signals no change when SETBIT or
// BITFIELD leaves the bits as they were, so a WATCH on the key holds.
func TestBitNoChangeKeepsVersion(t *testing.T) {
	for _, cmd := range []string{"setbit k 0 0", "bitfield k set u4 0 3", "bitfield k overflow fail incrby u4 0 100"} {
		s := New()
		apply(s, 1000, "set k 1")
		marks := []WatchMark{s.Watch(0, 1000, []byte("k"))}
		apply(s, 1000, cmd)
		if got := read(s, 1000, "object encoding k"); got != bulk("raw") {
			t.Fatalf("%s: encoding %q", cmd, got)
		}
		if got := execEntry(s, 1000, marks, "set x 1"); got != arr(ok) {
			t.Fatalf("%s: EXEC = %q, want it run", cmd, got)
		}
		apply(s, 1000, "setbit k 0 1")
		if got := execEntry(s, 1000, []WatchMark{s.Watch(0, 1000, []byte("k"))}, "setbit k 7 1"); got != arr(num(1)) {
			t.Fatalf("%s: EXEC = %q", cmd, got)
		}
	}
}

// TestBitSnapshotIsolation: a bit write never changes the bytes a snapshot
// taken before it holds.
func TestBitSnapshotIsolation(t *testing.T) {
	s := New()
	apply(s, 1, "set k "+strings.Repeat("a", 40))
	snap := s.Snapshot()
	apply(s, 1, "setbit k 0 1")
	apply(s, 1, "bitfield k set u8 8 0")
	var b strings.Builder
	snap.WriteTo(&b)
	r := New()
	if err := r.Restore(strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	if got := read(r, 1, "get k"); got != bulk(strings.Repeat("a", 40)) {
		t.Fatalf("snapshot value %q", got)
	}
	if got := read(s, 1, "get k"); got != bulk("\xe1\x00"+strings.Repeat("a", 38)) {
		t.Fatalf("value %q", got)
	}
}

// TestBitposBitcountModel compares BITPOS and BITCOUNT over random values
// and ranges, in both units, with a bit-by-bit model of Redis's rules.
func TestBitposBitcountModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := New()
	for range 3000 {
		// Long runs of one fill byte with a few others, so that BITPOS
		// skips whole words.
		v := make([]byte, 1+rng.IntN(40))
		fill := [2]byte{0, 0xff}[rng.IntN(2)]
		for i := range v {
			v[i] = fill
			if rng.IntN(10) == 0 {
				v[i] = byte(rng.IntN(256))
			}
		}
		s.Apply(1, [][]byte{[]byte("set"), []byte("k"), v}, nil)
		isBit := rng.IntN(2) == 0
		unit, total := "byte", int64(len(v))
		if isBit {
			unit, total = "bit", total*8
		}
		start, end := rng.Int64N(2*total+4)-total-2, rng.Int64N(2*total+4)-total-2
		bit := rng.IntN(2)
		// The range in bits, as Redis normalizes it.
		lo, hi := start, end
		if lo < 0 {
			lo += total
		}
		if hi < 0 {
			hi += total
		}
		lo, hi = max(lo, 0), min(max(hi, 0), total-1)
		if !isBit {
			lo, hi = lo*8, hi*8+7
		}
		at := func(i int64) int { return int(v[i>>3]>>(7-i&7)) & 1 }
		wantPos, wantCount := int64(-1), int64(0)
		for i := lo; i <= hi; i++ {
			if at(i) == bit && wantPos == -1 {
				wantPos = i
			}
			wantCount += int64(at(i))
		}
		if start < 0 && end < 0 && start > end {
			wantCount = 0
		}
		args := func(cmd ...string) [][]byte {
			var a [][]byte
			for _, c := range cmd {
				a = append(a, []byte(c))
			}
			return a
		}
		st, en := strconv.FormatInt(start, 10), strconv.FormatInt(end, 10)
		if got := string(s.Read(1, args("bitpos", "k", strconv.Itoa(bit), st, en, unit), nil)); got != num(wantPos) {
			t.Fatalf("BITPOS %x %d %s %s %s = %q, want %d", v, bit, st, en, unit, got, wantPos)
		}
		if got := string(s.Read(1, args("bitcount", "k", st, en, unit), nil)); got != num(wantCount) {
			t.Fatalf("BITCOUNT %x %s %s %s = %q, want %d", v, st, en, unit, got, wantCount)
		}
	}
}
