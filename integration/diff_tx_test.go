package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// The transaction family: sequences of WATCH, MULTI, queued commands of
// every family, EXEC or DISCARD, on one connection of each server, with a
// second connection changing watched keys (or not) in between; and the
// errors of the transaction commands used out of place. Every reply of
// every step is compared exactly.
//
// Departure normalized: rkv's FLUSHALL and FLUSHDB abort every WATCH,
// Redis's only those of keys that existed (a spurious abort: rkv keeps no
// trace of keys that are gone). No flush runs while a key is watched.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "tx", gen: (*diffGen).tx})
}

// txStep is one command of a sequence and the connection that sends it.
type txStep struct {
	other bool // sent by the second connection
	c     diffCmd
}

func (s txStep) String() string {
	if s.other {
		return "(other) " + s.c.String()
	}
	return s.c.String()
}

func (g *diffGen) tx() diffCmd {
	var steps []txStep
	add := func(args ...string) { steps = append(steps, txStep{c: diffCmd{args: args}}) }
	switch g.rng.IntN(16) {
	case 0:
		add(g.word(g.pick([]string{"EXEC", "DISCARD", "UNWATCH"})))
		return g.txSequence(steps)
	case 1:
		// Wrong arities; EXEC's discards the (absent) transaction.
		add(g.word(g.pick([]string{"MULTI", "EXEC", "DISCARD", "UNWATCH"})), g.key())
		return g.txSequence(steps)
	case 2:
		add(g.word("WATCH"))
		return g.txSequence(steps)
	}
	var watched []string
	if g.rng.IntN(2) == 0 {
		watched = g.keys(1, 3)
		add(append([]string{g.word("WATCH")}, watched...)...)
		if g.rng.IntN(4) == 0 {
			more := g.keys(1, 2)
			watched = append(watched, more...)
			add(append([]string{g.word("WATCH")}, more...)...)
		}
	}
	// Changes, or reads, between WATCH and MULTI; now and then surely a
	// change of a watched key.
	for range g.rng.IntN(3) {
		steps = append(steps, txStep{other: g.rng.IntN(3) != 0, c: g.txOutside()})
	}
	if len(watched) > 0 && g.rng.IntN(4) == 0 {
		k := g.pick(watched)
		change := g.pick([]string{"SET", "DEL", "EXPIRE", "APPEND"})
		args := []string{g.word(change), k}
		switch change {
		case "SET", "APPEND":
			args = append(args, g.val())
		case "EXPIRE":
			args = append(args, g.when(diffRelSec))
		}
		steps = append(steps, txStep{other: g.rng.IntN(3) != 0, c: diffCmd{args: args}})
	}
	if g.rng.IntN(10) == 0 {
		add(g.word("UNWATCH"))
	}
	add(g.word("MULTI"))
	for range g.rng.IntN(6) {
		switch r := g.rng.IntN(40); {
		case r == 0:
			steps = append(steps, txStep{c: g.wrongArity()})
		case r == 1:
			add(g.pick([]string{"NOSUCHCMD", "GETT", "set2"}), g.key())
		case r == 2:
			add(g.word("MULTI"))
		case r == 3:
			add(g.word("WATCH"), g.key())
		case r == 4:
			add(g.word("PING"))
		case r == 5:
			add(g.word("ECHO"), g.val())
		case r == 6:
			add(g.word("UNWATCH"))
		case r < 10:
			steps = append(steps, txStep{other: true, c: g.txOutside()})
		default:
			steps = append(steps, txStep{c: g.txInside()})
		}
	}
	switch r := g.rng.IntN(20); {
	case r < 3:
		add(g.word("DISCARD"))
	case r == 3:
		add(g.word("EXEC"), g.key())
	default:
		add(g.word("EXEC"))
	}
	return g.txSequence(steps)
}

// txAny generates a command of the string generator or of another family.
func (g *diffGen) txAny() diffCmd {
	var others []*diffFamily
	for _, f := range diffFamilies {
		if f.name != "tx" {
			others = append(others, f)
		}
	}
	g.idx++
	if len(others) == 0 || g.rng.IntN(2) == 0 {
		return g.gen()
	}
	return others[g.rng.IntN(len(others))].gen(g)
}

// txInside generates a command to queue: its reply comes back inside
// EXEC's, so it must be one compared exactly. DBSIZE is left out: Redis
// counts keys set with a deadline already past until it reclaims them (see
// diffReclaim), which it cannot be made to do inside a transaction.
func (g *diffGen) txInside() diffCmd {
	for {
		c := g.txAny()
		if c.custom == nil && c.kind == diffExact && len(c.args) > 0 && !strings.EqualFold(c.args[0], "dbsize") {
			return c
		}
	}
}

// txOutside generates a command sent while keys may be watched: anything
// but a flush (the departure above) and a custom comparison (which may
// rewrite a key on rkv alone, a change only rkv's WATCH would see).
func (g *diffGen) txOutside() diffCmd {
	for {
		c := g.txAny()
		if c.custom == nil && len(c.args) > 0 && !strings.HasPrefix(strings.ToLower(c.args[0]), "flush") {
			return c
		}
	}
}

// txSequence is the diffCmd that runs steps on both servers.
func (g *diffGen) txSequence(steps []txStep) diffCmd {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.String()
	}
	return diffCmd{
		args: names,
		custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
			return diffRunTx(t, rd, rk, steps)
		},
	}
}

// diffRunTx runs the steps, the first connection being each target's own
// (the diff clients have a pool of one, so consecutive commands share it)
// and the second a new one. The outcome is the transcript of every reply.
func diffRunTx(t *testing.T, rd, rk diffTarget, steps []txStep) diffOutcome {
	t.Helper()
	diffReclaim(t, rd)
	var ord, ork diffTarget
	for _, s := range steps {
		if s.other && ord.c == nil {
			ord, ork = diffOtherConn(rd), diffOtherConn(rk)
			defer ord.c.Close()
			defer ork.c.Close()
		}
	}
	var out diffOutcome
	var a, b strings.Builder
	out.ok = true
	for _, s := range steps {
		x, y := rd, rk
		if s.other {
			x, y = ord, ork
		}
		o := diffRun(t, x, y, s.c)
		fmt.Fprintf(&a, "\n      %s -> %s", s, o.redis)
		fmt.Fprintf(&b, "\n      %s -> %s", s, o.rkv)
		if !o.ok {
			out.ok = false
			// Leave the first connections out of MULTI and WATCH for the
			// state dump that follows a failure.
			for _, d := range []diffTarget{rd, rk} {
				d.do(t, []string{"DISCARD"})
				d.do(t, []string{"UNWATCH"})
			}
			break
		}
	}
	out.redis, out.rkv = a.String(), b.String()
	return out
}

// diffOtherConn opens a second connection to d's server; the caller closes
// it (a cleanup at the end of the test would keep thousands open).
func diffOtherConn(d diffTarget) diffTarget {
	opt := *d.c.Options()
	return diffTarget{name: d.name + " (other)", c: redis.NewClient(&opt)}
}
