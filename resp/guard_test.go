package resp

import (
	"strings"
	"testing"
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
