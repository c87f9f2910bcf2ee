package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rkv/rkv/internal/rdb"
)

// dumpOf is the DUMP payload of key, failing the test when there is none.
func dumpOf(t testing.TB, s *Store, key string) []byte {
	t.Helper()
	reply := s.Apply(1000, [][]byte{[]byte("dump"), []byte(key)}, nil)
	if reply[0] != '$' || bytes.HasPrefix(reply, []byte("$-1")) {
		t.Fatalf("dump %s = %q", key, reply)
	}
	return reply[bytes.IndexByte(reply, '\n')+1 : len(reply)-2]
}

func restore(s *Store, stamp int64, key string, payload []byte, opts ...string) string {
	args := [][]byte{[]byte("restore"), []byte(key), []byte("0"), payload}
	for _, o := range opts {
		args = append(args, []byte(o))
	}
	return string(s.Apply(stamp, args, nil))
}

// TestDumpRestoreRoundTrip: every type in every encoding DUMPs and
// RESTOREs into an equal value with the same encoding, whose DUMP is the
// same payload.
func TestDumpRestoreRoundTrip(t *testing.T) {
	s := New()
	long := strings.Repeat("x", 100)
	cmds := []string{
		"set str hello", "set int 12345", "set big 9999999999", "set neg -5", "set long " + long,
		"rpush list a b 1 -200 70000 " + long,
		"sadd iset 1 2 3 -70000 5000000000", "sadd hset a b c",
		"hset hlp f v n 12", "hset hht f " + long,
		"zadd zlp 1 a 2.5 b -inf c", "zadd zsk 1 " + long + " 3 b",
		"xadd st 1-1 f v g w", "xadd st 1-2 f x g y", "xadd st 2-0 other 1",
		"xgroup create st g1 0", "xreadgroup group g1 alice count 2 streams st >",
		"xgroup create st g0 $", "xdel st 1-1",
	}
	for i := range 300 {
		cmds = append(cmds, fmt.Sprintf("rpush biglist element-%d", i), fmt.Sprintf("sadd bigset %d", i),
			fmt.Sprintf("xadd bigst %d-1 a %d", i+1, i))
	}
	for _, c := range cmds {
		if r := apply(s, 1000, c); strings.HasPrefix(r, "-") {
			t.Fatalf("%s: %s", c, r)
		}
	}
	for _, key := range []string{"str", "int", "big", "neg", "long", "list", "iset", "hset", "hlp", "hht",
		"zlp", "zsk", "st", "biglist", "bigset", "bigst"} {
		p := dumpOf(t, s, key)
		if got := restore(s, 1000, key+"2", p); got != "+OK\r\n" {
			t.Fatalf("restore %s: %q", key, got)
		}
		if q := dumpOf(t, s, key+"2"); !bytes.Equal(p, q) {
			t.Errorf("%s: dump of the restored key differs\n%q\n%q", key, p, q)
		}
		if a, b := apply(s, 1000, "object encoding "+key), apply(s, 1000, "object encoding "+key+"2"); a != b {
			t.Errorf("%s: encoding %s, restored %s", key, a, b)
		}
	}
	if got := apply(s, 1000, "xpending st g1 - + 10"); got != apply(s, 1000, "xpending st2 g1 - + 10") {
		t.Errorf("restored PEL differs: %q", got)
	}
}

// TestRestoreErrors: Redis's errors, in Redis's order of checks.
func TestRestoreErrors(t *testing.T) {
	s := New()
	apply(s, 1000, "set k v")
	p := dumpOf(t, s, "k")
	bad := bytes.Clone(p)
	bad[1] ^= 1
	later := bytes.Clone(p)
	later[len(later)-10] = rdb.Version + 1
	garbage := rdb.Seal([]byte{99, 1, 2})
	cases := []struct {
		key  string
		ttl  string
		p    []byte
		opts []string
		want string
	}{
		{"k", "0", p, nil, errBusyKey},
		{"k", "-1", []byte("x"), nil, errBusyKey},
		{"n", "-1", p, nil, errBadTTL},
		{"n", "x", p, nil, errNotInt},
		{"n", "0", bad, nil, errBadDump},
		{"n", "0", later, nil, errBadDump},
		{"n", "0", []byte("short"), nil, errBadDump},
		{"n", "0", garbage, nil, errBadFormat},
		{"n", "0", p, []string{"bogus"}, errSyntax},
		{"n", "0", p, []string{"idletime", "-1"}, errBadIdle},
		{"n", "0", p, []string{"freq", "256"}, errBadFreq},
		{"n", "0", p, []string{"freq", "1", "idletime", "1"}, errSyntax},
		{"n", "0", p, []string{"idletime"}, errSyntax},
	}
	for _, c := range cases {
		args := [][]byte{[]byte("restore"), []byte(c.key), []byte(c.ttl), c.p}
		for _, o := range c.opts {
			args = append(args, []byte(o))
		}
		if got := string(s.Apply(1000, args, nil)); got != errs(c.want) {
			t.Errorf("restore %s %s %v: %q, want %q", c.key, c.ttl, c.opts, got, c.want)
		}
	}
}

// TestRestoreTTL: a relative TTL counts from the entry's stamp; one already
// past (ABSTTL) creates nothing and, with REPLACE, deletes the old value.
func TestRestoreTTL(t *testing.T) {
	s := New()
	apply(s, 1000, "set k v")
	p := dumpOf(t, s, "k")
	args := func(key, ttl string, opts ...string) [][]byte {
		a := [][]byte{[]byte("restore"), []byte(key), []byte(ttl), p}
		for _, o := range opts {
			a = append(a, []byte(o))
		}
		return a
	}
	s.Apply(5000, args("a", "3000"), nil)
	if got := apply(s, 5000, "pexpiretime a"); got != num(8000) {
		t.Errorf("pexpiretime a = %q", got)
	}
	s.Apply(5000, args("b", "9000", "absttl"), nil)
	if got := apply(s, 5000, "pexpiretime b"); got != num(9000) {
		t.Errorf("pexpiretime b = %q", got)
	}
	if got := string(s.Apply(5000, args("k", "10", "absttl", "replace"), nil)); got != "+OK\r\n" {
		t.Fatalf("restore in the past: %q", got)
	}
	if got := apply(s, 5000, "exists k"); got != num(0) {
		t.Errorf("k survived a restore in the past: %q", got)
	}
}

// TestRestoreAccessHistory: under LRU, IDLETIME sets the idle time OBJECT
// IDLETIME reports until the key is used; under LFU, FREQ sets the
// counter.
func TestRestoreAccessHistory(t *testing.T) {
	s := New()
	apply(s, 1000, "set k v")
	p := dumpOf(t, s, "k")
	s.SetPolicy(AllKeysLRU, 5, 1000)
	restore(s, 10_000, "a", p, "idletime", "1000")
	if got := read(s, 10_000, "object idletime a"); got != num(1000) {
		t.Errorf("idletime after RESTORE IDLETIME 1000: %q", got)
	}
	apply(s, 20_000, "set a w")
	if got := read(s, 20_000, "object idletime a"); got != num(0) {
		t.Errorf("idletime after a write: %q", got)
	}
	s.SetPolicy(AllKeysLFU, 5, 20_000)
	restore(s, 20_000, "b", p, "freq", "100")
	if got := read(s, 20_000, "object freq b"); got != num(100) {
		t.Errorf("freq after RESTORE FREQ 100: %q", got)
	}
}

// FuzzRestoreCommand: no payload, however malformed, makes RESTORE panic (it
// runs in Apply on every replica) or leave an empty container; what it
// accepts DUMPs and RESTOREs again to the same payload.
func FuzzRestoreCommand(f *testing.F) {
	s := New()
	for _, c := range []string{"set s hello", "rpush l a 1 -5 " + strings.Repeat("z", 70), "sadd i 1 2 3", "sadd h a b",
		"hset hl f v", "zadd z 1 a 2 b", "xadd x 1-1 f v", "xadd x 1-2 f w", "xadd x 2-1 g 1", "xgroup create x g 0",
		"xreadgroup group g c count 1 streams x >", "xdel x 1-2"} {
		apply(s, 1000, c)
	}
	for _, k := range []string{"s", "l", "i", "h", "hl", "z", "x"} {
		body, _ := rdb.Open(dumpOf(f, s, k))
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		payload := rdb.Seal(bytes.Clone(body))
		s := New()
		if restore(s, 1000, "k", payload) != "+OK\r\n" {
			return
		}
		if apply(s, 1000, "exists k") != num(1) {
			t.Fatalf("restored nothing from %q", body)
		}
		p := dumpOf(t, s, "k")
		if restore(s, 1000, "k2", p) != "+OK\r\n" || !bytes.Equal(dumpOf(t, s, "k2"), p) {
			t.Fatalf("rkv's dump of a restored %q does not restore alike", body)
		}
	})
}

// TestRestoreMutations: payloads of every type with random bytes changed,
// inserted or cut off (sealed, so they pass the checksum) are refused or
// restored, never a panic.
func TestRestoreMutations(t *testing.T) {
	s := New()
	for _, c := range []string{"rpush l a 1 -5 70000 " + strings.Repeat("z", 70), "sadd i 1 2 300000", "sadd h a b",
		"hset hl f v n 1", "zadd z 1 a 2.5 b", "xadd x 1-1 f v", "xadd x 1-2 f w", "xadd x 2-1 g 1",
		"xgroup create x g 0", "xreadgroup group g c count 2 streams x >", "xdel x 1-2", "set s 123"} {
		apply(s, 1000, c)
	}
	var bodies [][]byte
	for _, k := range []string{"s", "l", "i", "h", "hl", "z", "x"} {
		body, _ := rdb.Open(dumpOf(t, s, k))
		bodies = append(bodies, body)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	into := New()
	for range 10000 {
		b := bytes.Clone(bodies[rng.IntN(len(bodies))])
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b[i] = byte(rng.Uint32())
			case 1:
				b = slices.Insert(b, i, byte(rng.Uint32()))
			default:
				b = b[:i]
			}
			if len(b) == 0 {
				break
			}
		}
		got := restore(into, 1000, "k", rdb.Seal(b), "replace")
		if got != "+OK\r\n" && got != errs(errBadFormat) {
			t.Fatalf("restore of %q: %q", b, got)
		}
	}
}
