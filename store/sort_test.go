package store

import "testing"

func TestSort(t *testing.T) {
	runScenarios(t, []scenario{
		{"numeric ties by element, desc", []step{
			{1, "rpush l 3 1 10 2 1e0", num(5), false},
			{1, "sort l", arr(bulk("1"), bulk("1e0"), bulk("2"), bulk("3"), bulk("10")), false},
			{1, "sort l desc limit 1 2", arr(bulk("3"), bulk("2")), false},
			{1, "sort l alpha", arr(bulk("1"), bulk("10"), bulk("1e0"), bulk("2"), bulk("3")), false},
			{1, "rpush bad x", num(1), false},
			{1, "sort bad", errs("ERR One or more scores can't be converted into double"), false},
		}},
		{"by and get patterns", []step{
			{1, "rpush l a b c", num(3), false},
			{1, "mset w_a 3 w_b 1", ok, false},
			{1, "hset h_c f 2", num(1), false},
			// c's weight key is missing: 0, first.
			{1, "sort l by w_*", arr(bulk("c"), bulk("b"), bulk("a")), false},
			{1, "sort l by h_*->f get # get w_* get h_*->f", arr(
				bulk("a"), bulk("3"), null, bulk("b"), bulk("1"), null, bulk("c"), null, bulk("2")), false},
			// ALPHA BY: missing first, ties in input order.
			{1, "sort l by h_*->f alpha", arr(bulk("a"), bulk("b"), bulk("c")), false},
			{1, "sort l by h_*-> get nokey", arr(null, null, null), false},
		}},
		{"alpha compares up to a NUL, as strcoll; STORE compares whole strings", []step{
			{1, "rpush c a\x00z b a a\x00b", num(4), false},
			{1, "sort c alpha", arr(bulk("a\x00z"), bulk("a"), bulk("a\x00b"), bulk("b")), false},
			{1, "sort c alpha desc", arr(bulk("b"), bulk("a\x00z"), bulk("a"), bulk("a\x00b")), false},
			{1, "sort c alpha store d", num(4), false},
			{1, "lrange d 0 -1", arr(bulk("a"), bulk("a\x00b"), bulk("a\x00z"), bulk("b")), false},
			{1, "set w_a\x00z x\x00b", ok, false},
			{1, "set w_a\x00b x\x00a", ok, false},
			{1, "sort c by w_* alpha limit 2 2", arr(bulk("a\x00z"), bulk("a\x00b")), false},
		}},
		{"by a constant", []step{
			{1, "rpush l 3 1 2", num(3), false},
			{1, "sort l by nosort desc limit 0 2", arr(bulk("2"), bulk("1")), false},
			// dontsort stays once a BY without '*' was seen.
			{1, "sort l by nosort by w_*", arr(bulk("3"), bulk("1"), bulk("2")), false},
			{1, "zadd z 1 a 2 b 3 c", num(3), false},
			{1, "sort z by nosort desc limit 1 5", arr(bulk("b"), bulk("a")), false},
			{1, "object encoding z", bulk("skiplist"), false},
		}},
		{"limit arithmetic", []step{
			{1, "rpush l 1 2 3", num(3), false},
			{1, "sort l limit -5 2", arr(bulk("1"), bulk("2")), false},
			{1, "sort l limit 5 2", arr(), false},
			{1, "sort l limit 1 -1", arr(bulk("2"), bulk("3")), false},
			{1, "sort l limit 0 0", arr(), false},
			{1, "sort l limit x 1", errs(errNotInt), false},
			{1, "sort l limit 1", errs(errSyntax), false},
		}},
		{"store", []step{
			{1, "sadd s 3 1 2", num(3), false},
			{1, "set dst x", ok, false},
			{1, "expire dst 100", num(1), false},
			{1, "sort s by nosort store dst", num(3), false},
			{1, "lrange dst 0 -1", arr(bulk("1"), bulk("2"), bulk("3")), false},
			{1, "ttl dst", num(-1), false},
			{1, "sort s get nokey* store dst", num(3), false},
			{1, "lrange dst 0 -1", arr(bulk(""), bulk(""), bulk("")), false},
			{1, "sort missing store dst", num(0), false},
			{1, "exists dst", num(0), false},
			{1, "sort_ro s store dst", errs(errSyntax), false},
			{1, "set str v", ok, false},
			{1, "sort str", errs(errWrongType), false},
		}},
	})
}

func TestZInterCard(t *testing.T) {
	runScenarios(t, []scenario{
		{"basics", []step{
			{1, "zadd a 1 x 2 y 3 z", num(3), false},
			{1, "sadd b x y w", num(3), false},
			{1, "zintercard 2 a b", num(2), false},
			{1, "zintercard 2 a b limit 1", num(1), false},
			{1, "zintercard 2 a b limit 0", num(2), false},
			{1, "zintercard 2 a missing", num(0), false},
			{1, "zintercard 2 a b limit -1", errs("ERR LIMIT can't be negative"), false},
			{1, "zintercard 2 a b withscores", errs(errSyntax), false},
			{1, "zintercard 0 a", errs("ERR at least 1 input key is needed for 'zintercard' command"), false},
			{1, "zintercard 3 a b", errs(errSyntax), false},
			{1, "set s v", ok, false},
			{1, "zintercard 2 a s limit x", errs(errWrongType), false},
		}},
	})
}
