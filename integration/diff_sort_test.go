package integration

import (
	"strconv"
	"strings"
	"testing"
)

// The sort family: SORT and SORT_RO over lists, sets and sorted sets on the
// shared keys, by and getting weight strings and hash fields named after
// the elements, with LIMIT, ASC/DESC, ALPHA and STORE; ZINTERCARD; and
// CONFIG SET of the encoding thresholds, each followed by values built
// under it and their OBJECT ENCODING (a HyperLogLog's STRLEN), then the
// defaults again (the families share the servers), so the conversions are
// compared and the final state holds values converted under other limits.
//
// Where Redis's order is unspecified it is not compared exactly: ALPHA BY
// a pattern orders ties as its sort leaves them, which for a set or a
// sorted set is its hash table's order, and with LIMIT (a partial
// quicksort) for any type; BY a constant leaves a set in that order. Such
// replies are compared as multisets, or by length with LIMIT, and never
// stored. SORT_RO of a listpack sorted set converts it in Redis, which a
// read in rkv cannot, so on a sorted set it is sent as SORT.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "sort", gen: (*diffGen).sortCmd})
}

// diffSortElems are elements: numbers (ties and all), words, and ones that
// are no number.
var diffSortElems = []string{"1", "2", "3", "10", "-1", "2.5", "0", "1e2", "a", "b", "B", "abc", "k1", "2"}

// diffSortWeights are the values of the weight keys: equal ones for ties,
// and some that are no number.
var diffSortWeights = []string{"1", "2", "3", "1", "1.5", "-2", "10", "x", "", " 5", "inf", "-inf"}

var diffSortBy = []string{"w_*", "w_*", "h_*->f", "h_*->f", "nosort", "*", "k*", "w_*->", "h_*->g", "h_*"}

var diffSortGet = []string{"#", "#", "w_*", "h_*->f", "nokey", "k*", "h_*->", "*"}

var diffSortLimits = []string{"0", "1", "2", "3", "-1", "100", "x", "-5", "9223372036854775807"}

func (g *diffGen) sortElem() string { return g.pick(diffSortElems) }

func (g *diffGen) sortCmd() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch r := g.rng.IntN(100); {
	case r < 10:
		args := []string{w(g.pick([]string{"RPUSH", "LPUSH"})), g.key()}
		for range 1 + g.rng.IntN(4) {
			args = append(args, g.sortElem())
		}
		return exact(args...)
	case r < 16:
		args := []string{w("SADD"), g.key()}
		for range 1 + g.rng.IntN(4) {
			args = append(args, g.sortElem())
		}
		return exact(args...)
	case r < 22:
		args := []string{w("ZADD"), g.key()}
		for range 1 + g.rng.IntN(3) {
			args = append(args, g.pick([]string{"1", "2", "0", "-1", "1.5"}), g.sortElem())
		}
		return exact(args...)
	case r < 28:
		return exact(w("SET"), "w_"+g.sortElem(), g.pick(diffSortWeights))
	case r < 32:
		return exact(w("HSET"), "h_"+g.sortElem(), g.pick([]string{"f", "f", "g"}), g.pick(diffSortWeights))
	case r < 34:
		return exact(w("DEL"), g.pick([]string{"w_", "h_"})+g.sortElem())
	case r < 72:
		return g.sortSort()
	case r < 82:
		return g.zintercard()
	case r < 96:
		return g.encodingRun()
	default:
		return g.sortBadArgs()
	}
}

// sortSort generates a SORT or SORT_RO with random options.
func (g *diffGen) sortSort() diffCmd {
	w := g.word
	ro := g.rng.IntN(4) == 0
	name := "SORT"
	if ro {
		name = "SORT_RO"
	}
	args := []string{w(name), g.key()}
	var alpha, limit, store, dontsort, byPattern bool
	for range g.rng.IntN(5) {
		switch g.rng.IntN(9) {
		case 0:
			args = append(args, w(g.pick([]string{"ASC", "DESC"})))
		case 1:
			args, alpha = append(args, w("ALPHA")), true
		case 2:
			args, limit = append(args, w("LIMIT"), g.pick(diffSortLimits), g.pick(diffSortLimits)), true
		case 3, 4:
			by := g.pick(diffSortBy)
			args = append(args, w("BY"), by)
			byPattern = strings.Contains(by, "*")
			dontsort = dontsort || !byPattern
		case 5, 6:
			args = append(args, w("GET"), g.pick(diffSortGet))
		case 7:
			if !ro || g.rng.IntN(4) == 0 {
				args, store = append(args, w("STORE"), g.key()), true
			}
		default:
			opt := g.pick([]string{"DESC", "ALPHA", "FOO"})
			args, alpha = append(args, w(opt)), alpha || opt == "ALPHA"
		}
	}
	tiesUnordered := alpha && byPattern && !dontsort
	if tiesUnordered && store {
		// Drop the STOREs: what they would store is not specified.
		for i := 2; i < len(args); i++ {
			if strings.EqualFold(args[i], "store") && i+1 < len(args) {
				args = append(args[:i:i], args[i+2:]...)
				i--
			}
		}
		store = false
	}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		typ, _ := rd.do(t, []string{"TYPE", args[1]})
		sent := args
		if ro && typ == "zset" {
			sent = append([]string{"SORT"}, args[1:]...)
		}
		va, ea := rd.do(t, sent)
		vb, eb := rk.do(t, sent)
		out := diffOutcome{redis: diffReply(va, ea), rkv: diffReply(vb, eb)}
		loose := tiesUnordered && (typ != "list" || limit) || dontsort && !store && typ == "set"
		if loose && ea == nil && eb == nil {
			if limit {
				x, _ := va.([]any)
				y, _ := vb.([]any)
				out.redis, out.rkv = "length "+strconv.Itoa(len(x)), "length "+strconv.Itoa(len(y))
			} else {
				out.redis, out.rkv = diffReply(diffSort(va), nil), diffReply(diffSort(vb), nil)
			}
		}
		out.ok = out.redis == out.rkv
		return out
	}}
}

func (g *diffGen) zintercard() diffCmd {
	n := 1 + g.rng.IntN(3)
	numkeys := strconv.Itoa(n)
	if g.rng.IntN(10) == 0 {
		numkeys = g.pick([]string{"0", "-1", "x", "5"})
	}
	args := []string{g.word("ZINTERCARD"), numkeys}
	args = append(args, g.keys(n, n)...)
	switch g.rng.IntN(6) {
	case 0, 1:
		args = append(args, g.word("LIMIT"), g.pick(diffSortLimits))
	case 2:
		args = append(args, g.word(g.pick([]string{"LIMIT", "WEIGHTS", "WITHSCORES", "AGGREGATE"})))
	}
	return diffCmd{args: args}
}

// diffEncodingSettings are the thresholds and the values tried, valid and
// not.
var diffEncodingSettings = []struct {
	name   string
	values []string
}{
	{"hash-max-listpack-entries", []string{"0", "1", "2", "3", "-1", "x"}},
	{"hash-max-ziplist-entries", []string{"1", "2", "4"}},
	{"hash-max-listpack-value", []string{"0", "1", "2", "3", "1kb", "-1", "x"}},
	{"hash-max-ziplist-value", []string{"1", "4", "2b"}},
	{"zset-max-listpack-entries", []string{"0", "1", "2", "3", "-1"}},
	{"zset-max-ziplist-entries", []string{"1", "2", "x"}},
	{"zset-max-listpack-value", []string{"0", "1", "2", "3", "1k"}},
	{"zset-max-ziplist-value", []string{"1", "2", "-5"}},
	{"set-max-intset-entries", []string{"0", "1", "2", "3", "x"}},
	{"stream-node-max-entries", []string{"0", "1", "2", "x"}},
	{"stream-node-max-bytes", []string{"0", "1", "64", "1kb", "-1"}},
	{"list-max-listpack-size", []string{"-2", "1", "5", "x"}},
	{"list-max-ziplist-size", []string{"-1", "8"}},
	{"list-compress-depth", []string{"0", "1", "-1"}},
	{"hll-sparse-max-bytes", []string{"0", "20", "40", "3000", "x"}},
}

// diffEncodingDefaults restores every threshold.
var diffEncodingDefaults = []string{"CONFIG", "SET", "hash-max-listpack-entries", "512",
	"hash-max-listpack-value", "64", "zset-max-listpack-entries", "128", "zset-max-listpack-value", "64",
	"set-max-intset-entries", "512", "stream-node-max-entries", "100", "stream-node-max-bytes", "4096",
	"list-max-listpack-size", "-2", "list-compress-depth", "0", "hll-sparse-max-bytes", "3000"}

// encodingRun sets one or two thresholds, builds and changes a value on a
// shared key under them, reading its OBJECT ENCODING after each step and
// CONFIG GET of the settings, then restores the defaults.
func (g *diffGen) encodingRun() diffCmd {
	set := []string{"CONFIG", "SET"}
	for range 1 + g.rng.IntN(2) {
		s := diffEncodingSettings[g.rng.IntN(len(diffEncodingSettings))]
		set = append(set, g.word(s.name), g.pick(s.values))
	}
	key := g.key()
	var steps [][]string
	for i := range 2 + g.rng.IntN(4) {
		var c []string
		switch g.rng.IntN(6) {
		case 5:
			// A HyperLogLog turns dense past hll-sparse-max-bytes: STRLEN
			// below tells.
			c = []string{"PFADD", key, g.pick([]string{"a", "b", "c"}), "e" + strconv.Itoa(g.rng.IntN(50)), "f" + strconv.Itoa(g.rng.IntN(50))}
		case 0:
			c = []string{"HSET", key, g.pick([]string{"a", "b", "c", "dd", "eee"}), g.pick([]string{"1", "xy", "long value"})}
		case 1:
			c = []string{"ZADD", key, g.pick([]string{"1", "2", "3"}), g.pick([]string{"a", "b", "c", "dd", "eee"})}
		case 2:
			c = []string{"SADD", key, g.pick([]string{"1", "2", "3", "4", "x"})}
		case 3:
			// IDs of its own: "*" would take each server's clock.
			c = []string{"XADD", key, strconv.Itoa(g.idx*10+i) + "-1", "f", g.pick([]string{"1", "xy"})}
		default:
			c = []string{g.pick([]string{"HDEL", "ZREM", "SREM"}), key, g.pick([]string{"a", "1", "b"})}
		}
		steps = append(steps, c, []string{"OBJECT", "ENCODING", key})
	}
	if g.rng.IntN(2) == 0 {
		src := g.key()
		steps = append(steps, []string{"ZUNIONSTORE", key, "2", key, src}, []string{"OBJECT", "ENCODING", key})
	}
	steps = append(steps, []string{"STRLEN", key})
	get := []string{"CONFIG", "GET"}
	for _, s := range diffEncodingSettings {
		get = append(get, s.name)
	}
	steps = append(steps, get)
	display := append(append([]string{}, set...), "...")
	return diffCmd{args: display, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		var out diffOutcome
		for _, c := range append([][]string{set}, steps...) {
			va, ea := rd.do(t, c)
			vb, eb := rk.do(t, c)
			a, b := diffReply(va, ea), diffReply(vb, eb)
			if c[0] == "OBJECT" && diffStringEncoding(va) && diffStringEncoding(vb) {
				a, b = "(a string's)", "(a string's)" // the string family's to compare
			}
			if c[0] == "CONFIG" && c[1] == "GET" && ea == nil && eb == nil {
				a, b = diffUnordered(va, true), diffUnordered(vb, true)
			}
			out.redis += strings.Join(c, " ") + " -> " + a + "; "
			out.rkv += strings.Join(c, " ") + " -> " + b + "; "
			if a != b {
				break
			}
		}
		for _, d := range []diffTarget{rd, rk} {
			if v, err := d.do(t, diffEncodingDefaults); err != nil || v != "OK" {
				t.Fatalf("%s: restoring the encoding defaults: %v %v", d.name, v, err)
			}
		}
		out.ok = out.redis == out.rkv
		return out
	}}
}

// sortBadArgs are malformed SORT, SORT_RO and ZINTERCARD calls.
func (g *diffGen) sortBadArgs() diffCmd {
	w := g.word
	switch g.rng.IntN(6) {
	case 0:
		return diffCmd{args: []string{w(g.pick([]string{"SORT", "SORT_RO", "ZINTERCARD"}))}}
	case 1:
		return diffCmd{args: []string{w("SORT"), g.key(), w(g.pick([]string{"LIMIT", "BY", "GET", "STORE"}))}}
	case 2:
		return diffCmd{args: []string{w("SORT"), g.key(), w("LIMIT"), "1"}}
	case 3:
		return diffCmd{args: []string{w("SORT_RO"), g.key(), w("STORE"), g.key()}}
	case 4:
		return diffCmd{args: []string{w("ZINTERCARD"), g.pick([]string{"0", "x", "3", "-1"}), g.key()}}
	default:
		return diffCmd{args: []string{w("CONFIG"), w("SET"), g.pick([]string{"hash-max-listpack-entries", "zset-max-ziplist-value"}),
			g.pick([]string{"", "1.5", "1 2", "-0", "0x10", "99999999999999999999"})}}
	}
}

func diffStringEncoding(v any) bool { return v == "int" || v == "embstr" || v == "raw" }
