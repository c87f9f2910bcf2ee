package integration

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Pub/Sub differential test drives three raw connections to rkv and
// three to redis-server with the same random SUBSCRIBE, PSUBSCRIBE,
// SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, SPUBLISH, PUBSUB and PING
// commands, error cases and commands refused in subscribed mode included,
// and compares byte for byte every reply and every message pushed to every
// connection. After each command a PING with a fresh token goes down each
// connection as a fence: what comes before its answer is what the command
// produced there (the publisher's reply follows the deliveries on both
// servers, so no message is still on its way).
//
// Departures normalized, where Redis's order is its hash tables' order:
// an UNSUBSCRIBE without names confirms the names in any order (the names
// are compared as a set, the counts in order), PUBSUB CHANNELS and
// SHARDCHANNELS list them in any order (sorted), and one message that
// matches several patterns of a subscriber comes as pmessages in any order
// (sorted).

var (
	psChannels = []string{"ch1", "ch2", "{t}a", "{t}b", "a.b", "", "h?llo", "hello"}
	psPatterns = []string{"ch*", "*", "ch?", "{t}*", "[ac]*", "h\\?llo", "", "h[^e]llo", "a.*"}
)

// psConn is one raw RESP connection.
type psConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func psDial(t *testing.T, addr string) *psConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &psConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (p *psConn) send(args ...string) {
	p.t.Helper()
	out := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		out = fmt.Appendf(out, "$%d\r\n%s\r\n", len(a), a)
	}
	p.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.c.Write(out); err != nil {
		p.t.Fatal(err)
	}
}

// psValue is one reply or pushed value: its bytes and, for an array, the
// bytes of each element.
type psValue struct {
	raw   string
	elems []string
}

func (p *psConn) read() (psValue, error) {
	p.c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	var elems []string
	err := psReadValue(p.rd, &b, &elems, true)
	return psValue{raw: b.String(), elems: elems}, err
}

func psReadValue(rd *bufio.Reader, b *strings.Builder, elems *[]string, top bool) error {
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	b.WriteString(line)
	if len(line) < 3 {
		return fmt.Errorf("short line %q", line)
	}
	n, _ := strconv.Atoi(line[1 : len(line)-2])
	switch line[0] {
	case '$':
		if n >= 0 {
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(rd, buf); err != nil {
				return err
			}
			b.Write(buf)
		}
	case '*':
		for range n {
			var e strings.Builder
			if err := psReadValue(rd, &e, nil, false); err != nil {
				return err
			}
			b.WriteString(e.String())
			if top {
				*elems = append(*elems, e.String())
			}
		}
	}
	return nil
}

// psSide is one server's three connections.
type psSide struct {
	name  string
	conns []*psConn
	fence int
}

// until sends a fence down connection i and returns what came before its
// answer.
func (s *psSide) until(t *testing.T, i int) []psValue {
	t.Helper()
	s.fence++
	token := fmt.Sprintf("fence-%d", s.fence)
	s.conns[i].send("PING", token)
	plain := fmt.Sprintf("$%d\r\n%s\r\n", len(token), token)
	subscribed := "*2\r\n$4\r\npong\r\n" + plain
	var out []psValue
	for {
		v, err := s.conns[i].read()
		if err != nil {
			t.Fatalf("%s: connection %d: %v after %q", s.name, i, err, out)
		}
		if v.raw == plain || v.raw == subscribed {
			return out
		}
		out = append(out, v)
	}
}

// run sends args down connection i and renders what every connection got.
func (s *psSide) run(t *testing.T, i int, args []string) string {
	t.Helper()
	s.conns[i].send(args...)
	var b strings.Builder
	for j := range s.conns {
		j = (i + j) % len(s.conns)
		got := s.until(t, j)
		name := strings.ToLower(args[0])
		switch {
		case j == i && len(args) == 1 && strings.HasSuffix(name, "unsubscribe"):
			got = psUnsubscribeAll(got)
		case j == i && name == "pubsub" && len(args) > 1 &&
			slices.Contains([]string{"channels", "shardchannels"}, strings.ToLower(args[1])):
			for k := range got {
				slices.Sort(got[k].elems)
				got[k].raw = strings.Join(got[k].elems, "")
			}
		case j != i:
			psSortPatternRuns(got)
		}
		fmt.Fprintf(&b, "conn %d:", j)
		for _, v := range got {
			fmt.Fprintf(&b, " %q", v.raw)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// psUnsubscribeAll renders the confirmations of an UNSUBSCRIBE without
// names as the set of names and the counts in order.
func psUnsubscribeAll(vs []psValue) []psValue {
	var names, counts []string
	for _, v := range vs {
		if len(v.elems) != 3 {
			return vs
		}
		names = append(names, v.elems[1])
		counts = append(counts, v.elems[2])
	}
	slices.Sort(names)
	return []psValue{{raw: fmt.Sprintf("confirmations of %q with counts %q", names, counts)}}
}

// psSortPatternRuns sorts each run of consecutive pmessages.
func psSortPatternRuns(vs []psValue) {
	isP := func(v psValue) bool { return strings.HasPrefix(v.raw, "*4\r\n$8\r\npmessage\r\n") }
	for i := 0; i < len(vs); {
		j := i
		for j < len(vs) && isP(vs[j]) {
			j++
		}
		if j > i {
			slices.SortFunc(vs[i:j], func(a, b psValue) int { return strings.Compare(a.raw, b.raw) })
			i = j
			continue
		}
		i++
	}
}

func (g *diffGen) pubsubCmd() []string {
	w := g.word
	some := func(from []string, lo, hi int) []string {
		var out []string
		for range lo + g.rng.IntN(hi-lo+1) {
			out = append(out, g.pick(from))
		}
		return out
	}
	one := func(opts ...[]string) []string { return opts[g.rng.IntN(len(opts))] }
	switch g.rng.IntN(21) {
	case 0, 1, 2:
		return append([]string{w("SUBSCRIBE")}, some(psChannels, 0, 3)...)
	case 3, 4:
		return append([]string{w("PSUBSCRIBE")}, some(psPatterns, 0, 3)...)
	case 5:
		return append([]string{w("SSUBSCRIBE")}, some(psChannels, 0, 2)...)
	case 6:
		return append([]string{w("UNSUBSCRIBE")}, some(psChannels, 0, 2)...)
	case 7:
		return append([]string{w("PUNSUBSCRIBE")}, some(psPatterns, 0, 2)...)
	case 8:
		return append([]string{w("SUNSUBSCRIBE")}, some(psChannels, 0, 2)...)
	case 9, 10, 11, 12:
		return append([]string{w("PUBLISH")}, some(psChannels, 1, 1)[0], g.pick([]string{"hi", "", "a\r\nb"}))
	case 13:
		return append([]string{w("SPUBLISH")}, some(psChannels, 1, 1)[0], "msg")
	case 14:
		return append([]string{w(g.pick([]string{"PUBLISH", "SPUBLISH"}))}, some(psChannels, 0, 1)...)
	case 15:
		switch g.rng.IntN(4) {
		case 0:
			return []string{w("PUBSUB"), w(g.pick([]string{"CHANNELS", "SHARDCHANNELS"}))}
		case 1:
			return append([]string{w("PUBSUB"), w(g.pick([]string{"CHANNELS", "SHARDCHANNELS"}))}, some(psPatterns, 1, 2)...)
		case 2:
			return append([]string{w("PUBSUB"), w(g.pick([]string{"NUMSUB", "SHARDNUMSUB"}))}, some(psChannels, 0, 3)...)
		default:
			return append([]string{w("PUBSUB"), w("NUMPAT")}, some([]string{"x"}, 0, 1)...)
		}
	case 16:
		return one([]string{w("PUBSUB")}, []string{w("PUBSUB"), "nosuch"}, []string{w("PUBSUB"), w("HELP")},
			[]string{w("PUBSUB"), w("HELP"), "x"})
	case 17:
		return append([]string{w("PING")}, some([]string{"x", ""}, 0, 2)...)
	case 18:
		return one([]string{w("RESET")}, []string{w("RESET"), "x"})
	default:
		// Refused in subscribed mode, or answered as usual.
		return one([]string{w("GET"), "k"}, []string{w("SET"), "k", "v"}, []string{w("ECHO"), "e"},
			[]string{"NOSUCHCMD", "a"}, []string{w("GET")}, []string{w("CONFIG"), w("GET"), "maxmemory"},
			[]string{w("DBSIZE")})
	}
}

func TestDifferentialPubSub(t *testing.T) {
	rd := diffStartRedis(t).Options().Addr
	rk := diffStartRKV(t).Options().Addr
	const seeds, steps, conns = 12, 150, 3
	for seed := 1 + *diffSeedShift; seed <= seeds+*diffSeedShift; seed++ {
		sides := []*psSide{{name: "redis"}, {name: "rkv"}}
		for k, addr := range []string{rd, rk} {
			for range conns {
				sides[k].conns = append(sides[k].conns, psDial(t, addr))
			}
		}
		g := &diffGen{rng: rand.New(rand.NewPCG(seed, 0x9b5))}
		var hist []string
		for step := range steps {
			i := g.rng.IntN(conns)
			args := g.pubsubCmd()
			a, b := sides[0].run(t, i, args), sides[1].run(t, i, args)
			hist = append(hist, fmt.Sprintf("conn %d: %q", i, args))
			if a != b {
				t.Fatalf("seed %d, step %d: conn %d: %q\nredis:\n%s\nrkv:\n%s\npreceding:\n%s",
					seed, step, i, args, a, b, strings.Join(hist[max(0, len(hist)-12):], "\n"))
			}
		}
		for _, s := range sides {
			for _, c := range s.conns {
				c.c.Close()
			}
		}
	}
	// QUIT in subscribed mode answers and closes.
	for _, addr := range []string{rd, rk} {
		c := psDial(t, addr)
		c.send("SUBSCRIBE", "q")
		c.send("QUIT")
		for _, want := range []string{"*3\r\n$9\r\nsubscribe\r\n$1\r\nq\r\n:1\r\n", "+OK\r\n"} {
			if v, err := c.read(); err != nil || v.raw != want {
				t.Fatalf("%s: %q, %v; want %q", addr, v.raw, err, want)
			}
		}
		if v, err := c.read(); err == nil {
			t.Fatalf("%s: after QUIT, %q", addr, v.raw)
		}
	}
}
