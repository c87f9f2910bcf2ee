package resp

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// feedAll scans input in pieces of step bytes, as reads may cut it, and
// returns the reply of the first violation ("" and true if none).
func feedAll(input string, step int) (bool, string, int) {
	var s respScanner
	lim := DefaultLimits()
	lim.QueryBufferMax = 1 << 20
	done := 0
	for len(input) > 0 {
		n := min(step, len(input))
		if ok, reply := s.feed([]byte(input[:n]), &lim); !ok {
			return false, reply, done + s.good
		}
		done += n
		input = input[n:]
	}
	return true, "", done
}

func TestRESPScanner(t *testing.T) {
	cases := []struct {
		name, input, reply string
		ok                 bool
	}{
		{"commands", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPING\r\n", "", true},
		{"binary bulk", "*2\r\n$3\r\nGET\r\n$4\r\n\r\n*\n\r\n", "", true},
		{"empty and null multibulk", "*0\r\n*-1\r\nPING\r\n", "", true},
		{"multibulk past INT_MAX", "*2147483648\r\n", "ERR Protocol error: invalid multibulk length", false},
		{"multibulk not a number", "*1x\r\n", "ERR Protocol error: invalid multibulk length", false},
		{"negative bulk", "*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length", false},
		{"bulk past proto-max-bulk-len", "*2\r\n$3\r\nGET\r\n$600000000\r\n", "ERR Protocol error: invalid bulk length", false},
		{"nested array", "*1\r\n*1\r\n$1\r\na\r\n", "ERR Protocol error: expected '$', got '*'", false},
		{"newline for a bulk", "*1\r\n\n", "ERR Protocol error: expected '$', got ' '", false},
		{"byte past ASCII for a bulk", "*1\r\n\xff", "ERR Protocol error: expected '$', got '\xff'", false},
		{"inline line too long", strings.Repeat("A", 70_000), "ERR Protocol error: too big inline request", false},
		{"bulk header too long", "*1\r\n$" + strings.Repeat("1", 70_000), "ERR Protocol error: too big bulk count string", false},
		{"command past the query buffer limit", "*2\r\n$3\r\nSET\r\n$1048576\r\n" + strings.Repeat("v", 1<<20), "", false},
	}
	for _, c := range cases {
		for _, step := range []int{1, 7, 1 << 20} {
			ok, reply, _ := feedAll(c.input, step)
			if ok != c.ok || reply != c.reply {
				t.Errorf("%s (reads of %d bytes): ok %v, reply %q; want %v, %q", c.name, step, ok, reply, c.ok, c.reply)
			}
		}
	}
	// The commands before a violation are delivered.
	good := "*1\r\n$4\r\nPING\r\n"
	if _, _, at := feedAll(good+"*1\r\n*", 1<<20); at < len(good) {
		t.Errorf("only %d bytes delivered before the violation, want the %d of the command before it", at, len(good))
	}
}

func TestParseLimits(t *testing.T) {
	lim, ok := ParseLimits(30, "1mb", "2gb", "normal 10mb 5mb 60")
	if !ok || lim.ProtoMaxBulkLen != 1<<20 || lim.QueryBufferMax != 2<<30 || lim.IdleTimeout.Seconds() != 30 ||
		lim.OutputHard != 10<<20 || lim.OutputSoft != 5<<20 || lim.OutputSoftFor.Seconds() != 60 {
		t.Fatalf("ParseLimits = %+v, %v", lim, ok)
	}
	for _, bad := range [][4]string{{"512kb", "1gb", "normal 0 0 0"}, {"512mb", "x", "normal 0 0 0"}, {"512mb", "1gb", "normal 0 0"}, {"512mb", "1gb", "other 0 0 0"}} {
		if _, ok := ParseLimits(0, bad[0], bad[1], bad[2]); ok {
			t.Errorf("ParseLimits accepted %q", bad)
		}
	}
}

// chunkConn is a client connection as a guardConn reads it: the bytes
// arrive in the given pieces; replies are collected.
type chunkConn struct {
	net.Conn
	chunks [][]byte
	out    bytes.Buffer
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

func (c *chunkConn) Write(p []byte) (int, error)     { return c.out.Write(p) }
func (c *chunkConn) SetReadDeadline(time.Time) error { return nil }

// cut splits b into pieces of random sizes in [lo, hi].
func cut(r *rand.Rand, b []byte, lo, hi int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), lo+r.IntN(hi-lo+1))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// readGuard reads g as redcon does, size bytes at a time, and returns the
// bytes handed on, the offset each read ended at and the error that ended
// the reads.
func readGuard(g *guardConn, size int) ([]byte, []int, error) {
	var got []byte
	var ends []int
	p := make([]byte, size)
	for {
		n, err := g.Read(p)
		if n > 0 {
			got = append(got, p[:n]...)
			ends = append(ends, len(got))
		}
		if err != nil {
			return got, ends, err
		}
	}
}

func newTestGuard(chunks [][]byte) (*guardConn, *chunkConn) {
	var limits atomic.Pointer[Limits]
	lim := DefaultLimits()
	limits.Store(&lim)
	cc := &chunkConn{chunks: chunks}
	return newGuardConn(cc, &limits), cc
}

// TestGuardHandsOnWholeCommands: however the network cuts a pipeline,
// redcon gets it in whole commands (what lets its buffer shrink back), and
// every byte exactly once.
func TestGuardHandsOnWholeCommands(t *testing.T) {
	var in []byte
	ends := map[int]bool{}
	for i := range 3000 {
		k := fmt.Sprint(i)
		if i%3 == 0 {
			in = fmt.Appendf(in, "GET %s\r\n", k)
		} else {
			in = fmt.Appendf(in, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)
		}
		ends[len(in)] = true
	}
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		// Every piece is longer than a command, so each read can end one.
		g, _ := newTestGuard(cut(r, in, 30, 3000))
		got, readEnds, err := readGuard(g, 4096)
		if err != io.EOF || !bytes.Equal(got, in) {
			t.Fatalf("round %d: handed on %d of %d bytes (equal: %v), then %v", round, len(got), len(in), bytes.Equal(got, in[:min(len(got), len(in))]), err)
		}
		for _, e := range readEnds {
			if !ends[e] {
				t.Fatalf("round %d: a read ended at %d, inside a command", round, e)
			}
		}
	}
}

// TestGuardCutsAnywhere: with pieces and reads of any size (smaller than a
// command too), the bytes handed on are the input's, up to the command that
// breaks a limit, and that one gets its error.
func TestGuardCutsAnywhere(t *testing.T) {
	big := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$50000\r\n" + strings.Repeat("v", 50000) + "\r\n"
	good := strings.Repeat("*1\r\n$4\r\nPING\r\n", 50) + big + "PING\r\n"
	cases := []struct{ name, in, reply string }{
		{"no violation", good, ""},
		{"a bad command after good ones", good + "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range cases {
		for round := range 100 {
			g, cc := newTestGuard(cut(r, []byte(tc.in), 1, 6000))
			got, _, err := readGuard(g, 1+r.IntN(8192))
			if !strings.HasPrefix(tc.in, string(got)) || len(got) < len(good) {
				t.Fatalf("%s, round %d: handed on %d bytes, not the first %d or more of the input", tc.name, round, len(got), len(good))
			}
			if tc.reply == "" && (err != io.EOF || len(got) != len(tc.in)) {
				t.Fatalf("%s, round %d: %d of %d bytes, then %v", tc.name, round, len(got), len(tc.in), err)
			}
			if tc.reply != "" && (err != errClosedByLimit || len(got) == len(tc.in)) {
				t.Fatalf("%s, round %d: %d of %d bytes, then %v", tc.name, round, len(got), len(tc.in), err)
			}
			if cc.out.String() != tc.reply {
				t.Fatalf("%s, round %d: replied %q, want %q", tc.name, round, cc.out.String(), tc.reply)
			}
		}
	}
}

// TestGuardSkipsEmptyMultibulks: "*0" and "*-10" are empty commands Redis
// skips; redcon never sees them, so the commands around them run.
func TestGuardSkipsEmptyMultibulks(t *testing.T) {
	in := "*-10\r\nPING\r\n*0\r\n*1\r\n$4\r\nPING\r\n*-1\r\n"
	// Whole, and cut at every offset: an empty multibulk the network cut
	// is dropped too.
	for cutAt := range len(in) {
		chunks := [][]byte{[]byte(in)}
		if cutAt > 0 {
			chunks = [][]byte{[]byte(in[:cutAt]), []byte(in[cutAt:])}
		}
		g, _ := newTestGuard(chunks)
		got, _, err := readGuard(g, 4096)
		if want := "PING\r\n*1\r\n$4\r\nPING\r\n"; err != io.EOF || string(got) != want {
			t.Fatalf("cut at %d: handed on %q, %v; want %q", cutAt, got, err, want)
		}
	}
}

// tcpGuard is a guard over a real TCP connection, and the client's end.
func tcpGuard(t *testing.T) (*guardConn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	var limits atomic.Pointer[Limits]
	lim := DefaultLimits()
	limits.Store(&lim)
	return newGuardConn(server, &limits), client
}

// sendAndRead sends cmd and reads it back through g, as redcon would.
func sendAndRead(t *testing.T, g *guardConn, client net.Conn, cmd []byte) {
	t.Helper()
	go client.Write(cmd)
	p := make([]byte, 4096)
	for got := 0; got < len(cmd); {
		n, err := g.Read(p)
		if err != nil {
			t.Fatalf("read %d of %d bytes, then %v", got, len(cmd), err)
		}
		got += n
	}
}

// TestQueryBufferSizes: the query buffer is 16 KB after a small command,
// the size of a big argument after one, cut toward the recent peak when
// it is much larger than that, and released after 2 seconds idle; a
// released buffer is taken again at the next read.
func TestQueryBufferSizes(t *testing.T) {
	g, client := tcpGuard(t)
	total := func() int {
		used, free := g.queryBuffer()
		return used + free
	}
	small := []byte("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\ny\r\n")
	sendAndRead(t, g, client, small)
	if n := total(); n != ioBufLen {
		t.Fatalf("after a small command: %d bytes, want %d", n, ioBufLen)
	}
	big := fmt.Appendf(nil, "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$400000\r\n%s\r\n", strings.Repeat("A", 400000))
	sendAndRead(t, g, client, big)
	afterBig := total()
	if afterBig < 400000 {
		t.Fatalf("after a 400000-byte argument: %d bytes", afterBig)
	}
	// The cron notes the peak, then finds the buffer far larger than
	// what small commands use.
	now := time.Now()
	g.resizeQueryBuffer(now)
	sendAndRead(t, g, client, small)
	g.resizeQueryBuffer(now)
	if n := total(); n == 0 || n >= afterBig {
		t.Fatalf("not idle, after small commands: %d bytes, want between 0 and %d", n, afterBig)
	}
	// The next read takes 16 KB again, which idleness releases.
	sendAndRead(t, g, client, small)
	g.resizeQueryBuffer(time.Now().Add(idleRelease + time.Second))
	if used, free := g.queryBuffer(); used != 0 || free != 0 {
		t.Fatalf("idle: qbuf=%d qbuf-free=%d, want none", used, free)
	}
	sendAndRead(t, g, client, small)
	if n := total(); n != ioBufLen {
		t.Fatalf("after a read on a released buffer: %d bytes, want %d", n, ioBufLen)
	}
}
