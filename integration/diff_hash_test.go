package integration

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The hash family: every hash command with valid and invalid arguments, on
// the shared keys (so HSET meets string keys and GET meets hashes), with
// fields that collide, values past the listpack limit and bulk HSETs past
// its field count (so both encodings and the conversion are compared, with
// OBJECT ENCODING too).

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{
		name:  "hash",
		typ:   "hash",
		gen:   (*diffGen).hashCmd,
		state: diffHashState,
	})
}

// diffHashFields are few, so that commands meet each other's fields.
var diffHashFields = []string{"f1", "f2", "f3", "a", "b", "", "n", "0", "-1", "é", "a b", "f\x00"}

// diffHashLongFields sit at the listpack's 64-byte limit and just past it.
var diffHashLongFields = []string{strings.Repeat("F", 64), strings.Repeat("G", 65)}

// diffHashArities are the hash commands and their Redis arities.
var diffHashArities = []struct {
	name  string
	arity int
}{
	{"hset", -4}, {"hsetnx", 4}, {"hget", 3}, {"hmget", -3}, {"hmset", -4}, {"hgetall", 2},
	{"hdel", -3}, {"hexists", 3}, {"hlen", 2}, {"hkeys", 2}, {"hvals", 2}, {"hincrby", 4},
	{"hincrbyfloat", 4}, {"hstrlen", 3}, {"hrandfield", -2}, {"hscan", -3},
}

func (g *diffGen) field() string {
	switch g.rng.IntN(20) {
	case 0:
		return "f" + strconv.Itoa(g.rng.IntN(40))
	case 1:
		return g.pick(diffHashLongFields)
	}
	return g.pick(diffHashFields)
}

func (g *diffGen) hashVal() string {
	switch g.rng.IntN(6) {
	case 0:
		return g.pick(diffInts)
	case 1:
		return g.pick(diffFloats)
	}
	return g.val()
}

// diffHashIncrs are HINCRBY increments, mostly valid ones.
var diffHashIncrs = []string{"1", "-1", "3", "100", "-100", "0", "9223372036854775807", "-9223372036854775808"}

func (g *diffGen) hashCmd() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	// The string family turns keys into strings; deletions here make
	// room for hashes again.
	switch r := g.rng.IntN(200); {
	case r < 36:
		name := g.pick([]string{"HSET", "HSET", "HSET", "HMSET"})
		args := []string{w(name), g.key()}
		for range 1 + g.rng.IntN(3) {
			args = append(args, g.field(), g.hashVal())
		}
		if g.rng.IntN(12) == 0 {
			args = append(args, g.field()) // a field without a value
		}
		return exact(args...)
	case r < 42:
		// Past the listpack's field count in one or a few commands.
		args := []string{w("HSET"), g.key()}
		base := g.rng.IntN(400)
		for i := range 100 + g.rng.IntN(500) {
			args = append(args, "m"+strconv.Itoa(base+i), strconv.Itoa(i))
		}
		return exact(args...)
	case r < 49:
		return exact(w("HSETNX"), g.key(), g.field(), g.hashVal())
	case r < 60:
		return exact(w("HGET"), g.key(), g.field())
	case r < 65:
		args := []string{w("HMGET"), g.key()}
		for range 1 + g.rng.IntN(4) {
			args = append(args, g.field())
		}
		return exact(args...)
	case r < 76:
		args := []string{w("HDEL"), g.key()}
		for range 1 + g.rng.IntN(3) {
			args = append(args, g.field())
		}
		return exact(args...)
	case r < 81:
		return exact(w(g.pick([]string{"HEXISTS", "HSTRLEN"})), g.key(), g.field())
	case r < 85:
		return exact(w("HLEN"), g.key())
	case r < 99:
		return diffHashList(w(g.pick([]string{"HGETALL", "HKEYS", "HVALS"})), g.key())
	case r < 111:
		incr := g.pick(diffHashIncrs)
		if g.rng.IntN(4) == 0 {
			incr = g.pick(diffInts)
		}
		return exact(w("HINCRBY"), g.key(), g.field(), incr)
	case r < 123:
		return exact(w("HINCRBYFLOAT"), g.key(), g.field(), g.pick(diffFloats))
	case r < 137:
		return g.hrandfield()
	case r < 153:
		return g.hscan()
	case r < 161:
		return diffHashEncoding(w("OBJECT"), w("ENCODING"), g.key())
	case r < 167:
		switch g.rng.IntN(4) {
		case 0:
			return exact(w("SET"), g.key(), g.val())
		case 1:
			return exact(w("APPEND"), g.key(), g.val())
		case 2:
			return exact(w("INCR"), g.key())
		}
		return exact(w("GET"), g.key())
	case r < 191:
		return exact(w(g.pick([]string{"DEL", "UNLINK"})), g.key())
	default:
		return g.hashWrongArity()
	}
}

func (g *diffGen) hashWrongArity() diffCmd {
	for {
		a := diffHashArities[g.rng.IntN(len(diffHashArities))]
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
		if n > 1 {
			args = append(args, g.key())
		}
		for len(args) < n {
			args = append(args, g.field())
		}
		return diffCmd{args: args}
	}
}

func (g *diffGen) hrandfield() diffCmd {
	args := []string{g.word("HRANDFIELD"), g.key()}
	if g.rng.IntN(4) != 0 {
		count := g.pick([]string{"0", "1", "2", "3", "5", "10", "100", "-1", "-2", "-5", "-20"})
		if g.rng.IntN(4) == 0 {
			count = g.pick([]string{"abc", "", "1.5", "-9223372036854775808", "9223372036854775807", "4611686018427387904"})
		}
		args = append(args, count)
		switch g.rng.IntN(6) {
		case 0, 1:
			args = append(args, g.word("WITHVALUES"))
		case 2:
			args = append(args, g.pick([]string{"WITHVALUE", "FOO", ""}))
		case 3:
			args = append(args, g.word("WITHVALUES"), "x")
		case 4:
			// Out of range with WITHVALUES only: without, both servers
			// would start on that many draws.
			args[2] = "-4611686018427387904"
			args = append(args, g.word("WITHVALUES"))
		}
	}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		a, b := diffHRandField(t, rd, args), diffHRandField(t, rk, args)
		return diffOutcome{a, b, a == b}
	}}
}

// diffHRandField runs HRANDFIELD and renders what must agree: errors and
// nils exactly; otherwise the reply's length and that it holds fields of
// the hash with their values (distinct ones for a positive count), which
// it checks against the server's own HGETALL.
func diffHRandField(t *testing.T, d diffTarget, args []string) string {
	t.Helper()
	v, err := d.do(t, args)
	if err != nil || v == nil {
		return diffReply(v, err)
	}
	hash := map[string]string{}
	all, err := d.do(t, []string{"HGETALL", args[1]})
	if pairs, ok := all.([]any); ok && err == nil {
		for i := 0; i+1 < len(pairs); i += 2 {
			hash[pairs[i].(string)] = pairs[i+1].(string)
		}
	}
	if f, ok := v.(string); ok {
		if _, in := hash[f]; !in {
			return fmt.Sprintf("(field %q not in the hash)", f)
		}
		return "(a field of the hash)"
	}
	elems, ok := v.([]any)
	if !ok {
		return diffReply(v, nil)
	}
	withValues := len(args) == 4
	distinct := !strings.HasPrefix(args[2], "-")
	seen := map[string]bool{}
	for i := 0; i < len(elems); i++ {
		f, _ := elems[i].(string)
		val, in := hash[f]
		if !in {
			return fmt.Sprintf("(field %q not in the hash) %s", f, diffReply(v, nil))
		}
		if distinct && seen[f] {
			return fmt.Sprintf("(field %q twice) %s", f, diffReply(v, nil))
		}
		seen[f] = true
		if withValues {
			i++
			if got, _ := elems[i].(string); got != val {
				return fmt.Sprintf("(field %q with value %q, not %q)", f, got, val)
			}
		}
	}
	return fmt.Sprintf("(%d elements of the hash)", len(elems))
}

// hscan builds an HSCAN from cursor 0 (or a malformed one) with random
// options; it is iterated to the end and compared as a set of pairs.
func (g *diffGen) hscan() diffCmd {
	cursor := "0"
	if g.rng.IntN(8) == 0 {
		cursor = g.pick([]string{"abc", "", " 0", "1.5", "18446744073709551616", "+0"})
	}
	args := []string{g.word("HSCAN"), g.key(), cursor}
	for range g.rng.IntN(3) {
		switch g.rng.IntN(7) {
		case 0, 1:
			args = append(args, g.word("MATCH"), g.pick(append([]string{"f*", "m1*", "?", "[ab]", "*1"}, diffPatterns...)))
		case 2, 3:
			args = append(args, g.word("COUNT"), g.pick([]string{"1", "2", "3", "10", "1000", "0", "-1", "abc"}))
		case 4:
			args = append(args, g.pick([]string{"NOVALUES", "TYPE", "FOO", "MATCH", "COUNT"}))
		case 5:
			args = append(args, g.word("TYPE"), "hash")
		default:
			args = append(args, g.word("COUNT"), "5")
		}
	}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		a, b := diffHScanAll(t, rd, args), diffHScanAll(t, rk, args)
		return diffOutcome{a, b, a == b}
	}}
}

// diffHScanAll runs an HSCAN to the end and renders the sorted pairs it
// yielded, or the error of the first call.
func diffHScanAll(t *testing.T, d diffTarget, args []string) string {
	t.Helper()
	seen := map[string]string{}
	if fail := diffScanPages(t, d, args, 2, "hscan", func(elems []any) string {
		if len(elems)%2 != 0 {
			return "(malformed hscan reply) " + diffReply(elems, nil)
		}
		for j := 0; j < len(elems); j += 2 {
			f, _ := elems[j].(string)
			val, _ := elems[j+1].(string)
			if prev, dup := seen[f]; dup && prev != val {
				return fmt.Sprintf("(field %q returned with %q and %q)", f, prev, val)
			}
			seen[f] = val
		}
		return ""
	}); fail != "" {
		return fail
	}
	return "hscan: " + diffPairs(seen)
}

func diffPairs(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for f, v := range m {
		pairs = append(pairs, strconv.Quote(f)+"="+strconv.Quote(v))
	}
	slices.Sort(pairs)
	return "{" + strings.Join(pairs, ", ") + "}"
}

// diffHashList compares HGETALL, HKEYS and HVALS: exactly while the hash is
// a listpack on redis (insertion order on both), as sorted pairs or
// elements for a hashtable, whose order Redis leaves unspecified.
func diffHashList(name, key string) diffCmd {
	args := []string{name, key}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		enc, _ := rd.do(t, []string{"OBJECT", "ENCODING", key})
		va, ea := rd.do(t, args)
		vb, eb := rk.do(t, args)
		out := diffOutcome{redis: diffReply(va, ea), rkv: diffReply(vb, eb)}
		if ea == nil && eb == nil && enc != "listpack" {
			pairs := strings.EqualFold(name, "HGETALL")
			out.redis, out.rkv = diffUnordered(va, pairs), diffUnordered(vb, pairs)
		}
		out.ok = out.redis == out.rkv
		return out
	}}
}

// diffUnordered renders an array reply sorted, as field=value pairs when
// pairs is set.
func diffUnordered(v any, pairs bool) string {
	arr, ok := v.([]any)
	if !ok {
		return diffReply(v, nil)
	}
	if !pairs {
		return diffReply(diffSort(v), nil)
	}
	m := map[string]string{}
	for i := 0; i+1 < len(arr); i += 2 {
		f, _ := arr[i].(string)
		m[f], _ = arr[i+1].(string)
	}
	if len(m)*2 != len(arr) {
		return "(repeated fields) " + diffReply(v, nil)
	}
	return diffPairs(m)
}

// diffHashEncoding compares OBJECT ENCODING of hash keys and missing ones.
// Other types' encodings are their families' to compare (a string's
// depends on its history, raw after APPEND for one, which rkv does not
// track), so for those only the types must agree.
func diffHashEncoding(args ...string) diffCmd {
	key := args[2]
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		render := func(d diffTarget) string {
			typ, err := d.do(t, []string{"TYPE", key})
			if err == nil && typ != "hash" && typ != "none" {
				return fmt.Sprintf("(a %v key)", typ)
			}
			return diffReply(d.do(t, args))
		}
		a, b := render(rd), render(rk)
		return diffOutcome{a, b, a == b}
	}}
}

// diffHashState renders a hash with its encoding: in order while a
// listpack, sorted once a hashtable.
func diffHashState(t *testing.T, d diffTarget, key string) string {
	t.Helper()
	enc, err := d.do(t, []string{"OBJECT", "ENCODING", key})
	v, err2 := d.do(t, []string{"HGETALL", key})
	if err != nil || err2 != nil {
		return diffReply(enc, err) + " " + diffReply(v, err2)
	}
	if enc == "listpack" {
		return "listpack " + diffReply(v, nil)
	}
	return fmt.Sprintf("%v %s", enc, diffUnordered(v, true))
}
