package resp

import (
	"strings"
	"testing"
)

// SORT's ACL refusals come where sort.c's parser meets BY or GET, after
// the options before them and never after a syntax error.
func TestSortRefusal(t *testing.T) {
	const by = "ERR BY option of SORT denied due to insufficient ACL permissions."
	const get = "ERR GET option of SORT denied due to insufficient ACL permissions."
	for _, c := range []struct{ cmd, want string }{
		{"sort k by w_*", by},
		{"sort k by nosort", ""},
		{"sort k by nosort get #", get},
		{"sort_ro k desc alpha get #", get},
		{"sort k limit 0 x by w_*", ""},
		{"sort k limit 0 1 by w_*", by},
		{"sort k foo by w_*", ""},
		{"sort_ro k store d by w_*", ""},
		{"sort k store d by w_*", by},
		{"get k", ""},
	} {
		var args [][]byte
		for _, f := range strings.Fields(c.cmd) {
			args = append(args, []byte(f))
		}
		if got := sortRefusal(string(args[0]), args); got != c.want {
			t.Errorf("%s: got %q, want %q", c.cmd, got, c.want)
		}
	}
}
