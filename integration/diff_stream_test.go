package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The stream family: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XREAD and
// XSETID with valid and invalid arguments, on the shared keys. Redis
// specifies the order of every stream reply, so replies are compared
// exactly, and the state is XRANGE - +.
//
// IDs are the one thing the servers cannot agree on by themselves: an XADD
// with "*" takes the clock's millisecond when it is past the stream's last
// ID. So the generator's explicit IDs are far in the future: once a
// stream holds one, "*" follows its last ID, identically on both servers.
// An XADD "*" that took each server's own clock (a new stream) must answer
// a well-formed ID near the clock on both; the custom comparison then
// deletes that entry on each, which leaves the streams comparable (their
// last IDs still differ, but no explicit ID the generator gives lies
// between them).
//
// "~" trimming is compared exactly too: rkv models Redis's listpack nodes
// (100 entries, 4096 bytes), and bursts of XADDs fill several of them.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{
		name:  "stream",
		typ:   "stream",
		gen:   (*diffGen).stream,
		state: diffStreamState,
	})
}

func diffStreamState(t *testing.T, d diffTarget, key string) string {
	t.Helper()
	v, err := d.do(t, []string{"XRANGE", key, "-", "+"})
	full, ferr := d.do(t, []string{"XINFO", "STREAM", key, "FULL", "COUNT", "0"})
	return diffReply(v, err) + " " + diffReply(diffGroupNorm(full, diffNormTimes), ferr)
}

// diffStreamBase is the millisecond part of the generator's IDs: about
// 30000 years from now. Command i gets milliseconds base+4i, so the IDs of
// later commands are greater.
const diffStreamBase = 1_000_000_000_000_000

var diffStreamBadIDs = []string{
	"0-0", "0", "0-1", "1-1", "-", "+", "$", ">", "abc", "", "1-2-3", "-1", "1-", "(1", " 1", "+1", "01-1",
	"18446744073709551615-18446744073709551615", "18446744073709551615", "18446744073709551616",
	"1-18446744073709551616", "1--1", "1-*", "*", "1-0x1",
}

var diffStreamArities = []struct {
	name  string
	arity int
}{
	{"xadd", -5}, {"xdel", -3}, {"xlen", 2}, {"xrange", -4}, {"xrevrange", -4}, {"xread", -4},
	{"xsetid", -3}, {"xtrim", -4}, {"xack", -4}, {"xautoclaim", -6}, {"xclaim", -6}, {"xgroup", -2},
	{"xinfo", -2}, {"xpending", -3}, {"xreadgroup", -7},
}

// streamMs is the millisecond part for a command back commands ago.
func (g *diffGen) streamMs(back int) uint64 {
	return diffStreamBase + 4*uint64(max(g.idx-back, 0))
}

// streamID is an ID for any command: mostly of recent commands (so that
// XDEL and XRANGE find entries, and XADD is sometimes too late), now and
// then incomplete or malformed.
func (g *diffGen) streamID() string {
	switch r := g.rng.IntN(100); {
	case r < 50:
		return fmt.Sprintf("%d-%d", g.streamMs(0), g.rng.IntN(3))
	case r < 70:
		seq := g.rng.IntN(3)
		if g.rng.IntN(4) == 0 {
			seq = g.rng.IntN(250) // the IDs of bursts
		}
		return fmt.Sprintf("%d-%d", g.streamMs(g.rng.IntN(60)), seq)
	case r < 80:
		return strconv.FormatUint(g.streamMs(g.rng.IntN(60)), 10)
	case r < 85:
		return fmt.Sprintf("%d-*", g.streamMs(g.rng.IntN(3)))
	default:
		return g.pick(diffStreamBadIDs)
	}
}

// streamOldID is the ID of an entry up to 150 commands old, or of none
// (an incomplete one now and then).
func (g *diffGen) streamOldID() string {
	ms := g.streamMs(g.rng.IntN(150))
	switch g.rng.IntN(5) {
	case 0:
		return strconv.FormatUint(ms, 10)
	case 1:
		return fmt.Sprintf("%d-%d", ms, g.rng.IntN(250))
	}
	return fmt.Sprintf("%d-%d", ms, g.rng.IntN(3))
}

// streamBound is the start (first) or end of an XRANGE: mostly a range
// that holds entries, now and then an exclusive, reversed or bad one.
func (g *diffGen) streamBound(first bool) string {
	switch r := g.rng.IntN(10); {
	case r < 3 && first:
		return "-"
	case r < 3:
		return "+"
	case r < 4:
		return g.pick([]string{"-", "+"})
	case r < 5:
		return "(" + g.streamOldID()
	case r < 8 && first:
		return g.streamOldID()
	}
	return g.streamID()
}

func (g *diffGen) streamValue() string {
	switch g.rng.IntN(10) {
	case 0:
		return strings.Repeat("x", 1000) // four to a node
	case 1, 2:
		return strconv.Itoa(g.rng.IntN(100000) - 5000) // listpack integers
	}
	return g.val()
}

// streamFields returns field/value pairs; the fields repeat, as Redis
// compresses entries with the same fields as their node's first.
func (g *diffGen) streamFields() []string {
	var fv []string
	for range 1 + g.rng.IntN(3) {
		fv = append(fv, g.pick([]string{"f", "f", "g", "n", "1", "-7", ""}), g.streamValue())
	}
	if g.rng.IntN(25) == 0 {
		fv = fv[:len(fv)-1] // odd: wrong arity
	}
	return fv
}

// streamTrim is a MAXLEN or MINID option with "=", "~" or neither and a
// LIMIT now and then, mostly valid.
func (g *diffGen) streamTrim() []string {
	var args []string
	strategy := g.word(g.pick([]string{"MAXLEN", "MINID"}))
	args = append(args, strategy)
	approx := false
	switch g.rng.IntN(3) {
	case 0:
		args = append(args, "~")
		approx = true
	case 1:
		args = append(args, "=")
	}
	switch {
	case strings.EqualFold(strategy, "MAXLEN") && g.rng.IntN(2) == 0:
		args = append(args, strconv.Itoa(g.rng.IntN(300)))
	case strings.EqualFold(strategy, "MAXLEN"):
		args = append(args, g.pick([]string{"0", "1", "2", "3", "5", "10", "20", "50", "100", "150", "-1", "abc", ""}))
	default:
		args = append(args, g.streamID())
	}
	if approx && g.rng.IntN(3) == 0 || g.rng.IntN(20) == 0 {
		args = append(args, g.word("LIMIT"), g.pick([]string{"0", "1", "5", "100", "150", "-1", "abc"}))
	}
	if g.rng.IntN(25) == 0 {
		args = append(args, g.word(g.pick([]string{"MAXLEN", "MINID"})), "1") // both strategies
	}
	return args
}

func (g *diffGen) stream() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	if g.rng.IntN(100) < 35 {
		return g.streamGroup()
	}
	switch r := g.rng.IntN(100); {
	case r < 28:
		return g.xadd()
	case r < 31:
		return g.streamBurst()
	case r < 36:
		return exact(w("XLEN"), g.key())
	case r < 50:
		name := g.pick([]string{"XRANGE", "XREVRANGE"})
		start, end := g.streamBound(true), g.streamBound(false)
		if strings.EqualFold(name, "XREVRANGE") {
			start, end = end, start
		}
		args := []string{w(name), g.key(), start, end}
		for range g.rng.IntN(3) {
			if g.rng.IntN(8) == 0 {
				args = append(args, g.pick([]string{"COUNT", "FOO"}))
				continue
			}
			args = append(args, w("COUNT"), g.pick([]string{"0", "1", "2", "3", "10", "-1", "abc"}))
		}
		return exact(args...)
	case r < 55:
		args := []string{w("XDEL"), g.key()}
		for range 1 + g.rng.IntN(4) {
			args = append(args, g.streamID())
		}
		return exact(args...)
	case r < 60:
		return g.xdelExisting()
	case r < 70:
		args := append([]string{w("XTRIM"), g.key()}, g.streamTrim()...)
		if g.rng.IntN(15) == 0 {
			args = append(args, g.pick([]string{"FOO", "NOMKSTREAM", "LIMIT"}))
		}
		return exact(args...)
	case r < 85:
		return g.xread()
	case r < 92:
		args := []string{w("XSETID"), g.key(), g.streamID()}
		for range g.rng.IntN(3) {
			switch g.rng.IntN(5) {
			case 0, 1:
				args = append(args, w("ENTRIESADDED"), g.pick([]string{"0", "1", "5", "100", "1000", "-1", "abc"}))
			case 2, 3:
				args = append(args, w("MAXDELETEDID"), g.streamID())
			default:
				args = append(args, g.pick([]string{"FOO", "ENTRIESADDED", "MAXDELETEDID"}))
			}
		}
		return exact(args...)
	default:
		return g.streamWrongArity()
	}
}

// xadd builds an XADD with options, "*" or an ID, and pairs.
func (g *diffGen) xadd() diffCmd {
	key := g.key()
	args := []string{g.word("XADD"), key}
	if g.rng.IntN(8) == 0 {
		args = append(args, g.word("NOMKSTREAM"))
	}
	if g.rng.IntN(3) == 0 {
		args = append(args, g.streamTrim()...)
	}
	if g.rng.IntN(30) == 0 {
		args = append(args, g.pick([]string{"FOO", "NOMKSTREAM", "LIMIT"}))
	}
	id := "*"
	if g.rng.IntN(4) != 0 {
		id = g.streamID()
	}
	// streamID may give "*" among its bad IDs: that too takes the clock.
	auto := id == "*"
	args = append(args, id)
	args = append(args, g.streamFields()...)
	if !auto {
		return diffCmd{args: args}
	}
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		va, ea := rd.do(t, args)
		vb, eb := rk.do(t, args)
		out := diffOutcome{redis: diffReply(va, ea), rkv: diffReply(vb, eb)}
		if out.ok = out.redis == out.rkv; out.ok {
			return out
		}
		ida, oka := va.(string)
		idb, okb := vb.(string)
		if !oka || !okb || !diffClockID(ida) || !diffClockID(idb) {
			return out
		}
		da, ea := rd.do(t, []string{"XDEL", key, ida})
		db, eb := rk.do(t, []string{"XDEL", key, idb})
		out.redis += ", then XDEL: " + diffReply(da, ea)
		out.rkv += ", then XDEL: " + diffReply(db, eb)
		out.ok = diffReply(da, ea) == diffReply(db, eb)
		return out
	}}
}

// xdelExisting deletes entries that exist: a random ID would rarely name
// one. It reads Redis's stream to pick them (the same on rkv, or the
// comparison of an earlier command failed).
func (g *diffGen) xdelExisting() diffCmd {
	key := g.key()
	pick := []uint64{g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint64()}[:1+g.rng.IntN(3)]
	return diffCmd{args: []string{"XDEL", key, "(existing IDs)"}, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		args := []string{"XDEL", key}
		v, _ := rd.do(t, []string{"XRANGE", key, "-", "+"})
		entries, _ := v.([]any)
		for _, p := range pick {
			if len(entries) == 0 {
				break
			}
			e, _ := entries[p%uint64(len(entries))].([]any)
			id, _ := e[0].(string)
			args = append(args, id)
		}
		if len(args) == 2 {
			args = append(args, "1-1")
		}
		va, ea := rd.do(t, args)
		vb, eb := rk.do(t, args)
		out := diffOutcome{redis: fmt.Sprintf("%q: %s", args, diffReply(va, ea)), rkv: fmt.Sprintf("%q: %s", args, diffReply(vb, eb))}
		out.ok = out.redis == out.rkv
		return out
	}}
}

// diffClockID reports whether id was taken from a clock of this machine:
// its milliseconds within a minute of now.
func diffClockID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	m, err1 := strconv.ParseInt(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	now := time.Now().UnixMilli()
	return err1 == nil && err2 == nil && m > now-60_000 && m < now+60_000
}

// streamBurst adds 100 to 250 entries to one key, with consecutive IDs of
// this command's milliseconds, so that streams span several listpack nodes
// and "~" trimming removes whole ones. Small entries fill nodes by count;
// bigger ones, of strings and integers of every listpack encoding, end
// nodes by bytes, where the size of each element decides.
func (g *diffGen) streamBurst() diffCmd {
	key := g.key()
	n := 100 + g.rng.IntN(151)
	ms := g.streamMs(0)
	style := g.rng.IntN(3)
	var cmds [][]string
	for i := range n {
		args := []string{"XADD", key, fmt.Sprintf("%d-%d", ms, i), "n", strconv.Itoa(i)}
		switch {
		case style == 1:
			args = append(args, "pad", strings.Repeat("p", 10+g.rng.IntN(50)))
		case style == 2 && g.rng.IntN(2) == 0:
			args = append(args, "i", strconv.FormatInt(g.rng.Int64()>>g.rng.IntN(64), 10), "s", strings.Repeat("s", g.rng.IntN(80)))
		case style == 2:
			args = append(args, "s", strings.Repeat("s", g.rng.IntN(80)), "i", strconv.FormatInt(-g.rng.Int64()>>g.rng.IntN(64), 10))
		}
		cmds = append(cmds, args)
	}
	return diffCmd{args: []string{"(burst of XADD)", key, strconv.Itoa(n)}, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		for _, args := range cmds {
			va, ea := rd.do(t, args)
			vb, eb := rk.do(t, args)
			if a, b := diffReply(va, ea), diffReply(vb, eb); a != b {
				return diffOutcome{redis: fmt.Sprintf("%q: %s", args, a), rkv: fmt.Sprintf("%q: %s", args, b)}
			}
		}
		return diffOutcome{redis: "ok", rkv: "ok", ok: true}
	}}
}

// xread builds an XREAD of one to three keys, with COUNT, sometimes a short
// BLOCK, and errors.
func (g *diffGen) xread() diffCmd {
	w := g.word
	args := []string{w("XREAD")}
	for range g.rng.IntN(3) {
		switch g.rng.IntN(10) {
		case 0, 1, 2, 3:
			args = append(args, w("COUNT"), g.pick([]string{"0", "1", "2", "5", "100", "-1", "abc"}))
		case 4, 5:
			// Never BLOCK 0: Redis would wait for ever.
			args = append(args, w("BLOCK"), g.pick([]string{"1", "2", "5", "-1", "abc", ""}))
		case 6:
			args = append(args, w("GROUP"), "g", "c")
		case 7:
			args = append(args, w("NOACK"))
		default:
			args = append(args, g.pick([]string{"FOO", "COUNT", "BLOCK"}))
		}
	}
	n := 1 + g.rng.IntN(3)
	args = append(args, w("STREAMS"))
	args = append(args, g.keys(n, n)...)
	for range n {
		switch g.rng.IntN(6) {
		case 0:
			args = append(args, "$")
		case 1:
			args = append(args, "0")
		case 2, 3:
			args = append(args, g.streamOldID())
		default:
			args = append(args, g.streamID())
		}
	}
	if g.rng.IntN(15) == 0 {
		args = append(args, g.streamID()) // unbalanced
	}
	return diffCmd{args: args}
}

func (g *diffGen) streamWrongArity() diffCmd {
	a := diffStreamArities[g.rng.IntN(len(diffStreamArities))]
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

// TestDifferentialStreamNodes checks rkv's model of Redis's listpack nodes
// where the family's mixed workload rarely reaches: long runs of XADD with
// entries of every size and listpack encoding, XDEL, and trimming by
// MAXLEN and MINID, exact and "~" with LIMIT, on one stream, so that nodes
// end by count and by bytes, exactly at the limits too. Every reply is
// compared exactly (the IDs are explicit), which pins every node boundary.
func TestDifferentialStreamNodes(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	ctx := context.Background()
	for seed := 1 + *diffSeedShift; seed <= 12+*diffSeedShift; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x57e4))
		for _, d := range []diffTarget{rd, rk} {
			d.do(t, []string{"DEL", "nodes"})
		}
		ms := uint64(1)
		value := func() string {
			switch rng.IntN(6) {
			case 0:
				return strconv.Itoa(rng.IntN(100000) - 50000)
			case 1:
				return strings.Repeat("x", rng.IntN(200))
			case 2:
				return strings.Repeat("y", rng.IntN(5000))
			case 3:
				return strconv.FormatInt(rng.Int64()>>rng.IntN(64), 10)
			}
			return "v" + strconv.Itoa(rng.IntN(10))
		}
		approx := func() string { return []string{"~", "=", "~", "~"}[rng.IntN(4)] }
		var cmds [][]string
		for i := range 800 {
			var args []string
			switch r := rng.IntN(20); {
			case r < 12:
				if rng.IntN(3) == 0 {
					ms += uint64(rng.IntN(100000))
				}
				args = []string{"XADD", "nodes"}
				if rng.IntN(4) == 0 {
					args = append(args, "MAXLEN", approx(), strconv.Itoa(rng.IntN(300)))
					if args[3] == "~" && rng.IntN(2) == 0 {
						args = append(args, "LIMIT", strconv.Itoa(rng.IntN(300)))
					}
				}
				args = append(args, fmt.Sprintf("%d-%d", ms, i))
				same := rng.IntN(2) == 0
				for f := range 1 + rng.IntN(3) {
					name := "f" + strconv.Itoa(f)
					if !same {
						name = []string{"a", "b", "12", "-7", "field"}[rng.IntN(5)]
					}
					args = append(args, name, value())
				}
			case r < 15:
				args = []string{"XDEL", "nodes"}
				for range 1 + rng.IntN(3) {
					args = append(args, fmt.Sprintf("%d-%d", ms-uint64(rng.IntN(3)), rng.IntN(i+1)))
				}
			case r < 17:
				args = []string{"XTRIM", "nodes", "MAXLEN", approx(), strconv.Itoa(rng.IntN(300))}
			case r < 19:
				args = []string{"XTRIM", "nodes", "MINID", approx(), strconv.FormatUint(ms-uint64(rng.IntN(200000)), 10)}
			default:
				args = []string{"XRANGE", "nodes", "-", "+", "COUNT", "3"}
			}
			if args[0] == "XTRIM" && args[3] == "~" && rng.IntN(2) == 0 {
				args = append(args, "LIMIT", strconv.Itoa(rng.IntN(300)))
			}
			cmds = append(cmds, args)
		}
		// Pipelined in batches: rkv proposes a batch of writes together.
		for start := 0; start < len(cmds); start += 100 {
			batch := cmds[start:min(start+100, len(cmds))]
			var replies [2][]string
			for k, d := range []diffTarget{rd, rk} {
				pipe := d.c.Pipeline()
				var res []*redis.Cmd
				for _, args := range batch {
					a := make([]any, len(args))
					for j, s := range args {
						a[j] = s
					}
					res = append(res, pipe.Do(ctx, a...))
				}
				pipe.Exec(ctx)
				for _, r := range res {
					v, err := r.Result()
					if diffIsTransport(err) {
						t.Fatalf("%s: %v", d.name, err)
					}
					replies[k] = append(replies[k], diffReply(v, err))
				}
			}
			for j := range batch {
				if replies[0][j] != replies[1][j] {
					args := slices.Clone(batch[j])
					for k, a := range args {
						if len(a) > 24 {
							args[k] = fmt.Sprintf("%.10s...(%d bytes)", a, len(a))
						}
					}
					t.Fatalf("seed %d, command %d: %q\n  redis: %.500s\n  rkv:   %.500s", seed, start+j, args, replies[0][j], replies[1][j])
				}
			}
		}
	}
}

// Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM
// and XINFO. What they answer depends on the clock in three ways, which
// the comparison takes out (diffGroupNorm): absolute delivery and
// last-seen times (XINFO STREAM FULL) are "now" when within a minute of
// the test's clock, else exact (XCLAIM ... TIME 1000); idle times (XPENDING,
// XINFO CONSUMERS) are "recent" or "old"; IDs a clock made (XADD "*" on a
// new stream) are "(clock id)". Minimum idle times are 0 or a billion ms,
// and explicit times far in the past or the future, so that which entries
// a command claims never depends on how long the commands took.

var (
	diffGroups    = []string{"g1", "g2", "g1", "nog"}
	diffConsumers = []string{"c1", "c2", "c3", ""}
	diffMinIdle   = []string{"0", "0", "1000000000", "-1", "abc"}
)

// How diffGroupNorm treats integers: as absolute times, or as idle times.
const (
	diffNormTimes = iota
	diffNormIdle
)

func (g *diffGen) groupID() string {
	switch g.rng.IntN(6) {
	case 0:
		return "$"
	case 1:
		return "0"
	case 2:
		return g.pick([]string{"-", "+", ">", "abc"})
	}
	return g.streamOldID()
}

func (g *diffGen) streamGroup() diffCmd {
	w := g.word
	key, grp, cons := g.key(), g.pick(diffGroups), g.pick(diffConsumers)
	norm := func(how int, args ...string) diffCmd {
		return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
			va, ea := rd.do(t, args)
			vb, eb := rk.do(t, args)
			out := diffOutcome{redis: diffReply(diffGroupNorm(va, how), ea), rkv: diffReply(diffGroupNorm(vb, how), eb)}
			out.ok = out.redis == out.rkv
			return out
		}}
	}
	exact := func(args ...string) diffCmd { return norm(diffNormTimes, args...) }
	switch r := g.rng.IntN(100); {
	case r < 12:
		args := []string{w("XGROUP"), w("CREATE"), key, grp, g.groupID()}
		for range g.rng.IntN(3) {
			switch g.rng.IntN(4) {
			case 0, 1:
				args = append(args, w("MKSTREAM"))
			case 2:
				args = append(args, w("ENTRIESREAD"), g.pick([]string{"0", "1", "3", "-1", "-2", "abc"}))
			default:
				args = append(args, g.pick([]string{"FOO", "ENTRIESREAD"}))
			}
		}
		return exact(args...)
	case r < 17:
		args := []string{w("XGROUP"), w("SETID"), key, grp, g.groupID()}
		if g.rng.IntN(3) == 0 {
			args = append(args, w("ENTRIESREAD"), g.pick([]string{"0", "2", "-1", "-3", "abc"}))
		} else if g.rng.IntN(10) == 0 {
			args = append(args, g.pick([]string{"MKSTREAM", "ENTRIESREAD"}))
		}
		return exact(args...)
	case r < 22:
		sub := g.pick([]string{"DESTROY", "CREATECONSUMER", "DELCONSUMER", "CREATECONSUMER", "HELP", "FOO"})
		args := []string{w("XGROUP"), w(sub)}
		switch sub {
		case "DESTROY":
			args = append(args, key, grp)
		case "CREATECONSUMER", "DELCONSUMER":
			args = append(args, key, grp, cons)
		}
		if g.rng.IntN(10) == 0 {
			args = append(args, "extra")
		}
		return exact(args...)
	case r < 42:
		args := []string{w("XREADGROUP")}
		if g.rng.IntN(20) != 0 {
			args = append(args, w("GROUP"), grp, cons)
		}
		for range g.rng.IntN(3) {
			switch g.rng.IntN(6) {
			case 0, 1, 2:
				args = append(args, w("COUNT"), g.pick([]string{"0", "1", "2", "5", "-1", "abc"}))
			case 3:
				args = append(args, w("NOACK"))
			case 4:
				// Only errors: a valid BLOCK could wait on Redis.
				args = append(args, w("BLOCK"), g.pick([]string{"-1", "abc"}))
			default:
				args = append(args, g.pick([]string{"FOO", "GROUP"}))
			}
		}
		n := 1 + g.rng.IntN(2)
		args = append(args, w("STREAMS"))
		args = append(args, g.keys(n, n)...)
		for range n {
			args = append(args, g.pick([]string{">", ">", ">", "0", "$", g.streamOldID()}))
		}
		return exact(args...)
	case r < 52:
		args := []string{w("XACK"), key, grp}
		for range 1 + g.rng.IntN(3) {
			args = append(args, g.pick([]string{g.streamOldID(), g.streamOldID(), "abc"}))
		}
		return exact(args...)
	case r < 62:
		args := []string{w("XPENDING"), key, grp}
		if g.rng.IntN(3) == 0 {
			return exact(args...)
		}
		if g.rng.IntN(3) == 0 {
			args = append(args, w("IDLE"), g.pick(diffMinIdle))
		}
		args = append(args, g.streamBound(true), g.streamBound(false), g.pick([]string{"10", "1", "0", "-1", "abc", "1000"}))
		if g.rng.IntN(3) == 0 {
			args = append(args, cons)
		}
		if g.rng.IntN(15) == 0 {
			args = args[:len(args)-1]
		}
		return norm(diffNormIdle, args...)
	case r < 74:
		args := []string{w("XCLAIM"), key, grp, cons, g.pick(diffMinIdle)}
		for range 1 + g.rng.IntN(3) {
			args = append(args, g.streamOldID())
		}
		for range g.rng.IntN(3) {
			switch g.rng.IntN(8) {
			case 0:
				args = append(args, w("IDLE"), g.pick([]string{"0", "5", "-1", "abc"}))
			case 1:
				args = append(args, w("TIME"), g.pick([]string{"1000", "0", "-5", "99999999999999", "abc"}))
			case 2:
				args = append(args, w("RETRYCOUNT"), g.pick([]string{"0", "3", "-1", "abc"}))
			case 3:
				args = append(args, w("FORCE"))
			case 4:
				args = append(args, w("JUSTID"))
			case 5:
				args = append(args, w("LASTID"), g.streamOldID())
			default:
				args = append(args, g.pick([]string{"FOO", "IDLE", "LASTID"}))
			}
		}
		return exact(args...)
	case r < 84:
		args := []string{w("XAUTOCLAIM"), key, grp, cons, g.pick(diffMinIdle), g.streamBound(true)}
		for range g.rng.IntN(3) {
			switch g.rng.IntN(4) {
			case 0, 1:
				args = append(args, w("COUNT"), g.pick([]string{"1", "2", "3", "100", "0", "-1", "abc", "576460752303423488"}))
			case 2:
				args = append(args, w("JUSTID"))
			default:
				args = append(args, g.pick([]string{"FOO", "COUNT"}))
			}
		}
		return exact(args...)
	case r < 97:
		switch g.rng.IntN(6) {
		case 0:
			return exact(w("XINFO"), w("GROUPS"), key)
		case 1:
			return norm(diffNormIdle, w("XINFO"), w("CONSUMERS"), key, grp)
		case 2:
			return exact(w("XINFO"), w("STREAM"), key)
		case 3:
			args := []string{w("XINFO"), w("STREAM"), key, w("FULL")}
			if g.rng.IntN(2) == 0 {
				args = append(args, w("COUNT"), g.pick([]string{"0", "1", "2", "-1", "abc"}))
			}
			return exact(args...)
		case 4:
			return exact(w("XINFO"), w(g.pick([]string{"HELP", "FOO"})))
		}
		return exact(w("XINFO"), w("STREAM"), key, g.pick([]string{"FOO", "FULL COUNT", "FULL"}))
	}
	return g.streamWrongArity()
}

// diffGroupNorm takes out of a consumer-group reply what depends on the
// clock (see above): IDs a clock made, and integers that are times, read
// as absolute times or, with diffNormIdle, as idle times.
func diffGroupNorm(v any, how int) any {
	switch v := v.(type) {
	case string:
		if diffClockID(v) {
			return "(clock id)"
		}
	case int64:
		now := time.Now().UnixMilli()
		switch {
		case how == diffNormTimes && v > now-60_000 && v < now+60_000:
			return "(now)"
		case how == diffNormIdle && v < 60_000:
			return "(recent)"
		case how == diffNormIdle:
			return "(old)"
		}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			if how == diffNormIdle {
				if _, isInt := e.(int64); isInt && !diffIsIdleAt(v, i) {
					out[i] = e
					continue
				}
			}
			out[i] = diffGroupNorm(e, how)
		}
		return out
	}
	return v
}

// diffIsIdleAt reports whether the integer at i of an array is an idle
// time: the third of an XPENDING row (ID, consumer, idle, count), or the
// value of an XINFO CONSUMERS "idle" field.
func diffIsIdleAt(arr []any, i int) bool {
	if i > 0 && arr[i-1] == "idle" {
		return true
	}
	_, name := arr[min(1, len(arr)-1)].(string)
	return len(arr) == 4 && i == 2 && name
}
