package integration

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The sorted set family of the differential test, with sets as inputs of
// the ZUNION family. Ranges and ranks are
// compared exactly (Redis specifies the order); ZRANDMEMBER and ZSCAN,
// whose replies are random or unordered, by what they must contain. A lex
// range over a skiplist whose scores differ is left out: Redis's answer
// then depends on its skiplist's random levels (rkv's on its search).

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "zset", typ: "zset", gen: zsetGen, state: zsetState})
}

var zsetMembers = []string{
	"a", "b", "c", "d", "e", "aa", "ab", "", "0", "1", "10", "-1", "m", "é", "b\x00", "\xff",
	strings.Repeat("x", 64), // the longest member a listpack takes
	strings.Repeat("y", 65), // makes a skiplist
}

var zsetScores = []string{
	"1", "2", "3", "0", "-1", "1.5", "-2.5", "10", "0.1", "0.2", "0.3", "3.0e-5", "100", "007",
	"inf", "-inf", "+inf", "1e308", "-1e308", "-0", "0x10", "1e-310", "5e-324", "1e16", "Infinity",
}

var zsetBadScores = []string{"abc", "nan", "", "1e400", "1e-400", "(1", " 1", "1 ", "0x", "1.5.5", "1_0", "-nan"}

var zsetScoreBounds = []string{
	"-inf", "+inf", "inf", "-inf", "+inf", "(1", "1", "(0", "0", "2", "(2", "1.5", "(-1", "-1", "10", "3", "(3",
	"(inf", "(-inf", "1e308", "(", "", " 1", "1e400", "-0", "0x10",
	"abc", "nan", "(nan", "[1", "1 ", "((1",
}

var zsetLexBounds = []string{
	"-", "+", "-", "+", "[a", "(a", "[b", "(b", "[c", "(c", "[aa", "(e", "[z", "[", "(", "[1", "(10", "[\xff", "(b\x00",
	"a", "", "+a", "-a", "[" + strings.Repeat("x", 64),
}

var zsetRanks = []string{
	"0", "1", "2", "3", "-1", "-2", "-3", "5", "-5", "100", "-100", "9223372036854775807",
	"-9223372036854775808", "abc", "", "1.5",
}

var zsetWeights = []string{"1", "2", "0", "-1", "0.5", "inf", "-inf", "1e308", "0.1", "abc", "nan", ""}

func zsetMember(g *diffGen) string {
	if g.rng.IntN(6) == 0 {
		return "m" + strconv.Itoa(g.rng.IntN(20))
	}
	return g.pick(zsetMembers)
}

func zsetScore(g *diffGen) string {
	if g.rng.IntN(25) == 0 {
		return g.pick(zsetBadScores)
	}
	return g.pick(zsetScores)
}

// zsetLimit sometimes appends LIMIT offset count.
func zsetLimit(g *diffGen, args []string) []string {
	if g.rng.IntN(3) != 0 {
		return args
	}
	offs := []string{"0", "1", "2", "-1", "5", "abc"}
	counts := []string{"0", "1", "2", "3", "-1", "-5", "10", "abc"}
	args = append(args, g.word("LIMIT"), g.pick(offs))
	if g.rng.IntN(15) != 0 {
		args = append(args, g.pick(counts)) // else LIMIT lacks its count
	}
	return args
}

func zsetWithScores(g *diffGen, args []string) []string {
	if g.rng.IntN(2) == 0 {
		return append(args, g.word("WITHSCORES"))
	}
	return args
}

// zsetArities are the family's commands and Redis 7.0 arities, for the
// wrong-arity generator.
var zsetArities = []struct {
	name  string
	arity int
}{
	{"zadd", -4}, {"zincrby", 4}, {"zrem", -3}, {"zscore", 3}, {"zmscore", -3}, {"zcard", 2},
	{"zcount", 4}, {"zlexcount", 4}, {"zrange", -4}, {"zrangebyscore", -4}, {"zrevrange", -4},
	{"zrevrangebyscore", -4}, {"zrangebylex", -4}, {"zrevrangebylex", -4}, {"zrank", 3},
	{"zrevrank", 3}, {"zpopmin", -2}, {"zpopmax", -2}, {"zrandmember", -2}, {"zremrangebyrank", 4},
	{"zremrangebyscore", 4}, {"zremrangebylex", 4}, {"zunionstore", -4}, {"zinterstore", -4},
	{"zdiffstore", -4}, {"zunion", -3}, {"zinter", -3}, {"zdiff", -3}, {"zrangestore", -5}, {"zscan", -3},
}

func zsetWrongArity(g *diffGen) diffCmd {
	a := zsetArities[g.rng.IntN(len(zsetArities))]
	var n int
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

func zsetGen(g *diffGen) diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch r := g.rng.IntN(100); {
	case r < 18:
		return zsetAdd(g)
	case r < 21:
		inc := zsetScore(g)
		if g.rng.IntN(20) == 0 {
			inc = g.pick([]string{"nx", "incr", "xx"}) // read as an option
		}
		return exact(w("ZINCRBY"), g.key(), inc, zsetMember(g))
	case r < 25:
		args := []string{w("ZREM"), g.key()}
		for range 1 + g.rng.IntN(3) {
			args = append(args, zsetMember(g))
		}
		return exact(args...)
	case r < 27:
		return exact(w("ZSCORE"), g.key(), zsetMember(g))
	case r < 28:
		args := []string{w("ZMSCORE"), g.key()}
		for range 1 + g.rng.IntN(3) {
			args = append(args, zsetMember(g))
		}
		return exact(args...)
	case r < 30:
		return exact(w("ZCARD"), g.key())
	case r < 32:
		return exact(w("ZCOUNT"), g.key(), g.pick(zsetScoreBounds), g.pick(zsetScoreBounds))
	case r < 34:
		return zsetLexGuard(exact(w("ZLEXCOUNT"), g.key(), g.pick(zsetLexBounds), g.pick(zsetLexBounds)), 1)
	case r < 42:
		return zsetRange(g)
	case r < 46:
		name := g.pick([]string{"ZRANGEBYSCORE", "ZREVRANGEBYSCORE"})
		args := zsetWithScores(g, []string{w(name), g.key(), g.pick(zsetScoreBounds), g.pick(zsetScoreBounds)})
		return exact(zsetLimit(g, args)...)
	case r < 48:
		args := zsetWithScores(g, []string{w("ZREVRANGE"), g.key(), g.pick(zsetRanks), g.pick(zsetRanks)})
		if g.rng.IntN(10) == 0 {
			args = append(args, w(g.pick([]string{"REV", "BYSCORE", "LIMIT", "FOO"})))
		}
		return exact(args...)
	case r < 51:
		name := g.pick([]string{"ZRANGEBYLEX", "ZREVRANGEBYLEX"})
		args := zsetLimit(g, []string{w(name), g.key(), g.pick(zsetLexBounds), g.pick(zsetLexBounds)})
		if g.rng.IntN(10) == 0 {
			args = append(args, w("WITHSCORES"))
		}
		return zsetLexGuard(exact(args...), 1)
	case r < 54:
		return exact(w(g.pick([]string{"ZRANK", "ZREVRANK"})), g.key(), zsetMember(g))
	case r < 58:
		args := []string{w(g.pick([]string{"ZPOPMIN", "ZPOPMAX"})), g.key()}
		switch g.rng.IntN(4) {
		case 0, 1:
			args = append(args, g.pick([]string{"0", "1", "2", "3", "10", "-1", "abc", "200"}))
		case 2:
			if g.rng.IntN(5) == 0 {
				args = append(args, "1", "2")
			}
		}
		return exact(args...)
	case r < 62:
		return zsetRandMember(g)
	case r < 64:
		return exact(w("ZREMRANGEBYRANK"), g.key(), g.pick(zsetRanks), g.pick(zsetRanks))
	case r < 66:
		return exact(w("ZREMRANGEBYSCORE"), g.key(), g.pick(zsetScoreBounds), g.pick(zsetScoreBounds))
	case r < 68:
		return zsetLexGuard(exact(w("ZREMRANGEBYLEX"), g.key(), g.pick(zsetLexBounds), g.pick(zsetLexBounds)), 1)
	case r < 78:
		return zsetSetOp(g)
	case r < 82:
		return zsetRangeStore(g)
	case r < 87:
		return zsetScan(g)
	case r < 91:
		return zsetEncoding(g)
	case r < 93:
		// Sets are inputs of ZUNION, ZINTER and ZDIFF (members score 1);
		// integers make intsets.
		args := []string{w("SADD"), g.key()}
		for range 1 + g.rng.IntN(4) {
			if g.rng.IntN(2) == 0 {
				args = append(args, strconv.Itoa(g.rng.IntN(5)))
			} else {
				args = append(args, zsetMember(g))
			}
		}
		return exact(args...)
	case r < 95:
		return zsetWrongArity(g)
	case r < 97:
		return g.mpop("ZMPOP", g.zsetEnd)
	}
	// A big set, or one past the listpack's entry limit: skiplists, some
	// with a single score so that their lex ranges are compared too.
	n := 120 + g.rng.IntN(15)
	args := []string{w("ZADD"), g.key()}
	score := g.pick([]string{"0", "7"})
	mixed := g.rng.IntN(2) == 0
	for i := range n {
		if mixed && g.rng.IntN(3) == 0 {
			score = g.pick(zsetScores[:14])
		}
		args = append(args, score, fmt.Sprintf("b%03d", i))
	}
	return exact(args...)
}

// zsetEnd is ZMPOP's MIN or MAX, sometimes neither.
func (g *diffGen) zsetEnd() string {
	if g.rng.IntN(15) == 0 {
		return g.pick([]string{"LEFT", "", "MINN", "0"})
	}
	return g.word(g.pick([]string{"MIN", "MAX"}))
}

func zsetAdd(g *diffGen) diffCmd {
	args := []string{g.word("ZADD"), g.key()}
	opts := []string{"NX", "XX", "GT", "LT", "CH", "INCR", "CH", "XX", "GT"}
	for range g.rng.IntN(3) {
		args = append(args, g.word(g.pick(opts)))
	}
	pairs := 1 + g.rng.IntN(4)
	if g.rng.IntN(3) == 0 {
		pairs = 1 // so INCR is often valid
	}
	for range pairs {
		args = append(args, zsetScore(g), zsetMember(g))
	}
	if g.rng.IntN(20) == 0 {
		args = append(args, zsetScore(g)) // odd: syntax error
	}
	return diffCmd{args: args}
}

func zsetRange(g *diffGen) diffCmd {
	args := []string{g.word("ZRANGE"), g.key()}
	var opts []string
	lex := false
	switch g.rng.IntN(3) {
	case 0:
		args = append(args, g.pick(zsetRanks), g.pick(zsetRanks))
	case 1:
		args = append(args, g.pick(zsetScoreBounds), g.pick(zsetScoreBounds))
		opts = append(opts, g.word("BYSCORE"))
	default:
		args = append(args, g.pick(zsetLexBounds), g.pick(zsetLexBounds))
		opts = append(opts, g.word("BYLEX"))
		lex = true
	}
	if g.rng.IntN(2) == 0 {
		opts = append(opts, g.word("REV"))
	}
	if g.rng.IntN(2) == 0 {
		opts = append(opts, g.word("WITHSCORES"))
	}
	opts = zsetLimit(g, opts)
	if g.rng.IntN(12) == 0 {
		opts = append(opts, g.word(g.pick([]string{"BYSCORE", "BYLEX", "REV", "FOO"})))
	}
	if g.rng.IntN(3) == 0 {
		g.rng.Shuffle(len(opts), func(i, j int) { opts[i], opts[j] = opts[j], opts[i] })
	}
	c := diffCmd{args: append(args, opts...)}
	if lex {
		return zsetLexGuard(c, 1)
	}
	return c
}

func zsetRangeStore(g *diffGen) diffCmd {
	args := []string{g.word("ZRANGESTORE"), g.key(), g.key()}
	lex := false
	switch g.rng.IntN(3) {
	case 0:
		args = append(args, g.pick(zsetRanks), g.pick(zsetRanks))
	case 1:
		args = append(args, g.pick(zsetScoreBounds), g.pick(zsetScoreBounds), g.word("BYSCORE"))
	default:
		args = append(args, g.pick(zsetLexBounds), g.pick(zsetLexBounds), g.word("BYLEX"))
		lex = true
	}
	if g.rng.IntN(2) == 0 {
		args = append(args, g.word("REV"))
	}
	args = zsetLimit(g, args)
	if g.rng.IntN(12) == 0 {
		args = append(args, g.word(g.pick([]string{"WITHSCORES", "BYSCORE", "FOO"})))
	}
	c := diffCmd{args: args}
	if lex {
		return zsetLexGuard(c, 2)
	}
	return c
}

func zsetSetOp(g *diffGen) diffCmd {
	name := g.pick([]string{"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZUNION", "ZINTER", "ZDIFF"})
	store := strings.HasSuffix(name, "STORE")
	args := []string{g.word(name)}
	if store {
		args = append(args, g.key())
	}
	n := 1 + g.rng.IntN(3)
	switch g.rng.IntN(20) {
	case 0:
		args = append(args, g.pick([]string{"0", "-1", "abc", "5"}))
	default:
		args = append(args, strconv.Itoa(n))
	}
	for range n {
		args = append(args, g.key())
	}
	if g.rng.IntN(2) == 0 {
		k := n
		if g.rng.IntN(10) == 0 {
			k = n + 1 - 2*g.rng.IntN(2) // too few or too many weights
		}
		args = append(args, g.word("WEIGHTS"))
		for range k {
			args = append(args, g.pick(zsetWeights))
		}
	}
	if g.rng.IntN(2) == 0 {
		args = append(args, g.word("AGGREGATE"), g.word(g.pick([]string{"SUM", "MIN", "MAX", "SUM", "MIN", "MAX", "AVG"})))
	}
	if !store && g.rng.IntN(2) == 0 || g.rng.IntN(15) == 0 {
		args = append(args, g.word("WITHSCORES"))
	}
	if g.rng.IntN(15) == 0 {
		args = append(args, g.word(g.pick([]string{"AGGREGATE", "WEIGHTS", "FOO"})))
	}
	return diffCmd{args: args}
}

// zsetRandMember compares ZRANDMEMBER by what its reply must hold: the
// right number of members of the set, distinct for a positive count, with
// their scores.
func zsetRandMember(g *diffGen) diffCmd {
	args := []string{g.word("ZRANDMEMBER"), g.key()}
	if g.rng.IntN(4) != 0 {
		// No large negative count without WITHSCORES: Redis would try to
		// build a reply that large.
		args = append(args, g.pick([]string{"0", "1", "2", "3", "5", "-1", "-3", "-10", "200",
			"9223372036854775807", "-9223372036854775808", "abc", ""}))
		if g.rng.IntN(2) == 0 {
			args = append(args, g.word("WITHSCORES"))
			if g.rng.IntN(8) == 0 {
				args[2] = g.pick([]string{"-9223372036854775807", "-4611686018427387904", "4611686018427387904"})
			}
		}
		if g.rng.IntN(15) == 0 {
			args = append(args, g.pick([]string{"WITHSCORE", "FOO"}))
		}
	}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		a, b := zsetRandRender(t, rd, args), zsetRandRender(t, rk, args)
		return diffOutcome{a, b, a == b}
	}}
}

func zsetRandRender(t *testing.T, d diffTarget, args []string) string {
	t.Helper()
	v, err := d.do(t, args)
	if err != nil || v == nil {
		return diffReply(v, err)
	}
	if m, ok := v.(string); ok {
		if s := zsetScoreOf(t, d, args[1], m); strings.HasPrefix(s, "(") {
			return s
		}
		return "(a member)"
	}
	arr, ok := v.([]any)
	if !ok {
		return "(unexpected) " + diffReply(v, nil)
	}
	withScores := len(args) == 4
	var members []string
	for i := 0; i < len(arr); i++ {
		m, _ := arr[i].(string)
		s := zsetScoreOf(t, d, args[1], m)
		if withScores {
			i++
			if i >= len(arr) || arr[i] != s {
				return "(score not the member's) " + diffReply(v, nil)
			}
		}
		members = append(members, s+" "+strconv.Quote(m))
	}
	count, _ := strconv.ParseInt(args[2], 10, 64)
	slices.Sort(members)
	if count > 0 {
		if len(slices.Compact(slices.Clone(members))) != len(members) {
			return "(repeated members) " + diffReply(v, nil)
		}
		card, _ := d.do(t, []string{"ZCARD", args[1]})
		if n, _ := card.(int64); count >= n {
			return fmt.Sprintf("the whole set: %q", members)
		}
	}
	return fmt.Sprintf("%d members, all in the set", len(members))
}

// zsetScoreOf returns the member's score on d, or a mark that it is not in
// the set.
func zsetScoreOf(t *testing.T, d diffTarget, key, m string) string {
	t.Helper()
	v, err := d.do(t, []string{"ZSCORE", key, m})
	if s, ok := v.(string); ok && err == nil {
		return s
	}
	return fmt.Sprintf("(%q not a member)", m)
}

// zsetScan runs a ZSCAN from the cursor to its end and compares the
// member-score pairs as sets.
func zsetScan(g *diffGen) diffCmd {
	cursor := "0"
	if g.rng.IntN(10) == 0 {
		cursor = g.pick([]string{"abc", "", " 0", "18446744073709551616", "+0"})
	}
	args := []string{g.word("ZSCAN"), g.key(), cursor}
	for range g.rng.IntN(3) {
		switch g.rng.IntN(6) {
		case 0, 1:
			args = append(args, g.word("MATCH"), g.pick(append([]string{"a*", "?", "b0[0-4]*", "m1*", "*x*"}, diffPatterns...)))
		case 2, 3:
			args = append(args, g.word("COUNT"), g.pick([]string{"1", "2", "5", "10", "1000", "0", "-1", "abc"}))
		case 4:
			args = append(args, g.word("TYPE"), "zset")
		default:
			args = append(args, g.pick([]string{"FOO", "MATCH", "COUNT"}))
		}
	}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		a, b := zsetScanAll(t, rd, args), zsetScanAll(t, rk, args)
		return diffOutcome{a, b, a == b}
	}}
}

func zsetScanAll(t *testing.T, d diffTarget, args []string) string {
	t.Helper()
	seen := map[string]string{}
	if fail := diffScanPages(t, d, args, 2, "zscan", func(items []any) string {
		if len(items)%2 != 0 {
			return "(malformed zscan reply) " + diffReply(items, nil)
		}
		for j := 0; j < len(items); j += 2 {
			m, _ := items[j].(string)
			s, _ := items[j+1].(string)
			if prev, dup := seen[m]; dup && prev != s {
				return fmt.Sprintf("(member %q returned with scores %s and %s)", m, prev, s)
			}
			seen[m] = s
		}
		return ""
	}); fail != "" {
		return fail
	}
	pairs := make([]string, 0, len(seen))
	for m, s := range seen {
		pairs = append(pairs, strconv.Quote(m)+"="+s)
	}
	slices.Sort(pairs)
	return "zscan: [" + strings.Join(pairs, ", ") + "]"
}

// zsetEncoding asks OBJECT ENCODING of a key that is a sorted set or
// missing (the string family covers the encodings of strings).
func zsetEncoding(g *diffGen) diffCmd {
	args := []string{g.word("OBJECT"), g.word("ENCODING"), g.key()}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		if typ, _ := rd.do(t, []string{"TYPE", args[2]}); typ != "zset" && typ != "none" {
			return diffOutcome{"(not run: not a sorted set)", "(not run)", true}
		}
		return diffRun(t, rd, rk, diffCmd{args: args})
	}}
}

// zsetLexGuard runs a command with a lex range on args[keyIdx] unless that
// key is, on Redis, a skiplist whose scores differ: there Redis's answer
// is unspecified, so neither server runs it.
func zsetLexGuard(c diffCmd, keyIdx int) diffCmd {
	args := c.args
	c.custom = func(t *testing.T, rd, rk diffTarget) diffOutcome {
		key := args[keyIdx]
		if enc, _ := rd.do(t, []string{"OBJECT", "ENCODING", key}); enc == "skiplist" && zsetMixedScores(t, rd, key) {
			return diffOutcome{"(not run: lex range over mixed scores)", "(not run)", true}
		}
		return diffRun(t, rd, rk, diffCmd{args: args})
	}
	return c
}

func zsetMixedScores(t *testing.T, d diffTarget, key string) bool {
	t.Helper()
	lo, _ := d.do(t, []string{"ZRANGE", key, "0", "0", "WITHSCORES"})
	hi, _ := d.do(t, []string{"ZRANGE", key, "-1", "-1", "WITHSCORES"})
	a, _ := lo.([]any)
	b, _ := hi.([]any)
	return len(a) != 2 || len(b) != 2 || a[1] != b[1]
}

// zsetState renders a sorted set: its encoding and its members in order
// with their scores.
func zsetState(t *testing.T, d diffTarget, key string) string {
	t.Helper()
	enc, err := d.do(t, []string{"OBJECT", "ENCODING", key})
	v, err2 := d.do(t, []string{"ZRANGE", key, "0", "-1", "WITHSCORES"})
	return diffReply(enc, err) + " " + diffReply(v, err2)
}
