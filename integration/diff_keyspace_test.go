package integration

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The keyspace notifications family: a subscriber to '__key*__:*' on each
// server, notify-keyspace-events KEA, and a seeded mix of every type
// family's writes, comparing after each command the messages it yielded,
// in order. "expired" events are left out: when Redis reclaims a key past
// its deadline depends on its timing (the expiry departure, see
// differential_test.go), and the final state comparison covers expiry.

// diffKeyspaceFamilies are the families whose commands the test mixes:
// the ones that write keys (ACL, MEMORY and the rest change none). The
// bitmap family compares OBJECT ENCODING after its commands, where rkv
// and Redis still differ on keys other families wrote; diffKeyspaceBits
// sends its writes instead. The dump family is left out as well: its
// payload comparison still finds hash field orders that differ.
var diffKeyspaceFamilies = []string{"hash", "list", "set", "zset", "stream", "hll", "geo", "sort"}

// diffKeyspaceBits is a bitmap write: SETBIT, BITFIELD or BITOP.
func diffKeyspaceBits(g *diffGen) diffCmd {
	switch g.rng.IntN(4) {
	case 0:
		return diffCmd{args: []string{"SETBIT", g.key(), strconv.Itoa(g.rng.IntN(64)), strconv.Itoa(g.rng.IntN(2))}}
	case 1:
		return diffCmd{args: []string{"BITFIELD", g.key(), "SET", "u8", strconv.Itoa(g.rng.IntN(32)), "7", "GET", "u4", "0"}}
	case 2:
		return diffCmd{args: []string{"BITFIELD", g.key(), "INCRBY", "i5", "3", "1", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"}}
	}
	return diffCmd{args: append([]string{"BITOP", g.pick([]string{"AND", "OR", "XOR", "NOT"}), g.key()}, g.keys(1, 3)...)}
}

// diffKeyspaceMark is published after each command: the subscriber's
// messages up to it are the command's. rkv applies it after the command,
// in log order, so it also waits out the command's events.
const diffKeyspaceMark = "__keyspace-mark__:end"

type keyspaceSub struct {
	d  diffTarget
	rc *respConn
}

func newKeyspaceSub(t *testing.T, d diffTarget) *keyspaceSub {
	t.Helper()
	rc := dialRESP(t, d.name+" subscriber", d.c.Options().Addr)
	if v := rc.do(t, "PSUBSCRIBE", "__key*__:*"); len(v.elems) != 3 || v.elems[0].str != "psubscribe" {
		t.Fatalf("%s: PSUBSCRIBE = %s", d.name, v)
	}
	return &keyspaceSub{d, rc}
}

// messages publishes the mark and returns the messages received before
// it, without "expired" ones.
func (s *keyspaceSub) messages(t *testing.T) []string {
	t.Helper()
	if _, err := s.d.do(t, []string{"PUBLISH", diffKeyspaceMark, "x"}); err != nil {
		t.Fatalf("%s: PUBLISH: %v", s.d.name, err)
	}
	var out []string
	s.rc.c.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		v := s.rc.read(t)
		if len(v.elems) != 4 || v.elems[0].str != "pmessage" {
			t.Fatalf("%s: not a pmessage: %s", s.d.name, v)
		}
		ch, msg := v.elems[2].str, v.elems[3].str
		if ch == diffKeyspaceMark {
			return out
		}
		if ch == "__keyevent@0__:expired" || msg == "expired" && strings.HasPrefix(ch, "__keyspace@0__:") {
			continue
		}
		out = append(out, ch+" "+msg)
	}
}

func TestDifferentialKeyspace(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	for _, d := range []diffTarget{rd, rk} {
		// The mark's channel matches the subscriber's pattern.
		if v, err := d.do(t, []string{"CONFIG", "SET", "notify-keyspace-events", "KEA"}); err != nil || v != "OK" {
			t.Fatalf("%s: CONFIG SET: %v %v", d.name, v, err)
		}
	}
	t.Run("config", func(t *testing.T) { diffKeyspaceConfig(t, rd, rk) })
	subs := []*keyspaceSub{newKeyspaceSub(t, rd), newKeyspaceSub(t, rk)}
	var gens []func(*diffGen) diffCmd
	for _, f := range diffFamilies {
		if slices.Contains(diffKeyspaceFamilies, f.name) {
			gens = append(gens, f.gen)
		}
	}
	gens = append(gens, (*diffGen).gen, diffKeyspaceBits)
	for seed := 1 + *diffSeedShift; seed <= 24+*diffSeedShift; seed++ {
		for _, d := range []diffTarget{rd, rk} {
			d.do(t, []string{"FLUSHALL"})
		}
		for _, s := range subs {
			s.messages(t)
		}
		g := &diffGen{rng: rand.New(rand.NewPCG(seed, 0xe7e7)), t0: time.Now().Unix()}
		var prev []string
		for i := range diffPerSeed {
			c := gens[g.rng.IntN(len(gens))](g)
			g.idx++
			out := diffRun(t, rd, rk, c)
			if !out.ok {
				t.Fatalf("seed %d, command %d: %s\n  redis: %s\n  rkv:   %s", seed, i, c, out.redis, out.rkv)
			}
			a, b := subs[0].messages(t), subs[1].messages(t)
			if c.custom != nil && len(b) > len(a) {
				// A custom comparison may write rkv's key alone to make
				// it Redis's after a random choice (diffSetCopy).
				b = b[:len(a)]
			}
			if !slices.Equal(a, b) {
				t.Fatalf("seed %d, command %d: %s\n  redis events: %q\n  rkv events:   %q\npreceding:\n%s", seed, i, c, a, b,
					strings.Join(prev[max(0, len(prev)-5):], "\n"))
			}
			prev = append(prev, fmt.Sprintf("%s: %q", c, a))
		}
		if a, b := diffState(t, rd), diffState(t, rk); a != b {
			t.Fatalf("seed %d: final states differ\nredis:\n%s\nrkv:\n%s", seed, a, b)
		}
	}
}

// diffKeyspaceConfig compares CONFIG SET and GET of the flags, bad ones
// included, then puts KEA back.
func diffKeyspaceConfig(t *testing.T, rd, rk diffTarget) {
	values := []string{"", "A", "KA", "EA", "gKE", "$lshzxeKE", "Amn", "nKm", "KEA", "g$lshzxetdKE", "KKgg",
		"xyz", "KEAq", "a", "k", " ", "KE!", "tdn"}
	for _, v := range values {
		for _, args := range [][]string{
			{"CONFIG", "SET", "notify-keyspace-events", v},
			{"CONFIG", "GET", "notify-keyspace-events"},
		} {
			out := diffRun(t, rd, rk, diffCmd{args: args})
			if !out.ok {
				t.Errorf("%q:\n  redis: %s\n  rkv:   %s", args, out.redis, out.rkv)
			}
		}
	}
	for _, args := range [][]string{
		{"CONFIG", "SET", "notify-keyspace-events"},
		{"CONFIG", "SET", "notify-keyspace-events", "KEA", "notify-keyspace-events", "A"},
		{"CONFIG", "SET", "notify-keyspace-events", "KEA"},
	} {
		if out := diffRun(t, rd, rk, diffCmd{args: args}); !out.ok {
			t.Errorf("%q:\n  redis: %s\n  rkv:   %s", args, out.redis, out.rkv)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}
