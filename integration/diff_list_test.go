package integration

import (
	"strconv"
	"testing"
)

// The list family: every list command with valid and invalid arguments,
// on the shared keys. Redis specifies every order a list command replies
// with, so all replies are compared exactly, and the state is LRANGE 0 -1.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{
		name:  "list",
		typ:   "list",
		gen:   (*diffGen).list,
		state: diffListState,
	})
}

func diffListState(t *testing.T, d diffTarget, key string) string {
	t.Helper()
	v, err := d.do(t, []string{"LRANGE", key, "0", "-1"})
	return diffReply(v, err)
}

// diffListElems are few, so that LREM, LPOS and LINSERT find matches.
var diffListElems = []string{"a", "b", "c", "1", "2", "", "a b", "x\x00y"}

// diffListIndexes are list positions and bad numbers: in range for short
// lists, for the long ones the generator builds, beyond both, and not
// integers at all.
var diffListIndexes = []string{
	"0", "1", "2", "-1", "-2", "3", "-3", "5", "-5", "100", "-100", "127", "128", "129", "-129",
	"250", "-250", "400", "-400", "1000", "9223372036854775807", "-9223372036854775808",
	"9223372036854775808", "abc", "", "1.5", "+1", " 1", "-0",
}

var diffListCounts = []string{
	"0", "1", "2", "3", "10", "100", "300", "9223372036854775807", "-1", "-9223372036854775808",
	"abc", "", "1.5", "+2",
}

// diffListArities are the list commands and their Redis arities, for the
// wrong-arity cases.
var diffListArities = []struct {
	name  string
	arity int
}{
	{"LPUSH", -3}, {"RPUSH", -3}, {"LPUSHX", -3}, {"RPUSHX", -3}, {"LPOP", -2}, {"RPOP", -2},
	{"LLEN", 2}, {"LRANGE", 4}, {"LINDEX", 3}, {"LSET", 4}, {"LREM", 4}, {"LTRIM", 4},
	{"LINSERT", 5}, {"LPOS", -3}, {"LMOVE", 5}, {"RPOPLPUSH", 3}, {"LMPOP", -4},
}

func (g *diffGen) listElem() string {
	if g.rng.IntN(4) == 0 {
		return g.val()
	}
	return g.pick(diffListElems)
}

func (g *diffGen) listIndex() string {
	if g.rng.IntN(3) == 0 {
		return strconv.Itoa(g.rng.IntN(800) - 400)
	}
	return g.pick(diffListIndexes)
}

// listEnd is LEFT or RIGHT in any case, now and then a bad word.
func (g *diffGen) listEnd() string {
	if g.rng.IntN(15) == 0 {
		return g.pick([]string{"UP", "", "LEFTT", "0"})
	}
	return g.word(g.pick([]string{"LEFT", "RIGHT"}))
}

// listElems returns n elements; a long run of them makes lists of several
// chunks.
func (g *diffGen) listElems() []string {
	n := 1 + g.rng.IntN(4)
	if g.rng.IntN(6) == 0 {
		n = 100 + g.rng.IntN(300)
	}
	out := make([]string, n)
	for i := range out {
		if n > 10 && g.rng.IntN(3) != 0 {
			out[i] = "e" + strconv.Itoa(i)
		} else {
			out[i] = g.listElem()
		}
	}
	return out
}

func (g *diffGen) list() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch r := g.rng.IntN(100); {
	case r < 14:
		name := g.pick([]string{"LPUSH", "RPUSH", "RPUSH"})
		return exact(append([]string{w(name), g.key()}, g.listElems()...)...)
	case r < 18:
		name := g.pick([]string{"LPUSHX", "RPUSHX"})
		return exact(append([]string{w(name), g.key()}, g.listElems()...)...)
	case r < 28:
		args := []string{w(g.pick([]string{"LPOP", "RPOP"})), g.key()}
		if g.rng.IntN(2) == 0 {
			args = append(args, g.pick(diffListCounts))
		}
		if g.rng.IntN(20) == 0 {
			args = append(args, "1") // one argument too many
		}
		return exact(args...)
	case r < 31:
		return exact(w("LLEN"), g.key())
	case r < 41:
		return exact(w("LRANGE"), g.key(), g.listIndex(), g.listIndex())
	case r < 46:
		return exact(w("LINDEX"), g.key(), g.listIndex())
	case r < 50:
		return exact(w("LSET"), g.key(), g.listIndex(), g.listElem())
	case r < 55:
		return exact(w("LREM"), g.key(), g.pick([]string{"0", "1", "2", "-1", "-2", "100", "-9223372036854775808", "abc", ""}), g.listElem())
	case r < 59:
		return exact(w("LTRIM"), g.key(), g.listIndex(), g.listIndex())
	case r < 63:
		where := g.word(g.pick([]string{"BEFORE", "AFTER"}))
		if g.rng.IntN(12) == 0 {
			where = g.pick([]string{"MIDDLE", "", "BEFOR"})
		}
		return exact(w("LINSERT"), g.key(), where, g.listElem(), g.listElem())
	case r < 71:
		return g.lpos()
	case r < 79:
		src, dst := g.key(), g.key()
		if g.rng.IntN(4) == 0 {
			dst = src
		}
		return exact(w("LMOVE"), src, dst, g.listEnd(), g.listEnd())
	case r < 83:
		src, dst := g.key(), g.key()
		if g.rng.IntN(4) == 0 {
			dst = src
		}
		return exact(w("RPOPLPUSH"), src, dst)
	case r < 92:
		return g.lmpop()
	case r < 97:
		return g.blockingPop()
	default:
		return g.listWrongArity()
	}
}

// blockingTimeouts never block for long: a key with nothing to pop costs
// both servers the same few milliseconds and ends in the same null reply.
var blockingTimeouts = []string{"0.001", "0.01", "-1", "abc", "", "1e-3", "inf", "nan", "0.01x"}

// blockingPop is a blocking pop on lists or sorted sets, waiting only
// briefly, with bad timeouts among the good.
func (g *diffGen) blockingPop() diffCmd {
	w := g.word
	timeout := g.pick(blockingTimeouts)
	var args []string
	switch g.rng.IntN(7) {
	case 0:
		args = append(append([]string{w(g.pick([]string{"BLPOP", "BRPOP"}))}, g.keys(1, 3)...), timeout)
	case 1:
		args = []string{w("BRPOPLPUSH"), g.key(), g.key(), timeout}
	case 2:
		args = []string{w("BLMOVE"), g.key(), g.key(), g.listEnd(), g.listEnd(), timeout}
	case 3:
		args = append([]string{w("BLMPOP"), timeout}, g.lmpop().args[1:]...)
	case 4:
		args = append(append([]string{w(g.pick([]string{"BZPOPMIN", "BZPOPMAX"}))}, g.keys(1, 3)...), timeout)
	case 5:
		args = append([]string{w("BZMPOP"), timeout}, g.mpop("ZMPOP", g.zsetEnd).args[1:]...)
	default:
		args = []string{w(g.pick([]string{"BLPOP", "BZPOPMIN"})), g.key()} // too few arguments
	}
	return diffCmd{args: args}
}

func (g *diffGen) lpos() diffCmd {
	args := []string{g.word("LPOS"), g.key(), g.listElem()}
	for range g.rng.IntN(4) {
		switch g.rng.IntN(7) {
		case 0, 1:
			args = append(args, g.word("RANK"), g.pick([]string{
				"1", "2", "3", "-1", "-2", "-3", "100", "-100", "0", "abc", "",
				"9223372036854775807", "-9223372036854775807", "-9223372036854775808",
			}))
		case 2, 3:
			args = append(args, g.word("COUNT"), g.pick([]string{"0", "1", "2", "5", "-1", "abc", "9223372036854775807"}))
		case 4, 5:
			args = append(args, g.word("MAXLEN"), g.pick([]string{"0", "1", "3", "10", "200", "-1", "abc"}))
		default:
			args = append(args, g.pick([]string{"FOO", "RANK", "COUNT", "MAXLEN"}))
		}
	}
	return diffCmd{args: args}
}

func (g *diffGen) lmpop() diffCmd { return g.mpop("LMPOP", g.listEnd) }

// mpop builds LMPOP or ZMPOP (name) of one to three keys, end giving the
// end to pop from, with COUNT and errors.
func (g *diffGen) mpop(name string, end func() string) diffCmd {
	n := 1 + g.rng.IntN(3)
	numkeys := strconv.Itoa(n)
	switch g.rng.IntN(10) {
	case 0:
		numkeys = g.pick([]string{"0", "-1", "abc", "", "9223372036854775807", "4294967297"})
	case 1:
		numkeys = strconv.Itoa(n + 1 + g.rng.IntN(2)) // more keys announced than given
	}
	args := append([]string{g.word(name), numkeys}, g.keys(n, n)...)
	args = append(args, end())
	switch g.rng.IntN(6) {
	case 0, 1:
		args = append(args, g.word("COUNT"), g.pick(diffListCounts))
	case 2:
		args = append(args, g.pick([]string{"COUNT", "FOO"}))
	case 3:
		args = append(args, g.word("COUNT"), "2", g.word("COUNT"), "3")
	}
	return diffCmd{args: args}
}

func (g *diffGen) listWrongArity() diffCmd {
	for {
		a := diffListArities[g.rng.IntN(len(diffListArities))]
		var n int // total arguments, name included
		switch {
		case a.arity > 0 && g.rng.IntN(2) == 0:
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
