package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// The differential family of the set commands. SMEMBERS, SINTER, SUNION and
// SDIFF are compared unordered (Redis leaves a hashtable's order
// unspecified); SPOP and SRANDMEMBER by the size and membership of their
// random replies, after which rkv's set is made equal to Redis's so the
// states stay comparable; SSCAN by the members of a whole iteration.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "set", typ: "set", gen: (*diffGen).set, state: diffSetState})
}

// diffSetMembers mixes integers as string2ll reads them (so intsets),
// near-integers and strings (so hashtables), and members of other tests'
// values.
var diffSetMembers = []string{
	"1", "2", "3", "4", "5", "10", "-1", "0", "100", "-32769", "70000", "9223372036854775807",
	"-9223372036854775808", "9223372036854775808", "007", "-0", "+1", " 1", "1.5", "a", "b", "c",
	"abc", "x y", "", "\x00bin\xff", "é", "*", "a*", "k1",
}

// diffSetTmp is a member no generated command uses: adding and removing it
// turns an intset into a hashtable.
const diffSetTmp = "\x00rkv-diff-set-tmp"

func (g *diffGen) setMember() string {
	if g.rng.IntN(3) == 0 {
		return strconv.Itoa(g.rng.IntN(30))
	}
	return g.pick(diffSetMembers)
}

func (g *diffGen) setMembers(min, max int) []string {
	n := min + g.rng.IntN(max-min+1)
	out := make([]string, n)
	for i := range out {
		out[i] = g.setMember()
	}
	return out
}

// setBulk is many members at once, to pass set-max-intset-entries (512)
// and make SSCAN page: integers only, or with strings.
func (g *diffGen) setBulk() []string {
	n := 100 + g.rng.IntN(500)
	out := make([]string, n)
	strs := g.rng.IntN(2) == 0
	for i := range out {
		if strs && i%7 == 0 {
			out[i] = "m" + strconv.Itoa(g.rng.IntN(1000))
		} else {
			out[i] = strconv.Itoa(g.rng.IntN(1500) - 200)
		}
	}
	return out
}

var diffSetArities = []struct {
	name  string
	arity int
}{
	{"sadd", -3}, {"srem", -3}, {"smembers", 2}, {"sismember", 3}, {"smismember", -3}, {"scard", 2},
	{"spop", -2}, {"srandmember", -2}, {"smove", 4}, {"sinter", -2}, {"sunion", -2}, {"sdiff", -2},
	{"sinterstore", -3}, {"sunionstore", -3}, {"sdiffstore", -3}, {"sintercard", -3}, {"sscan", -3},
}

func (g *diffGen) setWrongArity() diffCmd {
	a := diffSetArities[g.rng.IntN(len(diffSetArities))]
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

func (g *diffGen) set() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	sorted := func(args ...string) diffCmd { return diffCmd{args: args, kind: diffSorted} }
	switch r := g.rng.IntN(100); {
	case r < 3:
		return exact(append([]string{w("SADD"), g.key()}, g.setBulk()...)...)
	case r < 18:
		return exact(append([]string{w("SADD"), g.key()}, g.setMembers(1, 5)...)...)
	case r < 25:
		return exact(append([]string{w("SREM"), g.key()}, g.setMembers(1, 4)...)...)
	case r < 30:
		return sorted(w("SMEMBERS"), g.key())
	case r < 34:
		return exact(w("SISMEMBER"), g.key(), g.setMember())
	case r < 37:
		return exact(append([]string{w("SMISMEMBER"), g.key()}, g.setMembers(1, 4)...)...)
	case r < 40:
		return exact(w("SCARD"), g.key())
	case r < 46:
		args := []string{w("SPOP"), g.key()}
		switch g.rng.IntN(6) {
		case 0, 1:
		case 2:
			args = append(args, g.pick([]string{"-1", "abc", "", "1.5", "9223372036854775808", "-9223372036854775808"}))
		case 3:
			args = append(args, g.pick([]string{"1", "2"}), g.pick([]string{"1", "x"}))
		default:
			args = append(args, g.pick([]string{"0", "1", "2", "3", "5", "10", "100", "1000", "9223372036854775807"}))
		}
		return diffSetPop(args)
	case r < 51:
		args := []string{w("SRANDMEMBER"), g.key()}
		switch g.rng.IntN(6) {
		case 0:
		case 1:
			// No huge negative count: Redis would try to answer that many.
			args = append(args, g.pick([]string{"abc", "", "1.5", "-9223372036854775808", "9223372036854775808"}))
		case 2:
			args = append(args, "1", g.pick([]string{"1", "x"}))
		default:
			args = append(args, g.pick([]string{"0", "1", "2", "3", "5", "10", "100", "1000", "9223372036854775807",
				"-1", "-2", "-5", "-20"}))
		}
		return diffSetRandMember(args)
	case r < 56:
		return exact(w("SMOVE"), g.key(), g.key(), g.setMember())
	case r < 65:
		return sorted(append([]string{w(g.pick([]string{"SINTER", "SUNION", "SDIFF"}))}, g.keys(1, 4)...)...)
	case r < 73:
		name := g.pick([]string{"SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"})
		return exact(append([]string{w(name), g.key()}, g.keys(1, 3)...)...)
	case r < 79:
		return g.setInterCard()
	case r < 85:
		return g.setScan()
	case r < 91:
		return diffSetEncoding(w("OBJECT"), w("ENCODING"), g.key())
	case r < 92:
		return exact(w("TYPE"), g.key())
	case r < 96:
		return g.setRecipe()
	default:
		return g.setWrongArity()
	}
}

// setRecipe builds a sequence that reaches the encoding rules random
// commands rarely meet: the intset limit, a hashtable of integers only
// (which SPOP of most members and SDIFF's second algorithm treat specially).
func (g *diffGen) setRecipe() diffCmd {
	w := g.word
	k := g.key()
	ints := func(first, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strconv.Itoa(first + i)
		}
		return out
	}
	enc := diffSetEncoding("OBJECT", "ENCODING", k)
	switch g.rng.IntN(3) {
	case 0:
		n := 510 + g.rng.IntN(5)
		first := g.rng.IntN(100) - 50
		return diffSetSeq(
			diffCmd{args: []string{"DEL", k}},
			diffCmd{args: append([]string{w("SADD"), k}, ints(first, n)...)},
			enc,
			diffCmd{args: []string{w("SADD"), k, strconv.Itoa(first + n + g.rng.IntN(2))}},
			enc,
			diffCmd{args: []string{w("SREM"), k, strconv.Itoa(first)}},
			enc,
		)
	case 1:
		n := 2 + g.rng.IntN(30)
		count := strconv.Itoa(1 + g.rng.IntN(n))
		return diffSetSeq(
			diffCmd{args: []string{"DEL", k}},
			diffCmd{args: append([]string{w("SADD"), k, "s"}, ints(g.rng.IntN(10), n)...)},
			diffCmd{args: []string{w("SREM"), k, "s"}},
			enc,
			diffSetPop([]string{w("SPOP"), k, count}),
			enc,
		)
	}
	a, b, d := g.key(), g.key(), g.key()
	n := 5 + g.rng.IntN(20)
	first := g.rng.IntN(10)
	return diffSetSeq(
		diffCmd{args: []string{"DEL", a, b}},
		diffCmd{args: append([]string{w("SADD"), a, "x"}, ints(first, n)...)},
		diffCmd{args: append([]string{w("SADD"), b, "x"}, ints(first+n-g.rng.IntN(3), g.rng.IntN(3))...)},
		diffCmd{args: append([]string{w("SDIFFSTORE"), d, a, b}, g.keys(0, 2)...)},
		diffSetEncoding("OBJECT", "ENCODING", d),
		diffCmd{args: []string{"SMEMBERS", d}, kind: diffSorted},
	)
}

// diffSetSeq runs commands one after the other, compared each as diffRun
// compares it, and stops at the first difference.
func diffSetSeq(cmds ...diffCmd) diffCmd {
	var shown []string
	for _, c := range cmds {
		shown = append(shown, c.args...)
		shown = append(shown, ";")
	}
	return diffCmd{args: shown, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		var all diffOutcome
		for _, c := range cmds {
			out := diffRun(t, rd, rk, c)
			all.redis += out.redis + "; "
			all.rkv += out.rkv + "; "
			if !out.ok {
				return all
			}
		}
		all.ok = true
		return all
	}}
}

// setInterCard builds SINTERCARD with mostly valid, sometimes wrong
// numkeys and LIMIT arguments.
func (g *diffGen) setInterCard() diffCmd {
	keys := g.keys(1, 3)
	numkeys := strconv.Itoa(len(keys))
	switch g.rng.IntN(8) {
	case 0:
		numkeys = g.pick([]string{"0", "-1", "abc", "", "9223372036854775808", "1.5"})
	case 1:
		numkeys = strconv.Itoa(len(keys) + 1 + g.rng.IntN(3)) // more keys than given, or options read as keys
	case 2:
		if len(keys) > 1 {
			numkeys = strconv.Itoa(len(keys) - 1) // a key read as an option
		}
	}
	args := append([]string{g.word("SINTERCARD"), numkeys}, keys...)
	switch g.rng.IntN(4) {
	case 0:
		args = append(args, g.word("LIMIT"), g.pick([]string{"0", "1", "2", "3", "100"}))
	case 1:
		args = append(args, g.word("LIMIT"), g.pick([]string{"-1", "abc", "", "9223372036854775808", "1.5"}))
	case 2:
		args = append(args, g.pick([]string{"LIMIT", "FOO", "1"}))
		if g.rng.IntN(2) == 0 {
			args = append(args, g.word("LIMIT"), "1")
		}
	}
	return diffCmd{args: args}
}

// setScan builds an SSCAN from cursor 0 (or a malformed one) with random
// options; cursors are each server's own, so only whole iterations compare.
func (g *diffGen) setScan() diffCmd {
	cursor := "0"
	if g.rng.IntN(8) == 0 {
		cursor = g.pick([]string{"abc", "", " 0", "1.5", "18446744073709551616", "-1x"})
	}
	args := []string{g.word("SSCAN"), g.key(), cursor}
	for range g.rng.IntN(3) {
		switch g.rng.IntN(7) {
		case 0, 1:
			args = append(args, g.word("MATCH"), g.pick(append([]string{"1*", "*0", "m*", "[ab]*", "-*"}, diffPatterns...)))
		case 2, 3:
			args = append(args, g.word("COUNT"), g.pick([]string{"1", "2", "3", "10", "1000", "0", "-1", "abc"}))
		case 4:
			args = append(args, g.word("TYPE"), "set")
		case 5:
			args = append(args, g.pick([]string{"FOO", "MATCH", "COUNT"}))
		default:
			args = append(args, g.word("COUNT"), "5")
		}
	}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		a, b := diffSetScanAll(t, rd, args), diffSetScanAll(t, rk, args)
		return diffOutcome{a, b, a == b}
	}}
}

// diffSetScanAll runs an SSCAN to the end and renders the sorted,
// deduplicated members, or the error of the first call.
func diffSetScanAll(t *testing.T, d diffTarget, args []string) string {
	t.Helper()
	seen := map[string]bool{}
	if fail := diffScanPages(t, d, args, 2, "sscan", func(members []any) string {
		for _, m := range members {
			s, _ := m.(string)
			seen[s] = true
		}
		return ""
	}); fail != "" {
		return fail
	}
	return "sscan: " + diffReply(diffSort(diffSetList(seen)), nil)
}

func diffSetList(members map[string]bool) []any {
	out := make([]any, 0, len(members))
	for m := range members {
		out = append(out, m)
	}
	return out
}

// diffSetOf reads the members of key, nil when it is not a set.
func diffSetOf(t *testing.T, d diffTarget, key string) map[string]bool {
	t.Helper()
	if typ, _ := d.do(t, []string{"TYPE", key}); typ != "set" {
		return nil
	}
	v, err := d.do(t, []string{"SMEMBERS", key})
	if err != nil {
		t.Fatalf("%s: SMEMBERS %q: %v", d.name, key, err)
	}
	members := map[string]bool{}
	for _, m := range v.([]any) {
		members[m.(string)] = true
	}
	return members
}

// diffSetRandomReply describes a random reply by what both servers must
// agree on: a member of the set it was drawn from (before), or how many
// members, all of the set, distinct when they must be.
func diffSetRandomReply(v any, before map[string]bool, distinct bool) string {
	switch v := v.(type) {
	case string:
		if !before[v] {
			return fmt.Sprintf("(not a member: %q)", v)
		}
		return "(a member)"
	case []any:
		seen := map[string]bool{}
		for _, e := range v {
			m, _ := e.(string)
			if !before[m] {
				return fmt.Sprintf("(%d members, one not in the set: %q)", len(v), m)
			}
			if distinct && seen[m] {
				return fmt.Sprintf("(%d members, %q repeated)", len(v), m)
			}
			seen[m] = true
		}
		return fmt.Sprintf("(%d members of the set)", len(v))
	}
	return diffReply(v, nil)
}

// diffSetPop compares SPOP by its reply's shape and the encoding it leaves,
// checks that rkv removed exactly what it replied, then rewrites the key on rkv as Redis has it
// (members, TTL, encoding).
func diffSetPop(args []string) diffCmd {
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		key := args[1]
		before := diffSetOf(t, rd, key)
		va, ea := rd.do(t, args)
		vb, eb := rk.do(t, args)
		out := diffOutcome{redis: diffReply(va, ea), rkv: diffReply(vb, eb)}
		if ea != nil || eb != nil || va == nil || vb == nil {
			out.ok = out.redis == out.rkv
		} else {
			out.redis, out.rkv = diffSetRandomReply(va, before, true), diffSetRandomReply(vb, before, true)
			out.ok = out.redis == out.rkv
			if left := diffSetOf(t, rk, key); !diffSetPopped(before, left, vb) {
				out.rkv += fmt.Sprintf(" (but left %d members)", len(left))
				out.ok = false
			}
		}
		if before != nil {
			// The encoding rkv left, compared before the copy replaces it.
			// Popping most of a set rebuilds it from what remains, an
			// intset when that is only integers: a random choice, so
			// the encodings must agree only when both kept integers
			// only or both did not.
			if diffSetInts(diffSetOf(t, rd, key)) == diffSetInts(diffSetOf(t, rk, key)) {
				encR, _ := rd.do(t, []string{"OBJECT", "ENCODING", key})
				encK, _ := rk.do(t, []string{"OBJECT", "ENCODING", key})
				out.redis += fmt.Sprintf(", leaving %v", encR)
				out.rkv += fmt.Sprintf(", leaving %v", encK)
				out.ok = out.ok && encR == encK
			}
			diffSetCopy(t, rd, rk, key)
		}
		return out
	}}
}

// diffSetInts reports whether every member is an integer as Redis's
// string2ll reads it (canonical decimal, 64 bits).
func diffSetInts(members map[string]bool) bool {
	for m := range members {
		if v, err := strconv.ParseInt(m, 10, 64); err != nil || strconv.FormatInt(v, 10) != m {
			return false
		}
	}
	return true
}

// diffSetPopped reports whether left is before less the popped reply.
func diffSetPopped(before, left map[string]bool, popped any) bool {
	gone := map[string]bool{}
	switch p := popped.(type) {
	case string:
		gone[p] = true
	case []any:
		for _, e := range p {
			m, _ := e.(string)
			gone[m] = true
		}
	}
	for m := range before {
		if left[m] == gone[m] {
			return false
		}
	}
	return len(left)+len(gone) == len(before)
}

// diffSetCopy makes rkv's key what Redis's is: DEL, SADD of Redis's
// members, PEXPIRE of its TTL, and a hashtable where Redis has one.
func diffSetCopy(t *testing.T, rd, rk diffTarget, key string) {
	t.Helper()
	rk.do(t, []string{"DEL", key})
	members := diffSetOf(t, rd, key)
	if len(members) == 0 {
		return
	}
	add := []string{"SADD", key}
	for m := range members {
		add = append(add, m)
	}
	rk.do(t, add)
	if ttl, _ := rd.do(t, []string{"PTTL", key}); ttl.(int64) > 0 {
		rk.do(t, []string{"PEXPIRE", key, strconv.FormatInt(ttl.(int64), 10)})
	}
	encR, _ := rd.do(t, []string{"OBJECT", "ENCODING", key})
	encK, _ := rk.do(t, []string{"OBJECT", "ENCODING", key})
	if encR == "hashtable" && encK == "intset" {
		rk.do(t, []string{"SADD", key, diffSetTmp})
		rk.do(t, []string{"SREM", key, diffSetTmp})
	}
}

// diffSetRandMember compares SRANDMEMBER by its reply's shape: a positive
// count draws distinct members, a negative one may repeat them.
func diffSetRandMember(args []string) diffCmd {
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		before := diffSetOf(t, rd, args[1])
		va, ea := rd.do(t, args)
		vb, eb := rk.do(t, args)
		out := diffOutcome{redis: diffReply(va, ea), rkv: diffReply(vb, eb)}
		if ea == nil && eb == nil && va != nil && vb != nil {
			distinct := len(args) < 3 || !strings.HasPrefix(args[2], "-")
			out.redis, out.rkv = diffSetRandomReply(va, before, distinct), diffSetRandomReply(vb, before, distinct)
		}
		out.ok = out.redis == out.rkv
		return out
	}}
}

// diffSetEncoding compares OBJECT ENCODING of a set exactly; of a key of
// another type, only that type (the strings' encodings are not this
// family's).
func diffSetEncoding(args ...string) diffCmd {
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		key := args[2]
		if typ, _ := rd.do(t, []string{"TYPE", key}); typ != "set" {
			a, ea := rd.do(t, []string{"TYPE", key})
			b, eb := rk.do(t, []string{"TYPE", key})
			out := diffOutcome{redis: "type " + diffReply(a, ea), rkv: "type " + diffReply(b, eb)}
			out.ok = out.redis == out.rkv
			return out
		}
		a, ea := rd.do(t, args)
		b, eb := rk.do(t, args)
		out := diffOutcome{redis: diffReply(a, ea), rkv: diffReply(b, eb)}
		out.ok = out.redis == out.rkv
		return out
	}}
}

// diffSetState renders a set as its encoding and sorted members.
func diffSetState(t *testing.T, d diffTarget, key string) string {
	t.Helper()
	enc, _ := d.do(t, []string{"OBJECT", "ENCODING", key})
	v, err := d.do(t, []string{"SMEMBERS", key})
	return fmt.Sprintf("%v %s", enc, diffReply(diffSort(v), err))
}
