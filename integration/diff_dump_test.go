package integration

import (
	"testing"

	"github.com/rkv/rkv/internal/rdb"
)

// The dump family: DUMP and RESTORE across the two servers, on values the
// type families build (it runs their commands too, so every type and
// encoding meets it). Each step DUMPs a key on both servers; Redis
// RESTOREs rkv's payload and its own under scratch keys, which must then
// hold the same value in the same encoding, and both RESTORE Redis's payload (with random TTLs and options,
// sometimes corrupted or truncated) into a shared key, replies compared
// exactly, so the final-state comparison covers what RESTORE wrote. Error
// cases: wrong arity, bad checksum or version, BUSYKEY, bad TTLs and
// options, and sealed payloads whose value is malformed.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "dump", gen: (*diffGen).dumpCmd})
}

// diffDumpScratch and diffDumpScratch2 are where Redis restores rkv's
// payloads and its own: outside diffKeys, so the random commands never
// touch them.
const (
	diffDumpScratch  = "dump:scratch"
	diffDumpScratch2 = "dump:scratch2"
)

// diffBadPayloads are sealed (valid version and checksum) but hold no
// value Redis loads: an unknown type, empty containers, truncated values,
// a ziplist-era type and a duplicate set member.
var diffBadPayloads = [][]byte{
	{},
	{99},
	{0},
	{0, 5, 'a'},
	{2, 0},
	{4, 0},
	{2, 2, 1, 'a', 1, 'a'},
	{1, 1},
	{18, 1, 2, 3, 1, 2, 3},
	{13, 0},
	{11, 8, 2, 0, 0, 0, 1, 0, 0, 0},
	{16, 7, 7, 0, 0, 0, 0, 0, 0xFF},
	{19, 0},
}

func (g *diffGen) dumpCmd() diffCmd {
	w := g.word
	switch r := g.rng.IntN(100); {
	case r < 45:
		var typed []*diffFamily
		for _, f := range diffFamilies {
			if f.typ != "" {
				typed = append(typed, f)
			}
		}
		return typed[g.rng.IntN(len(typed))].gen(g)
	case r < 85:
		return g.restoreStep()
	case r < 88:
		return diffCmd{args: []string{w("DUMP")}}
	case r < 90:
		return diffCmd{args: []string{w("DUMP"), g.key(), g.key()}}
	case r < 93:
		args := []string{w("RESTORE"), g.key(), "0"}
		return diffCmd{args: args[:1+g.rng.IntN(3)]}
	default:
		p := rdb.Seal(append([]byte(nil), g.pickPayload()...))
		args := []string{w("RESTORE"), g.key(), g.pick([]string{"0", "0", "-1", "x"}), string(p)}
		if g.rng.IntN(2) == 0 {
			args = append(args, w("REPLACE"))
		}
		return diffCmd{args: args}
	}
}

func (g *diffGen) pickPayload() []byte { return diffBadPayloads[g.rng.IntN(len(diffBadPayloads))] }

// restoreOpts are RESTORE's options: mostly valid, sometimes repeated,
// conflicting (IDLETIME with FREQ), out of range or unknown.
func (g *diffGen) restoreOpts() (opts []string, abs bool) {
	for range g.rng.IntN(4) {
		switch g.rng.IntN(9) {
		case 0, 1, 2:
			opts = append(opts, g.word("REPLACE"))
		case 3:
			opts = append(opts, g.word("ABSTTL"))
			abs = true
		case 4:
			opts = append(opts, g.word("IDLETIME"), g.pick([]string{"0", "100", "-1", "abc"}))
		case 5:
			opts = append(opts, g.word("FREQ"), g.pick([]string{"0", "5", "255", "256", "-1", "x"}))
		case 6:
			opts = append(opts, g.pick([]string{"IDLETIME", "FREQ"}))
		default:
			opts = append(opts, g.pick([]string{"FOO", "REPLACEX"}))
		}
	}
	return opts, abs
}

// restoreStep is the cross-server step described at the top of the file.
func (g *diffGen) restoreStep() diffCmd {
	src, dst := g.key(), g.key()
	opts, abs := g.restoreOpts()
	ttl := g.when(diffRelMs)
	if abs {
		ttl = g.when(diffAbsMs)
	}
	if g.rng.IntN(4) == 0 {
		ttl = "0"
	}
	corrupt := g.rng.IntN(8)
	args := append([]string{"RESTORE", dst, ttl, "<DUMP " + src + ">"}, opts...)
	return diffCmd{args: args, custom: func(t *testing.T, rd, rk diffTarget) diffOutcome {
		pr, _ := rd.do(t, []string{"DUMP", src})
		pk, _ := rk.do(t, []string{"DUMP", src})
		if (pr == nil) != (pk == nil) {
			return diffOutcome{diffReply(pr, nil), diffReply(pk, nil), false}
		}
		if pr == nil {
			return diffOutcome{"(nil)", "(nil)", true}
		}
		// Redis writes a hashtable-encoded hash in its dict's order, which
		// comes from a hash function seeded at random when the process
		// starts; no other process can reproduce it, rkv included, so the
		// fields of such a hash are compared as a set.
		srcEnc, _ := rd.do(t, []string{"OBJECT", "ENCODING", src})
		unordered := srcEnc == "hashtable"
		if a, b := diffRestoredByRedis(t, rd, pk.(string), pr.(string), unordered); a != b {
			return diffOutcome{"redis restoring its own dump: " + b, "redis restoring rkv's dump: " + a, false}
		}
		p := []byte(pr.(string))
		switch corrupt {
		case 0:
			p[len(p)/3] ^= 0x20 // the checksum fails
		case 1:
			p[len(p)-10] = rdb.Version + 1
		case 2:
			p = p[:min(len(p), 9)]
		}
		cmd := append([]string{"RESTORE", dst, ttl, string(p)}, opts...)
		va, ea := rd.do(t, cmd)
		vb, eb := rk.do(t, cmd)
		out := diffOutcome{redis: diffReply(va, ea), rkv: diffReply(vb, eb)}
		out.ok = out.redis == out.rkv
		if out.ok && ea == nil {
			ea, _ := rd.do(t, []string{"OBJECT", "ENCODING", dst})
			eb, _ := rk.do(t, []string{"OBJECT", "ENCODING", dst})
			out.redis += " encoding " + diffReply(ea, nil)
			out.rkv += " encoding " + diffReply(eb, nil)
			out.ok = out.redis == out.rkv
		}
		return out
	}}
}

// diffRestoredByRedis restores rkv's and Redis's payloads of one value
// into two scratch keys on Redis and renders both: rkv's must load into
// what Redis's own loads into, encoding included; a hash's fields in any
// order when unordered.
func diffRestoredByRedis(t *testing.T, rd diffTarget, pk, pr string, unordered bool) (string, string) {
	t.Helper()
	defer rd.do(t, []string{"DEL", diffDumpScratch, diffDumpScratch2})
	if v, err := rd.do(t, []string{"RESTORE", diffDumpScratch, "0", pk, "REPLACE"}); err != nil {
		return diffReply(v, err), "OK"
	}
	rd.do(t, []string{"RESTORE", diffDumpScratch2, "0", pr, "REPLACE"})
	typ, _ := rd.do(t, []string{"TYPE", diffDumpScratch})
	typ2, _ := rd.do(t, []string{"TYPE", diffDumpScratch2})
	if typ != typ2 {
		return diffReply(typ, nil), diffReply(typ2, nil)
	}
	render := func(key string) string {
		enc, _ := rd.do(t, []string{"OBJECT", "ENCODING", key})
		if unordered && typ == "hash" {
			v, _ := rd.do(t, []string{"HGETALL", key})
			return diffReply(enc, nil) + " " + diffUnordered(v, true)
		}
		if f := diffFamilyOf(typ); f != nil {
			return diffReply(enc, nil) + " " + f.state(t, rd, key)
		}
		v, err := rd.do(t, []string{"GET", key})
		return diffReply(enc, nil) + " " + diffReply(v, err)
	}
	return render(diffDumpScratch), render(diffDumpScratch2)
}
