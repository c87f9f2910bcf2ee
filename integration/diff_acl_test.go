package integration

import (
	"testing"
)

// The acl family: ACL SETUSER with one rule at a time (valid and invalid),
// DELUSER, USERS, GETUSER, WHOAMI, CAT, GENPASS and LOG errors, AUTH that
// fails, and CONFIG SET of the connection limits, on both servers without
// a password. Nothing here makes the connection another user's.
//
// Departures normalized: ACL GETUSER's and LIST's command rules are the
// rules as given since the last reset, where Redis rewrites them into its
// own canonical order, so GETUSER compares the flags, passwords and keys
// and LIST is not compared; ACL CAT <category> lists rkv's commands, fewer
// than Redis's, so only its errors are compared; GENPASS is random, so only
// its length. ACL LOG keeps no entries in rkv: only its errors are
// compared. Selectors, "(rules)", are not supported and not sent.

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "acl", gen: (*diffGen).acl})
}

var diffACLRules = []string{
	"on", "off", ">pw1", ">pw2", "<pw1", "nopass", "resetpass", "~k*", "%R~r*", "%W~w*", "allkeys",
	"resetkeys", "&chan", "allchannels", "resetchannels", "+get", "-get", "+@read", "-@write", "+@all",
	"nocommands", "allcommands", "reset", "+client|setname", "sanitize-payload", "skip-sanitize-payload",
	"#0000000000000000000000000000000000000000000000000000000000000000",
	// Invalid ones.
	"badrule", "+nosuchcmd", "-@nosuch", "#abc", "<notthere", "%X~k", "!0123",
	"~a b", "&a\tb", "%R~a\rb", ">pass word",
}

func (g *diffGen) acl() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	user := func() string { return g.pick([]string{"u1", "u2", "u3", "default"}) }
	switch g.rng.IntN(14) {
	case 0, 1, 2, 3:
		name := g.pick([]string{"u1", "u2", "u3", "u1", "u2", "u3", "bad name", "bad\rname"})
		args := []string{w("ACL"), w("SETUSER"), name}
		for range g.rng.IntN(2) {
			args = append(args, g.pick(diffACLRules))
		}
		return exact(args...)
	case 4:
		return exact(w("ACL"), w("DELUSER"), user(), g.pick([]string{"u1", "nobody"}))
	case 5:
		return exact(w("ACL"), w("USERS"))
	case 6:
		args := []string{w("ACL"), w("GETUSER"), g.pick([]string{"u1", "u2", "nobody"})}
		return diffCmd{args: args, custom: diffGetUser(args)}
	case 7:
		return exact(w("ACL"), w(g.pick([]string{"WHOAMI", "CAT"})))
	case 8:
		return exact(w("ACL"), w("CAT"), g.pick([]string{"nosuch", "read extra"}))
	case 9:
		if g.rng.IntN(2) == 0 {
			return exact(w("ACL"), w("LOG"), g.pick([]string{"abc", "1x", ""}))
		}
		return exact(w("ACL"), w("GENPASS"), g.pick([]string{"abc", "0", "5000", "-1"}))
	case 10:
		return exact(w("ACL"), g.pick([]string{"FOO", "DELUSER", "GETUSER", "SETUSER"}))
	case 11:
		if g.rng.IntN(2) == 0 {
			return exact(w("AUTH"), g.pick([]string{"wrongpass", ""}))
		}
		return exact(w("AUTH"), g.pick([]string{"u1", "nobody", "u2"}), "wrongpass")
	default:
		setting := g.pick([]string{"timeout", "proto-max-bulk-len", "client-query-buffer-limit", "client-output-buffer-limit"})
		value := g.pick([]string{"x", "-1", "1k", "0", "normal 0 0", "foo 0 0 0", "normal x 0 0", "abc"})
		if setting == "timeout" && value == "0" || setting == "client-output-buffer-limit" && value == "0" {
			value = "x"
		}
		return exact(w("CONFIG"), w("SET"), setting, value)
	}
}

// diffGetUser compares ACL GETUSER on the flags, passwords and keys.
func diffGetUser(args []string) func(t *testing.T, rd, rk diffTarget) diffOutcome {
	return func(t *testing.T, rd, rk diffTarget) diffOutcome {
		t.Helper()
		render := func(d diffTarget) string {
			v, err := d.do(t, args)
			if arr, ok := v.([]any); ok && err == nil && len(arr) >= 8 {
				return diffReply(arr[:4], nil) + " keys " + diffReply(arr[7], nil)
			}
			return diffReply(v, err)
		}
		a, b := render(rd), render(rk)
		return diffOutcome{a, b, a == b}
	}
}
