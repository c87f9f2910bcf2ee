package integration

import (
	"fmt"
	"strconv"
	"testing"
)

// The bitmap family: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
// BITFIELD_RO and LCS with valid and invalid arguments, on the shared keys
// (so they meet integers, other types and missing keys), with offsets at
// and past the 512 MB limit (past it only where nothing is allocated).
// After a write, OBJECT ENCODING of its key is compared too: Redis leaves
// it raw whatever the string holds. The final states are the keys' values
// (GET), which the shared state comparison covers.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{
		name: "bitmap",
		gen:  (*diffGen).bitmapCmd,
	})
}

// diffBitmapValues are strings worth reading bits of: integers (Redis's int
// encoding), bytes with every bit set or clear, and runs past one word.
var diffBitmapValues = []string{
	"1234", "0", "-1", "\xff", "\x00", "\xff\xf0\x00", "\x00\x00\x01", "foobar", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80", "ACGTACGT", "ohmytext", "mynewtext", "",
}

// diffBitOffsets are SETBIT's and GETBIT's offsets; the writes leave out
// the largest valid one, which would allocate 512 MB on both servers.
var diffBitOffsets = []string{
	"0", "1", "7", "8", "9", "15", "23", "63", "64", "100", "-1", "abc", "", "1.5", "+1",
	"4294967296", "9223372036854775807", "-9223372036854775808",
}

var diffBitIndexes = []string{
	"0", "1", "2", "-1", "-2", "-3", "5", "7", "8", "15", "100", "-100", "abc", "",
	"9223372036854775807", "-9223372036854775808", "3",
}

var diffBitfieldTypes = []string{"u1", "u8", "i8", "u4", "i5", "i16", "u16", "u31", "i32", "u63", "i64", "i1", "u2"}

var diffBitfieldBadTypes = []string{"u64", "i65", "i0", "u0", "x8", "", "u", "U8", "i-1", "u08", "i8\x00"}

var diffBitfieldOffsets = []string{"0", "1", "3", "7", "8", "13", "#0", "#1", "#3", "100"}

var diffBitfieldBadOffsets = []string{"-1", "#-1", "abc", "#", "", "4294967296", "#9223372036854775807"}

var diffBitfieldValues = []string{
	"0", "1", "-1", "5", "100", "127", "128", "-128", "-129", "255", "256", "-256", "1000000",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808", "abc", "",
}

var diffBitmapArities = []struct {
	name  string
	arity int
}{
	{"setbit", 4}, {"getbit", 3}, {"bitcount", -2}, {"bitpos", -3}, {"bitop", -4},
	{"bitfield", -2}, {"bitfield_ro", -2}, {"lcs", -3},
}

func (g *diffGen) bitmapCmd() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch r := g.rng.IntN(200); {
	case r < 30:
		val := g.pick([]string{"0", "1", "1", "0", "2", "-1", "abc", ""})
		k := g.key()
		return diffWithEncoding(k, w("SETBIT"), k, g.pick(diffBitOffsets), val)
	case r < 42:
		off := g.pick(diffBitOffsets)
		if g.rng.IntN(6) == 0 {
			off = g.pick([]string{"4294967295", "4294967294"})
		}
		return exact(w("GETBIT"), g.key(), off)
	case r < 62:
		return exact(g.bitcountArgs()...)
	case r < 82:
		return exact(g.bitposArgs()...)
	case r < 100:
		op := g.pick([]string{"AND", "OR", "XOR", "NOT", "and", "Not", "FOO", ""})
		args := []string{w("BITOP"), op, g.key()}
		args = append(args, g.keys(1, 3)...)
		return diffWithEncoding(args[2], args...)
	case r < 130:
		args := g.bitfieldArgs("BITFIELD")
		return diffWithEncoding(args[1], args...)
	case r < 140:
		return exact(g.bitfieldArgs("BITFIELD_RO")...)
	case r < 156:
		return exact(g.lcsArgs()...)
	case r < 172:
		v := g.pick(diffBitmapValues)
		if g.rng.IntN(4) == 0 {
			v = g.val()
		}
		return exact(w("SET"), g.key(), v)
	case r < 180:
		k := g.key()
		return diffWithEncoding(k, w("SETRANGE"), k, g.pick([]string{"0", "1", "3", "10"}), g.pick([]string{"1", "x", "", "\xff"}))
	case r < 186:
		return exact(w(g.pick([]string{"DEL", "UNLINK"})), g.key())
	case r < 190:
		return exact(w(g.pick([]string{"LPUSH", "SADD", "HSET"})), g.key(), "f", "v")
	default:
		return g.bitmapWrongArity()
	}
}

func (g *diffGen) bitcountArgs() []string {
	args := []string{g.word("BITCOUNT"), g.key()}
	switch g.rng.IntN(6) {
	case 0:
		return args
	case 1:
		return append(args, g.pick(diffBitIndexes)) // a start alone: syntax error
	case 2, 3:
		return append(args, g.pick(diffBitIndexes), g.pick(diffBitIndexes))
	case 4:
		return append(args, g.pick(diffBitIndexes), g.pick(diffBitIndexes), g.word(g.pick([]string{"BIT", "BYTE", "BIT", "FOO"})))
	}
	return append(args, "0", "-1", g.word("BIT"), "x")
}

func (g *diffGen) bitposArgs() []string {
	bit := g.pick([]string{"0", "1", "0", "1", "2", "-1", "abc"})
	args := []string{g.word("BITPOS"), g.key(), bit}
	n := g.rng.IntN(5)
	for range min(n, 2) {
		args = append(args, g.pick(diffBitIndexes))
	}
	switch n {
	case 3:
		args = append(args, g.word(g.pick([]string{"BIT", "BYTE", "BIT", "FOO"})))
	case 4:
		args = append(args, "0", g.word("BIT"), "x")
	}
	return args
}

func (g *diffGen) bitfieldArgs(name string) []string {
	args := []string{g.word(name), g.key()}
	readOnly := name == "BITFIELD_RO"
	for range g.rng.IntN(4) {
		typ, off := g.pick(diffBitfieldTypes), g.pick(diffBitfieldOffsets)
		if g.rng.IntN(10) == 0 {
			typ = g.pick(diffBitfieldBadTypes)
		}
		if g.rng.IntN(10) == 0 {
			off = g.pick(diffBitfieldBadOffsets)
		}
		switch r := g.rng.IntN(12); {
		case r < 4 || readOnly && r < 10:
			if g.rng.IntN(8) == 0 {
				off = "4294967295" // the last bit: read, never allocated
			}
			args = append(args, g.word("GET"), typ, off)
		case r < 7:
			args = append(args, g.word("SET"), typ, off, g.pick(diffBitfieldValues))
		case r < 10:
			args = append(args, g.word("INCRBY"), typ, off, g.pick(diffBitfieldValues))
		case r < 11:
			args = append(args, g.word("OVERFLOW"), g.word(g.pick([]string{"WRAP", "SAT", "FAIL", "FAIL", "FOO"})))
		default:
			// Truncated or unknown subcommands.
			args = append(args, g.pick([]string{"GET", "SET", "INCRBY", "OVERFLOW", "FOO"}))
			if g.rng.IntN(2) == 0 {
				args = append(args, typ)
			}
		}
	}
	return args
}

func (g *diffGen) lcsArgs() []string {
	args := []string{g.word("LCS"), g.key(), g.key()}
	for range g.rng.IntN(4) {
		switch g.rng.IntN(6) {
		case 0:
			args = append(args, g.word("LEN"))
		case 1, 2:
			args = append(args, g.word("IDX"))
		case 3:
			args = append(args, g.word("WITHMATCHLEN"))
		case 4:
			args = append(args, g.word("MINMATCHLEN"), g.pick([]string{"0", "1", "2", "4", "-1", "abc"}))
		default:
			args = append(args, g.pick([]string{"FOO", "MINMATCHLEN"}))
		}
	}
	return args
}

func (g *diffGen) bitmapWrongArity() diffCmd {
	a := diffBitmapArities[g.rng.IntN(len(diffBitmapArities))]
	var n int // total arguments, name included
	switch {
	case a.arity > 0 && g.rng.IntN(2) == 0:
		n = 1 + g.rng.IntN(a.arity-1)
	case a.arity > 0:
		n = a.arity + 1 + g.rng.IntN(2)
	default:
		n = 1 + g.rng.IntN(-a.arity-1)
	}
	args := []string{g.word(a.name)}
	for len(args) < n {
		args = append(args, g.key())
	}
	return diffCmd{args: args}
}

// diffWithEncoding runs a write, then compares OBJECT ENCODING of the key
// it wrote when Redis made it raw (as a write of these commands does): a
// string's encoding otherwise depends on how it was made, which other
// families compare.
func diffWithEncoding(key string, args ...string) diffCmd {
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		a, b := diffReply(rd.do(t, args)), diffReply(rk.do(t, args))
		encA, errA := rd.do(t, []string{"OBJECT", "ENCODING", key})
		if typ, err := rd.do(t, []string{"TYPE", key}); err == nil && typ == "string" && errA == nil && encA == "raw" {
			encB, errB := rk.do(t, []string{"OBJECT", "ENCODING", key})
			a += fmt.Sprintf(", encoding of %s: %s", strconv.Quote(key), diffReply(encA, errA))
			b += fmt.Sprintf(", encoding of %s: %s", strconv.Quote(key), diffReply(encB, errB))
		}
		return diffOutcome{a, b, a == b}
	}}
}
