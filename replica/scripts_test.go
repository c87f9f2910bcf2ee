package replica

import "testing"

// TestResp3Nulls: the nulls of a store reply, nested ones included, become
// RESP3's for a script that asked for RESP3; the rest is unchanged.
func TestResp3Nulls(t *testing.T) {
	for in, want := range map[string]string{
		"$-1\r\n":                               "_\r\n",
		"*-1\r\n":                               "_\r\n",
		"*3\r\n$1\r\na\r\n$-1\r\n*1\r\n$-1\r\n": "*3\r\n$1\r\na\r\n_\r\n*1\r\n_\r\n",
		":1\r\n":                                ":1\r\n",
		"$0\r\n\r\n":                            "$0\r\n\r\n",
		"-ERR wrong\r\n":                        "-ERR wrong\r\n",
		"*2\r\n*2\r\n:1\r\n$-1\r\n+OK\r\n":      "*2\r\n*2\r\n:1\r\n_\r\n+OK\r\n",
	} {
		if got := string(resp3Nulls(nil, []byte(in))); got != want {
			t.Errorf("%q became %q, want %q", in, got, want)
		}
	}
}
