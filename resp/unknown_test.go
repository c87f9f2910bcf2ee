package resp

import (
	"strings"
	"testing"
)

// TestUnknownCommand checks the text against what redis-server 7.0 sends
// (found by integration's differential test): arguments are C strings cut
// at a NUL, and the quoted list stops once it reaches 128 bytes.
func TestUnknownCommand(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, "ERR unknown command 'nosuch', with args beginning with: "},
		{[]string{"nosuch", "a", "b"}, "ERR unknown command 'nosuch', with args beginning with: 'a' 'b' "},
		{[]string{"nosuch", "k", "\x00bin\xff", "c"}, "ERR unknown command 'nosuch', with args beginning with: 'k' '' 'c' "},
		{[]string{"no\x00such", "a"}, "ERR unknown command 'no', with args beginning with: 'a' "},
		{[]string{"nosuch", long, "b"}, "ERR unknown command 'nosuch', with args beginning with: '" + long[:128] + "' "},
		{[]string{"nosuch", long[:100], long, "c"}, "ERR unknown command 'nosuch', with args beginning with: '" + long[:100] + "' '" + long[:25] + "' "},
		{[]string{long + "y", "a"}, "ERR unknown command '" + long[:128] + "', with args beginning with: 'a' "},
	}
	for _, tt := range tests {
		args := make([][]byte, len(tt.args))
		for i, a := range tt.args {
			args[i] = []byte(a)
		}
		if got := unknownCommand(args); got != tt.want {
			t.Errorf("unknownCommand(%q) =\n%q, want\n%q", tt.args, got, tt.want)
		}
	}
}
