package command

import (
	"strings"
	"testing"
)

func argsOf(cmd string) [][]byte {
	var args [][]byte
	for _, f := range strings.Fields(cmd) {
		args = append(args, []byte(f))
	}
	return args
}

// TestToRESP3Nulls: nulls, nested ones included, become RESP3's null; the
// rest of a reply without a shape is unchanged.
func TestToRESP3Nulls(t *testing.T) {
	for in, want := range map[string]string{
		"$-1\r\n":                               "_\r\n",
		"*-1\r\n":                               "_\r\n",
		"*3\r\n$1\r\na\r\n$-1\r\n*1\r\n$-1\r\n": "*3\r\n$1\r\na\r\n_\r\n*1\r\n_\r\n",
		":1\r\n":                                ":1\r\n",
		"$0\r\n\r\n":                            "$0\r\n\r\n",
		"-ERR wrong\r\n":                        "-ERR wrong\r\n",
		"*2\r\n*2\r\n:1\r\n$-1\r\n+OK\r\n":      "*2\r\n*2\r\n:1\r\n_\r\n+OK\r\n",
		"*0\r\n":                                "*0\r\n",
	} {
		if got := string(ToRESP3(nil, argsOf("mget a b"), []byte(in))); got != want {
			t.Errorf("%q became %q, want %q", in, got, want)
		}
	}
}

// TestToRESP3Shapes: the commands whose RESP3 reply Redis shapes
// differently get that shape, by their options where those decide.
func TestToRESP3Shapes(t *testing.T) {
	for _, c := range []struct{ cmd, in, want string }{
		{"HGETALL h", "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"},
		{"hgetall h", "*0\r\n", "%0\r\n"},
		{"SMEMBERS s", "*1\r\n$1\r\na\r\n", "~1\r\n$1\r\na\r\n"},
		{"SPOP s", "$1\r\na\r\n", "$1\r\na\r\n"},
		{"SPOP s 2", "*0\r\n", "~0\r\n"},
		{"ZSCORE z m", "$3\r\n1.5\r\n", ",1.5\r\n"},
		{"ZSCORE z m", "$-1\r\n", "_\r\n"},
		{"ZADD z 1 m", ":1\r\n", ":1\r\n"},
		{"ZADD z INCR 1 m", "$1\r\n2\r\n", ",2\r\n"},
		{"ZRANGE z 0 -1", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{"ZRANGE z 0 -1 withscores", "*2\r\n$1\r\na\r\n$1\r\n1\r\n", "*1\r\n*2\r\n$1\r\na\r\n,1\r\n"},
		{"ZPOPMIN z", "*2\r\n$1\r\na\r\n$1\r\n1\r\n", "*2\r\n$1\r\na\r\n,1\r\n"},
		{"ZPOPMIN z 1", "*2\r\n$1\r\na\r\n$1\r\n1\r\n", "*1\r\n*2\r\n$1\r\na\r\n,1\r\n"},
		{"BZPOPMAX z 0", "*3\r\n$1\r\nz\r\n$1\r\na\r\n$3\r\ninf\r\n", "*3\r\n$1\r\nz\r\n$1\r\na\r\n,inf\r\n"},
		{"ZMPOP 1 z MIN", "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n", "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n,1\r\n"},
		{"HRANDFIELD h 1 WITHVALUES", "*2\r\n$1\r\na\r\n$1\r\n1\r\n", "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"},
		{"XREAD STREAMS s 0", "*1\r\n*2\r\n$1\r\ns\r\n*0\r\n", "%1\r\n$1\r\ns\r\n*0\r\n"},
		{"CONFIG GET x", "*2\r\n$1\r\nx\r\n$1\r\n1\r\n", "%1\r\n$1\r\nx\r\n$1\r\n1\r\n"},
		{"INFO", "$3\r\na:1\r\n", "=7\r\ntxt:a:1\r\n"},
		{"CLIENT LIST", "$3\r\nid1\r\n", "=7\r\ntxt:id1\r\n"},
		{"EXEC", "*-1\r\n", "_\r\n"},
	} {
		if got := string(ToRESP3(nil, argsOf(c.cmd), []byte(c.in))); got != c.want {
			t.Errorf("%s: %q became %q, want %q", c.cmd, c.in, got, c.want)
		}
	}
}
