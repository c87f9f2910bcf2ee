package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var emptyArr = arr()

// long65 is a member too long for a listpack.
var long65 = strings.Repeat("y", 65)

// bigSetup makes key z a skiplist holding nothing but what the steps after
// it add: a long member converts it, and removing it leaves the encoding.
func bigSetup(key string) []step {
	return []step{
		{1, "zadd " + key + " 0 " + long65, num(1), false},
		{1, "zadd " + key + " 0 dummy", num(1), false},
		{1, "zrem " + key + " " + long65, num(1), false},
		{1, "object encoding " + key, bulk("skiplist"), false},
	}
}

// bothEncodings runs each scenario on a listpack and on a skiplist: the
// steps start from a key z holding just "dummy" with score 0, in either
// encoding.
func bothEncodings(t *testing.T, cases []scenario) {
	t.Helper()
	small := []step{{1, "zadd z 0 dummy", num(1), false}, {1, "object encoding z", bulk("listpack"), false}}
	var all []scenario
	for _, c := range cases {
		all = append(all,
			scenario{c.name + "/listpack", append(append([]step{}, small...), c.steps...)},
			scenario{c.name + "/skiplist", append(bigSetup("z"), c.steps...)})
	}
	runScenarios(t, all)
}

func TestZAdd(t *testing.T) {
	runScenarios(t, []scenario{
		{"add and update", []step{
			{1, "zadd z 1 a 2 b", num(2), false},
			{1, "zadd z 3 a 2 b 4 c", num(1), false},
			{1, "zadd z ch 5 a 2 b 6 d", num(2), false},
			{1, "zrange z 0 -1 withscores", arr(bulk("b"), bulk("2"), bulk("c"), bulk("4"), bulk("a"), bulk("5"), bulk("d"), bulk("6")), false},
			{1, "zadd z 1 x 2 x", num(1), false},
			{1, "zscore z x", bulk("2"), true},
			{1, "type z", "+zset\r\n", true},
			{1, "object encoding z", bulk("listpack"), true},
		}},
		{"nx xx gt lt", []step{
			{1, "zadd z 5 a", num(1), false},
			{1, "zadd z nx 1 a 1 b", num(1), false},
			{1, "zscore z a", bulk("5"), true},
			{1, "zadd z xx ch 6 a 1 c", num(1), false},
			{1, "zscore z c", null, true},
			{1, "zadd z gt ch 4 a 9 b", num(1), false},
			{1, "zadd z lt ch 4 a 9 b", num(1), false},
			{1, "zrange z 0 -1 withscores", arr(bulk("a"), bulk("4"), bulk("b"), bulk("9")), true},
			{1, "zadd z xx gt ch 10 a 11 new", num(1), false},
			{1, "zadd z gt 1 new", num(1), false},
			{1, "zadd nokey xx 1 a", num(0), false},
			{1, "exists nokey", num(0), true},
			{1, "zadd nokey xx incr 1 a", null, false},
		}},
		{"incr", []step{
			{1, "zadd z incr 1.5 a", bulk("1.5"), false},
			{1, "zadd z incr 1 a", bulk("2.5"), false},
			{1, "zadd z nx incr 1 a", null, false},
			{1, "zadd z xx incr 1 b", null, false},
			{1, "zadd z gt incr -1 a", null, false},
			{1, "zadd z lt incr -1 a", bulk("1.5"), false},
			{1, "zadd z incr 0 a", bulk("1.5"), false},
			{1, "zadd z incr inf a", bulk("inf"), false},
			{1, "zadd z incr -inf a", errs(errScoreNaN), false},
			{1, "zscore z a", bulk("inf"), true},
			{1, "zincrby z -inf b", bulk("-inf"), false},
			{1, "zincrby z +inf b", errs(errScoreNaN), false},
			{1, "zincrby z 0.1 c", bulk("0.10000000000000001"), false},
			{1, "zincrby z 0.2 c", bulk("0.30000000000000004"), false},
		}},
		{"errors", []step{
			{1, "set s v", ok, false},
			{1, "zadd s 1 a", wrongType, false},
			{1, "zincrby s 1 a", wrongType, false},
			{1, "zadd z 1", errs("ERR wrong number of arguments for 'zadd' command"), false},
			{1, "zadd z nx 1", errs(errSyntax), false},
			{1, "zadd z 1 a 2", errs(errSyntax), false},
			{1, "zadd z nx xx 1 a", errs("ERR XX and NX options at the same time are not compatible"), false},
			{1, "zadd z gt lt 1 a", errs("ERR GT, LT, and/or NX options at the same time are not compatible"), false},
			{1, "zadd z nx gt 1 a", errs("ERR GT, LT, and/or NX options at the same time are not compatible"), false},
			{1, "zadd z nx lt 1 a", errs("ERR GT, LT, and/or NX options at the same time are not compatible"), false},
			{1, "zadd z incr 1 a 2 b", errs("ERR INCR option supports a single increment-element pair"), false},
			{1, "zadd z 1 a nan b", errs(errNotFloat), false},
			{1, "zadd z 1e400 a", errs(errNotFloat), false},
			{1, "zadd z (1 a", errs(errNotFloat), false},
			{1, "zincrby z abc a", errs(errNotFloat), false},
			{1, "zincrby z nx a", errs(errSyntax), false},
			{1, "zadd z", errs("ERR wrong number of arguments for 'zadd' command"), false},
			{1, "zincrby z 1", errs("ERR wrong number of arguments for 'zincrby' command"), false},
			{1, "exists z", num(0), true},
			{1, "zadd z ch incr xx gt 1 a", null, false},
			{1, "zadd z 1 nx", num(1), false},
			{1, "zrange z 0 -1", arr(bulk("nx")), true},
		}},
		{"scores", []step{
			{1, "zadd z 0x10 a 1e308 b -inf c +inf d 5e-324 e 1e-310 f 1e16 g 123456789012345678 h", num(8), false},
			{1, "zrange z 0 -1 withscores", arr(bulk("c"), bulk("-inf"), bulk("e"), bulk("4.9406564584124654e-324"),
				bulk("f"), bulk("9.9999999999999694e-311"), bulk("a"), bulk("16"), bulk("g"), bulk("10000000000000000"),
				bulk("h"), bulk("1.2345678901234568e+17"), bulk("b"), bulk("1e+308"), bulk("d"), bulk("inf")), true},
		}},
		{"encoding: 128 members stay a listpack, 129 do not", []step{
			{1, "zadd z " + zpairs(128, "m"), num(128), false},
			{1, "object encoding z", bulk("listpack"), true},
			{1, "zadd z 1 m0", num(0), false},
			{1, "object encoding z", bulk("listpack"), true},
			{1, "zadd z 1 extra", num(1), false},
			{1, "object encoding z", bulk("skiplist"), true},
			{1, "zrem z extra m0 m1", num(3), false},
			{1, "object encoding z", bulk("skiplist"), true},
			{1, "zcard z", num(126), true},
		}},
		{"encoding: a 65-byte member makes a skiplist, 64 bytes do not", []step{
			{1, "zadd z 1 " + long65[:64], num(1), false},
			{1, "object encoding z", bulk("listpack"), true},
			{1, "zadd z 1 " + long65, num(1), false},
			{1, "object encoding z", bulk("skiplist"), true},
			{1, "zadd first 1 " + long65 + " 2 a", num(2), false},
			{1, "zrem first " + long65, num(1), false},
			{1, "object encoding first", bulk("skiplist"), true},
			{1, "zincrby inc 1 " + long65, bulk("1"), false},
			{1, "object encoding inc", bulk("skiplist"), true},
		}},
		{"-0: a listpack stores 0, a skiplist -0", []step{
			{1, "zadd z -0 a", num(1), false},
			{1, "zscore z a", bulk("0"), true},
			{1, "zadd big -0 " + long65 + " -0 a", num(2), false},
			{1, "zscore big a", bulk("-0"), true},
			{1, "zadd big 0 a", num(0), false},
			{1, "zscore big a", bulk("-0"), true},
			{1, "zrange big 0 -1 withscores", arr(bulk("a"), bulk("-0"), bulk(long65), bulk("-0")), true},
		}},
	})
}

// zpairs lists n score-member pairs: score i, member prefix+i.
func zpairs(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%d %s%d ", i, prefix, i)
	}
	return strings.TrimSpace(b.String())
}

func TestZReads(t *testing.T) {
	bothEncodings(t, []scenario{
		{"score rank card", []step{
			{1, "zadd z 1 a 2 b 3 c", num(3), false},
			{1, "zcard z", num(4), true},
			{1, "zscore z b", bulk("2"), true},
			{1, "zscore z nope", null, true},
			{1, "zmscore z a nope c", arr(bulk("1"), null, bulk("3")), true},
			{1, "zrank z dummy", num(0), true},
			{1, "zrank z c", num(3), true},
			{1, "zrevrank z c", num(0), true},
			{1, "zrevrank z dummy", num(3), true},
			{1, "zrank z nope", null, true},
			{1, "zadd z 2 aa", num(1), false},
			{1, "zrank z aa", num(2), true},
			{1, "zrank z b", num(3), true},
		}},
		{"count", []step{
			{1, "zadd z 1 a 2 b 3 c", num(3), false},
			{1, "zcount z -inf +inf", num(4), true},
			{1, "zcount z (0 3", num(3), true},
			{1, "zcount z (1 (3", num(1), true},
			{1, "zcount z 3 1", num(0), true},
			{1, "zcount z (2 (2", num(0), true},
			{1, "zcount z 2 2", num(1), true},
			{1, "zcount z 4 +inf", num(0), true},
			{1, "zcount z abc 1", errs(errMinMax), true},
			{1, "zcount z (nan 1", errs(errMinMax), true},
			{1, "zcount z [1 2", errs(errMinMax), true},
		}},
		{"ranges by rank", []step{
			{1, "zadd z 1 a 2 b 3 c", num(3), false},
			{1, "zrange z 1 2", arr(bulk("a"), bulk("b")), true},
			{1, "zrange z -2 -1 withscores", arr(bulk("b"), bulk("2"), bulk("c"), bulk("3")), true},
			{1, "zrange z -100 100", arr(bulk("dummy"), bulk("a"), bulk("b"), bulk("c")), true},
			{1, "zrange z 3 1", emptyArr, true},
			{1, "zrange z 4 10", emptyArr, true},
			{1, "zrange z 0 1 rev", arr(bulk("c"), bulk("b")), true},
			{1, "zrevrange z 1 -1", arr(bulk("b"), bulk("a"), bulk("dummy")), true},
			{1, "zrevrange z 0 0 withscores", arr(bulk("c"), bulk("3")), true},
			{1, "zrange z 0 -1 limit 0 -1", arr(bulk("dummy"), bulk("a"), bulk("b"), bulk("c")), true},
			{1, "zrange z 0 -1 limit 0 1", errs(errLimitRange), true},
			{1, "zrange z a 1", errs(errNotInt), true},
			{1, "zrevrange z 0 1 rev", errs(errSyntax), true},
			{1, "zrange z 0 1 foo", errs(errSyntax), true},
			{1, "zrange z 0 -1 -9223372036854775808 9223372036854775807", errs(errSyntax), true},
			{1, "zrange z -9223372036854775808 9223372036854775807", arr(bulk("dummy"), bulk("a"), bulk("b"), bulk("c")), true},
		}},
		{"ranges by score", []step{
			{1, "zadd z 1 a 2 b 3 c", num(3), false},
			{1, "zrangebyscore z (0 3", arr(bulk("a"), bulk("b"), bulk("c")), true},
			{1, "zrangebyscore z -inf (2 withscores", arr(bulk("dummy"), bulk("0"), bulk("a"), bulk("1")), true},
			{1, "zrange z (1 +inf byscore", arr(bulk("b"), bulk("c")), true},
			{1, "zrange z +inf (1 byscore rev", arr(bulk("c"), bulk("b")), true},
			{1, "zrevrangebyscore z 2 -inf", arr(bulk("b"), bulk("a"), bulk("dummy")), true},
			{1, "zrevrangebyscore z -inf 2", emptyArr, true},
			{1, "zrangebyscore z -inf +inf limit 1 2", arr(bulk("a"), bulk("b")), true},
			{1, "zrangebyscore z -inf +inf limit 1 -1", arr(bulk("a"), bulk("b"), bulk("c")), true},
			{1, "zrangebyscore z -inf +inf limit -1 2", emptyArr, true},
			{1, "zrangebyscore z -inf +inf limit 4 2", emptyArr, true},
			{1, "zrangebyscore z -inf +inf limit 0 0", emptyArr, true},
			{1, "zrangebyscore z 1 2 limit 1 5", arr(bulk("b")), true},
			{1, "zrevrangebyscore z +inf -inf limit 1 2 withscores", arr(bulk("b"), bulk("2"), bulk("a"), bulk("1")), true},
			{1, "zrangebyscore z (3 +inf", emptyArr, true},
			{1, "zrangebyscore z 1 x", errs(errMinMax), true},
			{1, "zrangebyscore z 1 2 limit 1", errs(errSyntax), true},
			{1, "zrangebyscore z 1 2 limit x 1", errs(errNotInt), true},
			{1, "zrangebyscore z 1 2 byscore", errs(errSyntax), true},
			{1, "zrangebyscore z 1 2 rev", errs(errSyntax), true},
		}},
		{"ranges by lex", []step{
			{1, "zadd z 0 a 0 b 0 c 0 e", num(4), false},
			{1, "zrangebylex z - +", arr(bulk("a"), bulk("b"), bulk("c"), bulk("dummy"), bulk("e")), true},
			{1, "zrangebylex z [b (e", arr(bulk("b"), bulk("c"), bulk("dummy")), true},
			{1, "zrangebylex z (b [c", arr(bulk("c")), true},
			{1, "zrangebylex z - + limit 1 2", arr(bulk("b"), bulk("c")), true},
			{1, "zrangebylex z - + limit -1 2", emptyArr, true},
			{1, "zrevrangebylex z + [c", arr(bulk("e"), bulk("dummy"), bulk("c")), true},
			{1, "zrevrangebylex z (d - limit 0 2", arr(bulk("c"), bulk("b")), true},
			{1, "zrange z [b [c bylex", arr(bulk("b"), bulk("c")), true},
			{1, "zrange z [c [b bylex rev", arr(bulk("c"), bulk("b")), true},
			{1, "zrangebylex z [c [b", emptyArr, true},
			{1, "zrangebylex z (c (c", emptyArr, true},
			{1, "zrangebylex z + -", emptyArr, true},
			{1, "zrangebylex z - -", emptyArr, true},
			{1, "zrangebylex z [f +", emptyArr, true},
			{1, "zlexcount z - +", num(5), true},
			{1, "zlexcount z (a [c", num(2), true},
			{1, "zlexcount z [z +", num(0), true},
			{1, "zrangebylex z a +", errs(errLexRange), true},
			{1, "zrangebylex z - +a", errs(errLexRange), true},
			{1, "zlexcount z [a b", errs(errLexRange), true},
			{1, "zrangebylex z - + withscores", errs(errLexScores), true},
			{1, "zrange z - + bylex withscores", errs(errLexScores), true},
			{1, "zrange z - + bylex byscore", errs(errSyntax), true},
		}},
		{"wrong type and missing key", []step{
			{1, "set s v", ok, false},
			{1, "zcard s", wrongType, true},
			{1, "zscore s a", wrongType, true},
			{1, "zmscore s a", wrongType, true},
			{1, "zrank s a", wrongType, true},
			{1, "zcount s 0 1", wrongType, true},
			{1, "zcount s x 1", errs(errMinMax), true},
			{1, "zlexcount s - +", wrongType, true},
			{1, "zrange s 0 1", wrongType, true},
			{1, "zrange s x 1", errs(errNotInt), true},
			{1, "zrangebylex s - +", wrongType, true},
			{1, "zcard nokey", num(0), true},
			{1, "zscore nokey a", null, true},
			{1, "zmscore nokey a b", arr(null, null), true},
			{1, "zrank nokey a", null, true},
			{1, "zcount nokey 0 1", num(0), true},
			{1, "zlexcount nokey - +", num(0), true},
			{1, "zrange nokey 0 1", emptyArr, true},
			{1, "zrangebyscore nokey 0 1 withscores", emptyArr, true},
			{1, "zrank z a withscore", errs("ERR wrong number of arguments for 'zrank' command"), true},
		}},
	})
}

// A lex range over a listpack whose scores differ gives what Redis's
// listpack walk gives.
func TestZLexMixedScores(t *testing.T) {
	runScenarios(t, []scenario{{"listpack", []step{
		{1, "zadd k 1 b 2 a 3 c", num(3), false},
		{1, "zrangebylex k [a [a", emptyArr, true},
		{1, "zrangebylex k [a [c", arr(bulk("b"), bulk("a"), bulk("c")), true},
		{1, "zrangebylex k [b +", arr(bulk("b"), bulk("a"), bulk("c")), true},
		{1, "zrevrangebylex k + [a", arr(bulk("c"), bulk("a"), bulk("b")), true},
		{1, "zrevrangebylex k [b -", arr(bulk("a"), bulk("b")), true},
		{1, "zlexcount k [b [c", num(3), true},
		{1, "zremrangebylex k [c [c", num(1), false},
		{1, "zrange k 0 -1", arr(bulk("b"), bulk("a")), true},
	}}})
}

func TestZWrites(t *testing.T) {
	bothEncodings(t, []scenario{
		{"zrem", []step{
			{1, "zadd z 1 a 2 b", num(2), false},
			{1, "zrem z a nope a", num(1), false},
			{1, "zrem z nope", num(0), false},
			{1, "zrem z b dummy", num(2), false},
			{1, "exists z", num(0), true},
			{1, "zrem z a", num(0), false},
		}},
		{"zremrangebyrank", []step{
			{1, "zadd z 1 a 2 b 3 c", num(3), false},
			{1, "zremrangebyrank z 5 10", num(0), false},
			{1, "zremrangebyrank z 2 1", num(0), false},
			{1, "zremrangebyrank z -2 -1", num(2), false},
			{1, "zrange z 0 -1", arr(bulk("dummy"), bulk("a")), true},
			{1, "zremrangebyrank z 0 100", num(2), false},
			{1, "exists z", num(0), true},
			{1, "zremrangebyrank z x 1", errs(errNotInt), false},
		}},
		{"zremrangebyscore", []step{
			{1, "zadd z 1 a 2 b 3 c", num(3), false},
			{1, "zremrangebyscore z (1 (3", num(1), false},
			{1, "zremrangebyscore z 5 +inf", num(0), false},
			{1, "zremrangebyscore z -inf 1", num(2), false},
			{1, "zrange z 0 -1", arr(bulk("c")), true},
			{1, "zremrangebyscore z x 1", errs(errMinMax), false},
		}},
		{"zremrangebylex", []step{
			{1, "zadd z 0 a 0 b 0 c", num(3), false},
			{1, "zremrangebylex z (a [c", num(2), false},
			{1, "zrange z 0 -1", arr(bulk("a"), bulk("dummy")), true},
			{1, "zremrangebylex z - +", num(2), false},
			{1, "exists z", num(0), true},
			{1, "zremrangebylex z a b", errs(errLexRange), false},
		}},
		{"zpop", []step{
			{1, "zadd z 1 a 2 b 3 c", num(3), false},
			{1, "zpopmin z", arr(bulk("dummy"), bulk("0")), false},
			{1, "zpopmax z 2", arr(bulk("c"), bulk("3"), bulk("b"), bulk("2")), false},
			{1, "zpopmin z 0", emptyArr, false},
			{1, "zpopmax z 10", arr(bulk("a"), bulk("1")), false},
			{1, "exists z", num(0), true},
			{1, "zpopmin z", emptyArr, false},
			{1, "zpopmin z -1", errs(errPositive), false},
			{1, "zpopmin z x", errs(errPositive), false},
			{1, "zpopmin z 1 2", errs(errSyntax), false},
		}},
		{"wrong type", []step{
			{1, "set s v", ok, false},
			{1, "zrem s a", wrongType, false},
			{1, "zremrangebyrank s 0 1", wrongType, false},
			{1, "zremrangebyscore s 0 1", wrongType, false},
			{1, "zremrangebylex s - +", wrongType, false},
			{1, "zpopmin s", wrongType, false},
			{1, "zpopmax s 0", wrongType, false},
			{1, "zpopmax s -1", errs(errPositive), false},
			{1, "get s", bulk("v"), true},
		}},
	})
}

func TestZSetOps(t *testing.T) {
	runScenarios(t, []scenario{
		{"union", []step{
			{1, "zadd a 1 x 2 y", num(2), false},
			{1, "zadd b 10 y 20 z", num(2), false},
			{1, "zunion 2 a b withscores", arr(bulk("x"), bulk("1"), bulk("y"), bulk("12"), bulk("z"), bulk("20")), true},
			{1, "zunion 2 a b weights 2 -1", arr(bulk("z"), bulk("y"), bulk("x")), true},
			{1, "zunion 3 a b nokey aggregate min withscores", arr(bulk("x"), bulk("1"), bulk("y"), bulk("2"), bulk("z"), bulk("20")), true},
			{1, "zunion 2 a b aggregate max withscores", arr(bulk("x"), bulk("1"), bulk("y"), bulk("10"), bulk("z"), bulk("20")), true},
			{1, "zunionstore d 2 a b", num(3), false},
			{1, "object encoding d", bulk("listpack"), true},
			{1, "zrange d 0 -1 withscores", arr(bulk("x"), bulk("1"), bulk("y"), bulk("12"), bulk("z"), bulk("20")), true},
		}},
		{"inter and diff", []step{
			{1, "zadd a 1 x 2 y 3 w", num(3), false},
			{1, "zadd b 10 y 20 z 30 w", num(3), false},
			{1, "zinter 2 a b withscores", arr(bulk("y"), bulk("12"), bulk("w"), bulk("33")), true},
			{1, "zinter 2 a b weights 1 0 aggregate max withscores", arr(bulk("y"), bulk("2"), bulk("w"), bulk("3")), true},
			{1, "zinter 2 a nokey", emptyArr, true},
			{1, "zdiff 2 a b withscores", arr(bulk("x"), bulk("1")), true},
			{1, "zdiff 1 a", arr(bulk("x"), bulk("y"), bulk("w")), true},
			{1, "zdiff 2 a a", emptyArr, true},
			{1, "zinterstore d 2 a b aggregate min", num(2), false},
			{1, "zrange d 0 -1 withscores", arr(bulk("y"), bulk("2"), bulk("w"), bulk("3")), true},
			{1, "zdiffstore d 2 a b", num(1), false},
			{1, "zrange d 0 -1", arr(bulk("x")), true},
		}},
		{"infinities", []step{
			{1, "zadd a inf x 0 y", num(2), false},
			{1, "zadd b -inf x 1 y", num(2), false},
			{1, "zunion 2 a b withscores", arr(bulk("x"), bulk("0"), bulk("y"), bulk("1")), true},
			{1, "zinter 2 a b weights 0 1 withscores", arr(bulk("x"), bulk("-inf"), bulk("y"), bulk("1")), true},
			{1, "zunion 1 a weights 0 withscores", arr(bulk("x"), bulk("0"), bulk("y"), bulk("0")), true},
			{1, "zinter 2 a b weights 1 0 aggregate min withscores", arr(bulk("y"), bulk("0"), bulk("x"), bulk("inf")), true},
		}},
		{"sums in Redis's order: smallest input first, ties as given", []step{
			{1, "zadd a 0.1 x", num(1), false},
			{1, "zadd b 0.2 x", num(1), false},
			{1, "zadd c 0.3 x 1 y", num(2), false},
			{1, "zunion 3 a b c withscores", arr(bulk("x"), bulk("0.60000000000000009"), bulk("y"), bulk("1")), true},
			{1, "zunion 3 b c a withscores", arr(bulk("x"), bulk("0.60000000000000009"), bulk("y"), bulk("1")), true},
			{1, "zadd d 0.3 x", num(1), false},
			{1, "zunion 3 d b a withscores", arr(bulk("x"), bulk("0.59999999999999998")), true},
		}},
		{"store replaces any type and its ttl, an empty result deletes", []step{
			{1, "zadd a 1 x", num(1), false},
			{1, "set d v ex 100", ok, false},
			{1, "zunionstore d 1 a", num(1), false},
			{1, "ttl d", num(-1), true},
			{1, "type d", "+zset\r\n", true},
			{1, "zinterstore d 2 a nokey", num(0), false},
			{1, "exists d", num(0), true},
			{1, "zunionstore a 2 a a", num(1), false},
			{1, "zscore a x", bulk("2"), true},
		}},
		{"errors", []step{
			{1, "zadd a 1 x", num(1), false},
			{1, "set s v", ok, false},
			{1, "zunion 2 a s", wrongType, true},
			{1, "zunion 2 s a foo", wrongType, true},
			{1, "zunionstore d 0 a", errs("ERR at least 1 input key is needed for 'zunionstore' command"), false},
			{1, "zinter -1 a", errs("ERR at least 1 input key is needed for 'zinter' command"), true},
			{1, "zdiff x a", errs(errNotInt), true},
			{1, "zdiff 2 a", errs(errSyntax), true},
			{1, "zunion 1 a weights", errs(errSyntax), true},
			{1, "zunion 1 a weights x", errs(errWeight), true},
			{1, "zunion 1 a weights nan", errs(errWeight), true},
			{1, "zunion 1 a aggregate avg", errs(errSyntax), true},
			{1, "zunion 1 a aggregate", errs(errSyntax), true},
			{1, "zdiff 1 a weights 1", errs(errSyntax), true},
			{1, "zdiff 1 a aggregate sum", errs(errSyntax), true},
			{1, "zunionstore d 1 a withscores", errs(errSyntax), false},
			{1, "zunion 1 a withscores withscores", arr(bulk("x"), bulk("1")), true},
			{1, "exists d", num(0), true},
		}},
		{"store encodings", []step{
			{1, "zadd big " + zpairs(129, "m"), num(129), false},
			{1, "zadd one 1 " + long65, num(1), false},
			{1, "zunionstore d 1 big", num(129), false},
			{1, "object encoding d", bulk("skiplist"), true},
			{1, "zinterstore d 2 big big", num(129), false},
			{1, "zdiffstore d 1 one", num(1), false},
			{1, "object encoding d", bulk("skiplist"), true},
			{1, "zadd one 1 a", num(1), false},
			{1, "zrem one " + long65, num(1), false},
			{1, "zunionstore d 1 one", num(1), false},
			{1, "object encoding d", bulk("listpack"), true},
		}},
		{"sets count with score 1", []step{
			{1, "zadd a 5 x 0.5 2", num(2), false},
			{1, "sadd ints 1 2 3", num(3), false},
			{1, "sadd strs x y", num(2), false},
			{1, "zunion 3 a ints strs withscores", arr(bulk("1"), bulk("1"), bulk("3"), bulk("1"), bulk("y"), bulk("1"),
				bulk("2"), bulk("1.5"), bulk("x"), bulk("6")), true},
			{1, "zinter 2 ints a weights 3 2 aggregate max withscores", arr(bulk("2"), bulk("3")), true},
			{1, "zdiff 2 ints a", arr(bulk("1"), bulk("3")), true},
			{1, "zdiffstore d 2 strs a", num(1), false},
			{1, "zrange d 0 -1 withscores", arr(bulk("y"), bulk("1")), true},
			{1, "type d", "+zset\r\n", true},
			{1, "zadd ints 1 a", wrongType, false},
		}},
		{"-0 stored in a listpack becomes 0", []step{
			{1, "zadd a 0 x", num(1), false},
			{1, "zunion 1 a weights -1 withscores", arr(bulk("x"), bulk("-0")), true},
			{1, "zunionstore d 1 a weights -1", num(1), false},
			{1, "zscore d x", bulk("0"), true},
		}},
	})
}

func TestZRangeStore(t *testing.T) {
	runScenarios(t, []scenario{
		{"ranges", []step{
			{1, "zadd src 1 a 2 b 3 c 4 d", num(4), false},
			{1, "zrangestore dst src 1 2", num(2), false},
			{1, "zrange dst 0 -1 withscores", arr(bulk("b"), bulk("2"), bulk("c"), bulk("3")), true},
			{1, "zrangestore dst src +inf (1 byscore rev limit 0 2", num(2), false},
			{1, "zrange dst 0 -1", arr(bulk("c"), bulk("d")), true},
			{1, "zrangestore dst src [a [b bylex", num(2), false},
			{1, "zrange dst 0 -1", arr(bulk("a"), bulk("b")), true},
			{1, "zrangestore dst src 5 10", num(0), false},
			{1, "exists dst", num(0), true},
			{1, "zrangestore dst nokey 0 -1", num(0), false},
			{1, "zrangestore src src 0 0", num(1), false},
			{1, "zrange src 0 -1", arr(bulk("a")), true},
			{1, "zrangestore dst src 0 -1 withscores", errs(errSyntax), false},
			{1, "set s v", ok, false},
			{1, "zrangestore dst s 0 -1", wrongType, false},
			{1, "zrangestore s src 0 -1", num(1), false},
			{1, "type s", "+zset\r\n", true},
		}},
		{"encodings", []step{
			{1, "zadd src " + zpairs(130, "m"), num(130), false},
			{1, "zrangestore dst src 0 127", num(128), false},
			{1, "object encoding dst", bulk("listpack"), true},
			{1, "zrangestore dst src 0 128", num(129), false},
			{1, "object encoding dst", bulk("skiplist"), true},
		}},
		{"-0 is 0 while the new set is a listpack (added in range order)", []step{
			{1, "zadd src -0 " + long65 + " -0 a -0 b", num(3), false},
			{1, "zrangestore dst src 0 -1", num(3), false},
			{1, "zrange dst 0 -1 withscores", arr(bulk("a"), bulk("0"), bulk("b"), bulk("0"), bulk(long65), bulk("-0")), true},
			{1, "zrangestore dst src 0 -1 rev", num(3), false},
			{1, "zrange dst 0 -1 withscores", arr(bulk("a"), bulk("-0"), bulk("b"), bulk("-0"), bulk(long65), bulk("-0")), true},
		}},
	})
}

func TestZScan(t *testing.T) {
	runScenarios(t, []scenario{
		{"listpack answers in one call", []step{
			{1, "zadd z 1 a 2 b 3 ab", num(3), false},
			{1, "zscan z 0", arr(bulk("0"), arr(bulk("a"), bulk("1"), bulk("b"), bulk("2"), bulk("ab"), bulk("3"))), true},
			{1, "zscan z 123 count 1 match a*", arr(bulk("0"), arr(bulk("a"), bulk("1"), bulk("ab"), bulk("3"))), true},
			{1, "zscan z 0 match *", arr(bulk("0"), arr(bulk("a"), bulk("1"), bulk("b"), bulk("2"), bulk("ab"), bulk("3"))), true},
		}},
		{"errors", []step{
			{1, "zadd z 1 a", num(1), false},
			{1, "set s v", ok, false},
			{1, "zscan z x", errs(errCursor), true},
			{1, "zscan s 0", wrongType, true},
			{1, "zscan s x", errs(errCursor), true},
			{1, "zscan nokey 0 foo", arr(bulk("0"), emptyArr), true},
			{1, "zscan z 0 count 0", errs(errSyntax), true},
			{1, "zscan z 0 count x", errs(errNotInt), true},
			{1, "zscan z 0 match", errs(errSyntax), true},
			{1, "zscan z 0 type zset", errs(errSyntax), true},
		}},
	})
	// A skiplist is scanned by hash position: about COUNT members per call,
	// each member present for the whole scan exactly once, while members
	// are added.
	s := New()
	apply(s, 1, "zadd z "+zpairs(500, "m"))
	seen := map[string]int{}
	cursor, calls := "0", 0
	for {
		next, items := parseScanReply(t, s.Read(1, argv("zscan z "+cursor+" count 7"), nil))
		for i := 0; i < len(items); i += 2 {
			seen[items[i]]++
			if m, ok := strings.CutPrefix(items[i], "m"); ok && items[i+1] != m {
				t.Fatalf("member %s with score %s", items[i], items[i+1])
			}
		}
		apply(s, 1, fmt.Sprintf("zadd z 1 new%d", calls))
		calls++
		if next == "0" {
			break
		}
		cursor = next
	}
	for i := range 500 {
		if n := seen[fmt.Sprintf("m%d", i)]; n != 1 {
			t.Fatalf("m%d returned %d times", i, n)
		}
	}
	if calls < 500/7 || calls > 600/7+5 {
		t.Fatalf("scan of 500 members took %d calls of count 7", calls)
	}
	if got := read(s, 1, "zscan z 0 match m49? count 1000"); !strings.Contains(got, "m499") || strings.Count(got, "m49") != 10 {
		t.Fatalf("zscan match: %q", got)
	}
}

// bulkItems lists the bulk strings of a reply of (nested) arrays.
func bulkItems(reply string) []string {
	var items []string
	for len(reply) > 0 {
		line, rest, _ := strings.Cut(reply, "\r\n")
		reply = rest
		if line[0] == '$' {
			n, _ := strconv.Atoi(line[1:])
			items = append(items, reply[:n])
			reply = reply[n+2:]
		}
	}
	return items
}

func TestZRandMember(t *testing.T) {
	runScenarios(t, []scenario{{"errors and edges", []step{
		{1, "zadd z 1 a 2 b 3 c", num(3), false},
		{1, "set s v", ok, false},
		{1, "zrandmember nokey", null, true},
		{1, "zrandmember nokey 5", emptyArr, true},
		{1, "zrandmember z 0", emptyArr, true},
		{1, "zrandmember s", wrongType, true},
		{1, "zrandmember s 1", wrongType, true},
		{1, "zrandmember z x", errs(errNotInt), true},
		{1, "zrandmember nokey x", errs(errNotInt), true},
		{1, "zrandmember z -9223372036854775808", errs("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"), true},
		{1, "zrandmember z 1 withscore", errs(errSyntax), true},
		{1, "zrandmember nokey 1 withscores x", errs(errSyntax), true},
		{1, "zrandmember z -4611686018427387904 withscores", errs(errRange), true},
		{1, "zrandmember z 4611686018427387904 withscores", errs(errRange), true},
		{1, "zrandmember z -16777217", errs(errTooManyDraws), true},
		{1, "zrandmember nokey -16777217 withscores", errs(errTooManyDraws), true},
		{1, "zrandmember z -16777216 x", errs(errSyntax), true},
		{1, "zrandmember z 9223372036854775807", arr(bulk("a"), bulk("b"), bulk("c")), true},
		{1, "zrandmember z 3 withscores", arr(bulk("a"), bulk("1"), bulk("b"), bulk("2"), bulk("c"), bulk("3")), true},
	}}})

	for _, n := range []int{5, 300} {
		s := New()
		apply(s, 1, "zadd z "+zpairs(n, "m"))
		for _, count := range []int{1, 2, n / 2, n - 1, -3, -2 * n} {
			for _, ws := range []bool{false, true} {
				cmd := fmt.Sprintf("zrandmember z %d", count)
				if ws {
					cmd += " withscores"
				}
				items := bulkItems(read(s, 1, cmd))
				distinct := map[string]bool{}
				step := 1
				if ws {
					step = 2
				}
				for i := 0; i < len(items); i += step {
					if !strings.HasPrefix(items[i], "m") || ws && items[i+1] != items[i][1:] {
						t.Fatalf("%s (n %d): %q", cmd, n, items)
					}
					distinct[items[i]] = true
				}
				want := count
				if count < 0 {
					want = -count
				}
				if len(items) != want*step || count > 0 && len(distinct) != count {
					t.Fatalf("%s (n %d): %d items, %d distinct", cmd, n, len(items), len(distinct))
				}
			}
		}
		if got := read(s, 1, "zrandmember z"); !strings.HasPrefix(got, "$") {
			t.Fatalf("zrandmember: %q", got)
		}
	}

	// Applied from the log, the draws are the log's: replicas agree.
	a, b := New(), New()
	for _, st := range []*Store{a, b} {
		apply(st, 1, "zadd z "+zpairs(300, "m"))
	}
	for i := range 20 {
		cmd := fmt.Sprintf("zrandmember z %d withscores", i-10)
		if ra, rb := apply(a, int64(i), cmd), apply(b, int64(i), cmd); ra != rb {
			t.Fatalf("%s: replicas drew %q and %q", cmd, ra, rb)
		}
	}
}

// The parsers follow the C functions Redis calls (expectations checked
// against redis-server 7.0.15).
func TestZParseScores(t *testing.T) {
	for in, want := range map[string]float64{
		"1": 1, "-0": 0, "0x10": 16, "0x1.8p1": 3, "inf": math.Inf(1), "-inf": math.Inf(-1), "+inf": math.Inf(1),
		"infinity": math.Inf(1), "-Infinity": math.Inf(-1), "InF": math.Inf(1), ".5": 0.5, "5.": 5, "+.5e1": 5,
		"00012": 12, "1e-310": 1e-310, "5e-324": 5e-324, "1e308": 1e308, "0x1p-1074": 5e-324,
	} {
		if got, ok := parseScore([]byte(in)); !ok || got != want {
			t.Errorf("parseScore(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{" 1", "1 ", "", "nan", "-nan", "nan(1)", "1e400", "-1e400", "1e-400", "1.5e", "1e+",
		"-0x", "0x", "1_0", "1e5000", "(1", "1\x00", "0x1p99999", "0x1p-99999", "infinit", "abc"} {
		if got, ok := parseScore([]byte(in)); ok {
			t.Errorf("parseScore(%q) = %v, want an error", in, got)
		}
	}
	type bound struct {
		v  float64
		ex bool
	}
	for in, want := range map[string]bound{
		"1": {1, false}, "(1": {1, true}, "(": {0, true}, "": {0, false}, " 1": {1, false}, "(-inf": {math.Inf(-1), true},
		"1e400": {math.Inf(1), false}, "1e-400": {0, false}, "1\x00junk": {1, false}, "0x1": {1, false}, "5.": {5, false},
	} {
		v, ex, ok := parseScoreBound([]byte(in))
		if !ok || v != want.v || ex != want.ex {
			t.Errorf("parseScoreBound(%q) = %v %v %v, want %v", in, v, ex, ok, want)
		}
	}
	for _, in := range []string{"abc", "(nan", "nan", "[1", "1 ", "((1", "  ", "0x", "1e"} {
		if _, _, ok := parseScoreBound([]byte(in)); ok {
			t.Errorf("parseScoreBound(%q) accepted", in)
		}
	}
	for in, want := range map[string]lexBound{
		"-": {inf: -1, ex: true}, "+": {inf: 1, ex: true}, "+\x00x": {inf: 1, ex: true}, "[a": {s: "a"},
		"(a": {s: "a", ex: true}, "[": {}, "(": {ex: true},
	} {
		if got, ok := parseLexBound([]byte(in)); !ok || got != want {
			t.Errorf("parseLexBound(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "a", "+a", "-a", "1"} {
		if _, ok := parseLexBound([]byte(in)); ok {
			t.Errorf("parseLexBound(%q) accepted", in)
		}
	}
}

// zsetFixture fills a store with small and big sorted sets, some with TTLs.
func zsetFixture(s *Store) {
	apply(s, 1_000_000, "zadd small 1 a 2 b -0 c inf d")
	apply(s, 1_000_000, "zadd big "+zpairs(1000, "m"))
	apply(s, 1_000_000, "zadd long 1 "+long65+" -0 z")
	apply(s, 1_000_000, "zadd ttl 1 a")
	apply(s, 1_000_000, "pexpire ttl 100000")
	apply(s, 1_000_000, "set str v")
}

func TestZsetSnapshotRoundTrip(t *testing.T) {
	s := New()
	zsetFixture(s)
	r := New()
	if err := r.Restore(bytes.NewReader(snapshotBytes(t, s))); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != s.Digest() || r.MemoryBytes() != s.MemoryBytes() {
		t.Fatal("restored state differs")
	}
	for _, cmd := range []string{
		"zrange small 0 -1 withscores", "zrange big 0 -1 withscores", "zrange long 0 -1 withscores",
		"object encoding small", "object encoding big", "object encoding long", "zrank big m500", "pttl ttl",
		"zscan big 0 count 50", "zscore long z",
	} {
		if a, b := read(s, 1_000_000, cmd), read(r, 1_000_000, cmd); a != b {
			t.Errorf("%s: %q, restored %q", cmd, a, b)
		}
	}
	// Both go on alike.
	for _, st := range []*Store{s, r} {
		apply(st, 1_000_001, "zadd small 5 e")
		apply(st, 1_000_001, "zpopmin big 10")
		apply(st, 1_000_001, "zunionstore u 2 small big")
	}
	if r.Digest() != s.Digest() {
		t.Fatal("diverged after restore")
	}
}

// A snapshot keeps the sorted sets as they were when it was taken while
// writes change them, small ones and big ones (run with -race).
func TestZsetSnapshotWhileWriting(t *testing.T) {
	s := New()
	zsetFixture(s)
	want := snapshotBytes(t, s)
	sn := s.Snapshot()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			stamp := int64(1_000_000 + i)
			apply(s, stamp, fmt.Sprintf("zadd small %d n%d", i, i%200))
			apply(s, stamp, fmt.Sprintf("zincrby big 1 m%d", i%1000))
			apply(s, stamp, fmt.Sprintf("zrem big m%d", (i*7)%1000))
			apply(s, stamp, "zpopmax long")
			apply(s, stamp, fmt.Sprintf("zadd long %d x%d", i, i))
			if i%100 == 0 {
				apply(s, stamp, "zunionstore big 2 big small")
				apply(s, stamp, "rename small small2")
				apply(s, stamp, "copy small2 small")
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 500 {
			read(s, 1_000_000, "zrange big 0 10 withscores")
			read(s, 1_000_000, "zrangebyscore small -inf +inf")
		}
	}()
	var b bytes.Buffer
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatal("snapshot saw later writes")
	}
}

// A malformed sorted set in a snapshot is refused as corrupt, never a
// panic or a set that breaks the invariants.
func TestZsetLoadCorrupt(t *testing.T) {
	score := func(f float64, m string) []byte {
		var b []byte
		b = appendLPEntry(b, "", f)[:8]
		return append(b, m...)
	}
	small, big := []byte{0}, []byte{1}
	for name, elems := range map[string][][]byte{
		"empty":                       {},
		"marker only":                 {small},
		"bad marker":                  {{2}, score(1, "a")},
		"long marker":                 {{0, 0}, score(1, "a")},
		"short entry":                 {small, {1, 2, 3}},
		"nan":                         {small, score(math.NaN(), "a")},
		"out of order":                {small, score(2, "a"), score(1, "b")},
		"same entry twice":            {big, score(1, "a"), score(1, "a")},
		"member twice":                {small, score(1, "a"), score(2, "a")},
		"member twice (big)":          {big, score(1, "a"), score(2, "a")},
		"listpack -0":                 {small, score(math.Copysign(0, -1), "a")},
		"same entry twice (listpack)": {small, score(1, "a"), score(1, "a")},
	} {
		i := 0
		next := func() ([]byte, error) {
			if i >= len(elems) {
				return nil, errBadValue
			}
			i++
			return elems[i-1], nil
		}
		if c, err := loadZset(len(elems), next); err == nil {
			t.Errorf("%s: loaded %v", name, c)
		}
	}
	// Through Restore: truncated and damaged snapshots of sorted sets.
	s := New()
	zsetFixture(s)
	data := snapshotBytes(t, s)
	r := New()
	for cut := 8; cut < len(data); cut += len(data) / 97 {
		if err := r.Restore(bytes.NewReader(data[:cut])); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", cut, err)
		}
	}
	// Well-formed elements, bad content, a valid checksum: the loader's
	// own checks must catch it.
	bad := New()
	apply(bad, 1, "zadd z 1 a 2 b")
	bz, _ := bad.keys.Min()
	lp := bz.obj().val.(*zset).lp
	lp[6], lp[7] = 0xff, 0x7f // a NaN score
	if err := r.Restore(bytes.NewReader(snapshotBytes(t, bad))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("NaN score restored: %v", err)
	}
}

func TestZsetMemoryAndClone(t *testing.T) {
	s := New()
	apply(s, 1, "zadd z "+zpairs(1000, "m"))
	m1 := s.MemoryBytes()
	if m1 < 1000*zbigMemberCost {
		t.Fatalf("MemoryBytes = %d for 1000 members", m1)
	}
	apply(s, 1, "zremrangebyrank z 0 499")
	if m2 := s.MemoryBytes(); m2 >= m1 {
		t.Fatalf("MemoryBytes %d after removing half, was %d", m2, m1)
	}
	apply(s, 1, "copy z c")
	apply(s, 1, "zadd c 1 only-in-c")
	if got := read(s, 1, "zscore z only-in-c"); got != null {
		t.Fatalf("a copy's write shows in the original: %q", got)
	}
	apply(s, 1, "del z c")
	if s.MemoryBytes() != storeOverhead {
		t.Fatalf("MemoryBytes after del = %d", s.MemoryBytes())
	}
}
