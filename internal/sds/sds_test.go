package sds

import (
	"slices"
	"testing"
)

// TestSplitArgs: words as sdssplitargs splits them, and nil with false
// for unbalanced quotes or a closing quote glued to the next word.
func TestSplitArgs(t *testing.T) {
	for line, want := range map[string][]string{
		"":                          nil,
		"  set  k\tv ":              {"set", "k", "v"},
		`"a b" 'c d'`:               {"a b", "c d"},
		`"\x41\x7a\n\r\t\b\a\"\\q"`: {"Az\n\r\t\b\a\"\\q"},
		`'it\'s' '\n'`:              {"it's", `\n`},
		`x"y z"`:                    {"xy z"},
		`""`:                        {""},
		`"\xZZ"`:                    {"xZZ"},
	} {
		got, ok := SplitArgs(line)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
	for _, line := range []string{`"a`, `'a`, `"a"b`, `'a'b`} {
		if got, ok := SplitArgs(line); ok || got != nil {
			t.Errorf("SplitArgs(%q) = %q, %v; want a failure", line, got, ok)
		}
	}
}

// TestReprRoundTrip: what Repr quotes, SplitArgs reads back, for every
// byte.
func TestReprRoundTrip(t *testing.T) {
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	for _, s := range []string{"", "plain", `q"uo'te\`, string(all)} {
		got, ok := SplitArgs(Repr([]byte(s)))
		if !ok || len(got) != 1 || got[0] != s {
			t.Errorf("SplitArgs(Repr(%q)) = %q, %v", s, got, ok)
		}
	}
}
