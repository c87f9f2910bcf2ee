package integration

import (
	"strings"
	"testing"
)

// The memory family: MEMORY USAGE, MEMORY's other subcommands and errors,
// OBJECT FREQ and IDLETIME, and the maxmemory settings through CONFIG GET
// and SET, with both servers at their defaults (no maxmemory, noeviction).
// Values that only CONFIG SET changes are set back as they were, so the
// rest of the run is unaffected.
//
// Departures normalized: the bytes MEMORY USAGE counts for a key are rkv's
// own accounting, not Redis's allocator's, so an existing key's reply is
// compared as "an integer on both"; OBJECT IDLETIME likewise, since without
// an LRU policy rkv counts idle time from the last write, Redis from the
// last access.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "memory", gen: (*diffGen).memory})
}

func (g *diffGen) memory() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch g.rng.IntN(12) {
	case 0, 1, 2:
		key := g.key()
		args := []string{w("MEMORY"), w("USAGE"), key}
		switch g.rng.IntN(6) {
		case 0:
			args = append(args, w("SAMPLES"), g.pick([]string{"0", "5", "-1", "abc", "9223372036854775808"}))
		case 1:
			args = append(args, g.pick([]string{"SAMPLES", "FOO", "SAMPLES 5"}))
		case 2:
			args = append(args, w("SAMPLES"), "5", "extra")
		}
		return diffCmd{args: args, custom: diffMemoryUsage(args, key)}
	case 3:
		return exact(w("MEMORY"), w("USAGE"))
	case 4:
		return exact(w("MEMORY"), g.pick([]string{"FOO", "", "USAGES"}))
	case 5:
		return exact(w("MEMORY"))
	case 6:
		return exact(w("MEMORY"), w(g.pick([]string{"STATS", "DOCTOR", "PURGE", "MALLOC-STATS", "HELP"})), g.key())
	case 7:
		args := []string{w("OBJECT"), w(g.pick([]string{"FREQ", "IDLETIME"})), g.key()}
		if args[1] == "FREQ" || args[1] == "freq" {
			return exact(args...)
		}
		return diffCmd{args: args, custom: diffIntegerOrExact(args)}
	case 8:
		return exact(w("CONFIG"), w("GET"), g.pick([]string{"maxmemory", "maxmemory-policy", "maxmemory-samples", "MAXMEMORY"}))
	case 9:
		return exact(w("CONFIG"), w("SET"), "maxmemory", g.pick([]string{"abc", "-1", "1x", "", "1.5mb", "0"}))
	case 10:
		return exact(w("CONFIG"), w("SET"), "maxmemory-policy", g.pick([]string{"lru", "", "noeviction", "NOEVICTION", "allkeys"}))
	default:
		return exact(w("CONFIG"), w("SET"), "maxmemory-samples", g.pick([]string{"0", "-5", "x", "5", "2147483648"}))
	}
}

// diffMemoryUsage compares MEMORY USAGE's replies as diffIntegerOrExact
// does, and lets rkv answer nil where Redis measures a key past its
// deadline (a SET or EXPIRE with a time already past): Redis's MEMORY
// USAGE finds the key in its dict without the expiry check, and such a
// key stays there until it is next touched, while rkv deletes it when the
// write that set the past deadline applies.
func diffMemoryUsage(args []string, key string) func(t *testing.T, rd, rk diffTarget) diffOutcome {
	cmp := diffIntegerOrExact(args)
	return func(t *testing.T, rd, rk diffTarget) diffOutcome {
		t.Helper()
		out := cmp(t, rd, rk)
		if !out.ok && out.rkv == diffReply(nil, nil) && strings.HasPrefix(out.redis, "(integer)") {
			n, err := rd.do(t, []string{"EXISTS", key})
			out.ok = err == nil && n == int64(0)
		}
		return out
	}
}

// diffIntegerOrExact compares replies exactly, except that two integers
// agree whatever their values (see the departures above).
func diffIntegerOrExact(args []string) func(t *testing.T, rd, rk diffTarget) diffOutcome {
	return func(t *testing.T, rd, rk diffTarget) diffOutcome {
		t.Helper()
		vr, er := rd.do(t, args)
		vk, ek := rk.do(t, args)
		a, b := diffReply(vr, er), diffReply(vk, ek)
		_, ir := vr.(int64)
		_, ik := vk.(int64)
		if er == nil && ek == nil && ir && ik {
			return diffOutcome{a, b, true}
		}
		return diffOutcome{a, b, a == b}
	}
}
