package integration

import (
	"strconv"
	"strings"
	"testing"
)

// The HyperLogLog family: PFADD, PFCOUNT, PFMERGE and PFDEBUG on the shared
// keys, with bulk adds that promote sparse HLLs to dense, GET and GETRANGE
// of the values (the cached cardinality's bytes included), values carried
// from redis-server to rkv with GET and SET, and corrupted or look-alike
// strings that must get Redis's errors. HLLs are strings, so the final
// state compares their bytes with GET.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "hll", gen: (*diffGen).hllCmd})
}

// diffHLLArities are the HyperLogLog commands and their Redis arities.
var diffHLLArities = []struct {
	name  string
	arity int
}{
	{"pfadd", -2}, {"pfcount", -2}, {"pfmerge", -2}, {"pfdebug", 3}, {"pfselftest", 1},
}

// diffHLLFakes are strings that look like HLLs to varying degrees: a valid
// empty sparse one, a bad encoding, a dense header of the wrong length, a
// sparse one whose opcodes miss registers, a bare magic.
var diffHLLFakes = []string{
	"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff",
	"HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff",
	"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff",
	"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\x00",
	"HYLL\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x40\x10\x90\x7f\x00",
	"HYLL", "HYLL\x01\x00\x00",
}

func (g *diffGen) hllElem() string {
	if g.rng.IntN(3) == 0 {
		return g.val()
	}
	return "e" + strconv.Itoa(g.rng.IntN(3000))
}

func (g *diffGen) hllCmd() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch r := g.rng.IntN(200); {
	case r < 50:
		args := []string{w("PFADD"), g.key()}
		for range g.rng.IntN(6) {
			args = append(args, g.hllElem())
		}
		return exact(args...)
	case r < 62:
		// Enough elements to reach the sparse limit in a few commands.
		args := []string{w("PFADD"), g.key()}
		base := g.rng.IntN(100000)
		for i := range 100 + g.rng.IntN(900) {
			args = append(args, strconv.Itoa(base+i))
		}
		return exact(args...)
	case r < 84:
		return exact(w("PFCOUNT"), g.key())
	case r < 96:
		return exact(append([]string{w("PFCOUNT")}, g.keys(2, 4)...)...)
	case r < 110:
		return exact(append([]string{w("PFMERGE")}, g.keys(1, 4)...)...)
	case r < 128:
		sub := g.pick([]string{"ENCODING", "ENCODING", "DECODE", "DECODE", "TODENSE", "GETREG", "FOO"})
		return exact(w("PFDEBUG"), w(sub), g.key())
	case r < 138:
		return exact(w("GET"), g.key())
	case r < 146:
		return exact(w("GETRANGE"), g.key(), "0", "15")
	case r < 156:
		return g.hllCorrupt()
	case r < 160:
		return exact(w("APPEND"), g.key(), g.pick([]string{"\x00", "\x80", "\x7f\xff", "\x13\x7f\xff"}))
	case r < 168:
		return exact(w("SET"), g.key(), g.pick(diffHLLFakes))
	case r < 174:
		return g.hllCarry()
	case r < 178:
		return exact(w(g.pick([]string{"SET", "LPUSH", "SADD"})), g.key(), g.val())
	case r < 190:
		return exact(w(g.pick([]string{"DEL", "UNLINK"})), g.key())
	default:
		return g.hllWrongArity()
	}
}

// hllCorrupt corrupts a byte of a key (the header, the first opcodes or
// further on), uses the value once, shows it and deletes it. The value
// does not outlive the sequence: when corruption leaves a truncated XZERO
// opcode at the end of a sparse HLL, Redis reads the byte after the string
// as its second byte, which one edit of that opcode may have left non-zero;
// rkv reads zero (see store/hll.go), so chained edits of such a value are
// not compared.
func (g *diffGen) hllCorrupt() diffCmd {
	key := g.key()
	pos := g.pick([]string{"0", "3", "4", "5", "8", "15", "16", "17", "18", "19", "25", "100", "2999", "12303", "12304"})
	b := string([]byte{byte(g.rng.IntN(256))})
	uses := [][]string{{"PFCOUNT", key}, {"PFADD", key, g.hllElem()}, {"PFDEBUG", "DECODE", key},
		{"PFDEBUG", "GETREG", key}, {"PFCOUNT", key, g.key()}, {"PFMERGE", g.key(), key}}
	use := uses[g.rng.IntN(len(uses))]
	seq := [][]string{{"SETRANGE", key, pos, b}, use, {"GET", key}, {"DEL", key}}
	var args []string
	for _, c := range seq {
		args = append(append(args, c...), ";")
	}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		render := func(d diffTarget) string {
			var out []string
			for _, c := range seq {
				v, err := d.do(t, c)
				out = append(out, diffReply(v, err))
			}
			return strings.Join(out, " ")
		}
		a, b := render(rd), render(rk)
		return diffOutcome{a, b, a == b}
	}}
}

// hllCarry copies a value from redis-server to the same key on both
// servers with SET, then counts it on both: an HLL Redis wrote must read
// the same in rkv.
func (g *diffGen) hllCarry() diffCmd {
	from, to := g.key(), g.key()
	args := []string{"GET", from, "(from redis)", "SET", to, "PFCOUNT", to, "PFDEBUG", "ENCODING", to}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		v, err := rd.do(t, []string{"GET", from})
		s, ok := v.(string)
		if err != nil || !ok {
			return diffOutcome{"(no string to carry)", "", true}
		}
		render := func(d diffTarget) string {
			var out []string
			for _, c := range [][]string{{"SET", to, s}, {"PFCOUNT", to}, {"PFDEBUG", "ENCODING", to}} {
				v, err := d.do(t, c)
				out = append(out, diffReply(v, err))
			}
			return strings.Join(out, " ")
		}
		a, b := render(rd), render(rk)
		return diffOutcome{a, b, a == b}
	}}
}

func (g *diffGen) hllWrongArity() diffCmd {
	for {
		a := diffHLLArities[g.rng.IntN(len(diffHLLArities))]
		var n int // total arguments, name included
		switch {
		case a.arity > 1 && g.rng.IntN(2) == 0:
			n = 1 + g.rng.IntN(a.arity-1)
		case a.arity > 0:
			n = a.arity + 1 + g.rng.IntN(2)
		case -a.arity > 1:
			n = 1 + g.rng.IntN(-a.arity-1)
		default:
			continue
		}
		args := []string{g.word(a.name)}
		for len(args) < n {
			args = append(args, g.key())
		}
		return diffCmd{args: args}
	}
}
